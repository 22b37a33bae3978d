package sign

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/sigstore/sigstore-go/pkg/testing/ca"
)

// A Falco release workflow's identity, as falcoctl's index names it.
const (
	issuer   = "https://token.actions.githubusercontent.com"
	workflow = "https://github.com/falcosecurity/rules/.github/workflows/release.yaml@refs/heads/main"
)

// statement is an in-toto statement about subject, what cosign signs for
// an OCI artifact.
func statement(t *testing.T, subject digest.Digest) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{
		"_type":         "https://in-toto.io/Statement/v1",
		"predicateType": "https://sigstore.dev/cosign/sign/v1",
		"subject":       []map[string]any{{"name": "ghcr.io/falcosecurity/rules/falco-rules", "digest": map[string]string{"sha256": subject.Encoded()}}},
		"predicate":     map[string]any{},
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Keyless bundles from sigstore-go's virtual Sigstore (a Fulcio CA, a
// Rekor log and a TSA in memory; no network): verified by identity, and
// refused with the wrong subject, the wrong issuer, no inclusion proof, or
// for another artifact.
func TestVerifyIdentity(t *testing.T) {
	vs, err := ca.NewVirtualSigstore()
	if err != nil {
		t.Fatal(err)
	}
	manifest := digest.FromString("the falco-rules manifest")
	good, err := vs.AttestAtTime(workflow, issuer, statement(t, manifest), time.Now().Add(5*time.Minute), true)
	if err != nil {
		t.Fatal(err)
	}
	trusted := []Identity{{Issuer: issuer, Subject: workflow}}

	if id, err := VerifyIdentity(good, vs, trusted, manifest); err != nil || id.Subject != workflow {
		t.Fatalf("the release workflow's bundle: %v, %v", id, err)
	}
	if _, err := VerifyIdentity(good, vs, []Identity{{Issuer: issuer, SubjectRegExp: `^https://github\.com/falcosecurity/rules/`}}, manifest); err != nil {
		t.Errorf("by a subject regexp: %v", err)
	}
	for name, tc := range map[string]struct {
		ids     []Identity
		subject digest.Digest
		want    string
	}{
		"wrong subject": {[]Identity{{Issuer: issuer, Subject: "https://github.com/attacker/rules/.github/workflows/release.yaml@refs/heads/main"}}, manifest, "not signed by a trusted identity"},
		"wrong issuer":  {[]Identity{{Issuer: "https://accounts.example.com", Subject: workflow}}, manifest, "not signed by a trusted identity"},
		"other digest":  {trusted, digest.FromString("another manifest"), "not signed by a trusted identity"},
	} {
		if _, err := VerifyIdentity(good, vs, tc.ids, tc.subject); !errors.Is(err, ErrUntrusted) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v", name, err)
		}
	}
	noProof, err := vs.Attest(workflow, issuer, statement(t, manifest)) // logged, without an inclusion proof
	if err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyIdentity(noProof, vs, trusted, manifest); !errors.Is(err, ErrUntrusted) || !strings.Contains(err.Error(), "no inclusion proof") {
		t.Errorf("no inclusion proof: %v", err)
	}
	// A bundle from another Sigstore is not trusted by this root.
	other, _ := ca.NewVirtualSigstore()
	if _, err := VerifyIdentity(good, other, trusted, manifest); !errors.Is(err, ErrUntrusted) {
		t.Errorf("another trusted root: %v", err)
	}
}
