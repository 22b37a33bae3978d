package artifact

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sync/errgroup"

	"github.com/tierpack/tierpack/pkg/cache"
	"github.com/tierpack/tierpack/pkg/home"
	"github.com/tierpack/tierpack/pkg/oci"
	"github.com/tierpack/tierpack/pkg/plugin"
	"github.com/tierpack/tierpack/sdk"
	"github.com/tierpack/tierpack/sdk/contrib"
)

// packCacheVersion changes whenever what a fingerprint covers changes.
const packCacheVersion = "tierpack-pack-cache-v3"

// fingerprint identifies a validation and packaging, so that a cached one
// is reused only for the same input: the plugin (a managed plugin's pinned
// sha256 — it is checked against the binary before every start — or, for
// tierpack's own built-ins and companions and a binary of the user's,
// its path, size and time with this tierpack's build), the manifest, the
// epoch, and every file of the contribution by path, mode, symlink target
// and the sha256 of its content. Content, not modification times: an
// archive extracted with its times, or an editor that keeps them, must
// not publish a stale validation. Reading is the cost (sha256 runs at
// about 1.5 GB/s here); what it saves is the plugin, validation and
// compression.
func fingerprint(m *contrib.Manifest, src plugin.Source, epoch int64, compression string) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%d\ncompression %q\n", packCacheVersion, epoch, compression)
	// The binary's size and time too: a binary changed since (tampered
	// with, or replaced) misses the cache, so the plugin is started and
	// its pin check refuses it, as every command that runs it does.
	st, err := os.Stat(src.Path)
	if err != nil {
		return "", err
	}
	fmt.Fprintf(h, "plugin %s %q %d %d\n", src.Path, src.Args, st.Size(), st.ModTime().UnixNano())
	if src.Managed && src.Pin != nil && src.Pin.SHA256 != "" {
		fmt.Fprintf(h, "pinned sha256 %s\n", src.Pin.SHA256)
	} else {
		fmt.Fprintf(h, "build %s\n", buildID())
	}
	h.Write(m.Raw)
	type entry struct {
		line, path string
		sum        []byte
	}
	var entries []*entry
	err = filepath.WalkDir(m.Dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() && e.Name() == ".git" {
			return filepath.SkipDir
		}
		info, err := e.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(m.Dir, path)
		target := ""
		if info.Mode()&fs.ModeSymlink != 0 {
			target, _ = os.Readlink(path)
		}
		en := &entry{line: fmt.Sprintf("%q %o %d %q", rel, info.Mode(), info.Size(), target)}
		if info.Mode().IsRegular() {
			en.path = path
		}
		entries = append(entries, en)
		return nil
	})
	if err != nil {
		return "", err
	}
	// The files are read on every core; the fingerprint takes them in
	// the walk's order.
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for _, en := range entries {
		if en.path == "" {
			continue
		}
		g.Go(func() error {
			f, err := os.Open(en.path)
			if err != nil {
				return err
			}
			defer f.Close()
			fh := sha256.New()
			if _, err := io.Copy(fh, f); err != nil {
				return err
			}
			en.sum = fh.Sum(nil)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return "", err
	}
	for _, en := range entries {
		fmt.Fprintf(h, "%s %x\n", en.line, en.sum)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// buildID names this tierpack build: its module version and VCS revision
// when the build recorded them.
func buildID() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	id := bi.Main.Version
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" || s.Key == "vcs.modified" {
			id += " " + s.Value
		}
	}
	return id
}

// packRecord is what the cache keeps for a fingerprint: the plugin's
// answer, and the digest of each file it wrote.
type packRecord struct {
	// Plugin is the plugin's Describe answer.
	Plugin sdk.Description `json:"plugin"`
	// Diagnostics are validation's findings (Result has packaging's).
	Diagnostics []sdk.Diagnostic      `json:"diagnostics"`
	Result      sdk.PackageResult     `json:"result"`
	Files       map[string]recordBlob `json:"files"`
}

type recordBlob struct {
	Digest digest.Digest `json:"digest"`
	Size   int64         `json:"size"`
}

// recordPath is where the record for key is kept: in the cache's folder
// (home.Home.PackCache for the default cache), so the files it names can
// be hard-linked into the cache's blobs.
func recordPath(c *cache.Cache, key string) string {
	return filepath.Join(c.Dir(), "pack", key+".json")
}

func loadPackRecord(c *cache.Cache, key string) (*packRecord, error) {
	b, err := os.ReadFile(recordPath(c, key))
	if err != nil {
		return nil, err
	}
	var r packRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// blobs maps each recorded file to its blob in the cache, or returns nil
// when any is missing.
func (r *packRecord) blobs(c *cache.Cache) map[string]oci.Blob {
	out := map[string]oci.Blob{}
	for p, f := range r.Files {
		d := ocispec.Descriptor{Digest: f.Digest, Size: f.Size}
		if !c.Has(d) {
			return nil
		}
		path, err := c.Path(f.Digest)
		if err != nil {
			return nil
		}
		out[p] = oci.Blob{Desc: ocispec.Descriptor{Digest: f.Digest, Size: f.Size}, Path: path}
	}
	for _, m := range r.Result.Manifests {
		for _, b := range append(m.Layers, deref(m.Config)...) {
			if bl, ok := out[b.Path]; ok {
				bl.Desc.MediaType = b.MediaType
				out[b.Path] = bl
			}
		}
	}
	return out
}

func deref(b *sdk.Blob) []sdk.Blob {
	if b == nil {
		return nil
	}
	return []sdk.Blob{*b}
}

// savePackRecord links the packaged files into the cache and records them
// under key.
func savePackRecord(c *cache.Cache, key string, validation []sdk.Diagnostic, res sdk.PackageResult, p *Packed) error {
	rec := packRecord{Plugin: p.Plugin, Diagnostics: validation, Result: res, Files: map[string]recordBlob{}}
	byDigest := map[digest.Digest]oci.Blob{}
	for _, b := range p.Blobs {
		byDigest[b.Desc.Digest] = b
	}
	for _, m := range res.Manifests {
		for _, b := range append(m.Layers, deref(m.Config)...) {
			full := filepath.Join(p.staging, "out", filepath.FromSlash(b.Path))
			var found *oci.Blob
			for _, bl := range byDigest {
				if bl.Path == full {
					found = &bl
					break
				}
			}
			if found == nil {
				return fmt.Errorf("no blob for %s", b.Path)
			}
			if err := c.Adopt(found.Desc, full); err != nil {
				return err
			}
			rec.Files[b.Path] = recordBlob{Digest: found.Desc.Digest, Size: found.Desc.Size}
		}
	}
	data, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return home.WriteFileAtomic(recordPath(c, key), data, 0o644)
}
