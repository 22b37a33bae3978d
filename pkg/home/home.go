// Package home says where tierpack keeps its state: the folder named by
// $TIERPACK_HOME (else $XDG_DATA_HOME/tierpack, else ~/.local/share/tierpack)
// and every path below it, each computed here once. It also holds the two
// file-system primitives every writer of that state shares: WriteAtomic
// (readers see the old content or the new, never a mix) and Lock (an flock
// that waits a bounded time and then says who holds it).
//
// Layout:
//
//	$TIERPACK_HOME/
//	  store/          the embedded local store, an OCI image layout (Store)
//	  cache/          pulled blobs and manifests by digest (Cache)
//	  cache/pack/     pack-cache records, one per input fingerprint (PackCache)
//	  plugins/        managed plugins and their lock.json (Plugins)
//	  trusted-keys/   *.pub keys trusted for pulls (TrustedKeys)
//	  policy.yaml     the tier policy (PolicyFile)
//	  indexes.yaml    the configured indexes (IndexConfig)
//	  indexes/        fetched copies of remote indexes, NAME.yaml (Indexes)
package home

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Env is the environment variable that names tierpack's data folder.
const Env = "TIERPACK_HOME"

// ErrNoHome is wrapped when no data folder can be found: neither
// $TIERPACK_HOME nor a user home directory is set.
var ErrNoHome = errors.New("no data folder")

// Home is tierpack's data folder. The zero value has no root; get one from
// New or At. Paths are computed, never created: writers create what they
// need.
type Home struct {
	root string
}

// New returns the data folder the environment names: $TIERPACK_HOME (made
// absolute), else $XDG_DATA_HOME/tierpack, else ~/.local/share/tierpack.
func New() (Home, error) {
	if d := os.Getenv(Env); d != "" {
		abs, err := filepath.Abs(d)
		if err != nil {
			return Home{}, fmt.Errorf("%s=%s: %w", Env, d, err)
		}
		return Home{root: abs}, nil
	}
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return Home{root: filepath.Join(d, "tierpack")}, nil
	}
	h, err := os.UserHomeDir()
	if err != nil {
		return Home{}, fmt.Errorf("finding the data directory: %w: %v (set %s)", ErrNoHome, err, Env)
	}
	return Home{root: filepath.Join(h, ".local", "share", "tierpack")}, nil
}

// At returns the data folder rooted at dir, whatever the environment says
// (for tests and for callers given a folder explicitly).
func At(dir string) Home { return Home{root: dir} }

// Root is the data folder itself.
func (h Home) Root() string { return h.root }

// Store is the embedded local store: an OCI image layout shared by every
// NAME[:TAG] reference.
func (h Home) Store() string { return h.join("store") }

// Cache is the content-addressed cache of pulled blobs and manifests
// (package cache).
func (h Home) Cache() string { return h.join("cache") }

// PackCache is where the pack cache keeps its records, inside Cache so the
// packaged files it names can be hard-linked into the cache's blobs.
func (h Home) PackCache() string { return h.join("cache", "pack") }

// Plugins is the managed plugin folder: what `tierpack plugin install`
// writes, each binary pinned in the folder's lock file.
func (h Home) Plugins() string { return h.join("plugins") }

// Records is where the signed demotions seen are kept
// (promotion.Memory).
func (h Home) Records() string { return h.join("records") }

// TrustedKeys is the folder whose *.pub files are trusted for pulls.
func (h Home) TrustedKeys() string { return h.join("trusted-keys") }

// PolicyFile is the tier policy read when no other is given.
func (h Home) PolicyFile() string { return h.join("policy.yaml") }

// IndexConfig is the file listing the configured indexes.
func (h Home) IndexConfig() string { return h.join("indexes.yaml") }

// RegistriesFile is the per-registry settings file (plain HTTP, CA file,
// client certificate, insecure, mirror), read by pkg/target.
func (h Home) RegistriesFile() string { return h.join("registries.yaml") }

// Indexes is the folder of fetched copies of remote indexes.
func (h Home) Indexes() string { return h.join("indexes") }

// IndexCopy is where the fetched copy of the index configured as name is
// kept.
func (h Home) IndexCopy(name string) string { return h.join("indexes", name+".yaml") }

// join keeps a zero Home's paths relative rather than rooted at "/".
func (h Home) join(elem ...string) string {
	return filepath.Join(append([]string{h.root}, elem...)...)
}
