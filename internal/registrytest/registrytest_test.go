package registrytest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/content/memory"
	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/errcode"

	"github.com/tierpack/tierpack/internal/registrytest"
)

const artifactType = "application/vnd.tierpack.test.v1"

// repository returns an oras-go client for repo in reg over plain HTTP.
func repository(t *testing.T, reg *registrytest.Registry, repo string) *remote.Repository {
	t.Helper()
	r, err := remote.NewRepository(reg.Ref(repo, ""))
	if err != nil {
		t.Fatal(err)
	}
	r.PlainHTTP = true
	return r
}

// manifestFor builds an OCI 1.1 artifact manifest with the empty config and
// the given layers.
func manifestFor(t *testing.T, layers ...ocispec.Descriptor) (ocispec.Descriptor, []byte) {
	t.Helper()
	m := ocispec.Manifest{
		Versioned:    specs.Versioned{SchemaVersion: 2},
		MediaType:    ocispec.MediaTypeImageManifest,
		ArtifactType: artifactType,
		Config:       ocispec.DescriptorEmptyJSON,
		Layers:       layers,
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return content.NewDescriptorFromBytes(ocispec.MediaTypeImageManifest, b), b
}

func TestHostURLRef(t *testing.T) {
	reg := registrytest.New(t)
	if !strings.HasPrefix(reg.Host, "127.0.0.1:") {
		t.Errorf("Host = %q, want 127.0.0.1:PORT", reg.Host)
	}
	if reg.URL != "http://"+reg.Host {
		t.Errorf("URL = %q, want http://%s", reg.URL, reg.Host)
	}
	if got, want := reg.Ref("a/b", "v1"), reg.Host+"/a/b:v1"; got != want {
		t.Errorf("Ref = %q, want %q", got, want)
	}
	d := digest.FromString("x").String()
	if got, want := reg.Ref("a/b", d), reg.Host+"/a/b@"+d; got != want {
		t.Errorf("Ref(digest) = %q, want %q", got, want)
	}

	resp, err := http.Get(reg.URL + "/v2/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Docker-Distribution-API-Version") != "registry/2.0" {
		t.Fatalf("GET /v2/: status %d, API version header %q", resp.StatusCode, resp.Header.Get("Docker-Distribution-API-Version"))
	}
	if s := reg.Stats(); s.Base != 1 || s.Total != 1 {
		t.Fatalf("stats after GET /v2/: %+v", s)
	}
}

func TestPushAndPull(t *testing.T) {
	ctx := context.Background()
	reg := registrytest.New(t)
	repo := repository(t, reg, "tierpack/demo")

	layerData := []byte("hello from a real registry")
	layer, err := oras.PushBytes(ctx, repo, "application/vnd.tierpack.layer.v1", layerData)
	if err != nil {
		t.Fatalf("push layer: %v", err)
	}
	if _, err := oras.PushBytes(ctx, repo, ocispec.MediaTypeEmptyJSON, ocispec.DescriptorEmptyJSON.Data); err != nil {
		t.Fatalf("push config: %v", err)
	}
	manifestDesc, manifestBytes := manifestFor(t, layer)
	if err := repo.PushReference(ctx, manifestDesc, bytes.NewReader(manifestBytes), "v1"); err != nil {
		t.Fatalf("push manifest: %v", err)
	}

	s := reg.Stats()
	if s.BlobUploadsStarted != 2 || s.BlobUploadsCompleted != 2 {
		t.Errorf("uploads started/completed = %d/%d, want 2/2", s.BlobUploadsStarted, s.BlobUploadsCompleted)
	}
	if s.ManifestPUTs != 1 {
		t.Errorf("ManifestPUTs = %d, want 1", s.ManifestPUTs)
	}
	if want := int64(len(layerData) + len(ocispec.DescriptorEmptyJSON.Data)); s.BytesUploaded != want {
		t.Errorf("BytesUploaded = %d, want %d", s.BytesUploaded, want)
	}
	if s.ServerErrors != 0 || s.ClientErrors != 0 {
		t.Errorf("unexpected errors in %+v; requests: %v", s, reg.Requests())
	}

	reg.ResetStats()
	if s := reg.Stats(); s != (registrytest.Stats{}) || len(reg.Requests()) != 0 {
		t.Fatalf("after ResetStats: %+v", s)
	}

	// Pull it back by tag.
	got, err := repo.Resolve(ctx, "v1")
	if err != nil {
		t.Fatalf("resolve: %v", err)
	}
	if got.Digest != manifestDesc.Digest {
		t.Fatalf("resolved %s, want %s", got.Digest, manifestDesc.Digest)
	}
	fetched, err := content.FetchAll(ctx, repo, got)
	if err != nil {
		t.Fatalf("fetch manifest: %v", err)
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(fetched, &m); err != nil {
		t.Fatal(err)
	}
	if m.ArtifactType != artifactType || len(m.Layers) != 1 {
		t.Fatalf("fetched manifest: %+v", m)
	}
	data, err := content.FetchAll(ctx, repo, m.Layers[0])
	if err != nil {
		t.Fatalf("fetch layer: %v", err)
	}
	if !bytes.Equal(data, layerData) {
		t.Fatalf("layer = %q, want %q", data, layerData)
	}
	if ok, err := repo.Exists(ctx, layer); err != nil || !ok {
		t.Fatalf("Exists(layer) = %v, %v", ok, err)
	}

	s = reg.Stats()
	want := registrytest.Stats{
		Total:           4,
		ManifestHEADs:   1,
		ManifestGETs:    1,
		BlobGETs:        1,
		BlobHEADs:       1,
		BytesDownloaded: int64(len(layerData)),
	}
	if s != want {
		t.Errorf("pull stats = %+v\nwant %+v\nrequests: %v", s, want, reg.Requests())
	}
	reqs := reg.Requests()
	if len(reqs) != 4 || reqs[2].Route != "blob" || reqs[2].Repository != "tierpack/demo" || reqs[2].Reference != layer.Digest.String() {
		t.Errorf("request log: %#v", reqs)
	}

	// Deletes are enabled.
	if err := repo.Delete(ctx, manifestDesc); err != nil {
		t.Fatalf("delete manifest: %v", err)
	}
	if _, err := repo.Resolve(ctx, "v1"); !errors.Is(err, errdef.ErrNotFound) {
		t.Fatalf("resolve after delete: got %v, want not found", err)
	}
	if s := reg.Stats(); s.ManifestDELETEs != 1 {
		t.Errorf("ManifestDELETEs = %d, want 1", s.ManifestDELETEs)
	}
}

// TestCopySkipsExistingBlobs shows the typical "zero uploads" assertion: a
// second copy of the same artifact only checks existence.
func TestCopySkipsExistingBlobs(t *testing.T) {
	ctx := context.Background()
	reg := registrytest.New(t)
	repo := repository(t, reg, "tierpack/copy")

	src := memory.New()
	layer, err := oras.PushBytes(ctx, src, "application/vnd.tierpack.layer.v1", []byte("payload"))
	if err != nil {
		t.Fatal(err)
	}
	root, err := oras.PackManifest(ctx, src, oras.PackManifestVersion1_1, artifactType, oras.PackManifestOptions{Layers: []ocispec.Descriptor{layer}})
	if err != nil {
		t.Fatal(err)
	}
	if err := src.Tag(ctx, root, "v1"); err != nil {
		t.Fatal(err)
	}

	if _, err := oras.Copy(ctx, src, "v1", repo, "v1", oras.DefaultCopyOptions); err != nil {
		t.Fatalf("first copy: %v", err)
	}
	if s := reg.Stats(); s.BlobUploadsStarted != 2 || s.ManifestPUTs != 1 {
		t.Fatalf("first copy stats: %+v", s)
	}

	reg.ResetStats()
	if _, err := oras.Copy(ctx, src, "v1", repo, "v1", oras.DefaultCopyOptions); err != nil {
		t.Fatalf("second copy: %v", err)
	}
	s := reg.Stats()
	if s.BlobUploadsStarted != 0 || s.BlobUploadChunks != 0 || s.BytesUploaded != 0 {
		t.Errorf("second copy uploaded blobs: %+v\nrequests: %v", s, reg.Requests())
	}
	if s.ManifestHEADs == 0 {
		t.Errorf("second copy made no existence check: %+v", s)
	}
}

func TestBasicAuth(t *testing.T) {
	ctx := context.Background()
	reg := registrytest.New(t, registrytest.WithBasicAuth("alice", "s3cret"))
	if reg.Username != "alice" || reg.Password != "s3cret" {
		t.Fatalf("Username/Password = %q/%q", reg.Username, reg.Password)
	}

	// The raw challenge.
	resp, err := http.Get(reg.URL + "/v2/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("anonymous GET /v2/: status %d, want 401", resp.StatusCode)
	}
	if got, want := resp.Header.Get("WWW-Authenticate"), `Basic realm="`+registrytest.Realm+`"`; got != want {
		t.Fatalf("WWW-Authenticate = %q, want %q", got, want)
	}

	data := []byte("secret payload")

	// Anonymous push is refused: the registry answers the upload POST with a
	// Basic challenge, which oras-go cannot meet without a credential.
	reg.ResetStats()
	anon := repository(t, reg, "private/app")
	_, err = oras.PushBytes(ctx, anon, "application/octet-stream", data)
	if !errors.Is(err, auth.ErrBasicCredentialNotFound) {
		t.Fatalf("anonymous push: got %v, want %v", err, auth.ErrBasicCredentialNotFound)
	}
	if s := reg.Stats(); s.Unauthorized != 1 || s.BlobUploadsStarted != 0 {
		t.Fatalf("anonymous push should be one 401 and no upload: %+v", s)
	}

	// A wrong password is refused too.
	wrong := repository(t, reg, "private/app")
	wrong.Client = &auth.Client{
		Credential: auth.StaticCredential(reg.Host, auth.Credential{Username: "alice", Password: "nope"}),
	}
	_, err = oras.PushBytes(ctx, wrong, "application/octet-stream", data)
	var er *errcode.ErrorResponse
	if !errors.As(err, &er) || er.StatusCode != http.StatusUnauthorized {
		t.Fatalf("push with wrong password: got %v, want a 401 error response", err)
	}

	s := reg.Stats()
	if s.BlobUploadsStarted != 0 || s.Unauthorized != 3 {
		t.Fatalf("after refused pushes: %+v", s)
	}
	reg.ResetStats()

	// Authenticated push goes through the challenge and succeeds.
	authed := repository(t, reg, "private/app")
	authed.Client = &auth.Client{
		Credential: auth.StaticCredential(reg.Host, auth.Credential{Username: reg.Username, Password: reg.Password}),
		Cache:      auth.NewCache(),
	}
	desc, err := oras.PushBytes(ctx, authed, "application/octet-stream", data)
	if err != nil {
		t.Fatalf("authenticated push: %v", err)
	}
	got, err := content.FetchAll(ctx, authed, desc)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("authenticated fetch: %q, %v", got, err)
	}
	s = reg.Stats()
	if s.Unauthorized < 1 {
		t.Errorf("expected the client to meet a 401 challenge first: %+v", s)
	}
	if s.BlobUploadsStarted != 1 || s.BlobUploadsCompleted != 1 || s.BlobGETs != 1 {
		t.Errorf("authenticated stats: %+v\nrequests: %v", s, reg.Requests())
	}
}

func TestHandlerWrapper(t *testing.T) {
	ctx := context.Background()
	var mu sync.Mutex
	var seen []string
	failManifestPUT := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			seen = append(seen, r.Method+" "+r.URL.Path)
			mu.Unlock()
			if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/") {
				http.Error(w, "injected", http.StatusServiceUnavailable)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
	reg := registrytest.New(t, registrytest.WithHandlerWrapper(failManifestPUT))
	repo := repository(t, reg, "faulty/app")
	repo.Client = http.DefaultClient // oras-go's default client retries 503s

	layer, err := oras.PushBytes(ctx, repo, "application/octet-stream", []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := oras.PushBytes(ctx, repo, ocispec.MediaTypeEmptyJSON, ocispec.DescriptorEmptyJSON.Data); err != nil {
		t.Fatal(err)
	}
	desc, b := manifestFor(t, layer)
	err = repo.PushReference(ctx, desc, bytes.NewReader(b), "v1")
	var er *errcode.ErrorResponse
	if !errors.As(err, &er) || er.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("manifest push through fault injector: got %v, want 503", err)
	}
	s := reg.Stats()
	if s.ManifestPUTs != 0 || s.BlobUploadsCompleted != 2 {
		t.Errorf("stats should only count what reached the registry: %+v", s)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != s.Total+1 {
		t.Errorf("wrapper saw %d requests, registry %d: %v", len(seen), s.Total, seen)
	}
}

// TestBigBlob pushes 64 MiB to check the filesystem driver is in use and
// copes with large blobs.
func TestBigBlob(t *testing.T) {
	ctx := context.Background()
	reg := registrytest.New(t)
	repo := repository(t, reg, "big/blob")

	const size = 64 << 20
	data := make([]byte, size)
	rng := rand.NewChaCha8([32]byte{1, 2, 3})
	if _, err := rng.Read(data); err != nil {
		t.Fatal(err)
	}
	desc := content.NewDescriptorFromBytes("application/octet-stream", data)
	if err := repo.Push(ctx, desc, bytes.NewReader(data)); err != nil {
		t.Fatalf("push 64 MiB: %v", err)
	}

	// The blob is a plain file under the filesystem driver's root.
	path := filepath.Join(reg.StorageDir, "docker", "registry", "v2", "blobs",
		desc.Digest.Algorithm().String(), desc.Digest.Encoded()[:2], desc.Digest.Encoded(), "data")
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatalf("blob not on disk: %v", err)
	}
	if fi.Size() != size {
		t.Fatalf("blob file size %d, want %d", fi.Size(), size)
	}

	rc, err := repo.Fetch(ctx, desc)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	got, err := content.ReadAll(rc, desc) // verifies size and digest
	if err != nil {
		t.Fatalf("read back: %v", err)
	}
	if !bytes.Equal(got, data) {
		t.Fatal("read back different bytes")
	}

	s := reg.Stats()
	if s.BytesUploaded != size || s.BytesDownloaded != size {
		t.Errorf("bytes up/down = %d/%d, want %d", s.BytesUploaded, s.BytesDownloaded, size)
	}
}

// TestStatsConcurrent hammers the counters from several goroutines; run with
// -race.
func TestStatsConcurrent(t *testing.T) {
	reg := registrytest.New(t)
	const workers, each = 4, 10
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				resp, err := http.Head(reg.URL + "/v2/some/repo/blobs/" + digest.FromString("missing").String())
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
				_ = reg.Stats()
				_ = reg.Requests()
			}
		})
	}
	wg.Wait()
	s := reg.Stats()
	if s.BlobHEADs != workers*each || s.ClientErrors != workers*each {
		t.Fatalf("stats: %+v", s)
	}
}

