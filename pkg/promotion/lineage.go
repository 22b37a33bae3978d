package promotion

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"

	"github.com/tierpack/tierpack/pkg/oci"
)

// maxIndexChildren bounds the manifests of an index ContentOf reads.
const maxIndexChildren = 64

// ContentOf is the content identity of the manifest or index desc: a
// digest over what a promotion or demotion keeps, so that every manifest of
// one lineage has the same one. For an image manifest that is its layers,
// in order (the config is not: a runnable image's config carries the tier
// as a label and is rewritten); for an index, each image manifest's
// platform and content identity, in order. Annotations never count.
func ContentOf(ctx context.Context, store content.Fetcher, desc ocispec.Descriptor) (string, error) {
	lines, err := contentLines(ctx, store, desc, 0)
	if err != nil {
		return "", fmt.Errorf("reading the content of %s: %w", desc.Digest, err)
	}
	h := sha256.Sum256([]byte(strings.Join(lines, "\n")))
	return "sha256:" + hex.EncodeToString(h[:]), nil
}

func contentLines(ctx context.Context, store content.Fetcher, desc ocispec.Descriptor, depth int) ([]string, error) {
	b, err := oci.FetchAll(ctx, store, desc, oci.MaxManifestSize)
	if err != nil {
		return nil, err
	}
	var m struct {
		Layers    []ocispec.Descriptor `json:"layers"`
		Manifests []ocispec.Descriptor `json:"manifests"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("malformed manifest: %w", err)
	}
	var lines []string
	for _, l := range m.Layers {
		lines = append(lines, "layer "+l.Digest.String())
	}
	if len(m.Manifests) > maxIndexChildren {
		return nil, fmt.Errorf("an index of %d manifests, more than the %d tierpack reads", len(m.Manifests), maxIndexChildren)
	}
	for _, c := range m.Manifests {
		if depth > 0 || c.MediaType == ocispec.MediaTypeImageIndex {
			lines = append(lines, "manifest "+c.Digest.String())
			continue
		}
		sub, err := contentLines(ctx, store, c, depth+1)
		if err != nil {
			return nil, err
		}
		p := ""
		if c.Platform != nil {
			p = c.Platform.OS + "/" + c.Platform.Architecture + "/" + c.Platform.Variant
		}
		sum := sha256.Sum256([]byte(strings.Join(sub, "\n")))
		lines = append(lines, "platform "+p+" "+hex.EncodeToString(sum[:]))
	}
	return lines, nil
}

// maxLineage bounds the manifests Lineage visits: a genuine lineage has a
// handful, and each is one referrers lookup.
const maxLineage = 32

// Lineage returns the records attached to root and, following the Source
// of every record that covers root (Record.Covers) back through the
// manifests it replaced, those attached to them that cover root too, once
// each and oldest first; and the other manifests of the lineage it visited
// (ancestors, and the descendants their records name), root left out.
// A manifest that cannot be resolved (deleted) ends that branch.
func Lineage(ctx context.Context, store oras.ReadOnlyGraphTarget, root ocispec.Descriptor, content string) ([]Signed, []ocispec.Descriptor, error) {
	d := root.Digest.String()
	var (
		out     []Signed
		visited []ocispec.Descriptor
		seen    = map[string]bool{d: true}
		have    = map[string]bool{}
		queue   = []ocispec.Descriptor{root}
	)
	for len(queue) > 0 && len(visited) <= maxLineage {
		m := queue[0]
		queue = queue[1:]
		recs, err := List(ctx, store, m)
		if err != nil {
			return nil, nil, err
		}
		for _, r := range recs {
			if !r.Covers(d, content) && !(m.Digest.String() == d && r.About(d)) {
				continue
			}
			if name := recordName(r.raw, r.Signature); !have[name] {
				have[name] = true
				out = append(out, r)
			}
			for _, next := range []string{r.Source, r.Subject} {
				if next == "" || seen[next] {
					continue
				}
				seen[next] = true
				nd, err := digest.Parse(next)
				if err != nil {
					continue
				}
				desc, err := oci.ResolveDigest(ctx, store, nd)
				if err != nil {
					continue
				}
				visited = append(visited, desc)
				queue = append(queue, desc)
			}
		}
	}
	sortRecords(out)
	return out, visited, nil
}
