package artifact

import (
	"context"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"oras.land/oras-go/v2/errdef"

	"github.com/tierpack/tierpack/internal/faultproxy"
	"github.com/tierpack/tierpack/internal/registrytest"
	"github.com/tierpack/tierpack/pkg/cache"
	"github.com/tierpack/tierpack/pkg/oci"
	"github.com/tierpack/tierpack/pkg/target"
)

// bigContribution is a script contribution with a 2 MiB incompressible
// file, so transfers are long enough to be cut in the middle.
func bigContribution(t *testing.T) string {
	t.Helper()
	dir := contribution(t, "contrib")
	data := make([]byte, 2<<20)
	rand.Read(data)
	if err := os.WriteFile(filepath.Join(dir, "conf", "blob.bin"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func remoteTarget(t *testing.T, reg *registrytest.Registry, repo, tag string, withCache bool) *target.Target {
	t.Helper()
	tg, err := target.Open(context.Background(), target.Ref{Kind: target.Remote, Registry: reg.Host, Repository: repo, Tag: tag},
		target.Options{StallTimeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if withCache {
		if tg.Cache, err = cache.Open(filepath.Join(t.TempDir(), "cache")); err != nil {
			t.Fatal(err)
		}
	}
	return tg
}

// TestPushSurvivesFaults: each fault is injected into a push against a real
// registry; the push retries and succeeds, and the result pulls back whole.
func TestPushSurvivesFaults(t *testing.T) {
	pm := manager(t)
	dir := bigContribution(t)
	for _, tc := range []struct {
		name string
		rule faultproxy.Rule
	}{
		{"503 on upload start", faultproxy.Rule{Kind: faultproxy.Status, Status: 503, Method: "POST", Path: faultproxy.BlobUpload, Times: 2}},
		{"429 on manifest put", faultproxy.Rule{Kind: faultproxy.Status, Status: 429, RetryAfter: "1", Method: "PUT", Path: faultproxy.Manifest, Times: 1}},
		{"500 on blob HEAD", faultproxy.Rule{Kind: faultproxy.Status, Status: 500, Method: "HEAD", Path: faultproxy.Blob, Times: 2}},
		{"reset mid-upload", faultproxy.Rule{Kind: faultproxy.ResetUpload, After: 256 << 10, Method: "PUT", Path: faultproxy.BlobUpload, Times: 1}},
		{"stall before upload answer", faultproxy.Rule{Kind: faultproxy.Stall, Stall: 2 * time.Second, Method: "PUT", Path: faultproxy.BlobUpload, Times: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			proxy := faultproxy.New(tc.rule)
			reg := registrytest.New(t, registrytest.WithHandlerWrapper(proxy.Wrap))
			p := pack(t, pm, dir, PackOptions{})
			tg := remoteTarget(t, reg, "faults/push", "1.0.0", false)
			if _, err := oci.PushBlobs(context.Background(), tg.Store, p.Blobs, "1.0.0", oci.PushOptions{}); err != nil {
				t.Fatalf("push: %v", err)
			}
			if proxy.Fired(0) == 0 {
				t.Fatal("the fault never fired: the test proves nothing")
			}
			out := filepath.Join(t.TempDir(), "out")
			if _, err := Pull(context.Background(), pm, tg, PullOptions{OutputDir: out}); err != nil {
				t.Fatalf("pull after faulty push: %v", err)
			}
			assertSameFile(t, filepath.Join(dir, "conf", "blob.bin"), filepath.Join(out, "conf", "blob.bin"))
		})
	}
}

// TestPullSurvivesFaults: the same for pulls, with and without the cache.
func TestPullSurvivesFaults(t *testing.T) {
	pm := manager(t)
	dir := bigContribution(t)
	for _, tc := range []struct {
		name string
		rule faultproxy.Rule
	}{
		{"500 on blob GET", faultproxy.Rule{Kind: faultproxy.Status, Status: 500, Method: "GET", Path: faultproxy.Blob, Times: 2}},
		{"429 on manifest GET", faultproxy.Rule{Kind: faultproxy.Status, Status: 429, Method: "GET", Path: faultproxy.Manifest, Times: 1}},
		{"reset mid-download", faultproxy.Rule{Kind: faultproxy.ResetDownload, After: 256 << 10, Method: "GET", Path: faultproxy.Blob, Times: 2}},
		{"stall mid-download", faultproxy.Rule{Kind: faultproxy.Stall, After: 256 << 10, Stall: 10 * time.Second, Method: "GET", Path: faultproxy.Blob, Times: 1}},
	} {
		for _, withCache := range []bool{false, true} {
			name := tc.name
			if withCache {
				name += " (cache)"
			}
			t.Run(name, func(t *testing.T) {
				proxy := faultproxy.New()
				reg := registrytest.New(t, registrytest.WithHandlerWrapper(proxy.Wrap))
				p := pack(t, pm, dir, PackOptions{})
				tg := remoteTarget(t, reg, "faults/pull", "1.0.0", withCache)
				if _, err := oci.PushBlobs(context.Background(), tg.Store, p.Blobs, "1.0.0", oci.PushOptions{}); err != nil {
					t.Fatal(err)
				}
				proxy.Set(tc.rule)
				out := filepath.Join(t.TempDir(), "out")
				if _, err := Pull(context.Background(), pm, tg, PullOptions{OutputDir: out}); err != nil {
					t.Fatalf("pull: %v", err)
				}
				if proxy.Fired(0) == 0 {
					t.Fatal("the fault never fired")
				}
				assertSameFile(t, filepath.Join(dir, "conf", "blob.bin"), filepath.Join(out, "conf", "blob.bin"))
			})
		}
	}
}

// TestPersistentFaultsFailCleanly: when the registry keeps failing, push and
// pull give up after their budget with a clear error, leaving no tag, no
// output folder, no staging folder and no cache entry behind.
func TestPersistentFaultsFailCleanly(t *testing.T) {
	pm := manager(t)
	dir := bigContribution(t)
	ctx := context.Background()

	t.Run("push", func(t *testing.T) {
		proxy := faultproxy.New(faultproxy.Rule{Kind: faultproxy.ResetUpload, After: 64 << 10, Method: "PUT", Path: faultproxy.BlobUpload})
		reg := registrytest.New(t, registrytest.WithHandlerWrapper(proxy.Wrap))
		p := pack(t, pm, dir, PackOptions{})
		tg := remoteTarget(t, reg, "faults/broken", "1.0.0", false)
		_, err := oci.PushBlobs(ctx, tg.Store, p.Blobs, "1.0.0", oci.PushOptions{Attempts: 2})
		var re *oci.RetryError
		if !errors.As(err, &re) || !strings.Contains(err.Error(), "gave up after 2 attempts") {
			t.Fatalf("push error = %v, want a RetryError", err)
		}
		proxy.Set()
		if _, err := tg.Store.Resolve(ctx, "1.0.0"); !errors.Is(err, errdef.ErrNotFound) {
			t.Errorf("a failed push left the tag: %v", err)
		}
	})

	t.Run("pull", func(t *testing.T) {
		proxy := faultproxy.New()
		reg := registrytest.New(t, registrytest.WithHandlerWrapper(proxy.Wrap))
		p := pack(t, pm, dir, PackOptions{})
		tg := remoteTarget(t, reg, "faults/broken", "1.0.0", true)
		if _, err := oci.PushBlobs(ctx, tg.Store, p.Blobs, "1.0.0", oci.PushOptions{}); err != nil {
			t.Fatal(err)
		}
		parent := t.TempDir()
		out := filepath.Join(parent, "out")
		// A previous pull's output, which must survive the failed one.
		os.MkdirAll(out, 0o755)
		os.WriteFile(filepath.Join(out, "previous.txt"), []byte("keep me"), 0o644)

		proxy.Set(faultproxy.Rule{Kind: faultproxy.ResetDownload, After: 64 << 10, Method: "GET", Path: faultproxy.Blob})
		_, err := Pull(ctx, pm, tg, PullOptions{OutputDir: out, Force: true, Attempts: 2})
		if err == nil || !strings.Contains(err.Error(), "gave up after 2 attempts") {
			t.Fatalf("pull error = %v", err)
		}
		if b, err := os.ReadFile(filepath.Join(out, "previous.txt")); err != nil || string(b) != "keep me" {
			t.Errorf("the previous output was damaged: %q %v", b, err)
		}
		entries, _ := os.ReadDir(parent)
		if len(entries) != 1 {
			t.Errorf("the failed pull left %v beside the output", names(entries))
		}
		for _, b := range p.Blobs {
			if b.Desc.Size > 1<<20 && tg.Cache.Has(b.Desc) {
				t.Errorf("a partial blob %s is in the cache", b.Desc.Digest)
			}
		}
		leftovers, _ := filepath.Glob(filepath.Join(tg.Cache.Dir(), "blobs", "sha256", ".tmp-*"))
		if len(leftovers) != 0 {
			t.Errorf("partial cache files left: %v", leftovers)
		}
	})
}

// TestCacheServesSecondPull: a second pull of the same digest reads no blob
// from the network, and a pull by digest touches the registry not at all.
func TestCacheServesSecondPull(t *testing.T) {
	pm := manager(t)
	ctx := context.Background()
	reg := registrytest.New(t)
	p := pack(t, pm, bigContribution(t), PackOptions{})
	tg := remoteTarget(t, reg, "cache/demo", "1.0.0", true)
	if _, err := oci.PushBlobs(ctx, tg.Store, p.Blobs, "1.0.0", oci.PushOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := Pull(ctx, pm, tg, PullOptions{OutputDir: filepath.Join(t.TempDir(), "a")}); err != nil {
		t.Fatal(err)
	}
	reg.ResetStats()
	if _, err := Pull(ctx, pm, tg, PullOptions{OutputDir: filepath.Join(t.TempDir(), "b")}); err != nil {
		t.Fatal(err)
	}
	if s := reg.Stats(); s.BlobGETs != 0 {
		t.Errorf("second pull by tag fetched %d blobs", s.BlobGETs)
	}
	byDigest := remoteTarget(t, reg, "cache/demo", "", false)
	byDigest.Ref.Tag, byDigest.Ref.Digest = "", p.Root.Digest.String()
	byDigest.Cache = tg.Cache
	reg.ResetStats()
	if _, err := Pull(ctx, pm, byDigest, PullOptions{OutputDir: filepath.Join(t.TempDir(), "c")}); err != nil {
		t.Fatal(err)
	}
	if s := reg.Stats(); s.Total != 0 {
		t.Errorf("pull by digest of cached content made %d requests", s.Total)
	}

	// A corrupted entry is detected, removed, and fetched again.
	var big string
	for _, b := range p.Blobs {
		if b.Desc.Size > 1<<20 {
			big, _ = tg.Cache.Path(b.Desc.Digest)
		}
	}
	os.Chmod(big, 0o644)
	data, _ := os.ReadFile(big)
	data[100] ^= 1
	os.WriteFile(big, data, 0o444)
	reg.ResetStats()
	out := filepath.Join(t.TempDir(), "d")
	if _, err := Pull(ctx, pm, tg, PullOptions{OutputDir: out}); err != nil {
		t.Fatal(err)
	}
	if s := reg.Stats(); s.BlobGETs != 1 {
		t.Errorf("after corrupting the cache: %d blob GETs, want 1", s.BlobGETs)
	}
}

func names(es []os.DirEntry) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.Name())
	}
	return out
}

func assertSameFile(t *testing.T, a, b string) {
	t.Helper()
	x, err := os.ReadFile(a)
	if err != nil {
		t.Fatal(err)
	}
	y, err := os.ReadFile(b)
	if err != nil {
		t.Fatal(err)
	}
	if string(x) != string(y) {
		t.Errorf("%s differs from %s", b, a)
	}
}
