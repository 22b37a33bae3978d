package index

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry/remote/credentials"

	"github.com/tierpack/tierpack/internal/registrytest"
	"github.com/tierpack/tierpack/pkg/target"
	"github.com/tierpack/tierpack/sdk"
)

func TestParseSource(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	if err := os.WriteFile("plain-name", []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		location string
		kind     SourceKind
		want     string
	}{
		{"https://example.org/index.yaml", HTTPSource, "https://example.org/index.yaml"},
		{"HTTP://127.0.0.1:8080/i", HTTPSource, "HTTP://127.0.0.1:8080/i"},
		{"index.yaml", FileSource, filepath.Join(dir, "index.yaml")},
		{"./sub/idx", FileSource, filepath.Join(dir, "sub/idx")},
		{"/abs/idx.yml", FileSource, "/abs/idx.yml"},
		{"file:///abs/idx", FileSource, "/abs/idx"},
		{"plain-name", FileSource, filepath.Join(dir, "plain-name")}, // exists: a file wins
		{"ghcr.io/org/index", OCISource, "ghcr.io/org/index:latest"},
		{"localhost:5000/org/index:v1", OCISource, "localhost:5000/org/index:v1"},
		{"oci:layout", OCISource, "oci:layout:latest"},
		{"my-index", OCISource, "my-index:latest"},
	} {
		src, err := ParseSource("n", tc.location)
		if err != nil || src.Kind != tc.kind || src.Location != tc.want {
			t.Errorf("ParseSource(%q) = %+v, %v; want %s %s", tc.location, src, err, tc.kind, tc.want)
		}
	}
	for _, tc := range []struct{ name, location, want string }{
		{"", "x.yaml", "needs a name"},
		{"Upper", "x.yaml", "lower-case"},
		{"../x", "x.yaml", "lower-case"},
		{"-x", "x.yaml", "starting with a letter"},
		{"ok", "", "empty location"},
		{"ok", "Not A Ref", "not a file, an http(s) URL or an OCI reference"},
	} {
		if _, err := ParseSource(tc.name, tc.location); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseSource(%q, %q): %v, want %q", tc.name, tc.location, err, tc.want)
		}
	}
}

func sampleYAML(t *testing.T) []byte {
	t.Helper()
	data, err := sample().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestConfigHTTP: an index added from a URL is cached, so it is read with
// the server gone; a failed update keeps the cached copy.
func TestConfigHTTP(t *testing.T) {
	var status atomic.Int32
	status.Store(http.StatusOK)
	body := sampleYAML(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/index.yaml" {
			http.NotFound(w, r)
			return
		}
		if r.Header.Get("User-Agent") != "tierpack/test" {
			t.Errorf("User-Agent %q", r.Header.Get("User-Agent"))
		}
		w.WriteHeader(int(status.Load()))
		w.Write(body)
	}))
	defer srv.Close()
	ctx := context.Background()
	cfg := &Config{Dir: t.TempDir(), Fetch: FetchOptions{UserAgent: "tierpack/test"}}

	src, err := ParseSource("web", srv.URL+"/index.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ix, err := cfg.Add(ctx, src)
	if err != nil || len(ix.Entries) != 2 {
		t.Fatalf("Add: %v, %v", ix, err)
	}
	if _, err := cfg.Add(ctx, src); err == nil || !strings.Contains(err.Error(), "already configured") {
		t.Errorf("adding the name twice: %v", err)
	}
	missing, _ := ParseSource("missing", srv.URL+"/nope.yaml")
	if _, err := cfg.Add(ctx, missing); !errors.Is(err, ErrNotFound) {
		t.Errorf("a 404: %v, want ErrNotFound", err)
	}
	if srcs, _ := cfg.Sources(); len(srcs) != 1 {
		t.Errorf("a failed Add was recorded: %+v", srcs)
	}

	status.Store(http.StatusInternalServerError)
	if _, err := cfg.Update(ctx, src); err == nil || !strings.Contains(err.Error(), "500") {
		t.Errorf("Update with a failing server: %v", err)
	}
	srv.Close()
	got, err := cfg.Read(src)
	if err != nil || len(got.Entries) != 2 {
		t.Fatalf("Read offline after a failed update: %v, %v", got, err)
	}
	if _, ok := cfg.Updated(src); !ok {
		t.Error("Updated: no fetch time")
	}

	removed, err := cfg.Remove("web")
	if err != nil || removed.Location != src.Location {
		t.Fatalf("Remove: %+v, %v", removed, err)
	}
	if _, err := os.Stat(cfg.CachePath("web")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the cached copy was kept: %v", err)
	}
	if _, err := cfg.Remove("web"); !errors.Is(err, errdef.ErrNotFound) || !strings.Contains(err.Error(), "none is configured") {
		t.Errorf("removing twice: %v", err)
	}
}

