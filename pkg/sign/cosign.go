package sign

import (
	"bytes"
	"context"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	sgbundle "github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/sigstore/sigstore/pkg/signature/payload"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/errdef"

	"github.com/tierpack/tierpack/pkg/oci"
)

// Cosign's media type and annotation for simple-signing signatures.
const (
	SimpleSigningMediaType = "application/vnd.dev.cosign.simplesigning.v1+json"
	SignatureAnnotation    = "dev.cosignproject.cosign/signature"
)

// Errors Verify wraps, so callers can tell the problems apart.
var (
	// ErrNoSignature: the manifest has no cosign signature at all.
	ErrNoSignature = errors.New("no signature")
	// ErrUntrusted: there are signatures, but none by a trusted key.
	ErrUntrusted = errors.New("not signed by a trusted key")
)

// maxPayload bounds a simple-signing payload Signatures reads.
const maxPayload = 1 << 20

// SignatureTag is cosign's tag for the signatures of a manifest digest:
// sha256-<hex>.sig.
func SignatureTag(d digest.Digest) string {
	return d.Algorithm().String() + "-" + d.Encoded() + ".sig"
}

// Signature is one cosign signature found for a manifest, in either
// format.
type Signature struct {
	// Payload is what was signed: the simple-signing JSON (legacy) or the
	// in-toto statement inside the DSSE envelope (bundle).
	Payload   []byte
	Signature []byte
	// Digest is the manifest digest the payload names.
	Digest string
	// Identity is the payload's docker-reference (legacy) or the statement
	// subject's name (bundle; empty in cosign's own).
	Identity string
	// Format is FormatBundle or FormatLegacy.
	Format string
	// Manifest is the digest of the manifest that stores it: the bundle
	// referrer, or the manifest tagged sha256-<hex>.sig.
	Manifest string

	bundle *sgbundle.Bundle
}

// Sign signs subject with signer and stores the signature both ways cosign
// does: as a Sigstore bundle referrer (what cosign v3 writes and reads
// first, and what `oras cp -r` copies) and as a layer of the legacy
// sha256-<hex>.sig tag (what cosign v2 reads). identity is the repository
// name recorded in the payloads (e.g. ghcr.io/org/repo).
//
// Signing again with the same key adds nothing: it returns the manifest it
// wrote — the bundle referrer, or the .sig manifest when only that was
// missing — and the zero descriptor when both were there already.
func Sign(ctx context.Context, store oras.GraphTarget, identity string, subject ocispec.Descriptor, signer signature.Signer) (ocispec.Descriptor, error) {
	pub, err := signer.PublicKey()
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("signing %s: %w", subject.Digest, err)
	}
	v, err := signature.LoadVerifier(pub, crypto.SHA256)
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("signing %s: %w", subject.Digest, err)
	}
	key := PublicKey{Verifier: v, Key: pub}
	legacy, err := signLegacy(ctx, store, identity, subject, signer, key)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	bundle, err := signBundle(ctx, store, identity, subject, signer, key)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	if bundle.Digest != "" {
		return bundle, nil
	}
	return legacy, nil
}

// signLegacy adds a simple-signing layer to the sha256-<hex>.sig manifest
// unless one by the same key is there already (then it returns the zero
// descriptor).
func signLegacy(ctx context.Context, store oras.Target, identity string, subject ocispec.Descriptor, signer signature.Signer, key PublicKey) (ocispec.Descriptor, error) {
	ref, err := name.NewDigest(identity+"@"+subject.Digest.String(), name.WeakValidation)
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("signing %s: identity %q: %w", subject.Digest, identity, err)
	}
	pl, err := json.Marshal(payload.Cosign{Image: ref})
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	tag := SignatureTag(subject.Digest)
	var layers []ocispec.Descriptor
	if existing, err := readSignatureManifest(ctx, store, tag); err == nil {
		layers = existing.Layers
	} else if !errors.Is(err, errdef.ErrNotFound) {
		return ocispec.Descriptor{}, err
	}
	// ECDSA signatures are randomised: one per key is enough.
	for _, l := range layers {
		if s, err := fetchSignature(ctx, store, l); err == nil && s.Digest == subject.Digest.String() {
			if _, ok := s.SignedBy([]PublicKey{key}); ok {
				return ocispec.Descriptor{}, nil
			}
		}
	}
	sig, err := signer.SignMessage(bytes.NewReader(pl))
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("signing %s: %w", subject.Digest, err)
	}
	layer := ocispec.Descriptor{
		MediaType:   SimpleSigningMediaType,
		Digest:      digest.FromBytes(pl),
		Size:        int64(len(pl)),
		Annotations: map[string]string{SignatureAnnotation: base64.StdEncoding.EncodeToString(sig)},
	}
	layers = append(layers, layer)
	// A config like the one cosign (go-containerregistry) writes.
	cfg, err := oci.JSONBlob(ocispec.MediaTypeImageConfig, map[string]any{
		"architecture": "", "os": "", "created": "0001-01-01T00:00:00Z",
		"config": map[string]any{},
		"rootfs": map[string]any{"type": "layers", "diff_ids": diffIDs(layers)},
	})
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	man, err := oci.ManifestBlob(oci.NewManifest("", cfg.Desc, layers, nil))
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	blobs := []oci.Blob{{Desc: layer, Data: pl}, cfg, man}
	if _, err := oci.PushBlobs(ctx, store, blobs, tag, oci.PushOptions{}); err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("storing the signature %s: %w", tag, err)
	}
	return man.Desc, nil
}

