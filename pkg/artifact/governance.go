package artifact

import (
	"context"
	"strconv"

	"github.com/tierpack/tierpack/pkg/owners"
	"github.com/tierpack/tierpack/pkg/policy"
	"github.com/tierpack/tierpack/pkg/promotion"
	"github.com/tierpack/tierpack/pkg/sign"
	"github.com/tierpack/tierpack/pkg/target"
	"github.com/tierpack/tierpack/pkg/tier"
	"github.com/tierpack/tierpack/sdk"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// ContributionFacts is what the policy knows about a contribution about to
// be pushed.
func ContributionFacts(p *Packed) policy.Facts {
	m := p.Manifest
	return policy.Facts{
		Owners:    p.Owners,
		SourceURL: m.Source.URL,
		Revision:  m.Source.Revision,
		License:   m.License,
		Version:   m.Version,
		Warnings:  sdk.Count(p.Diagnostics, sdk.SeverityWarning),
	}
}

// ArtifactFacts is what the policy knows about a pushed artifact: its
// annotations and, when the official tier's rules are wanted, whether a
// trusted key signed it and promoted it.
func ArtifactFacts(ctx context.Context, t *target.Target, info *Info, want tier.Tier, keys []sign.PublicKey) policy.Facts {
	a := info.Annotations
	f := policy.Facts{
		SourceURL: a[ocispec.AnnotationSource],
		Revision:  a[ocispec.AnnotationRevision],
		License:   a[ocispec.AnnotationLicenses],
		Version:   a[ocispec.AnnotationVersion],
		Warnings:  -1,
	}
	f.Owners, f.OwnersErr = owners.FromAnnotations(a)
	if n, err := strconv.Atoi(a[AnnotationWarnings]); err == nil {
		f.Warnings = n
	}
	if want >= tier.Official {
		if v, err := sign.Verify(ctx, t.Store, info.root.Digest, keys); err != nil {
			f.SignatureErr = err
		} else {
			f.SignedBy = "key " + v.KeyID + " (" + v.KeySource + ")"
		}
		if r, err := promotion.Verify(ctx, t.Store, info.root, tier.Official, keys); err != nil {
			f.PromotionErr = err
		} else {
			f.PromotedBy = r.By + " with key " + r.VerifiedBy
		}
	}
	return f
}
