package sdk

import (
	"errors"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tierpack/tierpack/sdk/archive"
)

// A plugin's errors cross the process boundary as gRPC statuses. Most are
// text for a person; a refusal of the content the plugin was given — an
// archive entry that is unsafe, a corrupt archive, a limit exceeded —
// travels typed, as an ErrorInfo detail (domain ErrorDomain), so the host
// tells refused content (exit 8) from a plugin failure without reading the
// layers again. Serve encodes it; the host decodes it with ErrorFromStatus.

// ErrorDomain is the ErrorInfo domain of tierpack's typed plugin errors.
const ErrorDomain = "tierpack.dev"

// refusals are the refusals that travel typed, by ErrorInfo reason.
var refusals = []struct {
	reason string
	err    error
}{
	{"UNSAFE_ENTRY", archive.ErrUnsafeEntry},
	{"LIMIT_EXCEEDED", archive.ErrTooLarge},
	{"CORRUPT_ARCHIVE", archive.ErrCorrupt},
}

// RefusedContentError is a plugin's refusal of the content it was given,
// as the host receives it: the plugin's message, wrapping the sdk/archive
// sentinel it stands for (archive.ErrUnsafeEntry, ErrTooLarge, ErrCorrupt),
// or the *archive.LimitError naming the limit it exceeded.
type RefusedContentError struct {
	Msg  string
	Kind error
}

func (e *RefusedContentError) Error() string { return e.Msg }

// Unwrap returns the archive sentinel.
func (e *RefusedContentError) Unwrap() error { return e.Kind }

// statusOf is the gRPC status a plugin method's error is sent as: typed
// for refused content, the error itself otherwise (gRPC sends its text).
func statusOf(err error) error {
	for _, r := range refusals {
		if errors.Is(err, r.err) {
			info := &errdetails.ErrorInfo{Reason: r.reason, Domain: ErrorDomain}
			var le *archive.LimitError
			if errors.As(err, &le) {
				info.Metadata = map[string]string{"limit": le.Limit}
			}
			st, derr := status.New(codes.FailedPrecondition, err.Error()).WithDetails(info)
			if derr == nil {
				return st.Err()
			}
		}
	}
	return err
}

// ErrorFromStatus returns the typed error a plugin's gRPC status carries
// (a *RefusedContentError), or nil when it carries none: a plain error, or
// one from a plugin built with an SDK that sent text only.
func ErrorFromStatus(err error) error {
	st, ok := status.FromError(err)
	if !ok {
		return nil
	}
	for _, d := range st.Details() {
		info, ok := d.(*errdetails.ErrorInfo)
		if !ok || info.GetDomain() != ErrorDomain {
			continue
		}
		for _, r := range refusals {
			if r.reason != info.GetReason() {
				continue
			}
			if limit := info.GetMetadata()["limit"]; limit != "" && r.err == archive.ErrTooLarge {
				return &RefusedContentError{Msg: st.Message(), Kind: &archive.LimitError{Limit: limit, Msg: st.Message()}}
			}
			return &RefusedContentError{Msg: st.Message(), Kind: r.err}
		}
	}
	return nil
}
