package sdk

import (
	"errors"
	"fmt"
	"testing"

	"google.golang.org/grpc/status"

	"github.com/tierpack/tierpack/sdk/archive"
)

// TestRefusalTravelsTyped: a plugin's refusal of its content crosses gRPC
// (encoded, sent as a wire status, decoded) as a typed error wrapping the
// archive sentinel; any other error stays text.
func TestRefusalTravelsTyped(t *testing.T) {
	for _, kind := range []error{archive.ErrUnsafeEntry, archive.ErrTooLarge, archive.ErrCorrupt} {
		sent := statusOf(fmt.Errorf("layer 1: %w: entry \"../x\" leaves the folder", kind))
		st, _ := status.FromError(sent)
		wire := status.FromProto(st.Proto()).Err() // as the host receives it
		got := ErrorFromStatus(wire)
		var rc *RefusedContentError
		if !errors.As(got, &rc) || !errors.Is(got, kind) || rc.Msg != st.Message() {
			t.Errorf("%v: the host got %#v", kind, got)
		}
	}
	plain := statusOf(errors.New("cannot read the config"))
	if ErrorFromStatus(status.Convert(plain).Err()) != nil {
		t.Error("a plain error came back typed")
	}
}
