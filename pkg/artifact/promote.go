package artifact

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/sigstore/sigstore/pkg/signature"

	"github.com/tierpack/tierpack/pkg/oci"
	"github.com/tierpack/tierpack/pkg/promotion"
	"github.com/tierpack/tierpack/pkg/sign"
	"github.com/tierpack/tierpack/pkg/target"
	"github.com/tierpack/tierpack/pkg/tier"
)

// PromoteOptions say where to move an artifact and on whose authority.
type PromoteOptions struct {
	To tier.Tier
	// Signer signs the promoted manifest (cosign format) and the record.
	Signer signature.Signer
	// By names the person promoting; Reason says why (deprecation, audit).
	By, Reason string
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
		return nil, fmt.Errorf("promotion needs a signing key (--key): the record and the promoted manifest are signed")
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
	newRoot, err := retier(ctx, t, info.root, opts.To)
	if err != nil {
		return nil, err
	}
	if tag := t.Ref.Tag; tag != "" {
		if err := t.Store.Tag(ctx, newRoot, tag); err != nil {
			return nil, fmt.Errorf("tagging %s: %w", t.Ref, err)
		}
	}
	sigDesc, err := sign.Sign(ctx, t.Store, Identity(t.Ref), newRoot, opts.Signer)
	if err != nil {
		return nil, fmt.Errorf("signing %s: %w", newRoot.Digest, err)
	}
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	rec := promotion.Record{
		Subject: newRoot.Digest.String(), Source: info.Digest, Repository: Identity(t.Ref),
		From: info.Tier, To: opts.To, By: opts.By, Reason: opts.Reason, Time: now.UTC().Truncate(time.Second), Tool: opts.Tool,
	}
	recDesc, err := promotion.Attach(ctx, t.Store, newRoot, rec, opts.Signer)
	if err != nil {
		return nil, err
	}
	return &PromoteResult{
		Reference: t.Ref.String(), From: info.Tier, To: opts.To, Source: info.Digest, Digest: newRoot.Digest.String(),
		Record: recDesc.Digest.String(), Signature: sigDesc.Digest.String(),
	}, nil
}

// Promotable says whether info can move to tier to at all: it must be a
// tierpack artifact, and not at that tier already. (Whether it meets the
// tier is the trust gate's call.)
func Promotable(ref target.Ref, info *Info, to tier.Tier) error {
	if info.Tier == to {
		return fmt.Errorf("%s is already at tier %s", ref, to)
	}
	if info.Type == "" {
		return fmt.Errorf("%s is not a tierpack artifact (no %s annotation): push it with tierpack first", ref, AnnotationType)
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
		m.Annotations = withTier(m.Annotations, to)
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
		idx.Annotations = withTier(idx.Annotations, to)
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
	if _, ok := labels[tier.Annotation]; !ok {
		return d, nil
	}
	labels[tier.Annotation] = to.String()
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

func withTier(a map[string]string, to tier.Tier) map[string]string {
	out := make(map[string]string, len(a)+1)
	for k, v := range a {
		out[k] = v
	}
	out[tier.Annotation] = to.String()
	return out
}

// pushJSON pushes a rewritten manifest or index, keeping old's artifactType
// on its descriptor.
func pushJSON(ctx context.Context, t *target.Target, mediaType string, v any, old ocispec.Descriptor) (ocispec.Descriptor, error) {
	d, err := oci.PushJSON(ctx, t.Store, mediaType, v)
	d.ArtifactType = old.ArtifactType
	return d, err
}
