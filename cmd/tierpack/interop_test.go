package main

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/content/file"
	"oras.land/oras-go/v2/registry/remote"

	"github.com/klauspost/compress/zstd"

	"github.com/tierpack/tierpack/internal/registrytest"
)

// runTierpack runs the real binary with an isolated home.
func runTierpack(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(tierpackBin, args...)
	home := t.TempDir()
	cmd.Env = testEnv(t, home)
	out, err := cmd.Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("tierpack %s: %v\n%s", strings.Join(args, " "), err, stderr)
	}
	return string(out)
}

// TestORASGoReadsTierpackArtifacts checks that what tierpack pushes is a
// plain OCI artifact: oras-go alone, with no tierpack code, resolves it,
// reads the tier annotation and pulls the layer the way `oras pull` does.
func TestORASGoReadsTierpackArtifacts(t *testing.T) {
	reg := registrytest.New(t)
	ref := reg.Host + "/interop/falco-quickstart"
	runTierpack(t, "push", filepath.Join(examplesDir(t), "scripts", "falco-quickstart"), ref)

	ctx := context.Background()
	repo, err := remote.NewRepository(ref)
	if err != nil {
		t.Fatal(err)
	}
	repo.PlainHTTP = true
	desc, err := repo.Resolve(ctx, "0.1.0")
	if err != nil {
		t.Fatal(err)
	}
	if desc.MediaType != ocispec.MediaTypeImageManifest {
		t.Fatalf("media type %q", desc.MediaType)
	}
	raw, err := content.FetchAll(ctx, repo, desc)
	if err != nil {
		t.Fatal(err)
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	if got := m.Annotations["dev.tierpack.tier"]; got != "contrib" {
		t.Errorf("tier annotation = %q, want contrib", got)
	}
	if m.ArtifactType != "application/vnd.tierpack.script.v1" || m.Config.MediaType != ocispec.MediaTypeEmptyJSON {
		t.Errorf("artifactType %q, config %q: want the image-spec v1.1 artifact shape", m.ArtifactType, m.Config.MediaType)
	}
	for _, k := range []string{"org.opencontainers.image.title", "org.opencontainers.image.version", "org.opencontainers.image.licenses", "org.opencontainers.image.description"} {
		if m.Annotations[k] == "" {
			t.Errorf("annotation %s missing", k)
		}
	}

	// What `oras pull` does: copy into a file store that names files by title.
	dir := t.TempDir()
	fs, err := file.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	if _, err := oras.Copy(ctx, repo, "0.1.0", fs, "0.1.0", oras.DefaultCopyOptions); err != nil {
		t.Fatal(err)
	}
	names := tarNames(t, filepath.Join(dir, "falco-quickstart-0.1.0.tar.zst"))
	want := []string{"README.md", "falco-local.yaml", "install.sh", "tierpack.yaml"}
	if strings.Join(names, ",") != strings.Join(want, ",") {
		t.Errorf("layer holds %v, want %v", names, want)
	}
}

// TestORASCLIReadsTierpackArtifacts does the same with the real ORAS CLI
// (`go install oras.land/oras/cmd/oras@v1.3.6`; .ci/run installs it).
func TestORASCLIReadsTierpackArtifacts(t *testing.T) {
	orasBin, err := exec.LookPath("oras")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("oras CLI not on PATH; .ci/run should have installed it")
		}
		t.Skip("oras CLI not on PATH (go install oras.land/oras/cmd/oras@v1.3.6)")
	}
	reg := registrytest.New(t)
	ref := reg.Host + "/interop/falco-debug-bundle"
	runTierpack(t, "push", filepath.Join(examplesDir(t), "scripts", "falco-debug-bundle"), ref)

	out, err := exec.Command(orasBin, "manifest", "fetch", "--plain-http", ref+":1.2.0").CombinedOutput()
	if err != nil {
		t.Fatalf("oras manifest fetch: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), `"dev.tierpack.tier":"repository"`) {
		t.Errorf("oras manifest fetch does not show the tier annotation:\n%s", out)
	}
	dir := t.TempDir()
	pull := exec.Command(orasBin, "pull", "--plain-http", "-o", dir, ref+":1.2.0")
	if out, err := pull.CombinedOutput(); err != nil {
		t.Fatalf("oras pull: %v\n%s", err, out)
	}
	names := tarNames(t, filepath.Join(dir, "falco-debug-bundle-1.2.0.tar.zst"))
	if len(names) != 4 || names[0] != "OWNERS" {
		t.Errorf("oras pull got a layer holding %v", names)
	}
}

// tarNames lists the regular files of the tar+gzip or, by its .zst name,
// tar+zstd archive at path.
func tarNames(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var zr io.Reader
	if strings.HasSuffix(path, ".zst") {
		zd, err := zstd.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		defer zd.Close()
		zr = zd
	} else if zr, err = gzip.NewReader(f); err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			names = append(names, h.Name)
		}
	}
	sort.Strings(names)
	return names
}
