//go:build unix

package cache

import (
	"context"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"oras.land/oras-go/v2/content"

	"github.com/tierpack/tierpack/pkg/home"
)

// TestCacheIsPrivate: folders 0700 and entries without group or other
// bits, whatever the umask, including a cache an older tierpack made 0755.
func TestCacheIsPrivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cache")
	if err := os.MkdirAll(filepath.Join(dir, "blobs", "sha256"), 0o755); err != nil {
		t.Fatal(err)
	}
	c, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("from a registry that needed credentials")
	if err := c.PutBytes(content.NewDescriptorFromBytes("application/octet-stream", data), data); err != nil {
		t.Fatal(err)
	}
	assertPrivate(t, dir)
}

func assertPrivate(t *testing.T, dir string) {
	t.Helper()
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			t.Error(err)
			return nil
		}
		fi, _ := d.Info()
		switch {
		case d.IsDir() && fi.Mode().Perm() != DirMode:
			t.Errorf("folder %s is %v, want %v", p, fi.Mode().Perm(), DirMode)
		case !d.IsDir() && fi.Mode().Perm()&0o077 != 0:
			t.Errorf("file %s is %v: readable by others", p, fi.Mode().Perm())
		}
		return nil
	})
}

// TestOpenRemovesDeadStaging: a packaging staging folder is removed by the
// next Open when no other process uses the cache, and kept while one does
// (its owner may be packaging right now); Measure counts it meanwhile.
func TestOpenRemovesDeadStaging(t *testing.T) {
	dir := t.TempDir()
	staging := filepath.Join(dir, StagingPrefix+"123")
	os.MkdirAll(filepath.Join(staging, "out"), 0o700)
	os.WriteFile(filepath.Join(staging, "out", "layer.tar.gz"), make([]byte, 1000), 0o644)

	// Another user of the cache: a shared lock, as Open takes.
	other, err := home.Lock(context.Background(), filepath.Join(dir, inUseFile), home.LockOptions{Shared: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(staging); err != nil {
		t.Fatalf("a staging folder was removed while another process used the cache: %v", err)
	}
	u, err := Measure(dir)
	if err != nil || u.Bytes < 1000 || u.TempBytes != 1000 || u.Blobs != 0 {
		t.Fatalf("Measure = %+v, %v: want the staging folder's 1000 bytes counted as temporary", u, err)
	}
	other.Close()

	// This process registered already; a fresh folder stands for the next
	// command, alone.
	if v, ok := inUse.LoadAndDelete(dir); ok {
		v.(io.Closer).Close()
	}
	if _, err := Open(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(staging); !os.IsNotExist(err) {
		t.Fatalf("the dead staging folder is still there: %v", err)
	}
	if u, _ := Measure(dir); u.TempBytes != 0 {
		t.Errorf("Measure after cleanup = %+v", u)
	}
}
