package sign

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	intoto "github.com/in-toto/attestation/go/v1"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protodsse "github.com/sigstore/protobuf-specs/gen/pb-go/dsse"
	sgbundle "github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/verify"
	"github.com/sigstore/sigstore/pkg/signature"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"

	"github.com/tierpack/tierpack/pkg/oci"
)

// What cosign v3 (`cosign sign`, whose --new-bundle-format is on by
// default) stores, and tierpack with it: a Sigstore bundle v0.3 holding a
// DSSE envelope of an in-toto statement, as the one layer of an OCI 1.1
// referrer of the signed manifest.
const (
	// BundleMediaType is the media type of the bundle layer and the
	// artifactType of its referrer manifest.
	BundleMediaType = "application/vnd.dev.sigstore.bundle.v0.3+json"
	// SignPredicateType is the predicate type of the statement cosign
	// signs for `cosign sign`: "this manifest is signed", nothing more.
	// Bundles with other predicates are attestations, not signatures.
	SignPredicateType = "https://sigstore.dev/cosign/sign/v1"
	// InTotoPayloadType is the DSSE payload type of an in-toto statement.
	InTotoPayloadType = "application/vnd.in-toto+json"
	// AnnotationBundleContent and AnnotationBundlePredicateType annotate
	// the referrer manifest as cosign does ("dsse-envelope" and the
	// predicate type).
	AnnotationBundleContent       = "dev.sigstore.bundle.content"
	AnnotationBundlePredicateType = "dev.sigstore.bundle.predicateType"
)

// Formats of a Signature.
const (
	// FormatBundle is a Sigstore bundle referrer (cosign v3).
	FormatBundle = "bundle"
	// FormatLegacy is a simple-signing layer under the sha256-<hex>.sig
	// tag (cosign v2).
	FormatLegacy = "legacy"
)

// maxBundle bounds a bundle layer Signatures reads.
const maxBundle = 1 << 20

// signBundle stores a bundle signature of subject by signer as a referrer,
// unless one by the same key is there already (then it returns the zero
// descriptor).
func signBundle(ctx context.Context, store oras.GraphTarget, identity string, subject ocispec.Descriptor, signer signature.Signer, verifier PublicKey) (ocispec.Descriptor, error) {
	existing, err := bundleSignatures(ctx, store, subject)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	for _, s := range existing {
		if _, ok := s.SignedBy([]PublicKey{verifier}); ok && s.Digest == subject.Digest.String() {
			return ocispec.Descriptor{}, nil
		}
	}
	statement, err := protojson.Marshal(&intoto.Statement{
		Type: intoto.StatementTypeUri,
		Subject: []*intoto.ResourceDescriptor{{
			Name:   identity,
			Digest: map[string]string{subject.Digest.Algorithm().String(): subject.Digest.Encoded()},
		}},
		PredicateType: SignPredicateType,
		Predicate:     &structpb.Struct{},
	})
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	pb, err := keyBundle(signer, statement)
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("signing %s: %w", subject.Digest, err)
	}
	data, err := protojson.Marshal(pb)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	layer := oci.Blob{Desc: content.NewDescriptorFromBytes(BundleMediaType, data), Data: data}
	cfg := oci.EmptyJSON()
	m := oci.NewManifest(BundleMediaType, cfg.Desc, []ocispec.Descriptor{layer.Desc}, map[string]string{
		ocispec.AnnotationCreated:     time.Now().UTC().Format(time.RFC3339),
		AnnotationBundleContent:       "dsse-envelope",
		AnnotationBundlePredicateType: SignPredicateType,
	})
	m.Subject = &ocispec.Descriptor{MediaType: subject.MediaType, Digest: subject.Digest, Size: subject.Size}
	man, err := oci.ManifestBlob(m)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	if _, err := oci.PushBlobs(ctx, store, []oci.Blob{cfg, layer, man}, "", oci.PushOptions{}); err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("storing the signature bundle of %s: %w", subject.Digest, err)
	}
	man.Desc.ArtifactType = BundleMediaType
	return man.Desc, nil
}

// maxBundles bounds the signature bundles read about one manifest; past
// it the signatures are not judged at all (no signature counts), rather
// than judged on some of them.
const maxBundles = 256

// bundleSignatures reads the cosign signature bundles among subject's
// referrers. Bundles that are not signatures (attestations, other
// predicates, message signatures) and unreadable ones are passed over.
func bundleSignatures(ctx context.Context, store oras.ReadOnlyGraphTarget, subject ocispec.Descriptor) ([]Signature, error) {
	refs, err := oci.Referrers(ctx, store, subject, BundleMediaType)
	if err != nil {
		return nil, fmt.Errorf("finding signature bundles: %w", err)
	}
	if len(refs) > maxBundles {
		return nil, fmt.Errorf("finding signature bundles: %w: %s has %d, more than the %d tierpack reads: someone attached junk bundles to it", oci.ErrTooManyReferrers, subject.Digest, len(refs), maxBundles)
	}
	var out []Signature
	for _, r := range refs {
		s, err := fetchBundle(ctx, store, r, subject.Digest)
		if err != nil {
			continue // not ours to judge: other tools attach bundles too
		}
		out = append(out, s)
	}
	return out, nil
}

