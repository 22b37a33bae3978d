package oci

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/content/memory"
	"oras.land/oras-go/v2/registry/remote/errcode"

	"github.com/tierpack/tierpack/pkg/target"
	"github.com/tierpack/tierpack/sdk"
)

func TestRetryOnlyTransient(t *testing.T) {
	ctx := context.Background()
	calls := 0
	err := Retry(ctx, 3, func() error {
		calls++
		if calls < 2 {
			return &errcode.ErrorResponse{StatusCode: http.StatusServiceUnavailable}
		}
		return nil
	})
	if err != nil || calls != 2 {
		t.Fatalf("transient then ok: err %v after %d calls", err, calls)
	}

	calls = 0
	denied := &errcode.ErrorResponse{StatusCode: http.StatusForbidden}
	if err := Retry(ctx, 3, func() error { calls++; return denied }); !errors.Is(err, denied) || calls != 1 {
		t.Fatalf("permanent: err %v after %d calls, want it at once", err, calls)
	}

	calls = 0
	err = Retry(ctx, 2, func() error { calls++; return io.ErrUnexpectedEOF })
	var re *RetryError
	if !errors.As(err, &re) || re.Attempts != 2 || calls != 2 || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("always transient: err %v after %d calls, want a RetryError", err, calls)
	}
}

// recorder is a memory store that records the order of pushes and tags.
type recorder struct {
	*memory.Store
	mu  sync.Mutex
	log []string
}

func (r *recorder) Push(ctx context.Context, d ocispec.Descriptor, rd io.Reader) error {
	r.mu.Lock()
	r.log = append(r.log, "push "+d.MediaType)
	r.mu.Unlock()
	return r.Store.Push(ctx, d, rd)
}

func (r *recorder) Tag(ctx context.Context, d ocispec.Descriptor, ref string) error {
	r.mu.Lock()
	r.log = append(r.log, "tag "+ref)
	r.mu.Unlock()
	return r.Store.Tag(ctx, d, ref)
}

// artifact builds a two-platform index over one shared layer.
func artifact(t *testing.T) []Blob {
	t.Helper()
	layer := Blob{Desc: content.NewDescriptorFromBytes(ocispec.MediaTypeImageLayerGzip, []byte("layer")), Data: []byte("layer")}
	blobs := []Blob{EmptyJSON(), layer}
	var entries []ocispec.Descriptor
	for _, arch := range []string{"amd64", "arm64"} {
		m, err := ManifestBlob(NewManifest("application/x.test", EmptyJSON().Desc, []ocispec.Descriptor{layer.Desc}, map[string]string{"arch": arch}))
		if err != nil {
			t.Fatal(err)
		}
		m.Desc.Platform = &ocispec.Platform{OS: "linux", Architecture: arch}
		blobs = append(blobs, m)
		entries = append(entries, m.Desc)
	}
	idx, err := IndexBlob(NewIndex("application/x.test", entries, nil))
	if err != nil {
		t.Fatal(err)
	}
	return append(blobs, idx)
}

func TestPushBlobsOrderAndSkips(t *testing.T) {
	ctx := context.Background()
	dst := &recorder{Store: memory.New()}
	blobs := artifact(t)
	res, err := PushBlobs(ctx, dst, blobs, "v1", PushOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Uploaded != len(blobs) || res.Skipped != 0 || res.Digest != blobs[len(blobs)-1].Desc.Digest.String() {
		t.Fatalf("first push: %+v", res)
	}
	// Configs and layers, then manifests, then the index, then the tag.
	rank := func(entry string) int {
		switch {
		case strings.HasPrefix(entry, "tag "):
			return 3
		case entry == "push "+ocispec.MediaTypeImageIndex:
			return 2
		case entry == "push "+ocispec.MediaTypeImageManifest:
			return 1
		}
		return 0
	}
	for i := 1; i < len(dst.log); i++ {
		if rank(dst.log[i]) < rank(dst.log[i-1]) {
			t.Fatalf("push order %v: %q after %q", dst.log, dst.log[i], dst.log[i-1])
		}
	}
	if last := dst.log[len(dst.log)-1]; last != "tag v1" {
		t.Fatalf("the tag is not last: %v", dst.log)
	}

	dst.log = nil
	res, err = PushBlobs(ctx, dst, blobs, "v2", PushOptions{})
	if err != nil || res.Uploaded != 0 || res.Skipped != len(blobs) {
		t.Fatalf("re-push: %+v, %v; want everything skipped", res, err)
	}
	if len(dst.log) != 1 || dst.log[0] != "tag v2" {
		t.Fatalf("re-push wrote %v, want only the tag", dst.log)
	}
	if _, err := PushBlobs(ctx, dst, nil, "x", PushOptions{}); !errors.Is(err, ErrNothingToPush) {
		t.Fatalf("empty push: %v", err)
	}
}

// TestManifestBytes checks that NewManifest writes exactly what a manifest
// built by hand writes: pushed digests must not change.
func TestManifestBytes(t *testing.T) {
	cfg := ocispec.DescriptorEmptyJSON
	cfg.Data = nil
	want, _ := json.Marshal(ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest,
		ArtifactType: "application/x.test", Config: cfg, Layers: []ocispec.Descriptor{}, Annotations: map[string]string{"a": "b"},
	})
	got, err := ManifestBlob(NewManifest("application/x.test", EmptyJSON().Desc, nil, map[string]string{"a": "b"}))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Data, want) {
		t.Fatalf("manifest\n%s\nwant\n%s", got.Data, want)
	}
	if got.Desc.Digest != digest.FromBytes(want) || got.Desc.ArtifactType != "application/x.test" || got.Desc.MediaType != ocispec.MediaTypeImageManifest {
		t.Fatalf("descriptor %+v", got.Desc)
	}
	if strings.Contains(string(got.Data), ocispec.AnnotationCreated) {
		t.Fatal("a created annotation was added")
	}
}

