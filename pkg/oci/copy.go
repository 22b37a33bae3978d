package oci

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/errdef"
)

// LegacyCosignSuffixes are the suffixes of the tags cosign v2 stores next to
// a manifest, sha256-<hex> plus one of them: signatures, attestations,
// SBOMs. Copy carries them for the root and every child manifest.
var LegacyCosignSuffixes = []string{".sig", ".att", ".sbom"}

// maxCopyChildren bounds the child manifests Copy walks (an index of
// indexes included).
const maxCopyChildren = 1024

// ErrNotCopied is wrapped when Copy fails; the destination may hold some of
// the content, never a tag pointing at missing content.
var ErrNotCopied = errors.New("copy failed")

// CopyOptions tune Copy. The zero value is ready to use.
type CopyOptions struct {
	// Concurrency bounds parallel transfers; zero means DefaultConcurrency.
	Concurrency int
	// Attempts bounds tries of each graph copy on transient errors; zero
	// means DefaultAttempts.
	Attempts int
	// Referrers tunes how referrers are found (see ReferrersWith).
	Referrers ReferrersOptions
}

// CopyResult reports what Copy carried besides the artifact itself.
type CopyResult struct {
	// Root is the copied root manifest or index.
	Root ocispec.Descriptor
	// Children counts the child manifests under Root.
	Children int
	// Referrers counts the referrer manifests copied (signature bundles,
	// promotion records, attestations, and their own referrers).
	Referrers int
	// LegacyTags lists the cosign v2 tags copied (sha256-<hex>.sig ...).
	LegacyTags []string
}

// Copy copies the artifact srcRef (a tag or digest in src) to dst with
// everything that vouches for it — like `oras cp -r` plus cosign's tags —
// and tags it dstTag there (srcRef itself when dstTag is empty and srcRef
// is a tag; no tag for a digest). src and dst may be any targets: a
// registry repository, an OCI layout, the local store.
//
// It copies the root and its whole graph (platform children, configs,
// layers); for the root and each child manifest, their referrers found
// with Referrers (so none is missed when a registry lists them under a
// foreign artifactType or only in the tag schema), recursively (a
// referrer's referrers); and cosign's legacy tags (LegacyCosignSuffixes) of
// the root and each child, tagged the same in dst. Content dst has is not
// copied again; each graph copy is retried on transient errors. The root
// is tagged last, so a failed copy leaves no tag pointing at a partial
// artifact. On a registry without the referrers API, oras-go writes the
// tag-schema index as it pushes each referrer.
func Copy(ctx context.Context, src oras.ReadOnlyGraphTarget, srcRef string, dst oras.GraphTarget, dstTag string, opts CopyOptions) (CopyResult, error) {
	var res CopyResult
	fail := func(what string, err error) (CopyResult, error) {
		return res, fmt.Errorf("%w: %s: %w", ErrNotCopied, what, err)
	}
	var root ocispec.Descriptor
	err := Retry(ctx, opts.Attempts, func() (err error) {
		root, err = src.Resolve(ctx, srcRef)
		return err
	})
	if err != nil {
		return fail("resolving "+srcRef, wrapNotFound(err))
	}
	res.Root = root
	if dstTag == "" {
		if _, err := digest.Parse(srcRef); err != nil {
			dstTag = srcRef
		}
	}

	nodes, err := manifestsUnder(ctx, src, root)
	if err != nil {
		return fail("reading "+root.Digest.String(), err)
	}
	res.Children = len(nodes) - 1

	var mu sync.Mutex // FindPredecessors may run concurrently
	referrers := map[digest.Digest]bool{}
	ecOpts := oras.ExtendedCopyGraphOptions{
		CopyGraphOptions: oras.CopyGraphOptions{Concurrency: opts.Concurrency},
		FindPredecessors: func(ctx context.Context, s content.ReadOnlyGraphStorage, desc ocispec.Descriptor) ([]ocispec.Descriptor, error) {
			if !IsManifest(desc.MediaType) {
				return nil, nil
			}
			refs, err := ReferrersWith(ctx, s, desc, "", opts.Referrers)
			mu.Lock()
			defer mu.Unlock()
			for _, r := range refs {
				referrers[r.Digest] = true
			}
			return refs, err
		},
	}
	if ecOpts.Concurrency <= 0 {
		ecOpts.Concurrency = DefaultConcurrency
	}
	for _, n := range nodes {
		err := Retry(ctx, opts.Attempts, func() error { return oras.ExtendedCopyGraph(ctx, src, dst, n, ecOpts) })
		if err != nil {
			return fail("copying "+n.Digest.String()+" and its referrers", err)
		}
		for _, suffix := range LegacyCosignSuffixes {
			tag := ReferrersTag(n.Digest) + suffix
			copied, err := copyTag(ctx, src, dst, tag, opts)
			if err != nil {
				return fail("copying cosign's tag "+tag, err)
			}
			if copied {
				res.LegacyTags = append(res.LegacyTags, tag)
			}
		}
	}
	res.Referrers = len(referrers)

	if dstTag != "" {
		if err := Retry(ctx, opts.Attempts, func() error { return dst.Tag(ctx, root, dstTag) }); err != nil {
			return fail(fmt.Sprintf("tagging %s as %q", root.Digest, dstTag), err)
		}
	}
	return res, nil
}

// copyTag copies the graph tag names in src, if there is one, and tags it
// the same in dst.
func copyTag(ctx context.Context, src oras.ReadOnlyGraphTarget, dst oras.GraphTarget, tag string, opts CopyOptions) (bool, error) {
	var desc ocispec.Descriptor
	err := Retry(ctx, opts.Attempts, func() (err error) {
		desc, err = src.Resolve(ctx, tag)
		return err
	})
	if errors.Is(err, errdef.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	cg := oras.CopyGraphOptions{Concurrency: opts.Concurrency}
	if err := Retry(ctx, opts.Attempts, func() error { return oras.CopyGraph(ctx, src, dst, desc, cg) }); err != nil {
		return false, err
	}
	if err := Retry(ctx, opts.Attempts, func() error { return dst.Tag(ctx, desc, tag) }); err != nil {
		return false, err
	}
	return true, nil
}

// manifestsUnder returns root and every manifest or index below it,
// parents first.
func manifestsUnder(ctx context.Context, src content.Fetcher, root ocispec.Descriptor) ([]ocispec.Descriptor, error) {
	out := []ocispec.Descriptor{root}
	seen := map[digest.Digest]bool{root.Digest: true}
	for i := 0; i < len(out); i++ {
		n := out[i]
		if !IsIndex(n.MediaType) {
			continue
		}
		var idx ocispec.Index
		if err := FetchJSON(ctx, src, n, MaxManifestSize, &idx); err != nil {
			return nil, err
		}
		for _, m := range idx.Manifests {
			if seen[m.Digest] || !IsManifest(m.MediaType) {
				continue
			}
			if len(out) > maxCopyChildren {
				return nil, fmt.Errorf("%s has more than %d child manifests", root.Digest, maxCopyChildren)
			}
			seen[m.Digest] = true
			out = append(out, m)
		}
	}
	return out, nil
}

// wrapNotFound keeps errdef.ErrNotFound visible and says what to check.
func wrapNotFound(err error) error {
	if errors.Is(err, errdef.ErrNotFound) {
		return fmt.Errorf("%w (check the name and the tag or digest)", err)
	}
	return err
}
