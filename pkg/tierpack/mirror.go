package tierpack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/tierpack/tierpack/pkg/artifact"
	"github.com/tierpack/tierpack/pkg/home"
	"github.com/tierpack/tierpack/pkg/index"
	"github.com/tierpack/tierpack/pkg/oci"
	"github.com/tierpack/tierpack/pkg/target"
	"github.com/tierpack/tierpack/pkg/trust"
	"github.com/tierpack/tierpack/sdk/contrib"
	"github.com/tierpack/tierpack/sdk/tier"
)

// MirrorRequest asks for what an index names, at a tier, to be copied
// somewhere a machine without the network can install it from.
type MirrorRequest struct {
	// Index is a configured index's name.
	Index string
	// Tier is the lowest tier copied: every version the trust gate
	// verifies at Tier or higher is.
	Tier tier.Tier
	// Dest is oci:DIR (a mirror bundle: see target.BundleFile) or a
	// registry HOST[:PORT], which keeps every repository's path (so
	// registries.yaml's `mirror: HOST` serves it).
	Dest     string
	KeyFiles []string
}

// MirroredVersion is one version copied, or found there already.
type MirroredVersion struct {
	Repository string `json:"repository"`
	Version    string `json:"version"`
	Digest     string `json:"digest"`
	Tier       string `json:"tier"`
	// Copied is false when the destination had it already (its records
	// and signatures are copied again all the same: a demotion made since
	// must reach the mirror).
	Copied bool `json:"copied"`
}

// MirrorResult reports a mirror run.
type MirrorResult struct {
	Index string `json:"index"`
	Dest  string `json:"dest"`
	// IndexRef is where the index is in Dest.
	IndexRef string            `json:"indexRef"`
	Versions []MirroredVersion `json:"versions"`
	// Skipped says why each version left out was.
	Skipped []string `json:"skipped"`
}

