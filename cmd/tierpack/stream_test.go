package main

import (
	"bytes"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tierpack/tierpack/internal/faultproxy"
	"github.com/tierpack/tierpack/internal/registrytest"
)

// A one-layer pull extracts the layer as it downloads (one pass), and is
// still all-or-nothing: a connection cut in the middle makes it start
// again the two-pass way and end with the right content; a blob that does
// not match its digest leaves no output and nothing in the cache.
func TestStreamedPull(t *testing.T) {
	proxy := faultproxy.New()
	reg := registrytest.New(t, registrytest.WithHandlerWrapper(proxy.Wrap))
	p := newTP(t)
	repo := reg.Host + "/run/streamed"
	big := make([]byte, 4<<20)
	rand.Read(big)
	pushVersion(t, p, repo, "1.0.0", "contrib", map[string][]byte{"big.bin": big})

	_, errs, code := p.runEnv(nil, "--no-cache", "--log-level", "debug", "pull", repo+":1.0.0", "-o", p.path("a"))
	if code != 0 || !strings.Contains(errs, "one pass") {
		t.Fatalf("a one-layer pull: exit %d\n%s", code, errs)
	}
	if b, _ := os.ReadFile(filepath.Join(p.path("a"), "big.bin")); !bytes.Equal(b, big) {
		t.Fatal("streamed content differs")
	}

	p.ok("cache", "clean") // push kept the blobs there
	proxy.Set(faultproxy.Rule{Kind: faultproxy.ResetDownload, Method: "GET", Path: faultproxy.Blob, After: 1 << 20, Times: 1})
	_, errs, code = p.runEnv(nil, "--log-level", "debug", "pull", repo+":1.0.0", "-o", p.path("b"))
	if code != 0 || !strings.Contains(errs, "failed once") {
		t.Fatalf("a pull cut mid-stream: exit %d\n%s", code, errs)
	}
	if b, _ := os.ReadFile(filepath.Join(p.path("b"), "big.bin")); !bytes.Equal(b, big) {
		t.Fatal("content after the fallback differs")
	}

	// Corrupted past the header, deep in the stream: with the cache, and
	// without (where the download is hashed and not kept).
	for _, args := range [][]string{{"pull"}, {"--no-cache", "pull"}} {
		p.ok("cache", "clean")
		proxy.Set(faultproxy.Rule{Kind: faultproxy.Corrupt, Method: "GET", Path: faultproxy.Blob, After: 2 << 20})
		_, errs, code = p.run(append(args, repo+":1.0.0", "-o", p.path("c"))...)
		if code != exitRefused || !strings.Contains(errs, "the registry served other content for blob") {
			t.Fatalf("a corrupt stream (%v): exit %d\n%s", args, code, errs)
		}
		if _, err := os.Stat(p.path("c")); err == nil {
			t.Errorf("a corrupt stream (%v) left its output", args)
		}
		if left, _ := filepath.Glob(filepath.Join(p.dir, ".tierpack-*")); len(left) > 0 {
			t.Errorf("a corrupt stream (%v) left %v", args, left)
		}
	}
	// Cut mid-stream without a cache: the two-pass pull takes over too.
	proxy.Set(faultproxy.Rule{Kind: faultproxy.ResetDownload, Method: "GET", Path: faultproxy.Blob, After: 1 << 20, Times: 1})
	_, errs, code = p.runEnv(nil, "--no-cache", "--log-level", "debug", "pull", repo+":1.0.0", "-o", p.path("e"))
	if code != 0 || !strings.Contains(errs, "failed once") {
		t.Fatalf("a --no-cache pull cut mid-stream: exit %d\n%s", code, errs)
	}
	if b, _ := os.ReadFile(filepath.Join(p.path("e"), "big.bin")); !bytes.Equal(b, big) {
		t.Fatal("content after the --no-cache fallback differs")
	}
	proxy.Set()
	p.ok("pull", repo+":1.0.0", "-o", p.path("d"))
	if b, _ := os.ReadFile(filepath.Join(p.path("d"), "big.bin")); !bytes.Equal(b, big) {
		t.Fatal("content after the corrupt stream differs")
	}
}