// TestConfigFile: a file index is read afresh every time, not cached.
func TestConfigFile(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cfg := &Config{Dir: filepath.Join(dir, "home")}
	path := filepath.Join(dir, "index.yaml")
	if err := os.WriteFile(path, sampleYAML(t), 0o644); err != nil {
		t.Fatal(err)
	}
	src, _ := ParseSource("local", path)
	if _, err := cfg.Add(ctx, src); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(cfg.CachePath("local")); !errors.Is(err, os.ErrNotExist) {
		t.Error("a file index was cached")
	}
	if err := New().Save(path); err != nil {
		t.Fatal(err)
	}
	if ix, err := cfg.Read(src); err != nil || len(ix.Entries) != 0 {
		t.Errorf("Read did not see the new content: %v, %v", ix, err)
	}
	os.Remove(path)
	if _, err := cfg.Read(src); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "tierpack index remove local") {
		t.Errorf("Read of a deleted file: %v", err)
	}
	bad, _ := ParseSource("bad", filepath.Join(dir, "bad.yaml"))
	os.WriteFile(bad.Location, []byte("apiVersion: tierpack.dev/v9\nkind: Index\n"), 0o644)
	if _, err := cfg.Add(ctx, bad); !errors.Is(err, ErrInvalid) {
		t.Errorf("adding an invalid index: %v", err)
	}

	// The configuration file is refused when another version wrote it.
	os.WriteFile(filepath.Join(cfg.Dir, ConfigFile), []byte("apiVersion: tierpack.dev/v9\nkind: IndexList\n"), 0o644)
	if _, err := cfg.Sources(); err == nil || !strings.Contains(err.Error(), "tierpack.dev/v9") {
		t.Errorf("Sources of a future config: %v", err)
	}
}

// TestPushAndAddOCI publishes an index to a real registry and adds it
// from there; the manifest is the documented one and deterministic.
func TestPushAndAddOCI(t *testing.T) {
	reg := registrytest.New(t)
	ctx := context.Background()
	data := sampleYAML(t)
	ref, _ := target.Parse(reg.Host + "/org/index")
	tg, err := target.Open(ctx, ref, target.Options{Credentials: credentials.NewMemoryStore()})
	if err != nil {
		t.Fatal(err)
	}
	desc, err := Push(ctx, tg, data, PushOptions{})
	if err != nil {
		t.Fatal(err)
	}
	again, err := Push(ctx, tg, data, PushOptions{})
	if err != nil || again.Digest != desc.Digest {
		t.Errorf("pushing the same index twice: %s then %s (%v)", desc.Digest, again.Digest, err)
	}
	got, err := tg.Store.Resolve(ctx, DefaultTag)
	if err != nil || got.Digest != desc.Digest {
		t.Fatalf("tag %s: %v, %v", DefaultTag, got, err)
	}
	mdata, err := content.FetchAll(ctx, tg.Store, got)
	if err != nil {
		t.Fatal(err)
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(mdata, &m); err != nil {
		t.Fatal(err)
	}
	if m.ArtifactType != MediaType || m.Config.MediaType != ocispec.MediaTypeEmptyJSON || len(m.Layers) != 1 ||
		m.Layers[0].MediaType != MediaType || m.Layers[0].Annotations[ocispec.AnnotationTitle] != "index.yaml" ||
		m.Annotations[sdk.AnnotationIndexAPIVersion] != APIVersion || m.Annotations[ocispec.AnnotationCreated] != "" {
		t.Errorf("manifest: %s", mdata)
	}
	stamped, _ := Push(ctx, tg, data, PushOptions{Created: time.Unix(1700000000, 0)})
	if stamped.Digest == desc.Digest {
		t.Error("Created did not change the manifest")
	}

	cfg := &Config{Dir: t.TempDir()}
	src, err := ParseSource("org", reg.Host+"/org/index")
	if err != nil {
		t.Fatal(err)
	}
	ix, err := cfg.Add(ctx, src)
	if err != nil || len(ix.Entries) != 2 {
		t.Fatalf("Add from the registry: %v, %v", ix, err)
	}
	cached, err := os.ReadFile(cfg.CachePath("org"))
	if err != nil || string(cached) != string(data) {
		t.Errorf("cached copy: %v\n%s", err, cached)
	}

	// Something that is not an index is refused, saying what it is.
	if _, err := Push(ctx, tg, []byte("not: an index"), PushOptions{}); !errors.Is(err, ErrInvalid) {
		t.Errorf("pushing a non-index: %v", err)
	}
	other, _ := target.Parse(reg.Host + "/org/other:1")
	otg, _ := target.Open(ctx, other, target.Options{Credentials: credentials.NewMemoryStore()})
	pushManifest(t, otg.Store, "1", "application/vnd.tierpack.script.v1", nil, nil, "x")
	osrc, _ := ParseSource("other", reg.Host+"/org/other:1")
	if _, err := cfg.Add(ctx, osrc); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "tierpack index push") {
		t.Errorf("adding a non-index artifact: %v", err)
	}
	nsrc, _ := ParseSource("none", reg.Host+"/org/none")
	if _, err := cfg.Add(ctx, nsrc); err == nil {
		t.Error("adding a missing repository worked")
	}
}
