package tierpack

import (
	"context"
	"fmt"
	"os"
	"os/user"
	"slices"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/sigstore/sigstore/pkg/signature"

	"github.com/tierpack/tierpack/pkg/artifact"
	"github.com/tierpack/tierpack/pkg/oci"
	"github.com/tierpack/tierpack/pkg/owners"
	"github.com/tierpack/tierpack/pkg/promotion"
	"github.com/tierpack/tierpack/pkg/sign"
	"github.com/tierpack/tierpack/pkg/trust"
	"github.com/tierpack/tierpack/sdk/tier"
)

// InspectRequest asks what is known about an artifact.
type InspectRequest struct {
	Ref string
	// KeyFiles are trusted public keys beyond the configured ones.
	KeyFiles []string
}

// InspectResult is an artifact's description, the tier the gate found,
// its signatures and its tier history.
type InspectResult struct {
	*artifact.Info
	trust.Report
	// ClaimedTier is the tier annotation; VerifiedTier the tier a trusted
	// record proves ("" when nothing above contrib is proven).
	ClaimedTier  string        `json:"claimedTier"`
	VerifiedTier string        `json:"verifiedTier"`
	Verdict      trust.Verdict `json:"verdict"`
}

// Inspect resolves req.Ref and reports it without downloading layers.
func (c *Client) Inspect(ctx context.Context, req InspectRequest) (*InspectResult, error) {
	a, err := c.openVerified(ctx, req.Ref, req.KeyFiles, nil)
	if err != nil {
		return nil, err
	}
	defer a.Close()
	rep, err := a.gate.History(ctx, a.facts, a.info.Root())
	if err != nil {
		return nil, err
	}
	v := a.verdict
	return &InspectResult{Info: a.info, Report: rep, ClaimedTier: v.Claimed.String(), VerifiedTier: v.VerifiedName(), Verdict: v}, nil
}

// Key names a cosign private key and how to get its password.
type Key struct {
	File string
	// Password asks for the key's password when $COSIGN_PASSWORD is not
	// set; nil (or no answer) means an empty password.
	Password func() ([]byte, error)
}

// password is $COSIGN_PASSWORD, as cosign reads it, else ask's answer.
func password(ask func() ([]byte, error)) ([]byte, error) {
	if v, ok := os.LookupEnv(sign.PasswordEnv); ok {
		return []byte(v), nil
	}
	if ask == nil {
		return nil, nil
	}
	return ask()
}

// signerName is who signs a tier record: by, else the user's login name.
func signerName(by string) string {
	if by != "" {
		return by
	}
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return ""
}

// signer loads the key.
func (k Key) signer() (signature.SignerVerifier, error) {
	if k.File == "" {
		return nil, usagef("needs a private key ({Key}; create one with `tierpack key generate`)")
	}
	pw, err := password(k.Password)
	if err != nil {
		return nil, err
	}
	return sign.LoadPrivateKeyFile(k.File, pw)
}

// SignRequest asks for an artifact to be signed.
type SignRequest struct {
	Ref string
	Key Key
}

// SignResult reports a signature.
type SignResult struct {
	Reference         string `json:"reference"`
	Digest            string `json:"digest"`
	SignatureManifest string `json:"signatureManifest"`
	KeyID             string `json:"keyID"`
	AlreadySigned     bool   `json:"alreadySigned"`
}

// Sign signs the manifest (or index, with each platform manifest in it)
// req.Ref resolves to, stored as cosign does.
func (c *Client) Sign(ctx context.Context, req SignRequest) (*SignResult, error) {
	signer, err := req.Key.signer()
	if err != nil {
		return nil, err
	}
	t, info, err := c.resolve(ctx, req.Ref, false, nil)
	if err != nil {
		return nil, err
	}
	defer t.Close()
	d, err := artifact.SignAll(ctx, t, info.Root(), signer) // an index signs its platforms too, as push and promote do
	if err != nil {
		return nil, err
	}
	keyID, _ := sign.SignerKeyID(signer)
	return &SignResult{Reference: t.Ref.String(), Digest: info.Digest, SignatureManifest: d.Digest.String(), KeyID: keyID, AlreadySigned: d.Digest == ""}, nil
}

// VerifyRequest asks whether a trusted key signed an artifact.
type VerifyRequest struct {
	Ref      string
	KeyFiles []string
}

