package artifact

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tierpack/tierpack/internal/testbin"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"

	"github.com/tierpack/tierpack/pkg/cache"
	"github.com/tierpack/tierpack/pkg/oci"
	"github.com/tierpack/tierpack/pkg/plugin"
	"github.com/tierpack/tierpack/pkg/target"
	"github.com/tierpack/tierpack/sdk"
	"github.com/tierpack/tierpack/sdk/contrib"
	"github.com/tierpack/tierpack/sdk/tier"
)

// selfBin is the real tierpack binary: it serves the built-in plugins, so
// these tests run real plugin processes.
var selfBin string

func TestMain(m *testing.M) {
	os.Exit(testbin.Run(m, testbin.Build{Pkg: "../../cmd/tierpack", Name: "tierpack", Dst: &selfBin}))
}

func manager(t *testing.T) *plugin.Manager {
	t.Helper()
	m, err := plugin.NewManager(plugin.Options{Self: selfBin, Builtins: []string{"script"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	return m
}

// contribution writes a script contribution into a temp dir.
func contribution(t *testing.T, tierName string) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"tierpack.yaml": "name: demo\nversion: 1.0.0\ntype: script\ntier: " + tierName + "\nlicense: MIT\n",
		"run.sh":        "#!/bin/sh\necho hi\n",
		"README.md":     "# demo\n",
		"conf/a.yaml":   "a: 1\n",
	}
	for name, body := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		mode := os.FileMode(0o644)
		if strings.HasSuffix(name, ".sh") {
			mode = 0o755
		}
		if err := os.WriteFile(p, []byte(body), mode); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func pack(t *testing.T, pm *plugin.Manager, dir string, opts PackOptions) *Packed {
	t.Helper()
	m, err := contrib.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Pack(context.Background(), pm, m, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func TestPackIsDeterministic(t *testing.T) {
	pm := manager(t)
	dir := contribution(t, "contrib")
	a := pack(t, pm, dir, PackOptions{})

	// Touch every file and change permission bits that do not matter.
	later := time.Now().Add(time.Hour)
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		os.Chtimes(p, later, later)
		return nil
	})
	os.Chmod(filepath.Join(dir, "README.md"), 0o600)
	b := pack(t, pm, dir, PackOptions{})
	if a.Root.Digest != b.Root.Digest {
		t.Fatalf("same content, different digests: %s vs %s", a.Root.Digest, b.Root.Digest)
	}

	// A content change changes the digest.
	os.WriteFile(filepath.Join(dir, "README.md"), []byte("# changed\n"), 0o644)
	c := pack(t, pm, dir, PackOptions{})
	if c.Root.Digest == a.Root.Digest {
		t.Fatal("changed content, same digest")
	}

	// SOURCE_DATE_EPOCH semantics: created is stamped only when asked.
	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	d := pack(t, pm, dir, PackOptions{Created: created})
	var man ocispec.Manifest
	if err := json.Unmarshal(d.Blobs[len(d.Blobs)-1].Data, &man); err != nil {
		t.Fatal(err)
	}
	if man.Annotations[ocispec.AnnotationCreated] != "2026-01-02T03:04:05Z" {
		t.Errorf("created = %q", man.Annotations[ocispec.AnnotationCreated])
	}
	if _, ok := annotationsOf(t, c)[ocispec.AnnotationCreated]; ok {
		t.Error("created stamped without SOURCE_DATE_EPOCH")
	}
}

func annotationsOf(t *testing.T, p *Packed) map[string]string {
	t.Helper()
	var man ocispec.Manifest
	if err := json.Unmarshal(p.Blobs[len(p.Blobs)-1].Data, &man); err != nil {
		t.Fatal(err)
	}
	return man.Annotations
}

func TestPackRefusesInvalid(t *testing.T) {
	pm := manager(t)
	dir := contribution(t, "contrib")
	os.Chmod(filepath.Join(dir, "run.sh"), 0o644)
	m, err := contrib.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Pack(context.Background(), pm, m, PackOptions{})
	var ve *ValidationError
	if !errors.As(err, &ve) || !errors.Is(err, ErrValidation) {
		t.Fatalf("err = %v, want a ValidationError", err)
	}
	if !strings.Contains(err.Error(), "run.sh: error: script is not executable") {
		t.Errorf("error does not name the file: %v", err)
	}
}

func openLayout(t *testing.T, path, tag string) *target.Target {
	t.Helper()
	tg, err := target.Open(context.Background(), target.Ref{Kind: target.Layout, Path: path, Tag: tag}, target.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tg.Close() })
	return tg
}

func TestPushPullRoundTrip(t *testing.T) {
	ctx := context.Background()
	pm := manager(t)
	dir := contribution(t, "repository")
	p := pack(t, pm, dir, PackOptions{})
	layout := filepath.Join(t.TempDir(), "layout")
	tg := openLayout(t, layout, "1.0.0")
	res, err := oci.PushBlobs(ctx, tg.Store, p.Blobs, "1.0.0", oci.PushOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Uploaded != 3 || res.Skipped != 0 {
		t.Errorf("first push: %+v", res)
	}
	res, err = oci.PushBlobs(ctx, tg.Store, p.Blobs, "1.0.0", oci.PushOptions{})
	if err != nil || res.Uploaded != 0 || res.Skipped != 3 {
		t.Errorf("second push: %+v, %v", res, err)
	}

	out := filepath.Join(t.TempDir(), "out")
	pr, err := Pull(ctx, pm, tg, PullOptions{OutputDir: out})
	if err != nil {
		t.Fatal(err)
	}
	if pr.Info.Tier != tier.Repository || pr.Info.Type != "script" {
		t.Errorf("info %+v", pr.Info)
	}
	for _, f := range []string{"run.sh", "README.md", "conf/a.yaml", "tierpack.yaml"} {
		want, _ := os.ReadFile(filepath.Join(dir, f))
		got, err := os.ReadFile(filepath.Join(out, f))
		if err != nil || string(got) != string(want) {
			t.Errorf("%s: %q, %v", f, got, err)
		}
	}
	if fi, _ := os.Stat(filepath.Join(out, "run.sh")); fi == nil || fi.Mode().Perm()&0o100 == 0 {
		t.Error("run.sh lost its executable bit")
	}
}

// TestPullRejectsCorruptBlob tampers with a layer inside an OCI layout: the
// pull must fail on the digest and leave neither output nor staging behind.
func TestPullRejectsCorruptBlob(t *testing.T) {
	ctx := context.Background()
	pm := manager(t)
	p := pack(t, pm, contribution(t, "contrib"), PackOptions{})
	layout := filepath.Join(t.TempDir(), "layout")
	tg := openLayout(t, layout, "1.0.0")
	if _, err := oci.PushBlobs(ctx, tg.Store, p.Blobs, "1.0.0", oci.PushOptions{}); err != nil {
		t.Fatal(err)
	}
	var layer ocispec.Descriptor
	for _, b := range p.Blobs {
		if b.Desc.MediaType == sdk.MediaTypeLayerTarZstd {
			layer = b.Desc
		}
	}
	blobPath := filepath.Join(layout, "blobs", "sha256", layer.Digest.Encoded())
	data, err := os.ReadFile(blobPath)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0xff
	os.Chmod(blobPath, 0o644)
	if err := os.WriteFile(blobPath, data, 0o644); err != nil {
		t.Fatal(err)
	}
	parent := t.TempDir()
	out := filepath.Join(parent, "out")
	_, err = Pull(ctx, pm, tg, PullOptions{OutputDir: out})
	if err == nil || !strings.Contains(err.Error(), "digest") {
		t.Fatalf("pull of a corrupt blob: %v", err)
	}
	if entries, _ := os.ReadDir(parent); len(entries) != 0 {
		t.Errorf("pull left %v behind", entries)
	}
}

// TestBuildRefusesHostilePluginOutput feeds the host's manifest builder the
// kind of output a broken or malicious plugin could return.
func TestBuildRefusesHostilePluginOutput(t *testing.T) {
	out := t.TempDir()
	os.WriteFile(filepath.Join(out, "ok.tgz"), []byte("x"), 0o644)
	os.Mkdir(filepath.Join(out, "dir"), 0o755)
	secret := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(secret, []byte("secret"), 0o644)
	os.Symlink(secret, filepath.Join(out, "link"))
	m, _ := contrib.Parse([]byte("name: a\nversion: 1.0.0\ntype: script\ntier: contrib\n"))
	layer := func(path string) sdk.PackageResult {
		return sdk.PackageResult{Manifests: []sdk.Manifest{{Layers: []sdk.Blob{{MediaType: sdk.MediaTypeLayerTarGzip, Path: path}}}}}
	}
	for name, tc := range map[string]struct {
		res  sdk.PackageResult
		want string
	}{
		"traversal":              {layer("../../etc/passwd"), "leaves the contribution folder"},
		"absolute":               {layer("/etc/passwd"), "is absolute"},
		"symlink out":            {layer("link"), "link"},
		"directory":              {layer("dir"), "not a regular file"},
		"missing":                {layer("nope"), "nope"},
		"no mediatype":           {sdk.PackageResult{Manifests: []sdk.Manifest{{Layers: []sdk.Blob{{Path: "ok.tgz"}}}}}, "no media type"},
		"nothing":                {sdk.PackageResult{}, "packaged nothing"},
		"index without platform": {sdk.PackageResult{Manifests: []sdk.Manifest{{}, {}}}, "has no platform"},
	} {
		t.Run(name, func(t *testing.T) {
			p := &Packed{Manifest: m}
			err := p.build(out, tc.res, PackOptions{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

func TestBuildIndex(t *testing.T) {
	out := t.TempDir()
	os.WriteFile(filepath.Join(out, "amd64.tgz"), []byte("amd64"), 0o644)
	os.WriteFile(filepath.Join(out, "arm64.tgz"), []byte("arm64"), 0o644)
	m, _ := contrib.Parse([]byte("name: exp\nversion: 1.0.0\ntype: exporter\ntier: contrib\n"))
	res := sdk.PackageResult{Manifests: []sdk.Manifest{
		{Platform: &sdk.Platform{OS: "linux", Architecture: "amd64"}, Layers: []sdk.Blob{{MediaType: sdk.MediaTypeLayerTarGzip, Path: "amd64.tgz"}}},
		{Platform: &sdk.Platform{OS: "linux", Architecture: "arm64"}, Layers: []sdk.Blob{{MediaType: sdk.MediaTypeLayerTarGzip, Path: "arm64.tgz"}}},
	}}
	p := &Packed{Manifest: m, Plugin: sdk.Description{ArtifactType: "application/vnd.example"}}
	if err := p.build(out, res, PackOptions{}); err != nil {
		t.Fatal(err)
	}
	if p.Root.MediaType != ocispec.MediaTypeImageIndex {
		t.Fatalf("root %s", p.Root.MediaType)
	}
	var idx ocispec.Index
	json.Unmarshal(p.Blobs[len(p.Blobs)-1].Data, &idx)
	if len(idx.Manifests) != 2 || idx.Manifests[1].Platform.Architecture != "arm64" || idx.Annotations["dev.tierpack.tier"] != "contrib" {
		t.Errorf("index %+v", idx)
	}
	// Every blob's digest matches its content.
	for _, b := range p.Blobs {
		rc, err := b.Open()
		if err != nil {
			t.Fatal(err)
		}
		_, err = content.ReadAll(rc, b.Desc)
		rc.Close()
		if err != nil {
			t.Errorf("%s: %v", b.Desc.Digest, err)
		}
	}
}

// TestPackCache: unchanged input is served from the pack cache with the
// same digest and the same diagnostics; any change to a file misses it.
func TestPackCache(t *testing.T) {
	dir := contribution(t, "contrib")
	os.Remove(filepath.Join(dir, "README.md")) // for a warning to carry over
	c, err := cache.Open(filepath.Join(t.TempDir(), "cache"))
	if err != nil {
		t.Fatal(err)
	}
	first := pack(t, manager(t), dir, PackOptions{Cache: c})
	if first.FromCache {
		t.Fatal("the first pack came from an empty cache")
	}
	// A fresh manager: a hit must not need the plugin running.
	pm := manager(t)
	second := pack(t, pm, dir, PackOptions{Cache: c})
	if !second.FromCache || second.Root.Digest != first.Root.Digest {
		t.Fatalf("second pack: fromCache=%v digest %s vs %s", second.FromCache, second.Root.Digest, first.Root.Digest)
	}
	if len(second.Diagnostics) != len(first.Diagnostics) || sdk.Count(second.Diagnostics, sdk.SeverityWarning) == 0 {
		t.Errorf("diagnostics: %v vs %v", second.Diagnostics, first.Diagnostics)
	}
	if _, ok := pm.Lookup("script"); !ok {
		t.Fatal("lookup")
	}
	// The cache decides by content: a touched file is the same input...
	run := filepath.Join(dir, "run.sh")
	later := time.Now().Add(time.Minute)
	os.Chtimes(run, later, later)
	third := pack(t, pm, dir, PackOptions{Cache: c})
	if !third.FromCache || third.Root.Digest != first.Root.Digest {
		t.Errorf("a touched file: fromCache=%v, digest %s vs %s", third.FromCache, third.Root.Digest, first.Root.Digest)
	}
	// ...and a file changed in place, its size and time kept (an archive
	// extracted with its times, an editor that keeps them), is not.
	b, _ := os.ReadFile(run)
	b[len(b)-2] ^= 1
	st, _ := os.Stat(run)
	os.WriteFile(run, b, 0o755)
	os.Chtimes(run, st.ModTime(), st.ModTime())
	fourth := pack(t, pm, dir, PackOptions{Cache: c})
	if fourth.FromCache || fourth.Root.Digest == first.Root.Digest {
		t.Errorf("a file changed with its size and time kept: fromCache=%v, same digest %v", fourth.FromCache, fourth.Root.Digest == first.Root.Digest)
	}
}
