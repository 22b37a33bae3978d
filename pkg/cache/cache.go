// Package cache is tierpack's content-addressed store of pulled blobs and
// manifests, so that pulling the same digest twice reads nothing from the
// network.
//
// Layout: DIR/blobs/<algorithm>/<hex>, like an OCI image layout's blobs.
// Entries are written to a temporary file, checked against their digest,
// and renamed into place, so a kill mid-write never leaves a corrupt
// entry; a reader checks the digest again as it reads, and an entry that
// fails is removed and fetched afresh. Entries are not flushed to disk
// (fsync): after a crash of the machine an entry may hold a part of its
// content, which that check catches like any other corruption, so a flush
// per blob (1–2 ms each, most of a small pull's I/O) would buy nothing.
//
// Privacy: blobs pulled from registries that needed credentials must not
// be readable by other users, so the whole cache is private: its folders
// are 0700 (tightened on Open if an older tierpack made them wider) and
// its entries 0400.
//
// Leftovers: packaging stages its output in DIR/tierpack-pack-* (see
// StagingPrefix), and a command killed with SIGKILL leaves that behind.
// Every process that opens the cache holds a shared lock on DIR/.in-use
// until it exits; Open first tries the exclusive lock, and when it gets it
// — no other tierpack is using the cache — it removes every staging folder
// there, since their owners are dead. (Where flock is unavailable, only
// `tierpack cache clean` removes them.)
package cache

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"

	"github.com/tierpack/tierpack/internal/fileid"
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

// StagingPrefix starts the names of the folders packaging stages its
// output in, directly in the cache folder (pkg/artifact's Pack).
const StagingPrefix = "tierpack-pack-"

// inUseFile is locked shared by every process using the cache.
const inUseFile = ".in-use"

// Permissions of the cache's folders and entries: private to the user.
const (
	DirMode   fs.FileMode = 0o700
	EntryMode fs.FileMode = 0o400
)

// inUse holds, per cache folder, this process's shared lock on it, for
// the life of the process.
var inUse sync.Map

// UnusableError is a cache that cannot be created or locked; the command
// can still run without it.
type UnusableError struct{ Err error }

func (e *UnusableError) Error() string { return e.Err.Error() }

// Unwrap returns the cause.
func (e *UnusableError) Unwrap() error { return e.Err }

// Open returns the cache in dir, creating it if needed (private to the
// user), and removes what killed processes left: partial entries, and —
// when no other process is using the cache — packaging staging folders.
func Open(dir string) (*Cache, error) {
	if err := os.MkdirAll(filepath.Join(dir, "blobs", "sha256"), DirMode); err != nil {
		return nil, &UnusableError{Err: fmt.Errorf("creating cache %s: %w", dir, err)}
	}
	restrict(dir)
	c := &Cache{dir: dir}
	c.removeStale()
	if err := c.register(); err != nil {
		return nil, err
	}
	return c, nil
}

// restrict makes the cache folder and its blob folders private, as an
// older tierpack may have made them 0755.
func restrict(dir string) {
	for _, d := range []string{dir, filepath.Join(dir, "blobs")} {
		os.Chmod(d, DirMode)
	}
	algs, _ := os.ReadDir(filepath.Join(dir, "blobs"))
	for _, a := range algs {
		if a.IsDir() {
			os.Chmod(filepath.Join(dir, "blobs", a.Name()), DirMode)
		}
	}
}

func (c *Cache) removeStale() {
	algs, _ := os.ReadDir(filepath.Join(c.dir, "blobs"))
	for _, a := range algs {
		home.RemoveStale(filepath.Join(c.dir, "blobs", a.Name()), tmpPrefix)
	}
	home.RemoveStale(filepath.Join(c.dir, "pack"), tmpPrefix)
}

