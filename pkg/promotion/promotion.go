// Package promotion writes and reads signed tier records: the statements
// that make a tier a verified fact rather than an annotation anyone with
// push access could write.
//
// A record says "manifest Subject is at tier To", signed with a cosign key:
// who, when, why, from which manifest (Source) and tier, and the OWNERS
// approvers vouched for. It is written when a contribution is pushed at the
// repository tier (Source empty) and on every promotion and demotion (a new
// manifest over the same blobs). It is stored as an OCI referrer
// (artifactType ArtifactType) of the Subject, and — so a demoted manifest
// cannot be restored by re-tagging it — of the Source too: a registry copy
// (`oras cp -r`) carries both. Registries without the referrers API get
// oras-go's tag-schema fallback (a sha256-<hex> index tag).
//
// Records about one lineage are ordered by Sequence (the lineage's highest
// plus one), then Time; records written in different repositories by Time
// (see Record.After). The latest trusted record about a digest decides its
// tier (see Latest).
//
// # Lineage: a demotion covers the content
//
// Promotions form a tree, not a chain: a manifest can be promoted twice,
// and an attacker with push access can re-tag any manifest of the tree. So
// a record names, besides its Subject and Source, the Content it is about
// (ContentOf: a digest of the layers, the same for every manifest a
// promotion or demotion wrote over them, whatever their annotations), and
// a demotion of the content caps every manifest of it until a later
// trusted record raises it again (pkg/trust).
//
// A client that has never seen the lineage finds its records from any
// manifest of it: a new record is attached to its Subject, its Source and
// every older manifest of the lineage the writer finds (Lineage follows
// the records' Source links back from the Source), and Lineage, run by
// the verifier from the manifest it was given, follows the same links
// back, so a sibling promotion reaches the common ancestor and the
// demotion attached there.
package promotion

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/sigstore/sigstore/pkg/signature"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry/remote"

	"github.com/tierpack/tierpack/pkg/oci"
	"github.com/tierpack/tierpack/pkg/sign"
	"github.com/tierpack/tierpack/sdk"
	"github.com/tierpack/tierpack/sdk/tier"
)

// ArtifactType is the artifactType of promotion record referrers, and the
// media type of the record layer.
const ArtifactType = "application/vnd.tierpack.promotion.v1+json"

// maxRecord bounds a record's manifest and layer, which List reads whole.
const maxRecord = 1 << 20

// Record is one tier decision: a grant at push, a promotion or a demotion.
type Record struct {
	// Subject is the digest of the manifest carrying the new tier.
	Subject string `json:"subject"`
	// Source is the digest of the manifest that was promoted or demoted;
	// empty for a tier granted at push.
	Source     string    `json:"source,omitempty"`
	Repository string    `json:"repository"`
	From       tier.Tier `json:"from"`
	To         tier.Tier `json:"to"`
	// Approvers are the OWNERS approvers the signer vouches for, so a forged
	// OWNERS annotation proves nothing.
	Approvers []string `json:"approvers,omitempty"`
	// Sequence orders the records of one lineage: the highest Sequence of
	// any record about Source, plus one (1 for a grant at push).
	Sequence int       `json:"sequence"`
	By       string    `json:"by"`
	Reason   string    `json:"reason,omitempty"`
	Time     time.Time `json:"time"`
	Tool     string    `json:"tool,omitempty"`
	// Content is the content identity of Subject (ContentOf), shared by
	// every manifest of its lineage; empty in records written before it.
	Content string `json:"content,omitempty"`
	// ReasonKind classifies Reason: ReasonSecurity, ReasonDeprecated or
	// ReasonPolicy; empty when not given.
	ReasonKind string `json:"reasonKind,omitempty"`
	// Advisory names the advisory behind the record (CVE-2026-1234,
	// GHSA-xxxx-xxxx-xxxx), if any.
	Advisory string `json:"advisory,omitempty"`
	// SourceURL, Revision, License and Version are what the tier's policy
	// needs and an artifact tierpack did not push (one of falcoctl's)
	// lacks: the signer vouches for them here, as for Approvers.
	SourceURL string `json:"sourceURL,omitempty"`
	Revision  string `json:"revision,omitempty"`
	License   string `json:"license,omitempty"`
	Version   string `json:"version,omitempty"`
}