// Mirror copies every version the index req.Index names that the trust
// gate verifies at req.Tier or higher — with its whole trust chain (tier
// records, signatures, their referrers) — and the index itself, byte for
// byte (an index published as an artifact is copied as one, so a
// signature on it stays valid), to req.Dest. Re-running copies only what
// is missing, and the trust chain of every version already there (so a
// demotion reaches the mirror). A version that was mirrored and is below
// req.Tier now stays, with its demotion beside it: installs from the
// bundle refuse it.
//
// Left out: the plugins of third-party types (install those in the
// air-gapped machine from their own artifacts with `tierpack plugin
// install`); built-in types need none.
func (c *Client) Mirror(ctx context.Context, req MirrorRequest) (*MirrorResult, error) {
	if req.Tier <= tier.None {
		return nil, usagef("mirror needs the lowest tier to copy ({Tier} contrib, repository or official)")
	}
	bundleDir, host, err := mirrorDest(req.Dest)
	if err != nil {
		return nil, err
	}
	cfg, err := c.indexConfig()
	if err != nil {
		return nil, err
	}
	src, err := cfg.Source(req.Index)
	if err != nil {
		return nil, err
	}
	fetch := cfg.Fetch
	fetch.Target.Bundles = []*target.Bundle{} // the index's own source, never a bundle
	ix, data, err := index.Fetch(ctx, src, fetch)
	if err != nil {
		return nil, err
	}
	gate, err := c.gate(req.KeyFiles)
	if err != nil {
		return nil, err
	}
	res := &MirrorResult{Index: req.Index, Dest: req.Dest, Versions: []MirroredVersion{}, Skipped: []string{}}
	var repos []string
	for _, e := range ix.Entries {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		ref, err := parseRef(e.Repository)
		if err != nil || ref.Kind != target.Remote {
			res.Skipped = append(res.Skipped, e.Repository+": not a registry repository")
			continue
		}
		dst := ref
		if host != "" {
			dst.Registry = host
		}
		n, err := c.mirrorRepo(ctx, gate, ref, dst, bundleDir, req.Tier, res)
		if err != nil {
			return nil, fmt.Errorf("mirroring %s: %w (what was copied stays; run mirror again to finish)", ref, err)
		}
		if n > 0 {
			repos = append(repos, ref.Registry+"/"+ref.Repository)
		}
	}
	if res.IndexRef, err = c.mirrorIndex(ctx, src, data, bundleDir, host); err != nil {
		return nil, err
	}
	if bundleDir != "" {
		if err := writeBundleFile(bundleDir, req, repos); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// mirrorDest reads DEST: oci:DIR (a bundle) or a registry HOST[:PORT].
func mirrorDest(dest string) (bundleDir, host string, err error) {
	if dir, ok := strings.CutPrefix(dest, "oci:"); ok {
		if dir == "" || strings.Contains(dir, ":") {
			return "", "", usagef("%s: give the bundle folder as oci:DIR (no tag: the bundle holds many repositories)", dest)
		}
		abs, err := filepath.Abs(dir)
		return abs, "", err
	}
	if dest == "" || strings.ContainsAny(dest, "/@ ") {
		return "", "", usagef("DEST %q: give oci:DIR for a bundle, or a registry HOST[:PORT] (repositories keep their paths there, so registries.yaml's mirror: HOST serves them)", dest)
	}
	return "", dest, nil
}

// mirrorRepo copies the versions of ref at want or higher, and the trust
// chain of those dst has already, to dst (a registry repository, or ref's
// layout in the bundle at bundleDir). It returns how many versions the
// destination holds.
func (c *Client) mirrorRepo(ctx context.Context, gate trust.Gate, ref, dst target.Ref, bundleDir string, want tier.Tier, res *MirrorResult) (int, error) {
	t, err := c.openWith(ctx, ref, true, true)
	if err != nil {
		return 0, err
	}
	defer t.Close()
	tags, err := index.Tags(ctx, t)
	if err != nil {
		return 0, err
	}
	var d *target.Target
	if bundleDir != "" {
		dir := target.BundleRepoDir(bundleDir, ref)
		dref, err := parseRef("oci:" + dir)
		if err != nil {
			return 0, err
		}
		d, err = c.openRef(ctx, dref, false)
		if err != nil {
			return 0, err
		}
	} else if d, err = c.openWith(ctx, dst, false, true); err != nil {
		return 0, err
	}
	defer d.Close()
	g := gate.For(artifact.Identity(t.Ref))
	held := 0
	for _, tag := range tags {
		if !contrib.IsSemver(tag) {
			continue
		}
		tt := *t
		tt.Ref = t.Ref.WithTag(tag)
		info, err := artifact.Resolve(ctx, &tt, nil)
		if err != nil {
			res.Skipped = append(res.Skipped, tt.Ref.String()+": "+err.Error())
			continue
		}
		v := c.verdictOf(ctx, g, &tt, info.Root(), info.Annotations)
		_, present := d.Store.Resolve(ctx, info.Digest)
		isNew := present != nil
		if present != nil {
			// The tag moved (a promotion or demotion wrote a manifest):
			// the mirror follows it, so the record travels.
			_, present = d.Store.Resolve(ctx, tag)
		}
		if !v.Admits(want) && present != nil {
			res.Skipped = append(res.Skipped, tt.Ref.String()+": "+v.String())
			continue
		}
		if _, err := oci.Copy(ctx, t.Store, tag, d.Store, tag, oci.CopyOptions{}); err != nil {
			return held, err
		}
		held++
		if v.Admits(want) {
			res.Versions = append(res.Versions, MirroredVersion{Repository: ref.String(), Version: tag, Digest: info.Digest,
				Tier: v.Effective().String(), Copied: isNew})
		} else {
			res.Skipped = append(res.Skipped, tt.Ref.String()+": "+v.String()+" (mirrored before: its records are brought up to date, so installs from the mirror refuse it)")
		}
	}
	return held, nil
}

// mirrorIndex puts the index into the destination: an index published as
// an artifact is copied as it is (with its referrers: a signature on it
// stays valid); a file or URL's bytes are pushed as an index artifact,
// unchanged. For a bundle it is the root layout's tag latest; on a
// registry, the source's repository, or tierpack-mirror/NAME.
func (c *Client) mirrorIndex(ctx context.Context, src index.Source, data []byte, bundleDir, host string) (string, error) {
	sref, perr := parseRef(src.Location)
	artifact := src.Kind == index.OCISource && perr == nil
	var dst target.Ref
	var err error
	if bundleDir != "" {
		dst, err = parseRef("oci:" + bundleDir + ":" + index.DefaultTag)
	} else if artifact && sref.Kind == target.Remote {
		dst = sref
		dst.Registry = host
	} else {
		dst, err = parseRef(host + "/tierpack-mirror/" + src.Name + ":" + index.DefaultTag)
	}
	if err != nil {
		return "", err
	}
	d, err := c.openWith(ctx, dst, false, true)
	if err != nil {
		return "", err
	}
	defer d.Close()
	if artifact {
		s, err := c.openWith(ctx, sref, true, true)
		if err != nil {
			return "", err
		}
		defer s.Close()
		if _, err := oci.Copy(ctx, s.Store, s.Ref.Reference(), d.Store, dst.Tag, oci.CopyOptions{}); err != nil {
			return "", fmt.Errorf("copying the index %s: %w", sref, err)
		}
		return dst.String(), nil
	}
	if _, err := index.Push(ctx, d, data, index.PushOptions{}); err != nil {
		return "", fmt.Errorf("writing the index: %w", err)
	}
	return dst.String(), nil
}

// writeBundleFile records the bundle's repositories (those of earlier runs
// too), written last, atomically.
func writeBundleFile(dir string, req MirrorRequest, repos []string) error {
	b := &target.Bundle{APIVersion: target.BundleAPIVersion}
	if old, err := target.ReadBundle(dir); err == nil {
		b = old
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	b.Index, b.Tier, b.Updated = req.Index, req.Tier.String(), time.Now().UTC().Truncate(time.Second)
	for _, r := range repos {
		if !slices.Contains(b.Repositories, r) {
			b.Repositories = append(b.Repositories, r)
		}
	}
	slices.Sort(b.Repositories)
	out, err := json.MarshalIndent(b, "", "  ")
	if err != nil {
		return err
	}
	return home.WriteFileAtomic(filepath.Join(dir, target.BundleFile), append(out, '\n'), 0o644)
}
