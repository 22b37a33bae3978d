package tierpack

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry/remote/errcode"

	"github.com/tierpack/tierpack/pkg/artifact"
	"github.com/tierpack/tierpack/pkg/oci"
	"github.com/tierpack/tierpack/pkg/owners"
	"github.com/tierpack/tierpack/pkg/plugin"
	"github.com/tierpack/tierpack/pkg/policy"
	"github.com/tierpack/tierpack/pkg/promotion"
	"github.com/tierpack/tierpack/pkg/sign"
	"github.com/tierpack/tierpack/pkg/trust"
	"github.com/tierpack/tierpack/sdk/contrib"
	"github.com/tierpack/tierpack/sdk/host"
	"github.com/tierpack/tierpack/sdk/tier"
)

// Code is the class of a use case's error, for callers that act on the
// class rather than the text. The numbers are tierpack's exit codes, which
// scripts rely on (`tierpack --help` lists them).
type Code int

const (
	CodeOK             Code = 0
	CodeError          Code = 1   // anything not listed below
	CodeUsage          Code = 2   // the request cannot run as given: fix it, do not retry
	CodeInvalid        Code = 3   // the contribution failed validation
	CodeTierRefused    Code = 4   // below the requested tier, a tier requirement unmet, or a signature or record missing or untrusted
	CodeNotFound       Code = 5   // no such artifact, tag or plugin
	CodeAuth           Code = 6   // the registry refused the credentials
	CodePlugin         Code = 7   // a plugin crashed, hung, is not a plugin, no longer matches its pin, or failed its checks
	CodeRefusedContent Code = 8   // a pulled artifact's content was refused: unsafe, corrupt or over the limits
	CodeInterrupted    Code = 130 // the context was cancelled
)

// CodeOf classifies err. It is the one place that knows which package's
// errors mean what, so the command line (and any other front end) maps
// errors without importing the packages below the use cases.
func CodeOf(err error) Code {
	var ue *UsageError
	var ve *artifact.ValidationError
	var me contrib.Errors
	var rerr *errcode.ErrorResponse
	var verr *VerificationError
	var cerr *CheckFailedError
	switch {
	case err == nil:
		return CodeOK
	case errors.Is(err, context.Canceled):
		return CodeInterrupted
	case errors.As(err, &ue):
		return CodeUsage
	case errors.Is(err, artifact.ErrPluginOutput), errors.Is(err, host.ErrNoSandbox):
		return CodePlugin
	case errors.Is(err, artifact.ErrRefusedContent):
		return CodeRefusedContent
	case errors.As(err, &ve), errors.As(err, &me), errors.Is(err, contrib.ErrInvalid), errors.Is(err, artifact.ErrValidation),
		errors.Is(err, owners.ErrInvalid):
		return CodeInvalid
	case errors.Is(err, tier.ErrBelow), errors.Is(err, policy.ErrRefused), errors.As(err, &verr),
		errors.Is(err, oci.ErrTooManyReferrers), errors.Is(err, promotion.ErrTooManyRecords),
		errors.Is(err, sign.ErrNoSignature), errors.Is(err, sign.ErrUntrusted), errors.Is(err, trust.ErrUndecided),
		errors.Is(err, ErrUnsignedPlugin):
		return CodeTierRefused
	case errors.Is(err, host.ErrNotFound), errors.Is(err, errdef.ErrNotFound):
		return CodeNotFound
	case errors.As(err, &rerr) && (rerr.StatusCode == http.StatusUnauthorized || rerr.StatusCode == http.StatusForbidden):
		return CodeAuth
	case errors.As(err, &rerr) && rerr.StatusCode == http.StatusNotFound:
		return CodeNotFound
	case errors.Is(err, host.ErrCrashed), errors.Is(err, host.ErrTimeout), errors.Is(err, host.ErrHandshake), errors.Is(err, host.ErrProtocol),
		errors.Is(err, plugin.ErrTampered), errors.As(err, &cerr):
		return CodePlugin
	case strings.Contains(err.Error(), "basic credential not found"): // oras-go's credential store, unwrapped
		return CodeAuth
	}
	return CodeError
}