// logCapture is a testing.TB whose Logf is recorded instead of printed.
type logCapture struct {
	testing.TB
	mu    sync.Mutex
	lines []string
}

func (c *logCapture) Logf(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lines = append(c.lines, fmt.Sprintf(format, args...))
}

func (c *logCapture) Lines() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.lines...)
}

// TestLogRouting checks that 4xx chatter is dropped and real server errors
// reach the test log of the registry that produced them.
func TestLogRouting(t *testing.T) {
	ctx := context.Background()
	capt := &logCapture{TB: t}
	reg := registrytest.New(capt)
	other := &logCapture{TB: t}
	registrytest.New(other) // must not receive reg's logs

	// A 404 on a blob existence check is logged by Distribution at error
	// level; it is normal traffic and must be dropped.
	repo := repository(t, reg, "logs/app")
	if ok, err := repo.Exists(ctx, content.NewDescriptorFromBytes("application/octet-stream", []byte("nope"))); err != nil || ok {
		t.Fatalf("Exists = %v, %v", ok, err)
	}
	if lines := capt.Lines(); len(lines) != 0 {
		t.Fatalf("4xx produced log lines: %q", lines)
	}

	// Break the storage: a file where the driver needs a directory makes
	// uploads fail with 500.
	if err := os.WriteFile(filepath.Join(reg.StorageDir, "docker"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	repo.Client = http.DefaultClient // no retries
	if _, err := oras.PushBytes(ctx, repo, "application/octet-stream", []byte("data")); err == nil {
		t.Fatal("push to broken storage succeeded")
	}
	if s := reg.Stats(); s.ServerErrors == 0 {
		t.Fatalf("no 5xx recorded: %+v, %v", s, reg.Requests())
	}
	lines := capt.Lines()
	found := false
	for _, l := range lines {
		if strings.Contains(l, reg.Host) && strings.Contains(l, "ERROR") && strings.Contains(l, `http.response.status="500"`) {
			found = true
		}
	}
	if !found {
		t.Fatalf("server error not logged; got %q", lines)
	}
	if l := other.Lines(); len(l) != 0 {
		t.Fatalf("another registry received log lines: %q", l)
	}
	t.Logf("example routed log line: %s", lines[0])
}
