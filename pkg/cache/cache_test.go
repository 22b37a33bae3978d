package cache

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"oras.land/oras-go/v2/content"
)

func TestPutGetAndCorruption(t *testing.T) {
	c, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("hello cache")
	d := content.NewDescriptorFromBytes("application/octet-stream", data)
	if c.Has(d) {
		t.Fatal("empty cache has it")
	}
	// Content that does not match its descriptor is never stored.
	bad := d
	bad.Size = int64(len("other bytes!"))
	if err := c.PutBytes(bad, []byte("other bytes!")); err == nil {
		t.Fatal("mismatching content stored")
	}
	if c.Has(d) {
		t.Fatal("a failed put left an entry")
	}
	if err := c.PutBytes(d, data); err != nil {
		t.Fatal(err)
	}
	got, err := c.Get(d)
	if err != nil || string(got) != string(data) {
		t.Fatalf("Get = %q, %v", got, err)
	}
	if got, err := c.GetByDigest(d.Digest); err != nil || string(got) != string(data) {
		t.Fatalf("GetByDigest = %q, %v", got, err)
	}
	// A corrupted entry fails its check on read and is removed.
	p, _ := c.Path(d.Digest)
	os.Chmod(p, 0o644)
	os.WriteFile(p, []byte("hello CACHE"), 0o644)
	if _, err := c.Get(d); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("corrupt entry: %v", err)
	}
	if c.Has(d) {
		t.Fatal("corrupt entry kept")
	}
}

func TestOpenRemovesDeadWritersLeftovers(t *testing.T) {
	dir := t.TempDir()
	c, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skip(err)
	}
	sub := filepath.Join(dir, "blobs", "sha256")
	os.MkdirAll(sub, 0o755)
	dead := filepath.Join(sub, tmpPrefix+strconv.Itoa(cmd.Process.Pid)+"-abc-1")
	live := filepath.Join(sub, tmpPrefix+strconv.Itoa(os.Getpid())+"-abc-2")
	for _, f := range []string{dead, live} {
		os.WriteFile(f, []byte("partial"), 0o644)
	}
	if _, err := Open(c.Dir()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dead); !os.IsNotExist(err) {
		t.Error("a dead writer's partial file was kept")
	}
	if _, err := os.Stat(live); err != nil {
		t.Error("a live writer's partial file was removed")
	}
}