func TestFetchLimitsAndVerifies(t *testing.T) {
	ctx := context.Background()
	store := memory.New()
	data := []byte(`{"hello":"world"}`)
	d := content.NewDescriptorFromBytes("application/json", data)
	if err := PushBytes(ctx, store, d, data); err != nil {
		t.Fatal(err)
	}
	if err := PushBytes(ctx, store, d, data); err != nil {
		t.Fatalf("pushing again: %v", err)
	}
	var v map[string]string
	if err := FetchJSON(ctx, store, d, 0, &v); err != nil || v["hello"] != "world" {
		t.Fatalf("FetchJSON = %v, %v", v, err)
	}
	if _, err := FetchAll(ctx, store, d, 4); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("over the limit: %v", err)
	}

	// A file is written only when what arrives matches the descriptor.
	dir := t.TempDir()
	path := filepath.Join(dir, "blob")
	if err := FetchFile(ctx, store, d, path, FetchOptions{}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); !bytes.Equal(b, data) {
		t.Fatalf("fetched %q", b)
	}
	lying := d
	lying.Digest = digest.FromString("something else")
	bad := fakeFetcher{data}
	err := FetchFile(ctx, bad, lying, filepath.Join(dir, "bad"), FetchOptions{Attempts: 1})
	if !errors.Is(err, content.ErrMismatchedDigest) {
		t.Fatalf("mismatch: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "bad")); !os.IsNotExist(err) {
		t.Fatalf("a mismatching blob was written: %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Fatalf("leftovers: %v", entries)
	}
}

// fakeFetcher serves the same bytes for every descriptor.
type fakeFetcher struct{ data []byte }

func (f fakeFetcher) Fetch(context.Context, ocispec.Descriptor) (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(f.data)), nil
}

func TestResolve(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	tg, err := target.Open(ctx, target.Ref{Kind: target.Layout, Path: dir, Tag: "1.0.0"}, target.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	blobs := artifact(t)
	root := &blobs[len(blobs)-1]
	var idx ocispec.Index
	json.Unmarshal(root.Data, &idx)
	idx.Annotations = map[string]string{sdk.AnnotationTier: "repository", sdk.AnnotationType: "script", sdk.AnnotationName: "demo", ocispec.AnnotationVersion: "1.0.0"}
	if *root, err = IndexBlob(idx); err != nil {
		t.Fatal(err)
	}
	if _, err := PushBlobs(ctx, tg.Store, blobs, "1.0.0", PushOptions{}); err != nil {
		t.Fatal(err)
	}
	info, err := Resolve(ctx, tg, &ocispec.Platform{OS: "linux", Architecture: "arm64"})
	if err != nil {
		t.Fatal(err)
	}
	if info.Annotations[sdk.AnnotationTier] != "repository" || info.Type != "script" || info.Name != "demo" || info.Version != "1.0.0" ||
		info.Root().Digest != root.Desc.Digest || info.Platform == nil || info.Platform.Architecture != "arm64" ||
		info.Manifest() == nil || info.Annotations["arch"] != "arm64" {
		t.Fatalf("Resolve = %+v", info)
	}
	if _, err := Resolve(ctx, tg, &ocispec.Platform{OS: "windows", Architecture: "amd64"}); err == nil || !strings.Contains(err.Error(), "it has linux/amd64, linux/arm64") {
		t.Fatalf("missing platform: %v", err)
	}
}

func TestPlatformDir(t *testing.T) {
	if d, err := PlatformDir(ocispec.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}); err != nil || d != "linux-arm-v7" {
		t.Fatalf("PlatformDir = %q, %v", d, err)
	}
	if _, err := PlatformDir(ocispec.Platform{OS: "..", Architecture: "amd64"}); err == nil {
		t.Fatal("a platform naming .. was accepted")
	}
}
