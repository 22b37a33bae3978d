package sign

import (
	"context"
	"crypto"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/verify"
	"github.com/sigstore/sigstore/pkg/signature"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"
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

// IdentityKey stands for a keyless identity wherever the gate lists the
// signers trusted for a tier, so that counting distinct approvals,
// revocation by ID and "not trusted here" treat keys and identities alike.
// Its Verifier verifies nothing: a signature made with a key never matches
// it, and an identity's approvals come only from VerifyIdentity.
func IdentityKey(id Identity) PublicKey {
	return PublicKey{ID: IdentityPrefix + id.String(), Source: "keyless identity", Verifier: noVerifier{}}
}

// IdentityPrefix starts the ID of an IdentityKey, so messages say
// "identity SUBJECT (ISSUER)" where they say "key 3f2a…" for a key.
const IdentityPrefix = "identity "

// Signer names a signer ID as messages say it: "key 3f2a…" or "identity
// SUBJECT (ISSUER)".
func Signer(id string) string {
	if strings.HasPrefix(id, IdentityPrefix) {
		return id
	}
	return "key " + id
}

type noVerifier struct{}

func (noVerifier) PublicKey(...signature.PublicKeyOption) (crypto.PublicKey, error) {
	return nil, errors.New("a keyless identity has no public key")
}

func (noVerifier) VerifySignature(io.Reader, io.Reader, ...signature.VerifyOption) error {
	return errors.New("a keyless identity verifies no key signature")
}

// KeylessApproval is a signature bundle on a manifest verified by identity.
type KeylessApproval struct {
	Identity Identity
	// Time is when the transparency log integrated the signing.
	Time time.Time
	// Manifest is the digest of the bundle's referrer manifest.
	Manifest string
}

// KeylessApprovals checks each cosign signature bundle attached to subject
// against the identities ids, with trusted (VerifyIdentity), and returns
// those that verify, one per identity (the earliest). Bundles that do not
// verify are passed over: anyone with push access can attach one.
func KeylessApprovals(ctx context.Context, store oras.ReadOnlyGraphTarget, subject ocispec.Descriptor, trusted root.TrustedMaterial, ids []Identity) ([]KeylessApproval, error) {
	if len(ids) == 0 || trusted == nil {
		return nil, nil
	}
	sigs, err := bundleSignatures(ctx, store, subject)
	if err != nil {
		return nil, err
	}
	return IdentityApprovals(sigs, subject.Digest, trusted, ids), nil
}

// IdentityApprovals is KeylessApprovals over signatures already read
// (Signatures): those that verify, one per identity (the earliest).
func IdentityApprovals(sigs []Signature, subject digest.Digest, trusted root.TrustedMaterial, ids []Identity) []KeylessApproval {
	var out []KeylessApproval
	for _, s := range sigs {
		id, ok := s.SignedByIdentity(trusted, ids, subject)
		if !ok {
			continue
		}
		a := approvalOf(s, id)
		if i := slices.IndexFunc(out, func(o KeylessApproval) bool { return o.Identity == id }); i >= 0 {
			if a.Time.Before(out[i].Time) {
				out[i] = a
			}
			continue
		}
		out = append(out, a)
	}
	return out
}

// SignedByIdentity reports which of ids made s, a signature bundle of
// subject verified as VerifyIdentity does; false for a legacy signature,
// one of another digest, or one no trusted identity made.
func (s Signature) SignedByIdentity(trusted root.TrustedMaterial, ids []Identity, subject digest.Digest) (Identity, bool) {
	if s.bundle == nil || s.Digest != subject.String() || trusted == nil || len(ids) == 0 {
		return Identity{}, false
	}
	id, err := VerifyIdentity(s.bundle, trusted, ids, subject)
	return id, err == nil
}

// KeylessApprovalOf reads the signature bundle whose referrer manifest is
// ref and checks it as KeylessApprovals does: an index names it as the
// proof of a version's tier.
func KeylessApprovalOf(ctx context.Context, store content.Fetcher, ref ocispec.Descriptor, subject digest.Digest, trusted root.TrustedMaterial, ids []Identity) (KeylessApproval, error) {
	if len(ids) == 0 || trusted == nil {
		return KeylessApproval{}, fmt.Errorf("%w: no keyless identities are trusted here", ErrUntrusted)
	}
	s, err := fetchBundle(ctx, store, ref, subject)
	if err != nil {
		return KeylessApproval{}, err
	}
	if s.Digest != subject.String() {
		return KeylessApproval{}, fmt.Errorf("%w: the bundle signs %s, not %s", ErrUntrusted, s.Digest, subject)
	}
	id, err := VerifyIdentity(s.bundle, trusted, ids, subject)
	if err != nil {
		return KeylessApproval{}, err
	}
	return approvalOf(s, id), nil
}

// approvalOf is the approval bundle signature s by identity id gives.
func approvalOf(s Signature, id Identity) KeylessApproval {
	a := KeylessApproval{Identity: id, Manifest: s.Manifest}
	if entries, err := s.bundle.TlogEntries(); err == nil && len(entries) > 0 {
		a.Time = entries[0].IntegratedTime()
	}
	return a
}
