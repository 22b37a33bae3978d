package sign

import (
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/opencontainers/go-digest"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/verify"
)

// Identity is a keyless signer, as cosign's --certificate-oidc-issuer and
// --certificate-identity name it: the OIDC issuer that vouched for it and
// the subject (SAN) of its Fulcio certificate, given exactly (Subject) or
// as a regular expression (SubjectRegExp). Falco's own artifacts are
// signed so, by their GitHub Actions release workflows.
type Identity struct {
	Issuer        string `yaml:"issuer" json:"issuer"`
	Subject       string `yaml:"subject,omitempty" json:"subject,omitempty"`
	SubjectRegExp string `yaml:"subjectRegExp,omitempty" json:"subjectRegExp,omitempty"`
}

func (id Identity) String() string {
	s := id.Subject
	if s == "" {
		s = "~" + id.SubjectRegExp
	}
	return s + " (" + id.Issuer + ")"
}

// LoadTrustedRoot reads a trusted_root.json, cosign's and sigstore-go's
// format: the Fulcio CAs, Rekor logs and timestamp authorities trusted.
func LoadTrustedRoot(path string) (root.TrustedMaterial, error) {
	tr, err := root.NewTrustedRootFromPath(path)
	if err != nil {
		return nil, fmt.Errorf("reading the trusted root %s: %w", path, err)
	}
	return tr, nil
}

// VerifyIdentity checks a keyless Sigstore bundle (entity): that it signs
// the artifact with digest subject, with a Fulcio certificate chained to
// trusted's CAs whose issuer and subject match one of ids, and that its
// signing is logged in trusted's transparency log, the inclusion proof
// carried in the bundle and checked offline (no network). It returns the
// identity that matched; the error wraps ErrUntrusted otherwise.
func VerifyIdentity(entity verify.SignedEntity, trusted root.TrustedMaterial, ids []Identity, subject digest.Digest) (Identity, error) {
	if len(ids) == 0 {
		return Identity{}, fmt.Errorf("%w: no keyless identities are trusted", ErrUntrusted)
	}
	entries, err := entity.TlogEntries()
	if err != nil {
		return Identity{}, fmt.Errorf("%w: reading the transparency-log entries: %v", ErrUntrusted, err)
	}
	if len(entries) == 0 {
		return Identity{}, fmt.Errorf("%w: the bundle carries no transparency-log entry", ErrUntrusted)
	}
	for _, e := range entries {
		if !e.HasInclusionProof() {
			return Identity{}, fmt.Errorf("%w: the bundle's transparency-log entry carries no inclusion proof, so it cannot be checked offline", ErrUntrusted)
		}
	}
	sum, err := hex.DecodeString(subject.Encoded())
	if err != nil || subject.Algorithm() != digest.SHA256 {
		return Identity{}, fmt.Errorf("subject digest %q: want sha256", subject)
	}
	v, err := verify.NewVerifier(trusted, verify.WithTransparencyLog(1), verify.WithIntegratedTimestamps(1))
	if err != nil {
		return Identity{}, err
	}
	var problems []string
	for _, id := range ids {
		ci, err := verify.NewShortCertificateIdentity(id.Issuer, "", id.Subject, id.SubjectRegExp)
		if err != nil {
			return Identity{}, fmt.Errorf("identity %s: %w", id, err)
		}
		_, err = v.Verify(entity, verify.NewPolicy(verify.WithArtifactDigest("sha256", sum), verify.WithCertificateIdentity(ci)))
		if err == nil {
			return id, nil
		}
		problems = append(problems, id.String()+": "+err.Error())
	}
	return Identity{}, fmt.Errorf("%w: not signed by a trusted identity: %s", ErrUntrusted, strings.Join(problems, "; "))
}
