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

// Signature is one cosign signature found for a manifest.
type Signature struct {
	Payload   []byte
	Signature []byte
	// Digest is the manifest digest the payload names.
	Digest string
	// Identity is the payload's docker-reference.
	Identity string
}

// Sign signs subject with signer and stores the signature the way cosign
// does. identity is the repository name recorded in the payload (e.g.
// ghcr.io/org/repo). Signing again with the same key adds nothing.
func Sign(ctx context.Context, store oras.Target, identity string, subject ocispec.Descriptor, signer signature.Signer) (ocispec.Descriptor, error) {
	ref, err := name.NewDigest(identity+"@"+subject.Digest.String(), name.WeakValidation)
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("signing %s: identity %q: %w", subject.Digest, identity, err)
	}
	pl, err := json.Marshal(payload.Cosign{Image: ref})
	if err != nil {
		return ocispec.Descriptor{}, err
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
	tag := SignatureTag(subject.Digest)
	var layers []ocispec.Descriptor
	if existing, err := readSignatureManifest(ctx, store, tag); err == nil {
		layers = existing.Layers
	} else if !errors.Is(err, errdef.ErrNotFound) {
		return ocispec.Descriptor{}, err
	}
	if pub, err := signer.PublicKey(); err == nil {
		// ECDSA signatures are randomised: one per key is enough.
		if v, err := signature.LoadVerifier(pub, crypto.SHA256); err == nil {
			for _, l := range layers {
				if s, err := fetchSignature(ctx, store, l); err == nil && s.Digest == subject.Digest.String() &&
					v.VerifySignature(bytes.NewReader(s.Signature), bytes.NewReader(s.Payload)) == nil {
					return ocispec.Descriptor{}, nil
				}
			}
		}
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

func readSignatureManifest(ctx context.Context, store oras.ReadOnlyTarget, tag string) (*ocispec.Manifest, error) {
	d, err := store.Resolve(ctx, tag)
	if err != nil {
		return nil, err
	}
	b, err := oci.FetchAll(ctx, store, d, oci.MaxManifestSize)
	if err != nil {
		return nil, fmt.Errorf("signature manifest %s: %w", tag, err)
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(b, &m); err != nil {
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
	return Signature{Payload: pl, Signature: sig, Digest: sci.Critical.Image.DockerManifestDigest, Identity: sci.Critical.Identity.DockerReference}, nil
}

// Signatures lists the cosign signatures stored for subject (none is not
// an error).
func Signatures(ctx context.Context, store oras.ReadOnlyTarget, subject digest.Digest) ([]Signature, error) {
	m, err := readSignatureManifest(ctx, store, SignatureTag(subject))
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
		out = append(out, s)
	}
	return out, nil
}

// Verified says which trusted key signed a manifest.
type Verified struct {
	KeyID     string `json:"keyID"`
	KeySource string `json:"keySource"`
	Identity  string `json:"identity"`
}

// Verify checks that subject carries a valid cosign signature by one of
// keys. It fails with ErrNoSignature when there is none at all, and with
// ErrUntrusted when every signature is by another key or does not verify.
func Verify(ctx context.Context, store oras.ReadOnlyTarget, subject digest.Digest, keys []PublicKey) (Verified, error) {
	if len(keys) == 0 {
		return Verified{}, fmt.Errorf("%w: no trusted keys were given (pass --key PUB, or put .pub files in the trusted-keys folder)", ErrUntrusted)
	}
	sigs, err := Signatures(ctx, store, subject)
	if err != nil {
		return Verified{}, fmt.Errorf("reading signatures of %s: %w", subject, err)
	}
	if len(sigs) == 0 {
		return Verified{}, fmt.Errorf("%w: %s has no cosign signature (tag %s); a maintainer signs it with `tierpack sign REF --key KEY`", ErrNoSignature, subject, SignatureTag(subject))
	}
	var problems []string
	for _, s := range sigs {
		if s.Digest != subject.String() {
			problems = append(problems, fmt.Sprintf("a signature names %s, not this manifest", s.Digest))
			continue
		}
		if k, ok := s.SignedBy(keys); ok {
			return Verified{KeyID: k.ID, KeySource: k.Source, Identity: s.Identity}, nil
		}
		problems = append(problems, "a signature by a key that is not trusted")
	}
	return Verified{}, fmt.Errorf("%w: %s has %d signature(s), none valid for the trusted key(s) %s: %s",
		ErrUntrusted, subject, len(sigs), keyIDs(keys), strings.Join(problems, "; "))
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