// register marks the cache as used by this process until it exits, and
// removes the staging folders of dead processes if it is the only user.
func (c *Cache) register() error {
	abs, err := filepath.Abs(c.dir)
	if err != nil {
		return err
	}
	if _, ok := inUse.Load(abs); ok || !home.CanLock {
		return nil
	}
	path := filepath.Join(abs, inUseFile)
	if alone, err := home.Lock(context.Background(), path, home.LockOptions{Wait: -1}); err == nil {
		removeStaging(abs)
		alone.Close()
	}
	shared, err := home.Lock(context.Background(), path, home.LockOptions{Shared: true, What: "the cache " + abs})
	if err != nil {
		return &UnusableError{Err: err}
	}
	os.Chmod(path, 0o600)
	if _, loaded := inUse.LoadOrStore(abs, shared); loaded {
		shared.Close()
	}
	return nil
}

// removeStaging removes the packaging staging folders in dir.
func removeStaging(dir string) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), StagingPrefix) {
			os.RemoveAll(filepath.Join(dir, e.Name()))
		}
	}
}

// Usage is what a cache folder holds on disk.
type Usage struct {
	// Blobs and BlobBytes count the complete entries.
	Blobs     int64
	BlobBytes int64
	// Bytes is everything in the folder: entries, packaging records,
	// staging folders and partial entries (a file with several names
	// counts once).
	Bytes int64
	// TempBytes is the part of Bytes in staging folders and partial
	// entries: work in progress, or what killed commands left.
	TempBytes int64
}

// Measure reports what the cache folder dir holds on disk, without
// opening (or cleaning) it; a missing folder holds nothing.
func Measure(dir string) (Usage, error) {
	var u Usage
	seen := map[fileid.ID]bool{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return nil // removed meanwhile
		}
		if id, _, ok := fileid.Of(fi); ok {
			if seen[id] {
				return nil
			}
			seen[id] = true
		}
		rel, _ := filepath.Rel(dir, p)
		u.Bytes += fi.Size()
		switch {
		case strings.HasPrefix(rel, StagingPrefix) || strings.HasPrefix(d.Name(), tmpPrefix):
			u.TempBytes += fi.Size()
		case strings.HasPrefix(rel, "blobs"+string(filepath.Separator)):
			u.Blobs++
			u.BlobBytes += fi.Size()
		}
		return nil
	})
	return u, err
}

// Remove deletes the entry for d, if any: content a pull refused, so the
// cache keeps nothing of it. A reader that has the entry open keeps
// reading it.
func (c *Cache) Remove(d digest.Digest) {
	if p, err := c.path(d); err == nil {
		_ = os.Remove(p)
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
	if err := os.MkdirAll(filepath.Dir(p), DirMode); err != nil {
		return err
	}
	tmp := filepath.Join(filepath.Dir(p), fmt.Sprintf("%s%d-%s-link", tmpPrefix, os.Getpid(), desc.Digest.Encoded()[:12]))
	os.Remove(tmp)
	if err := os.Link(src, tmp); err != nil {
		return c.PutFile(desc, src)
	}
	if err := os.Chmod(tmp, EntryMode); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, p)
}

// Path returns the file of a present entry.
func (c *Cache) Path(d digest.Digest) (string, error) { return c.path(d) }

// PutVerified adds the content read from r, for a reader that checks
// desc's digest itself and fails, instead of ending, when the content does
// not match (as oci.FetchTo's does): the content is hashed once, here not
// at all. Nothing is added when r fails.
func (c *Cache) PutVerified(desc ocispec.Descriptor, r io.Reader) error {
	return c.write(desc, func(w io.Writer) error {
		_, err := io.Copy(w, r)
		return err
	})
}

func (c *Cache) put(desc ocispec.Descriptor, r io.Reader) error {
	return c.write(desc, func(w io.Writer) error {
		vr := content.NewVerifyReader(r, desc)
		if _, err := io.Copy(w, vr); err != nil {
			return err
		}
		return vr.Verify()
	})
}

// write makes desc's entry atomically from what fill writes.
func (c *Cache) write(desc ocispec.Descriptor, fill func(io.Writer) error) error {
	p, err := c.path(desc.Digest)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), DirMode); err != nil {
		return err
	}
	// Read-only: entries are shared with plugins (run as the same user)
	// that unpack from them; private: see the package doc.
	return home.WriteAtomicUnsynced(p, EntryMode, fill)
}
