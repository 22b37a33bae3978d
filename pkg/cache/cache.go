// Package cache is tierpack's content-addressed store of pulled blobs and
// manifests, so that pulling the same digest twice reads nothing from the
// network.
//
// Layout: DIR/blobs/<algorithm>/<hex>, like an OCI image layout's blobs.
// Entries are written to a temporary file, checked against their digest,
// and renamed into place, so a crash or a kill mid-write never leaves a
// corrupt entry; a reader checks the digest again as it reads, and an entry
// that fails is removed and fetched afresh.
package cache

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"

	"github.com/tierpack/tierpack/pkg/home"
)

// Cache is a content-addressed blob cache in a directory. It is safe for
// concurrent use by several processes: entries appear by atomic rename.
type Cache struct {
	dir string
}

// tmpPrefix starts the names of entries being written; the pid after it
// tells a killed writer's leftovers from a running one's.
const tmpPrefix = home.TempPrefix

// Open returns the cache in dir, creating it if needed, and removes partial
// entries left by processes that were killed while writing them.
func Open(dir string) (*Cache, error) {
	if err := os.MkdirAll(filepath.Join(dir, "blobs"), 0o755); err != nil {
		return nil, fmt.Errorf("creating cache %s: %w (set TIERPACK_HOME, or pass --no-cache)", dir, err)
	}
	c := &Cache{dir: dir}
	c.removeStale()
	return c, nil
}

func (c *Cache) removeStale() {
	algs, _ := os.ReadDir(filepath.Join(c.dir, "blobs"))
	for _, a := range algs {
		home.RemoveStale(filepath.Join(c.dir, "blobs", a.Name()), tmpPrefix)
	}
}

// Dir returns the cache directory.
func (c *Cache) Dir() string { return c.dir }

func (c *Cache) path(d digest.Digest) (string, error) {
	if err := d.Validate(); err != nil {
		return "", err
	}
	return filepath.Join(c.dir, "blobs", d.Algorithm().String(), d.Encoded()), nil
}

// Has reports whether the cache holds desc with the right size.
func (c *Cache) Has(desc ocispec.Descriptor) bool {
	p, err := c.path(desc.Digest)
	if err != nil {
		return false
	}
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular() && st.Size() == desc.Size
}

// Open returns the cached content of desc, checked against its digest as it
// is read (the returned reader fails at EOF on a mismatch; Verify tells).
func (c *Cache) Open(desc ocispec.Descriptor) (*Reader, error) {
	p, err := c.path(desc.Digest)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	return &Reader{f: f, vr: content.NewVerifyReader(f, desc), path: p}, nil
}

// Reader reads a cache entry and verifies it.
type Reader struct {
	f    *os.File
	vr   *content.VerifyReader
	path string
}

// Read reads from the entry.
func (r *Reader) Read(p []byte) (int, error) { return r.vr.Read(p) }

// Verify checks the whole entry was read and matched its digest; a
// mismatching entry is removed so it is fetched again next time.
func (r *Reader) Verify() error {
	if err := r.vr.Verify(); err != nil {
		os.Remove(r.path)
		return fmt.Errorf("cache entry %s is corrupt and was removed: %w", r.path, err)
	}
	return nil
}

// Close closes the entry.
func (r *Reader) Close() error { return r.f.Close() }

// PutFile adds the file at src, whose content must match desc, to the
// cache. It links when it can and copies otherwise.
func (c *Cache) PutFile(desc ocispec.Descriptor, src string) error {
	if c.Has(desc) {
		return nil
	}
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	return c.put(desc, f)
}

// PutBytes adds b, which must match desc, to the cache.
func (c *Cache) PutBytes(desc ocispec.Descriptor, b []byte) error {
	if c.Has(desc) {
		return nil
	}
	return c.put(desc, bytes.NewReader(b))
}

// Get returns the cached bytes of desc (for small content such as
// manifests), or an error wrapping os.ErrNotExist.
func (c *Cache) Get(desc ocispec.Descriptor) ([]byte, error) {
	if !c.Has(desc) {
		return nil, os.ErrNotExist
	}
	r, err := c.Open(desc)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	if err := r.Verify(); err != nil {
		return nil, errors.Join(os.ErrNotExist, err)
	}
	return b, nil
}

// GetByDigest returns cached content by digest alone (its size taken from
// the entry), verified; an error wrapping os.ErrNotExist when absent.
func (c *Cache) GetByDigest(d digest.Digest) ([]byte, error) {
	p, err := c.path(d)
	if err != nil {
		return nil, err
	}
	st, err := os.Stat(p)
	if err != nil {
		return nil, err
	}
	return c.Get(ocispec.Descriptor{Digest: d, Size: st.Size()})
}

// PutReader adds the content read from r, which must match desc; nothing
// is added when it does not.
func (c *Cache) PutReader(desc ocispec.Descriptor, r io.Reader) error {
	return c.put(desc, r)
}

// Adopt adds the file at src, which the caller has just hashed to desc,
// without reading it again: it is hard-linked (or, across file systems,
// copied and verified) into place.
func (c *Cache) Adopt(desc ocispec.Descriptor, src string) error {
	if c.Has(desc) {
		return nil
	}
	p, err := c.path(desc.Digest)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	tmp := filepath.Join(filepath.Dir(p), fmt.Sprintf("%s%d-%s-link", tmpPrefix, os.Getpid(), desc.Digest.Encoded()[:12]))
	os.Remove(tmp)
	if err := os.Link(src, tmp); err != nil {
		return c.PutFile(desc, src)
	}
	if err := os.Chmod(tmp, 0o444); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, p)
}

// Path returns the file of a present entry.
func (c *Cache) Path(d digest.Digest) (string, error) { return c.path(d) }

func (c *Cache) put(desc ocispec.Descriptor, r io.Reader) error {
	p, err := c.path(desc.Digest)
	if err != nil {
		return err
	}
	// Read-only: entries are shared with plugins that unpack from them.
	return home.WriteAtomic(p, 0o444, func(w io.Writer) error {
		vr := content.NewVerifyReader(r, desc)
		if _, err := io.Copy(w, vr); err != nil {
			return err
		}
		return vr.Verify()
	})
}
