package main

import (
	"bytes"
	"crypto/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tierpack/tierpack/internal/faultproxy"
	"github.com/tierpack/tierpack/internal/registrytest"
)

// TestPullKilledHalfway: a pull killed (SIGKILL, no chance to clean up) in
// the middle of a download leaves the previous output and the cache
// intact, and the next pull completes and clears the leftovers.
func TestPullKilledHalfway(t *testing.T) {
	proxy := faultproxy.New()
	reg := registrytest.New(t, registrytest.WithHandlerWrapper(proxy.Wrap))
	p := newTP(t)

	// Version 1 is pulled normally; version 2 carries a 4 MiB file.
	writeContribution(t, p.path("c"), "contrib", "", false)
	p.ok("push", p.path("c"), reg.Host+"/kill/demo")
	p.ok("pull", reg.Host+"/kill/demo:1.0.0", "-o", p.path("out"))
	big := make([]byte, 4<<20)
	rand.Read(big)
	os.WriteFile(filepath.Join(p.path("c"), "big.bin"), big, 0o644)
	os.WriteFile(filepath.Join(p.path("c"), "tierpack.yaml"), []byte("name: gov-demo\nversion: 2.0.0\ntype: script\ntier: contrib\n"), 0o644)
	// --no-cache: otherwise the push leaves the packaged layer in the very
	// cache the pull reads, and the pull would not need the network.
	p.ok("--no-cache", "push", p.path("c"), reg.Host+"/kill/demo")

	// The next blob download stalls after 1 MiB: kill tierpack there.
	proxy.Set(faultproxy.Rule{Kind: faultproxy.Stall, After: 1 << 20, Stall: time.Minute, Method: "GET", Path: faultproxy.Blob, Times: 1})
	cmd := exec.Command(tierpackBin, "pull", reg.Host+"/kill/demo:2.0.0", "-o", p.path("out"), "--force")
	cmd.Dir = p.dir
	cmd.Env = append(os.Environ(), "TIERPACK_HOME="+p.home)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Bounded wait until the download is under way: the proxy has seen it
	// and part of the blob sits in the cache's temporary file.
	cacheBlobs := filepath.Join(p.home, "cache", "blobs", "sha256")
	midway := func() bool {
		m, _ := filepath.Glob(filepath.Join(cacheBlobs, ".tmp-*"))
		for _, f := range m {
			if fi, err := os.Stat(f); err == nil && fi.Size() > 0 {
				return proxy.Fired(0) > 0
			}
		}
		return false
	}
	deadline := time.Now().Add(20 * time.Second)
	for !midway() {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("the download never started\n%s", stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	cmd.Process.Kill()
	cmd.Wait()

	// The previous output is whole, and version 2 is nowhere in it.
	if _, err := os.Stat(p.path("out/run.sh")); err != nil {
		t.Fatalf("previous output damaged: %v", err)
	}
	if _, err := os.Stat(p.path("out/big.bin")); err == nil {
		t.Fatal("half a pull reached the output")
	}
	// The cache holds only complete, verified entries (a partial file may
	// remain under a temporary name).
	entries, _ := os.ReadDir(cacheBlobs)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".tmp-") {
			continue
		}
		if fi, _ := e.Info(); fi.Size() >= 4<<20 {
			t.Errorf("an incomplete blob is in the cache as %s", e.Name())
		}
	}

	// The killed pull did leave its staging folder and a partial cache file:
	// the cleanup below has something to prove.
	if m, _ := filepath.Glob(filepath.Join(p.dir, ".tierpack-pull-*")); len(m) == 0 {
		t.Error("expected the killed pull's staging folder")
	}
	if m, _ := filepath.Glob(filepath.Join(cacheBlobs, ".tmp-*")); len(m) == 0 {
		t.Error("expected the killed pull's partial cache file")
	}

	// The next pull completes and cleans up after the killed one.
	proxy.Set()
	p.ok("pull", reg.Host+"/kill/demo:2.0.0", "-o", p.path("out"), "--force")
	got, err := os.ReadFile(p.path("out/big.bin"))
	if err != nil || !bytes.Equal(got, big) {
		t.Fatalf("second pull: %v", err)
	}
	siblings, _ := os.ReadDir(p.dir)
	for _, e := range siblings {
		if strings.HasPrefix(e.Name(), ".tierpack-") {
			t.Errorf("leftover %s beside the output", e.Name())
		}
	}
	entries, _ = os.ReadDir(cacheBlobs)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".tmp-") {
			t.Errorf("leftover partial cache file %s", e.Name())
		}
	}
}