// VerifyResult names the trusted key that signed, and the tier the gate
// found.
type VerifyResult struct {
	Reference    string        `json:"reference"`
	Digest       string        `json:"digest"`
	Verified     sign.Verified `json:"verified"`
	ClaimedTier  string        `json:"claimedTier"`
	VerifiedTier string        `json:"verifiedTier"`
	Verdict      trust.Verdict `json:"-"`
}

// VerificationError marks a failed signature check.
type VerificationError struct{ Err error }

func (e *VerificationError) Error() string { return e.Err.Error() }

// Unwrap returns the cause.
func (e *VerificationError) Unwrap() error { return e.Err }

// Verify checks that the manifest req.Ref resolves to carries a valid
// signature by a trusted key and, when it claims a tier above contrib, that
// the gate verifies that tier.
func (c *Client) Verify(ctx context.Context, req VerifyRequest) (*VerifyResult, error) {
	a, err := c.openVerified(ctx, req.Ref, req.KeyFiles, nil)
	if err != nil {
		return nil, err
	}
	defer a.Close()
	t, info, verdict := a.t, a.info, a.verdict
	v, err := sign.Verify(ctx, a.facts, info.Root(), a.gate.KeysFor(tier.Contrib))
	if err != nil {
		return nil, &VerificationError{Err: err}
	}
	res := &VerifyResult{Reference: t.Ref.String(), Digest: info.Digest, Verified: v,
		ClaimedTier: verdict.Claimed.String(), VerifiedTier: verdict.VerifiedName(), Verdict: verdict}
	if err := trust.Admit(t.Ref.String(), verdict, verdict.Claimed); err != nil {
		return res, &VerificationError{Err: err}
	}
	return res, nil
}

// PromoteRequest asks for an artifact to move to another tier.
type PromoteRequest struct {
	Ref string
	To  tier.Tier
	Key Key
	// By names who promotes (default: the user's login name); Reason says
	// why. Both go into the record.
	By, Reason string
	// ReasonKind classifies the reason: security, deprecated or policy
	// (promotion.ReasonKinds); Advisory names the advisory behind it
	// (CVE-2026-1234). An advisory without a kind is a security one.
	ReasonKind, Advisory string
	// Owners, SourceURL, SourceRevision and License give what the tier's
	// policy needs and an artifact tierpack did not push (one of
	// falcoctl's) lacks; they go into the signed record.
	Owners                             []string
	SourceURL, SourceRevision, License string
}

// PromoteResult reports a promotion.
type PromoteResult struct {
	*artifact.PromoteResult
}

// Promote passes req.Ref through the trust gate at req.To (with the
// signature and record this promotion supplies), then writes the new
// manifest over the same blobs, moves the tag, signs it and attaches the
// signed promotion record.
func (c *Client) Promote(ctx context.Context, req PromoteRequest) (*PromoteResult, error) {
	if req.Advisory != "" && req.ReasonKind == "" {
		req.ReasonKind = promotion.ReasonSecurity
	}
	if req.ReasonKind != "" && !slices.Contains(promotion.ReasonKinds, req.ReasonKind) {
		return nil, usagef("{ReasonKind} %q: use one of %s", req.ReasonKind, strings.Join(promotion.ReasonKinds, ", "))
	}
	if req.Advisory != "" && !promotion.ValidAdvisory(req.Advisory) {
		return nil, usagef("{Advisory} %q: give an advisory ID, e.g. CVE-2026-1234 or GHSA-xxxx-xxxx-xxxx", req.Advisory)
	}
	gate, err := c.gate(nil)
	if err != nil {
		return nil, err
	}
	signer, err := req.Key.signer()
	if err != nil {
		return nil, err
	}
	t, info, err := c.resolve(ctx, req.Ref, false, nil)
	if err != nil {
		return nil, err
	}
	defer t.Close()
	if err := artifact.Promotable(t.Ref, info, req.To); err != nil {
		return nil, err
	}
	gate = gate.For(artifact.Identity(t.Ref))
	facts := gate.Artifact(ctx, t.Store, info.Root(), info.Annotations, tier.Repository)
	foreign := artifact.PromoteOptions{}
	if info.Falcoctl {
		cfg, err := artifact.FalcoctlConfigOf(ctx, t, info)
		if err != nil {
			return nil, err
		}
		foreign = artifact.PromoteOptions{
			From:   gate.Verify(ctx, t.Store, info.Root(), info.Annotations).Effective(),
			Owners: req.Owners, SourceURL: req.SourceURL, SourceRevision: req.SourceRevision, License: req.License, Version: cfg.Version,
		}
		facts.Owners, facts.OwnersErr, facts.Foreign = nil, nil, true
		if len(req.Owners) > 0 {
			facts.Owners = &owners.File{Approvers: req.Owners}
		}
		facts.SourceURL, facts.Revision, facts.License, facts.Version = req.SourceURL, req.SourceRevision, req.License, cfg.Version
	} else if len(req.Owners) > 0 || req.SourceURL != "" || req.SourceRevision != "" || req.License != "" {
		return nil, usagef("{Owners}, {SourceURL}, {SourceRevision} and {License} are for artifacts tierpack did not push (falcoctl's): %s carries them already", t.Ref)
	}
	// This promotion supplies the signatures and the record itself.
	keyID, _ := sign.SignerKeyID(signer)
	facts.TierSignedBy = "key " + keyID
	req.By = signerName(req.By)
	if req.To >= tier.Official {
		facts.SignedBy, facts.PromotedBy = "key "+keyID, "key "+keyID
		if req.By != "" {
			facts.PromotedBy = req.By + " with key " + keyID
		}
	}
	if err := gate.Decide(t.Ref.String(), req.To, req.To, facts); err != nil {
		return nil, err
	}
	res, err := artifact.Promote(ctx, t, artifact.PromoteOptions{
		To: req.To, Signer: signer, By: req.By, Reason: req.Reason, ReasonKind: req.ReasonKind, Advisory: req.Advisory,
		Tool: c.Tool, Resolved: info, From: foreign.From, Owners: foreign.Owners, SourceURL: foreign.SourceURL,
		SourceRevision: foreign.SourceRevision, License: foreign.License, Version: foreign.Version,
	})
	if err != nil {
		return nil, err
	}
	return &PromoteResult{res}, nil
}

