package artifact

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/sigstore/sigstore/pkg/signature"

	"github.com/tierpack/tierpack/pkg/oci"
	"github.com/tierpack/tierpack/pkg/owners"
	"github.com/tierpack/tierpack/pkg/promotion"
	"github.com/tierpack/tierpack/pkg/sign"
	"github.com/tierpack/tierpack/pkg/target"
	"github.com/tierpack/tierpack/sdk"
	"github.com/tierpack/tierpack/sdk/tier"
)

// PromoteOptions say where to move an artifact and on whose authority.
type PromoteOptions struct {
	To tier.Tier
	// Signer signs the promoted manifest (cosign format) and the record.
	Signer signature.Signer
	// By names the person promoting; Reason says why (deprecation, audit).
	By, Reason string
	// ReasonKind and Advisory classify Reason (promotion.Record).
	ReasonKind, Advisory string
	// For an artifact tierpack did not push (Info.Falcoctl): the tier it
	// is at now (From), and what the policy needs that it lacks, vouched
	// for in the record.
	From                                        tier.Tier
	Owners                                      []string
	SourceURL, SourceRevision, License, Version string
	// Resolved is the artifact as resolved, and admitted at To by the
	// caller's trust gate; nil resolves the target again (no gate).
	Resolved *Info
	// Now stamps the record; zero means time.Now().
	Now time.Time
	// Tool is recorded in the record (tierpack and its version).
	Tool string
}

// PromoteResult reports a promotion.
type PromoteResult struct {
	Reference string    `json:"reference"`
	From      tier.Tier `json:"from"`
	To        tier.Tier `json:"to"`
	// Source is the manifest that was promoted; Digest the new one.
	Source string `json:"source"`
	Digest string `json:"digest"`
	// Record is the digest of the promotion record's referrer manifest.
	Record    string `json:"record"`
	Signature string `json:"signature"`
	// ContentBlobsUploaded counts configs and layers uploaded: always 0,
	// since the new manifest points at the blobs already there.
	ContentBlobsUploaded int `json:"contentBlobsUploaded"`
	// CoSigned is set when the artifact was at To already: the record is
	// another signer's approval of its tier (a scope's threshold), and
	// nothing moved. Record is empty when this key had approved it before.
	CoSigned bool `json:"coSigned,omitempty"`
}

// Identity is the repository name recorded in cosign payloads for t.
func Identity(r target.Ref) string {
	switch r.Kind {
	case target.Remote:
		return r.Registry + "/" + r.Repository
	case target.Layout:
		return "localhost/" + filepath.Base(filepath.Clean(r.Path))
	}
	return "localhost/" + r.Repository
}

// Promote moves the artifact t names to opts.To (up or down): it writes a
// manifest over the same blobs with the new tier, points the tag at it,
// signs it, and attaches a signed promotion record to it. Whether the
// artifact may move is the caller's trust gate's decision (pkg/trust), made
// on opts.Resolved before the call.
func Promote(ctx context.Context, t *target.Target, opts PromoteOptions) (*PromoteResult, error) {
	if opts.Signer == nil {
		return nil, errors.New("promotion needs a signing key: the record and the promoted manifest are signed")
	}
	info := opts.Resolved
	if info == nil {
		var err error
		if info, err = Resolve(ctx, t, nil); err != nil {
			return nil, err
		}
	}
	if err := Promotable(t.Ref, info, opts.To); err != nil {
		return nil, err
	}
	own, _ := owners.FromAnnotations(info.Annotations)
	if info.Falcoctl {
		// One of Falco's own artifacts: it gets its tier from the record
		// alone; its content and format stay as falcoctl wrote them.
		st, err := SignTier(ctx, t, TierStatement{
			Subject: info.root, From: opts.From, To: opts.To, Approvers: opts.Owners,
			By: opts.By, Reason: opts.Reason, ReasonKind: opts.ReasonKind, Advisory: opts.Advisory, Now: opts.Now, Tool: opts.Tool,
			SourceURL: opts.SourceURL, Revision: opts.SourceRevision, License: opts.License, Version: opts.Version,
		}, opts.Signer)
		if err != nil {
			return nil, err
		}
		return &PromoteResult{Reference: t.Ref.String(), From: opts.From, To: opts.To, Source: info.Digest, Digest: info.Digest,
			Record: st.Record, Signature: st.Signature}, nil
	}
	if info.Tier == opts.To {
		// A co-signature: another signer's record for the tier the
		// manifest is at, toward a scope's threshold. Nothing moves.
		st, err := SignTier(ctx, t, TierStatement{
			Subject: info.root, From: opts.To, To: opts.To, Approvers: approvers(own),
			By: opts.By, Reason: opts.Reason, ReasonKind: opts.ReasonKind, Advisory: opts.Advisory, Now: opts.Now, Tool: opts.Tool,
		}, opts.Signer)
		if err != nil {
			return nil, err
		}
		return &PromoteResult{Reference: t.Ref.String(), From: info.Tier, To: opts.To, Source: info.Digest, Digest: info.Digest,
			Record: st.Record, Signature: st.Signature, CoSigned: true}, nil
	}
	newRoot, err := retier(ctx, t, info.root, opts.To)
	if err != nil {
		return nil, err
	}
	if tag := t.Ref.Tag; tag != "" {
		if err := t.Store.Tag(ctx, newRoot, tag); err != nil {
			return nil, fmt.Errorf("tagging %s: %w", t.Ref, err)
		}
	}
	st, err := SignTier(ctx, t, TierStatement{
		Subject: newRoot, Source: &info.root, From: info.Tier, To: opts.To, Approvers: approvers(own),
		By: opts.By, Reason: opts.Reason, ReasonKind: opts.ReasonKind, Advisory: opts.Advisory, Now: opts.Now, Tool: opts.Tool,
	}, opts.Signer)
	if err != nil {
		return nil, err
	}
	return &PromoteResult{
		Reference: t.Ref.String(), From: info.Tier, To: opts.To, Source: info.Digest, Digest: newRoot.Digest.String(),
		Record: st.Record, Signature: st.Signature,
	}, nil
}

