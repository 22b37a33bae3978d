// Package promotion writes and reads signed promotion records.
//
// Promoting an artifact writes a new manifest over the same blobs with the
// new tier, and attaches a record of the decision — who, when, from which
// tier and digest, to which tier, why — as an OCI referrer of the new
// manifest (artifactType ArtifactType, subject = the promoted manifest). The
// record is signed with the promoter's cosign key; the signature travels in
// the referrer's annotations. Registries without the OCI referrers API get
// oras-go's tag-schema fallback (a sha256-<hex> index tag), so records work
// on CNCF Distribution too.
package promotion

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/sigstore/sigstore/pkg/signature"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/errdef"

	"github.com/tierpack/tierpack/pkg/oci"
	"github.com/tierpack/tierpack/pkg/sign"
	"github.com/tierpack/tierpack/pkg/tier"
	"github.com/tierpack/tierpack/sdk"
)

// ArtifactType is the artifactType of promotion record referrers, and the
// media type of the record layer.
const ArtifactType = "application/vnd.tierpack.promotion.v1+json"

// Annotations on the referrer manifest.
const (
	AnnotationSignature = sdk.AnnotationPromotionSignature
	AnnotationKeyID     = sdk.AnnotationPromotionKey
)

// maxRecord bounds a record's manifest and layer, which List reads whole.
const maxRecord = 1 << 20

// Record is one promotion (or demotion) decision.
type Record struct {
	// Subject is the digest of the manifest the record is attached to: the
	// manifest carrying the new tier.
	Subject string `json:"subject"`
	// Source is the digest of the manifest that was promoted.
	Source     string    `json:"source"`
	Repository string    `json:"repository"`
	From       tier.Tier `json:"from"`
	To         tier.Tier `json:"to"`
	By         string    `json:"by"`
	Reason     string    `json:"reason,omitempty"`
	Time       time.Time `json:"time"`
	Tool       string    `json:"tool,omitempty"`
}

// Attach stores rec, signed by signer, as a referrer of subject.
func Attach(ctx context.Context, store oras.Target, subject ocispec.Descriptor, rec Record, signer signature.Signer) (ocispec.Descriptor, error) {
	if rec.Subject != subject.Digest.String() {
		return ocispec.Descriptor{}, fmt.Errorf("record subject %s is not the manifest %s", rec.Subject, subject.Digest)
	}
	data, err := json.Marshal(rec)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	sig, err := sign.SignBytes(signer, data)
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("signing the promotion record: %w", err)
	}
	keyID, err := sign.SignerKeyID(signer)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	layer := content.NewDescriptorFromBytes(ArtifactType, data)
	if err := oci.PushBytes(ctx, store, layer, data); err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("pushing the promotion record: %w", err)
	}
	subj := ocispec.Descriptor{MediaType: subject.MediaType, Digest: subject.Digest, Size: subject.Size}
	// oras.PackManifest fits here, unlike for artifacts (see package oci):
	// a record carries its own time, which it stamps as created.
	desc, err := oras.PackManifest(ctx, store, oras.PackManifestVersion1_1, ArtifactType, oras.PackManifestOptions{
		Subject: &subj,
		Layers:  []ocispec.Descriptor{layer},
		ManifestAnnotations: map[string]string{
			AnnotationSignature:       sig,
			AnnotationKeyID:           keyID,
			ocispec.AnnotationCreated: rec.Time.UTC().Format(time.RFC3339),
		},
	})
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("attaching the promotion record: %w", err)
	}
	return desc, nil
}

// Signed is a record as found, with its signature.
type Signed struct {
	Record
	Signature string `json:"-"`
	KeyID     string `json:"keyID"`
	// Referrer is the digest of the record's manifest.
	Referrer string `json:"referrer"`
	// VerifiedBy names the trusted key that signed it, after Verify.
	VerifiedBy string `json:"verifiedBy,omitempty"`
	raw        []byte
}

// List returns the promotion records attached to subject, oldest first.
// Records that cannot be read are skipped.
func List(ctx context.Context, store content.ReadOnlyGraphStorage, subject ocispec.Descriptor) ([]Signed, error) {
	refs, err := oci.Referrers(ctx, store, subject, ArtifactType)
	if err != nil {
		if errors.Is(err, errdef.ErrNotFound) {
			return nil, nil
		}
		return nil, fmt.Errorf("listing promotion records of %s: %w", subject.Digest, err)
	}
	var out []Signed
	for _, r := range refs {
		s, err := read(ctx, store, r)
		if err != nil {
			continue
		}
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out, nil
}

func read(ctx context.Context, store content.ReadOnlyStorage, d ocispec.Descriptor) (Signed, error) {
	b, err := oci.FetchAll(ctx, store, d, maxRecord)
	if err != nil {
		return Signed{}, err
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return Signed{}, err
	}
	if len(m.Layers) != 1 || m.Layers[0].MediaType != ArtifactType {
		return Signed{}, errors.New("not a promotion record")
	}
	data, err := oci.FetchAll(ctx, store, m.Layers[0], maxRecord)
	if err != nil {
		return Signed{}, err
	}
	var rec Record
	if err := json.Unmarshal(data, &rec); err != nil {
		return Signed{}, err
	}
	return Signed{Record: rec, Signature: m.Annotations[AnnotationSignature], KeyID: m.Annotations[AnnotationKeyID], Referrer: d.Digest.String(), raw: data}, nil
}

// Errors Verify wraps.
var (
	// ErrNoRecord: no promotion record to the tier is attached.
	ErrNoRecord = errors.New("no promotion record")
	// ErrWrongSubject: a record names another manifest.
	ErrWrongSubject = errors.New("promotion record is for another manifest")
)

// Verify finds a record attached to subject that promotes it to want, names
// subject as its subject, and is signed by one of keys.
func Verify(ctx context.Context, store content.ReadOnlyGraphStorage, subject ocispec.Descriptor, want tier.Tier, keys []sign.PublicKey) (*Signed, error) {
	recs, err := List(ctx, store, subject)
	if err != nil {
		return nil, err
	}
	if len(recs) > 0 && len(keys) == 0 {
		return nil, fmt.Errorf("%d promotion record(s) found, but no trusted keys were given to check them (pass --key PUB)", len(recs))
	}
	var problems []error
	for i := len(recs) - 1; i >= 0; i-- {
		r := recs[i]
		switch {
		case r.Subject != subject.Digest.String():
			problems = append(problems, fmt.Errorf("%w: record %s names %s, not %s", ErrWrongSubject, shortDigest(r.Referrer), r.Subject, subject.Digest))
			continue
		case r.To != want:
			problems = append(problems, fmt.Errorf("record %s promotes to %s, not %s", shortDigest(r.Referrer), r.To, want))
			continue
		}
		k, err := sign.VerifyBytes(r.raw, r.Signature, keys)
		if err != nil {
			problems = append(problems, fmt.Errorf("record %s (key %s) is not signed by a trusted key", shortDigest(r.Referrer), r.KeyID))
			continue
		}
		r.VerifiedBy = k.ID
		return &r, nil
	}
	if len(problems) == 0 {
		return nil, fmt.Errorf("%w to %s is attached to %s", ErrNoRecord, want, subject.Digest)
	}
	return nil, errors.Join(problems...)
}

func shortDigest(s string) string {
	d, err := digest.Parse(s)
	if err != nil || len(d.Encoded()) < 12 {
		return s
	}
	return d.Algorithm().String() + ":" + d.Encoded()[:12]
}
