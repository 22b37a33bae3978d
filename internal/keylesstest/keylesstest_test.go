package keylesstest

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/opencontainers/go-digest"
	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	sgbundle "github.com/sigstore/sigstore-go/pkg/bundle"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/tierpack/tierpack/pkg/sign"
)

// What Sign writes verifies, by identity, against what TrustedRoot writes,
// both read back from their JSON as tierpack reads them.
func TestRoundTrip(t *testing.T) {
	s, err := New()
	if err != nil {
		t.Fatal(err)
	}
	tr, err := s.TrustedRoot()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "trusted_root.json")
	if err := os.WriteFile(p, tr, 0o644); err != nil {
		t.Fatal(err)
	}
	trusted, err := sign.LoadTrustedRoot(p)
	if err != nil {
		t.Fatal(err)
	}
	d := digest.FromString("manifest")
	b, err := s.Sign("https://github.com/o/r/.github/workflows/release.yaml@refs/heads/main", "https://token.actions.githubusercontent.com", "reg/o/r", d, true)
	if err != nil {
		t.Fatal(err)
	}
	var pb protobundle.Bundle
	if err := protojson.Unmarshal(b, &pb); err != nil {
		t.Fatal(err)
	}
	bundle, err := sgbundle.NewBundle(&pb)
	if err != nil {
		t.Fatal(err)
	}
	ids := []sign.Identity{{Issuer: "https://token.actions.githubusercontent.com", SubjectRegExp: "^https://github.com/o/"}}
	if _, err := sign.VerifyIdentity(bundle, trusted, ids, d); err != nil {
		t.Fatal(err)
	}
}