func approvers(own *owners.File) []string {
	if own == nil {
		return nil
	}
	return own.Approvers
}

// TierStatement is what SignTier signs: Subject is at tier To.
type TierStatement struct {
	Subject ocispec.Descriptor
	// Source is the manifest Subject replaced (promotion, demotion); nil for
	// a tier granted at push.
	Source    *ocispec.Descriptor
	From, To  tier.Tier
	Approvers []string
	By        string
	Reason    string
	// ReasonKind and Advisory classify Reason (promotion.Record).
	ReasonKind, Advisory string
	// SourceURL, Revision, License and Version are vouched for in the
	// record (an artifact tierpack did not push).
	SourceURL, Revision, License, Version string
	// Now stamps the record; zero means time.Now().
	Now  time.Time
	Tool string
}

// SignedTier reports what SignTier wrote.
type SignedTier struct {
	// Record is the digest of the record's referrer of Subject; empty when
	// an equal record by the same key was there already.
	Record string
	// Signature is the digest of Subject's cosign signature manifest; empty
	// when it was signed by that key already.
	Signature string
}

// SignTier is the one place tier statements are written: it signs Subject
// (and, for an index, each of its manifests, so a single-platform copy
// stays verifiable) cosign's way, then attaches a tier record signed by
// signer, naming Subject's content identity, with the lineage's next
// sequence, to Subject, to Source and to every other manifest of the
// lineage it finds (promotion.Lineage), so that a client that has never
// seen the lineage finds it from any of them. A grant at push that the same
// key has already signed is not written twice.
func SignTier(ctx context.Context, t *target.Target, st TierStatement, signer signature.Signer) (SignedTier, error) {
	var out SignedTier
	sigDesc, err := SignAll(ctx, t, st.Subject, signer)
	if err != nil {
		return out, err
	}
	out.Signature = sigDesc.Digest.String()
	about := st.Subject
	if st.Source != nil {
		about = *st.Source
	}
	contentID, err := promotion.ContentOf(ctx, t.Store, st.Subject)
	if err != nil {
		return out, err
	}
	prior, lineage, err := promotion.Lineage(ctx, t.Store, about, contentID)
	if err != nil {
		return out, err
	}
	keyID, _ := sign.SignerKeyID(signer)
	if st.Source == nil {
		for _, r := range prior {
			if r.Subject == st.Subject.Digest.String() && r.To == st.To && r.KeyID == keyID {
				return out, nil
			}
		}
	}
	now := st.Now
	if now.IsZero() {
		now = time.Now()
	}
	rec := promotion.Record{
		Subject: st.Subject.Digest.String(), Repository: Identity(t.Ref), From: st.From, To: st.To,
		Approvers: st.Approvers, Sequence: promotion.NextSequence(prior),
		By: st.By, Reason: st.Reason, ReasonKind: st.ReasonKind, Advisory: st.Advisory,
		SourceURL: st.SourceURL, Revision: st.Revision, License: st.License, Version: st.Version,
		Time: now.UTC().Truncate(time.Second), Tool: st.Tool,
		Content: contentID,
	}
	subjects := []ocispec.Descriptor{st.Subject}
	if st.Source != nil {
		rec.Source = st.Source.Digest.String()
		subjects = append(subjects, *st.Source)
	}
	for _, m := range lineage {
		if !slices.ContainsFunc(subjects, func(s ocispec.Descriptor) bool { return s.Digest == m.Digest }) {
			subjects = append(subjects, m)
		}
	}
	recDesc, err := promotion.Attach(ctx, t.Store, rec, signer, subjects...)
	if err != nil {
		return out, err
	}
	out.Record = recDesc.Digest.String()
	return out, nil
}

