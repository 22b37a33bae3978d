package sdk

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
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

// TestLimitTravelsTyped: which limit a plugin's content exceeded crosses
// gRPC too, so the host names the setting that raises it.
func TestLimitTravelsTyped(t *testing.T) {
	err := archive.Extract(context.Background(), tarOf(t, 3), t.TempDir(), archive.Limits{MaxEntries: 2})
	var le *archive.LimitError
	if !errors.As(err, &le) || le.Limit != "MaxEntries" {
		t.Fatalf("extracting 3 entries with a limit of 2: %v, want a LimitError for MaxEntries", err)
	}
	st, _ := status.FromError(statusOf(fmt.Errorf("layer 1: %w", err)))
	got := ErrorFromStatus(status.FromProto(st.Proto()).Err())
	if le = nil; !errors.As(got, &le) || le.Limit != "MaxEntries" || !errors.Is(got, archive.ErrTooLarge) {
		t.Errorf("the host got %#v, want a LimitError for MaxEntries wrapping ErrTooLarge", got)
	}
}

// tarOf is a tar stream of n small files.
func tarOf(t *testing.T, n int) io.Reader {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for i := range n {
		if err := tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("f%d", i), Mode: 0o644, Size: 1, Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte("x"))
	}
	tw.Close()
	return &buf
}
