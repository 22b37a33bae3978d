package display_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/tierpack/tierpack/cmd/tierpack/internal/display"
	"github.com/tierpack/tierpack/pkg/catalog"
	"github.com/tierpack/tierpack/pkg/oci"
	"github.com/tierpack/tierpack/pkg/policy"
	"github.com/tierpack/tierpack/pkg/target"
	"github.com/tierpack/tierpack/pkg/tierpack"
	"github.com/tierpack/tierpack/pkg/trust"
	"github.com/tierpack/tierpack/sdk"
	"github.com/tierpack/tierpack/sdk/archive"
	"github.com/tierpack/tierpack/sdk/contrib"
	"github.com/tierpack/tierpack/sdk/tier"
)

// The use-case layer names request fields; the command line says them as
// its flags, also when the error is wrapped.
func TestMessageSaysFlags(t *testing.T) {
	_, err := tierpack.Connection{PlainHTTP: true, CAFile: "ca.pem"}.Options()
	if err == nil {
		t.Fatal("plain HTTP with a CA file: no error")
	}
	if got, want := err.Error(), "PlainHTTP excludes ForceTLS, CAFile, Insecure and CertFile"; got != want {
		t.Errorf("library message = %q, want %q", got, want)
	}
	wrapped := fmt.Errorf("push: %w", err)
	if got, want := display.Message(wrapped), "push: --plain-http excludes --force-tls, --ca-file, --insecure and --cert-file"; got != want {
		t.Errorf("command line message = %q, want %q", got, want)
	}
	_, err = tierpack.Connection{Password: "p%s"}.Options()
	if got, want := display.Message(err), "a password needs -u/--username"; got != want {
		t.Errorf("message = %q, want %q", got, want)
	}
}

func TestFlag(t *testing.T) {
	for field, want := range map[string]string{
		"AllPlatforms": "--all-platforms", "CAFile": "--ca-file", "PlainHTTP": "--plain-http",
		"SourceURL": "--source-url", "Platform": "--platform", "ExactTier": "--exact-tier", "Files": "--file",
	} {
		if got := display.Flag(field); got != want {
			t.Errorf("Flag(%q) = %q, want %q", field, got, want)
		}
	}
}

// Libraries name the problem; the command line adds its flags and
// commands, found by the error's type however it is wrapped.
func TestHintsByType(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{&archive.LimitError{Limit: "MaxEntries", Msg: "too many"}, "--max-entries, TIERPACK_MAX_ENTRIES"},
		{&sdk.RefusedContentError{Msg: "x", Kind: &archive.LimitError{Limit: "MaxTotalSize"}}, "--max-size, TIERPACK_MAX_SIZE"},
		{&oci.PlatformError{Want: "linux/s390x", Have: []string{"linux/amd64"}}, "choose one with --platform"},
		{&contrib.NoManifestError{Dir: "rules"}, "tierpack init --type TYPE rules"},
		{fmt.Errorf("serve: %w", catalog.CheckListen("0.0.0.0:80", false)), "add --public"},
		{tierpack.ErrNoIndex, "tierpack index add NAME"},
		{&tierpack.MirrorOnlyError{Registry: "r", Mirror: "m", Err: errors.New("503")}, "--trust-mirror"},
		{&trust.RefusedError{Subject: "x", Want: tier.Repository, Verdict: trust.Verdict{Undecided: true}}, "--trust-mirror"},
		{&policy.RefusalError{Tier: tier.Official, Unmet: []policy.Unmet{{Rule: "promotion"}, {Rule: "signature"}}}, "tierpack promote REF --to official --key KEY"},
	} {
		if got := display.Message(fmt.Errorf("op: %w", tc.err)); !strings.Contains(got, tc.want) {
			t.Errorf("%T: message %q does not say %q", tc.err, got, tc.want)
		}
	}
	if _, err := target.Parse("user:secret@registry.example/x:1"); !strings.Contains(display.Message(err), "tierpack login") || strings.Contains(display.Message(err), "secret") {
		t.Errorf("a reference with credentials: %q", display.Message(err))
	}
}