// SignAll signs root cosign's way and, for an index, every manifest in it,
// so a single-platform copy stays verifiable.
func SignAll(ctx context.Context, t *target.Target, root ocispec.Descriptor, signer signature.Signer) (ocispec.Descriptor, error) {
	d, err := sign.Sign(ctx, t.Store, Identity(t.Ref), root, signer)
	if err != nil {
		return d, fmt.Errorf("signing %s: %w", root.Digest, err)
	}
	if root.MediaType != ocispec.MediaTypeImageIndex {
		return d, nil
	}
	data, err := fetchManifest(ctx, t, root)
	if err != nil {
		return d, err
	}
	var idx ocispec.Index
	if err := json.Unmarshal(data, &idx); err != nil {
		return d, fmt.Errorf("%s: malformed index: %w", t.Ref, err)
	}
	for _, child := range idx.Manifests {
		if _, err := sign.Sign(ctx, t.Store, Identity(t.Ref), child, signer); err != nil {
			return d, fmt.Errorf("signing %s's manifest %s: %w", t.Ref, child.Digest, err)
		}
	}
	return d, nil
}

// Promotable says whether info can move to tier to at all: it must be a
// tierpack artifact, and not at that tier already. (Whether it meets the
// tier is the trust gate's call.)
func Promotable(ref target.Ref, info *Info, to tier.Tier) error {
	if info.Tier == to && to <= tier.Contrib {
		return fmt.Errorf("%s is already at tier %s", ref, to)
	}
	if info.Type == "" {
		return fmt.Errorf("%s is not a tierpack artifact (no %s annotation): push it with tierpack first", ref, sdk.AnnotationType)
	}
	return nil
}

// retier writes a copy of the manifest (or index, and each of its
// manifests) with the tier annotation set to to, pushing only manifests.
func retier(ctx context.Context, t *target.Target, root ocispec.Descriptor, to tier.Tier) (ocispec.Descriptor, error) {
	data, err := fetchManifest(ctx, t, root)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	switch root.MediaType {
	case ocispec.MediaTypeImageManifest:
		var m ocispec.Manifest
		if err := json.Unmarshal(data, &m); err != nil {
			return ocispec.Descriptor{}, fmt.Errorf("%s: malformed manifest: %w", t.Ref, err)
		}
		m.Annotations = withTier(m.Annotations, to, root)
		if m.Config.MediaType == ocispec.MediaTypeImageConfig {
			// Runnable images (exporters) carry the tier as a label too, so
			// `docker inspect` tells it: relabel the (small) config. Layers
			// are never touched.
			cfg, err := relabel(ctx, t, m.Config, to)
			if err != nil {
				return ocispec.Descriptor{}, err
			}
			m.Config = cfg
		}
		return pushJSON(ctx, t, root.MediaType, m, root)
	case ocispec.MediaTypeImageIndex:
		var idx ocispec.Index
		if err := json.Unmarshal(data, &idx); err != nil {
			return ocispec.Descriptor{}, fmt.Errorf("%s: malformed index: %w", t.Ref, err)
		}
		for i, child := range idx.Manifests {
			if child.MediaType != ocispec.MediaTypeImageManifest {
				continue
			}
			nd, err := retier(ctx, t, child, to)
			if err != nil {
				return ocispec.Descriptor{}, err
			}
			nd.Platform, nd.Annotations, nd.ArtifactType = child.Platform, child.Annotations, child.ArtifactType
			idx.Manifests[i] = nd
		}
		idx.Annotations = withTier(idx.Annotations, to, root)
		return pushJSON(ctx, t, root.MediaType, idx, root)
	}
	return ocispec.Descriptor{}, fmt.Errorf("%s has media type %q: only OCI manifests and indexes can be promoted", t.Ref, root.MediaType)
}

// relabel rewrites an image config's tier label, if it has one.
func relabel(ctx context.Context, t *target.Target, d ocispec.Descriptor, to tier.Tier) (ocispec.Descriptor, error) {
	data, err := fetchManifest(ctx, t, d) // same size bound and digest check as manifests
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	var cfg map[string]any
	if err := json.Unmarshal(data, &cfg); err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("%s: image config %s: %w", t.Ref, d.Digest, err)
	}
	inner, _ := cfg["config"].(map[string]any)
	labels, _ := inner["labels"].(map[string]any)
	if labels == nil {
		labels, _ = inner["Labels"].(map[string]any)
	}
	if _, ok := labels[sdk.AnnotationTier]; !ok {
		return d, nil
	}
	labels[sdk.AnnotationTier] = to.String()
	out, err := json.Marshal(cfg)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	nd := ocispec.Descriptor{MediaType: d.MediaType, Digest: digest.FromBytes(out), Size: int64(len(out))}
	if err := oci.PushBytes(ctx, t.Store, nd, out); err != nil {
		return ocispec.Descriptor{}, err
	}
	return nd, nil
}

func withTier(a map[string]string, to tier.Tier, from ocispec.Descriptor) map[string]string {
	out := make(map[string]string, len(a)+2)
	for k, v := range a {
		out[k] = v
	}
	out[sdk.AnnotationTier] = to.String()
	out[sdk.AnnotationRetieredFrom] = from.Digest.String()
	return out
}

// pushJSON pushes a rewritten manifest or index, keeping old's artifactType
// on its descriptor.
func pushJSON(ctx context.Context, t *target.Target, mediaType string, v any, old ocispec.Descriptor) (ocispec.Descriptor, error) {
	d, err := oci.PushJSON(ctx, t.Store, mediaType, v)
	d.ArtifactType = old.ArtifactType
	return d, err
}