func diffIDs(layers []ocispec.Descriptor) []string {
	out := make([]string, 0, len(layers))
	for _, l := range layers {
		out = append(out, l.Digest.String()) // uncompressed: diff ID = digest
	}
	return out
}

// sigManifest is a .sig manifest and its digest.
type sigManifest struct {
	ocispec.Manifest
	digest digest.Digest
}

func readSignatureManifest(ctx context.Context, store oras.ReadOnlyTarget, tag string) (*sigManifest, error) {
	d, err := store.Resolve(ctx, tag)
	if err != nil {
		return nil, err
	}
	b, err := oci.FetchAll(ctx, store, d, oci.MaxManifestSize)
	if err != nil {
		return nil, fmt.Errorf("signature manifest %s: %w", tag, err)
	}
	m := sigManifest{digest: d.Digest}
	if err := json.Unmarshal(b, &m.Manifest); err != nil {
		return nil, fmt.Errorf("signature manifest %s: %w", tag, err)
	}
	return &m, nil
}

func fetchSignature(ctx context.Context, store oras.ReadOnlyTarget, l ocispec.Descriptor) (Signature, error) {
	if l.MediaType != SimpleSigningMediaType {
		return Signature{}, fmt.Errorf("layer %s is not a simple-signing payload", l.Digest)
	}
	pl, err := oci.FetchAll(ctx, store, l, maxPayload)
	if err != nil {
		return Signature{}, fmt.Errorf("signature payload: %w", err)
	}
	sig, err := base64.StdEncoding.DecodeString(l.Annotations[SignatureAnnotation])
	if err != nil {
		return Signature{}, fmt.Errorf("signature annotation of %s is not base64: %w", l.Digest, err)
	}
	var sci payload.SimpleContainerImage
	if err := json.Unmarshal(pl, &sci); err != nil {
		return Signature{}, fmt.Errorf("signature payload %s: %w", l.Digest, err)
	}
	if sci.Critical.Type != payload.CosignSignatureType {
		return Signature{}, fmt.Errorf("signature payload %s has type %q", l.Digest, sci.Critical.Type)
	}
	return Signature{Payload: pl, Signature: sig, Digest: sci.Critical.Image.DockerManifestDigest, Identity: sci.Critical.Identity.DockerReference, Format: FormatLegacy}, nil
}

// Signatures lists the cosign signatures stored for subject (none is not
// an error): first the bundle referrers, found with oci.Referrers however
// the registry lists them, then the layers of the legacy sha256-<hex>.sig
// manifest. Bundles that are attestations rather than signatures, and
// layers other tools added, are passed over.
func Signatures(ctx context.Context, store oras.ReadOnlyGraphTarget, subject ocispec.Descriptor) ([]Signature, error) {
	out, err := bundleSignatures(ctx, store, subject)
	if err != nil {
		return nil, err
	}
	legacy, err := legacySignatures(ctx, store, subject)
	if err != nil {
		return nil, err
	}
	return append(out, legacy...), nil
}