// The kinds of reason a record gives (Record.ReasonKind).
const (
	// ReasonSecurity: a vulnerability; its Advisory names it.
	ReasonSecurity = "security"
	// ReasonDeprecated: replaced or no longer maintained.
	ReasonDeprecated = "deprecated"
	// ReasonPolicy: the tier's requirements no longer hold (or now do).
	ReasonPolicy = "policy"
)

// ReasonKinds lists the valid Record.ReasonKind values.
var ReasonKinds = []string{ReasonSecurity, ReasonDeprecated, ReasonPolicy}

// advisoryRE is what an advisory ID may be: CVE-2026-1234, GHSA-…, a
// project's own (FALCO-2026-01).
var advisoryRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]*-[A-Za-z0-9._:-]{1,60}$`) })

// ValidAdvisory reports whether s is an advisory ID a record may carry.
func ValidAdvisory(s string) bool { return advisoryRE().MatchString(s) }

// Why says the record's reason with its kind and advisory:
// "security, CVE-2026-1234: remote code execution"; "" when it gives none.
func (r Record) Why() string {
	switch l := r.Label(); {
	case l == "":
		return r.Reason
	case r.Reason == "":
		return l
	default:
		return l + ": " + r.Reason
	}
}

// Label is the record's reason kind and advisory, "security, CVE-2026-1234";
// "" when it gives neither.
func (r Record) Label() string {
	var l []string
	for _, s := range []string{r.ReasonKind, r.Advisory} {
		if s != "" {
			l = append(l, s)
		}
	}
	return strings.Join(l, ", ")
}

// About reports whether the record speaks about digest d: as the manifest
// given the tier, or as the one it replaced.
func (r Record) About(d string) bool { return r.Subject == d || (r.Source != "" && r.Source == d) }

// Demotion reports whether the record moves down.
func (r Record) Demotion() bool { return r.To < r.From }

// After reports whether r comes after o in its lineage: by Sequence within
// one repository, by the signed Time across repositories (a promotion
// written in another repository counts its own sequence and cannot know
// this one's), by Sequence when the times are equal.
func (r Record) After(o Record) bool {
	if r.Sequence != o.Sequence && r.Repository == o.Repository {
		return r.Sequence > o.Sequence
	}
	if !r.Time.Equal(o.Time) {
		return r.Time.After(o.Time)
	}
	return r.Sequence > o.Sequence
}

// Covers reports whether the record decides about digest d of content
// identity content: it is About d, or about the same content.
func (r Record) Covers(d, content string) bool {
	return r.About(d) || (content != "" && r.Content == content)
}

// Attach stores rec, signed by signer, as a referrer of each of subjects
// (the record's Subject and, for a promotion or demotion, its Source and
// the older manifests of its lineage), and returns the referrer of the
// first. Every subject must be one the record is About, unless the record
// names its Content (then the caller vouches that they share it).
func Attach(ctx context.Context, store oras.GraphTarget, rec Record, signer signature.Signer, subjects ...ocispec.Descriptor) (ocispec.Descriptor, error) {
	if len(subjects) == 0 {
		return ocispec.Descriptor{}, errors.New("a record needs the manifest it is about")
	}
	for _, s := range subjects {
		if !rec.About(s.Digest.String()) && rec.Content == "" {
			return ocispec.Descriptor{}, fmt.Errorf("record about %s is not about the manifest %s", rec.Subject, s.Digest)
		}
	}
	data, err := json.Marshal(rec)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	sig, err := sign.SignBytes(signer, data)
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("signing the tier record: %w", err)
	}
	keyID, err := sign.SignerKeyID(signer)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	layer := content.NewDescriptorFromBytes(ArtifactType, data)
	if err := oci.PushBytes(ctx, store, layer, data); err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("pushing the tier record: %w", err)
	}
	var first ocispec.Descriptor
	attached := map[digest.Digest]digest.Digest{} // subject → its record referrer
	pending := subjects
	for round := 1; len(pending) > 0; round++ {
		for _, subject := range pending {
			desc, err := attachOne(ctx, store, subject, layer, sig, keyID, rec.Time)
			if err != nil {
				return ocispec.Descriptor{}, fmt.Errorf("attaching the tier record to %s: %w", subject.Digest, err)
			}
			attached[subject.Digest] = desc.Digest
			if subject.Digest == subjects[0].Digest {
				first = desc
			}
		}
		// Another writer that read a subject's referrers index before this
		// one wrote it can still write its copy afterwards, dropping this
		// record: on a registry, look again once such writes have had time
		// to land, and attach again what went missing.
		if round == attachRounds || !tagSchema(ctx, store, subjects[0]) {
			break
		}
		select {
		case <-ctx.Done():
			return ocispec.Descriptor{}, ctx.Err()
		case <-time.After(attachSettle):
		}
		var lost []ocispec.Descriptor
		for _, subject := range pending {
			if !listed(ctx, store, subject, attached[subject.Digest]) {
				lost = append(lost, subject)
			}
		}
		pending = lost
	}
	return first, nil
}

// attachSettle is how long Attach waits before it looks again: longer than
// a registry takes to answer the read-modify-write of a referrers index
// under load. attachRounds bounds how often it attaches.
const (
	attachSettle = 400 * time.Millisecond
	attachRounds = 4
)

// tagSchema reports whether store is a registry that keeps subject's
// referrers in the tag schema (a sha256-<hex> index tag, rewritten by
// every writer), where concurrent writers can drop each other's entries.
// An OCI layout is written under a lock, and a registry with the referrers
// API keeps them itself.
func tagSchema(ctx context.Context, store oras.GraphTarget, subject ocispec.Descriptor) bool {
	if _, ok := store.(*remote.Repository); !ok {
		return false
	}
	_, err := store.Resolve(ctx, oci.ReferrersTag(subject.Digest))
	return err == nil
}

// listed reports whether ref is among subject's record referrers.
func listed(ctx context.Context, store oras.GraphTarget, subject ocispec.Descriptor, ref digest.Digest) bool {
	refs, err := oci.Referrers(ctx, store, subject, ArtifactType)
	return err == nil && slices.ContainsFunc(refs, func(r ocispec.Descriptor) bool { return r.Digest == ref })
}

// attachTries bounds how often attachOne pushes a record referrer that
// does not show among the subject's referrers.
const attachTries = 6

// attachOne pushes the record's referrer of subject and reads it back.
// On a registry without the referrers API, attaching rewrites the
// subject's referrers index (the sha256-<hex> tag) — read, add, write — so
// of two writers at once one can lose its entry: a record missing after
// its push is pushed again (the same bytes, so the same digest; the push
// adds it to the index again), after a short pause, until it is listed.
func attachOne(ctx context.Context, store oras.GraphTarget, subject, layer ocispec.Descriptor, sig, keyID string, at time.Time) (ocispec.Descriptor, error) {
	subj := ocispec.Descriptor{MediaType: subject.MediaType, Digest: subject.Digest, Size: subject.Size}
	for try := 1; ; try++ {
		// oras.PackManifest fits here, unlike for artifacts (see package oci):
		// a record carries its own time, which it stamps as created.
		desc, err := oras.PackManifest(ctx, store, oras.PackManifestVersion1_1, ArtifactType, oras.PackManifestOptions{
			Subject: &subj,
			Layers:  []ocispec.Descriptor{layer},
			ManifestAnnotations: map[string]string{
				sdk.AnnotationPromotionSignature: sig,
				sdk.AnnotationPromotionKey:       keyID,
				ocispec.AnnotationCreated:        at.UTC().Format(time.RFC3339),
			},
		})
		var rerr *remote.ReferrersError
		if err != nil && !(errors.As(err, &rerr) && rerr.IsReferrersIndexDelete()) {
			// (Another writer deleting the index this one replaced first is
			// no failure: the read-back decides.)
			return desc, err
		}
		if listed(ctx, store, subj, desc.Digest) {
			return desc, nil
		}
		if try == attachTries {
			return desc, fmt.Errorf("the registry does not list the record %s among its referrers after %d pushes (another writer keeps replacing its referrers index)", desc.Digest, try)
		}
		select {
		case <-ctx.Done():
			return desc, ctx.Err()
		case <-time.After(time.Duration(try*50+rand.IntN(100)) * time.Millisecond):
		}
	}
}

// NextSequence is the Sequence of a record about a manifest whose records
// are recs: one more than the highest.
func NextSequence(recs []Signed) int {
	n := 0
	for _, r := range recs {
		n = max(n, r.Sequence)
	}
	return n + 1
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
	// Remembered is a record this client kept (Memory) that the registry
	// no longer lists.
	Remembered bool `json:"remembered,omitempty"`
	// Keyless is set on an approval by a keyless identity (Approval): no
	// record was written, a signature bundle was verified.
	Keyless bool `json:"keyless,omitempty"`
	raw     []byte
	signer  string // an Approval's signer ID (sign.IdentityKey)
}

// Approval is a keyless identity's signature of manifest d, verified
// (sign.KeylessApprovals), as a record raising d to t at the time the
// transparency log gives. It is ordered among records by that time, so a
// later demotion lowers it; Verify finds its signer among keys by ID.
func Approval(a sign.KeylessApproval, d, content string, t tier.Tier) Signed {
	id := sign.IdentityKey(a.Identity).ID
	return Signed{
		Record:   Record{Subject: d, From: tier.Contrib, To: t, By: a.Identity.String(), Time: a.Time, Content: content, Tool: "sigstore bundle"},
		KeyID:    id,
		Referrer: a.Manifest,
		Keyless:  true,
		signer:   id,
	}
}

// Verify returns the key among keys that signed the record, unless the
// record is dated after that key's NotAfter. An Approval's signer is found
// by its ID: its signature was verified when it was made.
func (s Signed) Verify(keys []sign.PublicKey) (sign.PublicKey, error) {
	if s.signer != "" {
		for _, k := range keys {
			if k.ID == s.signer {
				return k, nil
			}
		}
		return sign.PublicKey{}, fmt.Errorf("%w: %s is not trusted for %s here", sign.ErrUntrusted, s.signer, s.To)
	}
	k, err := sign.VerifyBytes(s.raw, s.Signature, keys)
	if err == nil && !k.NotAfter.IsZero() && s.Time.After(k.NotAfter) {
		return k, fmt.Errorf("%w: record %s (key %s) is dated %s, after its key's notAfter %s",
			sign.ErrUntrusted, ShortDigest(s.Referrer), k.ID, s.Time.Format(time.RFC3339), k.NotAfter.Format(time.RFC3339))
	}
	return k, err
}

// MaxRecords bounds the tier records List reads about one manifest. A
// genuine lineage has a handful; anyone with push access can attach more.
// Past the bound List fails rather than read some: leaving records unread
// could leave out the one that decides (a demotion).
const MaxRecords = 256

// ErrTooManyRecords is wrapped when a manifest has more than MaxRecords.
var ErrTooManyRecords = errors.New("too many tier records")

// List returns the tier records attached to subject, oldest first (by
// Sequence, then Time). Records that cannot be read are skipped; whether
// they are signed by a trusted key is for Latest to check.
func List(ctx context.Context, store content.ReadOnlyGraphStorage, subject ocispec.Descriptor) ([]Signed, error) {
	refs, err := oci.Referrers(ctx, store, subject, ArtifactType)
	if err != nil {
		if errors.Is(err, errdef.ErrNotFound) {
			return nil, nil
		}
		return nil, fmt.Errorf("listing promotion records of %s: %w", subject.Digest, err)
	}
	if len(refs) > MaxRecords {
		return nil, fmt.Errorf("%w: %s has %d tier records, more than the %d a lineage could need; someone attached junk records to it, so its tier is not decided (delete them, or copy the artifact with its genuine records)",
			ErrTooManyRecords, subject.Digest, len(refs), MaxRecords)
	}
	var out []Signed
	for _, r := range refs {
		s, err := Read(ctx, store, r)
		if err != nil {
			continue
		}
		out = append(out, s)
	}
	sortRecords(out)
	return out, nil
}

// sortRecords orders recs oldest first (Record.After).
func sortRecords(recs []Signed) {
	sort.SliceStable(recs, func(i, j int) bool { return recs[j].After(recs[i].Record) })
}

// ErrNotRecord is returned by Read for a manifest that is not a record.
var ErrNotRecord = errors.New("not a promotion record")

// Read reads the record whose referrer manifest is d.
func Read(ctx context.Context, store content.Fetcher, d ocispec.Descriptor) (Signed, error) {
	b, err := oci.FetchAll(ctx, store, d, maxRecord)
	if err != nil {
		return Signed{}, err
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return Signed{}, err
	}
	if len(m.Layers) != 1 || m.Layers[0].MediaType != ArtifactType {
		return Signed{}, ErrNotRecord
	}
	data, err := oci.FetchAll(ctx, store, m.Layers[0], maxRecord)
	if err != nil {
		return Signed{}, err
	}
	var rec Record
	if err := json.Unmarshal(data, &rec); err != nil {
		return Signed{}, err
	}
	return Signed{Record: rec, Signature: m.Annotations[sdk.AnnotationPromotionSignature], KeyID: m.Annotations[sdk.AnnotationPromotionKey], Referrer: d.Digest.String(), raw: data}, nil
}

// ErrNoRecord is wrapped when no record about a manifest is signed by a
// trusted key.
var ErrNoRecord = errors.New("no tier record signed by a trusted key")

// KeysFor returns the keys trusted to sign a record moving between two
// tiers: those trusted for the higher of the two, so a key trusted only for
// repository can neither grant nor take away official.
type KeysFor func(t tier.Tier) []sign.PublicKey

// Latest returns the latest record among recs that Covers digest d of
// content identity content ("" for records about d only) and is signed by
// a key keysFor trusts for it, with the reasons the others were passed
// over. It fails, wrapping ErrNoRecord, when there is none.
func Latest(recs []Signed, d, content string, keysFor KeysFor) (*Signed, error) {
	var best *Signed
	var problems []string
	for i := range recs {
		r := recs[i]
		if !r.Covers(d, content) {
			problems = append(problems, fmt.Sprintf("record %s is about %s, not %s", ShortDigest(r.Referrer), ShortDigest(r.Subject), ShortDigest(d)))
			continue
		}
		k, err := r.Verify(keysFor(max(r.From, r.To)))
		switch {
		case errors.Is(err, sign.ErrUntrusted) && k.ID != "":
			problems = append(problems, strings.TrimPrefix(err.Error(), sign.ErrUntrusted.Error()+": "))
			continue
		case err != nil:
			problems = append(problems, fmt.Sprintf("record %s (%s -> %s, key %s) is not signed by a key trusted for %s", ShortDigest(r.Referrer), r.From, r.To, r.KeyID, max(r.From, r.To)))
			continue
		}
		r.VerifiedBy = k.ID
		if best == nil || r.After(best.Record) {
			best = &r
		}
	}
	if best == nil {
		if len(problems) == 0 {
			return nil, fmt.Errorf("%w about %s", ErrNoRecord, ShortDigest(d))
		}
		return nil, fmt.Errorf("%w about %s: %s", ErrNoRecord, ShortDigest(d), strings.Join(problems, "; "))
	}
	return best, nil
}

// ShortDigest shortens a digest for messages: "sha256:" and 12 hex
// digits; anything that is not a digest is returned whole.
func ShortDigest(s string) string {
	d, err := digest.Parse(s)
	if err != nil || len(d.Encoded()) < 12 {
		return s
	}
	return d.Algorithm().String() + ":" + d.Encoded()[:12]
}
