package home

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestNewFromEnvironment(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(Env, dir)
	h, err := New()
	if err != nil {
		t.Fatal(err)
	}
	if h.Root() != dir {
		t.Fatalf("Root = %s, want %s", h.Root(), dir)
	}
	for got, want := range map[string]string{
		h.Store():          filepath.Join(dir, "store"),
		h.Cache():          filepath.Join(dir, "cache"),
		h.PackCache():      filepath.Join(dir, "cache", "pack"),
		h.Plugins():        filepath.Join(dir, "plugins"),
		h.TrustedKeys():    filepath.Join(dir, "trusted-keys"),
		h.PolicyFile():     filepath.Join(dir, "policy.yaml"),
		h.IndexConfig():    filepath.Join(dir, "indexes.yaml"),
		h.RegistriesFile(): filepath.Join(dir, "registries.yaml"),
		h.Indexes():        filepath.Join(dir, "indexes"),
		h.IndexCopy("org"): filepath.Join(dir, "indexes", "org.yaml"),
	} {
		if got != want {
			t.Errorf("got %s, want %s", got, want)
		}
	}

	t.Setenv(Env, "rel")
	h, err = New()
	if err != nil || !filepath.IsAbs(h.Root()) {
		t.Errorf("relative %s: Root = %q, %v; want an absolute path", Env, h.Root(), err)
	}

	t.Setenv(Env, "")
	t.Setenv("XDG_DATA_HOME", dir)
	if h, _ := New(); h.Root() != filepath.Join(dir, "tierpack") {
		t.Errorf("XDG_DATA_HOME: Root = %s", h.Root())
	}
}

func TestWriteFileAtomic(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "f.json")
	if err := WriteFileAtomic(path, []byte("one"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteFileAtomic(path, []byte("two"), 0o644); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil || string(b) != "two" {
		t.Fatalf("content %q, %v", b, err)
	}
	if st, _ := os.Stat(path); runtime.GOOS != "windows" && st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644 whatever the umask", st.Mode().Perm())
	}
	assertOnly(t, filepath.Dir(path), "f.json")
}

func TestWriteAtomicRefusalLeavesOldContent(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	if err := WriteFileAtomic(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	refuse := errors.New("digest mismatch")
	err := WriteAtomic(path, 0o644, func(w io.Writer) error {
		io.WriteString(w, "half of the new")
		return refuse
	})
	if !errors.Is(err, refuse) {
		t.Fatalf("err = %v, want the writer's", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "old" {
		t.Fatalf("content %q after a refused write, want the old", b)
	}
	assertOnly(t, dir, "f")
}

func TestRemoveStale(t *testing.T) {
	dir := t.TempDir()
	dead := TempPrefix + "999999999-x"                    // no such process
	live := TempPrefix + strconv.Itoa(os.Getpid()) + "-x" // this one
	for _, n := range []string{dead, live, "keep"} {
		os.WriteFile(filepath.Join(dir, n), nil, 0o644)
	}
	RemoveStale(dir, "")
	assertOnly(t, dir, live, "keep")
}

func TestLockIsBounded(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no flock")
	}
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), ".lock")
	a, err := Lock(ctx, path, LockOptions{What: "the folder"})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = Lock(ctx, path, LockOptions{Wait: 100 * time.Millisecond, What: "the folder"})
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "the folder is locked by another tierpack command") {
		t.Fatalf("second exclusive lock: %v", err)
	}
	if d := time.Since(start); d < 100*time.Millisecond || d > 5*time.Second {
		t.Errorf("waited %s, want about 100ms", d)
	}
	if _, err := Lock(ctx, path, LockOptions{Shared: true, Wait: -1}); !errors.Is(err, ErrLocked) {
		t.Fatalf("shared lock beside an exclusive one: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := Lock(cctx, path, LockOptions{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled wait: %v", err)
	}
	a.Close()

	r1, err := Lock(ctx, path, LockOptions{Shared: true})
	if err != nil {
		t.Fatal(err)
	}
	r2, err := Lock(ctx, path, LockOptions{Shared: true, Wait: -1})
	if err != nil {
		t.Fatalf("two shared locks: %v", err)
	}
	r1.Close()
	r2.Close()
	b, err := Lock(ctx, path, LockOptions{Wait: -1})
	if err != nil {
		t.Fatalf("after every holder closed: %v", err)
	}
	b.Close()
}

func assertOnly(t *testing.T, dir string, names ...string) {
	t.Helper()
	entries, _ := os.ReadDir(dir)
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	want := strings.Join(names, " ")
	if strings.Join(got, " ") != want {
		t.Errorf("%s holds %v, want %v", dir, got, names)
	}
}