// legacySignatures are the signatures in subject's legacy .sig tag (none
// when there is no such tag).
func legacySignatures(ctx context.Context, store oras.ReadOnlyGraphTarget, subject ocispec.Descriptor) ([]Signature, error) {
	m, err := readSignatureManifest(ctx, store, SignatureTag(subject.Digest))
	if errors.Is(err, errdef.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []Signature
	for _, l := range m.Layers {
		s, err := fetchSignature(ctx, store, l)
		if err != nil {
			continue // not ours to judge: other tools may add layers
		}
		s.Manifest = m.digest.String()
		out = append(out, s)
	}
	return out, nil
}

// Verified says which trusted key signed a manifest.
type Verified struct {
	KeyID     string `json:"keyID"`
	KeySource string `json:"keySource"`
	Identity  string `json:"identity"`
	// Format is the format of the signature that verified: FormatBundle or
	// FormatLegacy.
	Format string `json:"format"`
}

// ErrNoTrustedKeys is Verify's error when no key is trusted at all; it
// wraps ErrUntrusted.
var ErrNoTrustedKeys = fmt.Errorf("%w: no trusted keys were given", ErrUntrusted)

// Verify checks that subject carries a valid cosign signature by one of
// keys, in either format (a bundle referrer, or the legacy .sig tag). It
// fails with ErrNoTrustedKeys when keys is empty, with ErrNoSignature when
// there is none at all, and with
// ErrUntrusted when every signature is by another key, names another
// manifest, or does not verify.
func Verify(ctx context.Context, store oras.ReadOnlyGraphTarget, subject ocispec.Descriptor, keys []PublicKey) (Verified, error) {
	if len(keys) == 0 {
		return Verified{}, ErrNoTrustedKeys
	}
	// The bundle referrers first: when one of them verifies, the legacy
	// tag need not be asked for (a request saved on every check).
	var sigs []Signature
	var problems []string
	for _, read := range []func(context.Context, oras.ReadOnlyGraphTarget, ocispec.Descriptor) ([]Signature, error){bundleSignatures, legacySignatures} {
		found, err := read(ctx, store, subject)
		if err != nil {
			return Verified{}, fmt.Errorf("reading signatures of %s: %w", subject.Digest, err)
		}
		for _, s := range found {
			if s.Digest != subject.Digest.String() {
				problems = append(problems, fmt.Sprintf("a %s signature names %s, not this manifest", s.Format, s.Digest))
				continue
			}
			if k, ok := s.SignedBy(keys); ok {
				return Verified{KeyID: k.ID, KeySource: k.Source, Identity: s.Identity, Format: s.Format}, nil
			}
			problems = append(problems, fmt.Sprintf("a %s signature by a key that is not trusted", s.Format))
		}
		sigs = append(sigs, found...)
	}
	if len(sigs) == 0 {
		return Verified{}, fmt.Errorf("%w: %s has no cosign signature (neither a %s referrer nor the tag %s)",
			ErrNoSignature, subject.Digest, BundleMediaType, SignatureTag(subject.Digest))
	}
	return Verified{}, fmt.Errorf("%w: %s has %d signature(s), none valid for the trusted key(s) %s: %s",
		ErrUntrusted, subject.Digest, len(sigs), keyIDs(keys), strings.Join(problems, "; "))
}

func keyIDs(keys []PublicKey) string {
	ids := make([]string, 0, len(keys))
	for _, k := range keys {
		ids = append(ids, k.ID)
	}
	return strings.Join(ids, ", ")
}

// SignBytes signs arbitrary bytes (a promotion record) and returns the
// base64 signature.
func SignBytes(signer signature.Signer, b []byte) (string, error) {
	sig, err := signer.SignMessage(bytes.NewReader(b))
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(sig), nil
}

// SignedBy returns the key among keys whose signature s carries. It does not
// check which manifest the payload names; Verify does.
func (s Signature) SignedBy(keys []PublicKey) (PublicKey, bool) {
	if s.bundle != nil {
		return bundleSignedBy(s.bundle, keys)
	}
	return signedBy(s.Payload, s.Signature, keys)
}

func signedBy(b, sig []byte, keys []PublicKey) (PublicKey, bool) {
	for _, k := range keys {
		if k.Verifier.VerifySignature(bytes.NewReader(sig), bytes.NewReader(b)) == nil {
			return k, true
		}
	}
	return PublicKey{}, false
}

// VerifyBytes checks a base64 signature over b against keys and returns
// the key that made it.
func VerifyBytes(b []byte, sigB64 string, keys []PublicKey) (PublicKey, error) {
	sig, err := base64.StdEncoding.DecodeString(sigB64)
	if err != nil {
		return PublicKey{}, fmt.Errorf("signature is not base64: %w", err)
	}
	if k, ok := signedBy(b, sig, keys); ok {
		return k, nil
	}
	return PublicKey{}, ErrUntrusted
}