// KeyRequest asks for a new cosign key pair.
type KeyRequest struct {
	// Prefix names the files PREFIX.key and PREFIX.pub (default "cosign",
	// as cosign generate-key-pair writes).
	Prefix string
	// Password asks for the password that encrypts the private key when
	// $COSIGN_PASSWORD is not set; it is asked only once the files are
	// known not to exist.
	Password func() ([]byte, error)
	// Force overwrites existing files.
	Force bool
	// NoPassword writes the private key encrypted with an empty password,
	// on purpose; without it an empty password is refused. Password is not
	// called then, and a set $COSIGN_PASSWORD is a contradiction refused.
	NoPassword bool
}

// KeyResult names the files written and the key's id.
type KeyResult struct {
	PrivateKey string `json:"privateKey"`
	PublicKey  string `json:"publicKey"`
	KeyID      string `json:"keyID"`
}

// GenerateKey writes an ECDSA P-256 key pair in cosign's format.
func (c *Client) GenerateKey(req KeyRequest) (*KeyResult, error) {
	if req.Prefix == "" {
		req.Prefix = "cosign"
	}
	if req.NoPassword && os.Getenv(sign.PasswordEnv) != "" {
		return nil, usagef("{NoPassword}, but $%s is set: unset one of them", sign.PasswordEnv)
	}
	res := &KeyResult{PrivateKey: req.Prefix + ".key", PublicKey: req.Prefix + ".pub"}
	if !req.Force {
		for _, p := range []string{res.PrivateKey, res.PublicKey} {
			if fileExists(p) {
				return nil, usagef("%s exists; set {Force} to overwrite it", p)
			}
		}
	}
	var pw []byte
	if !req.NoPassword {
		var err error
		if pw, err = password(req.Password); err != nil {
			return nil, err
		}
		if len(pw) == 0 {
			return nil, usagef("refusing to write %s with an empty password: set %s (or run on a terminal to be asked), "+
				"or set {NoPassword} to write it unprotected on purpose", res.PrivateKey, sign.PasswordEnv)
		}
	}
	priv, pub, err := sign.GenerateKeyPair(pw)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(res.PrivateKey, priv, 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(res.PublicKey, pub, 0o644); err != nil {
		return nil, err
	}
	k, err := sign.LoadPublicKey(pub, res.PublicKey)
	if err != nil {
		return nil, err
	}
	res.KeyID = k.ID
	return res, nil
}

// CopyResult reports a copy.
type CopyResult struct {
	Source      string `json:"source"`
	Destination string `json:"destination"`
	Digest      string `json:"digest"`
	// Children, Referrers and LegacyTags count what travelled with it:
	// platform manifests, signature bundles and tier records, cosign tags.
	Children   int      `json:"children"`
	Referrers  int      `json:"referrers"`
	LegacyTags []string `json:"legacyTags"`
}

// Copy copies src to dst with every signature, tier record and platform
// child, so the destination verifies as the source does. Without a tag or
// digest, dst takes src's tag. The source is read from its registry
// itself, never from a mirror: copy is how mirrors are made, and a mirror
// may lack the records that must travel.
func (c *Client) Copy(ctx context.Context, src, dst string) (*CopyResult, error) {
	sref, err := parseRef(src)
	if err != nil {
		return nil, err
	}
	s, err := c.openWith(ctx, sref, true, true)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	dref, err := parseRef(dst)
	if err != nil {
		return nil, err
	}
	if dref.Digest != "" {
		return nil, usagef("%s: copy to a tag or a repository, not a digest", dst)
	}
	if dref.Tag == "" {
		dref = dref.WithTag(s.Ref.Tag)
	}
	d, err := c.openRef(ctx, dref, false)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	res, err := oci.Copy(ctx, s.Store, s.Ref.Reference(), d.Store, dref.Tag, oci.CopyOptions{})
	if err != nil {
		return nil, err
	}
	return &CopyResult{Source: s.Ref.String(), Destination: dref.String(), Digest: res.Root.Digest.String(),
		Children: res.Children, Referrers: res.Referrers, LegacyTags: nonNil(res.LegacyTags)}, nil
}

// ResignRequest asks for the current tier records of a version to be
// signed again with another key.
type ResignRequest struct {
	Ref string
	// Key is the new key.
	Key Key
	// KeyFiles are trusted public keys beyond the configured ones: the
	// records re-signed are those they (and the policy's keys) verify.
	KeyFiles []string
}

// ResignResult reports what was signed again.
type ResignResult struct {
	Reference string `json:"reference"`
	Digest    string `json:"digest"`
	// KeyID is the new key's.
	KeyID string `json:"keyID"`
	// Records are the referrer digests of the records written, one per
	// record re-signed (attached where the old one was).
	Records []string `json:"records"`
	// Signature is the digest of the new cosign signature of the manifest.
	Signature string `json:"signature"`
}

// Resign signs again, with req.Key, every tier record of req.Ref's lineage
// that the trusted keys verify (the same decisions: the same signed bytes,
// a new signature), and the manifest itself cosign's way. Rotating a key
// out then needs no re-release: trust the new key, revoke the old one, and
// the version keeps its tier.
func (c *Client) Resign(ctx context.Context, req ResignRequest) (*ResignResult, error) {
	signer, err := req.Key.signer()
	if err != nil {
		return nil, err
	}
	keyID, err := sign.SignerKeyID(signer)
	if err != nil {
		return nil, err
	}
	gate, err := c.gate(req.KeyFiles)
	if err != nil {
		return nil, err
	}
	t, info, err := c.resolve(ctx, req.Ref, false, nil)
	if err != nil {
		return nil, err
	}
	defer t.Close()
	gate = gate.For(artifact.Identity(t.Ref))
	root := info.Root()
	content, err := promotion.ContentOf(ctx, t.Store, root)
	if err != nil {
		return nil, err
	}
	recs, lineage, err := promotion.Lineage(ctx, t.Store, root, content)
	if err != nil {
		return nil, err
	}
	res := &ResignResult{Reference: t.Ref.String(), Digest: info.Digest, KeyID: keyID, Records: []string{}}
	done := map[string]bool{}
	for _, r := range recs {
		if r.KeyID == keyID || done[r.Referrer] {
			continue
		}
		if _, err := r.Verify(gate.KeysFor(max(r.From, r.To))); err != nil {
			continue // not a decision this client trusts: not ours to repeat
		}
		var subjects []ocispec.Descriptor
		for _, m := range append([]ocispec.Descriptor{root}, lineage...) {
			if r.About(m.Digest.String()) || r.Content != "" {
				subjects = append(subjects, m)
			}
		}
		if len(subjects) == 0 {
			continue
		}
		desc, err := promotion.Attach(ctx, t.Store, r.Record, signer, subjects...)
		if err != nil {
			return res, err
		}
		done[r.Referrer] = true
		res.Records = append(res.Records, desc.Digest.String())
	}
	if len(res.Records) == 0 {
		return nil, fmt.Errorf("%w: %s has no tier record the trusted keys verify, so there is nothing to sign again", promotion.ErrNoRecord, t.Ref)
	}
	sig, err := artifact.SignAll(ctx, t, root, signer)
	if err != nil {
		return res, err
	}
	res.Signature = sig.Digest.String()
	return res, nil
}