// fetchBundle reads one bundle referrer as a Signature.
func fetchBundle(ctx context.Context, store content.Fetcher, ref ocispec.Descriptor, subject digest.Digest) (Signature, error) {
	var m ocispec.Manifest
	if err := oci.FetchJSON(ctx, store, ref, oci.MaxReferrerManifestSize, &m); err != nil {
		return Signature{}, err
	}
	// cosign reads exactly one layer whose media type names a bundle.
	if len(m.Layers) != 1 || !strings.HasPrefix(m.Layers[0].MediaType, "application/vnd.dev.sigstore.bundle") {
		return Signature{}, fmt.Errorf("referrer %s is not a signature bundle", ref.Digest)
	}
	data, err := oci.FetchAll(ctx, store, m.Layers[0], maxBundle)
	if err != nil {
		return Signature{}, err
	}
	var pb protobundle.Bundle
	if err := protojson.Unmarshal(data, &pb); err != nil {
		return Signature{}, fmt.Errorf("bundle %s: %w", m.Layers[0].Digest, err)
	}
	b, err := sgbundle.NewBundle(&pb)
	if err != nil {
		return Signature{}, fmt.Errorf("bundle %s: %w", m.Layers[0].Digest, err)
	}
	if !b.MinVersion("v0.3") {
		return Signature{}, fmt.Errorf("bundle %s is older than v0.3", m.Layers[0].Digest)
	}
	env, err := b.Envelope()
	if err != nil {
		return Signature{}, fmt.Errorf("bundle %s holds no DSSE envelope: %w", m.Layers[0].Digest, err)
	}
	st, err := env.Statement()
	if err != nil {
		return Signature{}, fmt.Errorf("bundle %s: %w", m.Layers[0].Digest, err)
	}
	if st.GetPredicateType() != SignPredicateType {
		return Signature{}, fmt.Errorf("bundle %s is an attestation (%s), not a signature", m.Layers[0].Digest, st.GetPredicateType())
	}
	payload, err := base64.StdEncoding.DecodeString(env.Payload)
	if err != nil {
		return Signature{}, fmt.Errorf("bundle %s: payload: %w", m.Layers[0].Digest, err)
	}
	s := Signature{Payload: payload, Format: FormatBundle, Manifest: ref.Digest.String(), bundle: b}
	if len(env.Signatures) > 0 {
		s.Signature, _ = base64.StdEncoding.DecodeString(env.Signatures[0].Sig)
	}
	// The statement may name several subjects: report the one that is this
	// manifest, if any.
	for _, sub := range st.GetSubject() {
		for alg, hexDigest := range sub.GetDigest() {
			d := digest.NewDigestFromEncoded(digest.Algorithm(alg), hexDigest).String()
			if s.Digest == "" || d == subject.String() {
				s.Digest, s.Identity = d, sub.GetName()
			}
		}
	}
	return s, nil
}

// bundleSignedBy checks the bundle's DSSE signature with each key, through
// sigstore-go's verifier as cosign does offline (--key,
// --insecure-ignore-tlog): no transparency log, no timestamps. It does not
// check which manifest the statement names; Verify does.
func bundleSignedBy(b *sgbundle.Bundle, keys []PublicKey) (PublicKey, bool) {
	for _, k := range keys {
		key := root.NewExpiringKey(k.Verifier, time.Time{}, time.Time{})
		tm := root.NewTrustedPublicKeyMaterial(func(string) (root.TimeConstrainedVerifier, error) { return key, nil })
		v, err := verify.NewVerifier(tm, verify.WithNoObserverTimestamps())
		if err != nil {
			continue
		}
		if _, err := v.Verify(b, verify.NewPolicy(verify.WithoutArtifactUnsafe(), verify.WithKey())); err == nil {
			return k, true
		}
	}
	return PublicKey{}, false
}

// keyHint is the hint cosign gives a key in a bundle (its adapter of a
// signer to sigstore-go's keypair does the same): the base64 sha256 of
// the PKIX public key. Keys of types cosign does not sign with are
// refused.
func keyHint(s signature.Signer) (string, error) {
	pub, err := s.PublicKey()
	if err != nil {
		return "", err
	}
	switch pub.(type) {
	case *ecdsa.PublicKey, *rsa.PublicKey, ed25519.PublicKey:
	default:
		return "", fmt.Errorf("%w: unsupported key type %T", ErrBadKey, pub)
	}
	if _, err := signature.GetDefaultAlgorithmDetails(pub); err != nil {
		return "", fmt.Errorf("%w: %v", ErrBadKey, err)
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(der)
	return base64.StdEncoding.EncodeToString(sum[:]), nil
}

// keyBundle is the bundle sigstore-go's sign.Bundle makes of a DSSE
// in-toto statement signed by a key with no certificate, timestamp or
// transparency log: the envelope over the statement, signed over its
// pre-authentication encoding, and the key's hint. It is built here, field
// for field as sign.Bundle builds it, so that tierpack does not link
// sigstore-go's signing package: with its Rekor clients and Rekor's
// key-type packages it is some 48 packages whose initialisation every
// command paid for (about 1.7 ms of a 16 ms `tierpack --version`).
// Verification still goes through sigstore-go (pkg/verify), and cosign v3
// verifies what this writes (cmd/tierpack/cosign_test.go).
func keyBundle(signer signature.Signer, statement []byte) (*protobundle.Bundle, error) {
	hint, err := keyHint(signer)
	if err != nil {
		return nil, err
	}
	pae := fmt.Sprintf("DSSEv1 %d %s %d %s", len(InTotoPayloadType), InTotoPayloadType, len(statement), statement)
	sig, err := signer.SignMessage(strings.NewReader(pae))
	if err != nil {
		return nil, err
	}
	return &protobundle.Bundle{
		MediaType: BundleMediaType,
		VerificationMaterial: &protobundle.VerificationMaterial{
			Content: &protobundle.VerificationMaterial_PublicKey{PublicKey: &protocommon.PublicKeyIdentifier{Hint: hint}},
		},
		Content: &protobundle.Bundle_DsseEnvelope{DsseEnvelope: &protodsse.Envelope{
			Payload: statement, PayloadType: InTotoPayloadType, Signatures: []*protodsse.Signature{{Sig: sig}},
		}},
	}, nil
}
