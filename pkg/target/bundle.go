package target

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// A mirror bundle is a folder `tierpack mirror` writes for machines with
// no network: the index it mirrors (an OCI layout at the folder's root,
// tag latest, so `tierpack index add NAME oci:DIR` reads it as it reads
// any index published as an artifact) and, under repos/, one OCI layout
// per repository the index names — repos/HOST/PATH, with ':' in HOST
// written '_' — holding every version mirrored with its tier records and
// signatures. BundleFile lists those repositories.
//
// A bundle stands in for the registries it holds: a reference to one of
// its repositories, opened for reading, reads the bundle's layout instead
// (Options.Bundles, or a registries.yaml mirror "oci:DIR"), while keeping
// the reference — so the trust policy's scopes see the registry
// namespace, not a folder.

// BundleFile is the file that makes a folder a mirror bundle.
const BundleFile = "tierpack-mirror.json"

// BundleAPIVersion is BundleFile's schema version.
const BundleAPIVersion = "tierpack.dev/mirror/v1"

// Bundle is BundleFile's content.
type Bundle struct {
	APIVersion string `json:"apiVersion"`
	// Index names the index mirrored, as it was configured; Tier the
	// lowest tier mirrored.
	Index string `json:"index"`
	Tier  string `json:"tier"`
	// Updated is when a mirror run last completed.
	Updated time.Time `json:"updated"`
	// Repositories are the repositories held, HOST/PATH, sorted.
	Repositories []string `json:"repositories"`
	// Dir is the bundle's folder (not in the file).
	Dir string `json:"-"`
}

// ReadBundle reads dir's BundleFile; an error wrapping os.ErrNotExist when
// dir is not a bundle.
func ReadBundle(dir string) (*Bundle, error) {
	b, err := os.ReadFile(filepath.Join(dir, BundleFile))
	if err != nil {
		return nil, err
	}
	var bu Bundle
	if err := json.Unmarshal(b, &bu); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, BundleFile), err)
	}
	if bu.APIVersion != BundleAPIVersion {
		return nil, fmt.Errorf("%s: apiVersion %q is not %q: a newer tierpack wrote it", filepath.Join(dir, BundleFile), bu.APIVersion, BundleAPIVersion)
	}
	bu.Dir = dir
	return &bu, nil
}

// Holds reports whether the bundle holds ref's repository.
func (b *Bundle) Holds(ref Ref) bool {
	_, ok := slices.BinarySearch(b.Repositories, ref.Registry+"/"+ref.Repository)
	return ok
}

// BundleRepoDir is the layout of ref's repository in the bundle at dir.
func BundleRepoDir(dir string, ref Ref) string {
	host := strings.NewReplacer(":", "_", "/", "_", `\`, "_").Replace(ref.Registry)
	if strings.Trim(host, ".") == "" {
		host = "_" + host // never "." or "..": the folder stays under repos/
	}
	return filepath.Join(dir, "repos", host, filepath.FromSlash(ref.Repository))
}

// openBundle opens ref's repository in the bundle at dir for reading,
// keeping ref; Mirror says "oci:DIR".
func openBundle(ctx context.Context, ref Ref, dir string) (*Target, error) {
	t, err := openLayout(ctx, ref, BundleRepoDir(dir, ref), "", true)
	if err != nil {
		return nil, err
	}
	t.Mirror = "oci:" + dir
	return t, nil
}

// bundleFor is the bundle among opts.Bundles, or the registries.yaml
// mirror "oci:DIR", that holds ref's repository; "" for none.
func bundleFor(ref Ref, opts Options) string {
	if m, ok := strings.CutPrefix(opts.Settings(ref.Registry).Mirror, "oci:"); ok {
		return m
	}
	for _, b := range opts.Bundles {
		if b.Holds(ref) {
			return b.Dir
		}
	}
	return ""
}
