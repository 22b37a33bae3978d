package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tierpack/tierpack/internal/registrytest"
	"github.com/tierpack/tierpack/sdk"
)

// layerTypes are the layer media types of the manifest ref names, read
// with the real oras CLI.
func layerTypes(t *testing.T, oras, ref string) []string {
	t.Helper()
	var m struct {
		Layers []struct {
			MediaType string `json:"mediaType"`
		} `json:"layers"`
	}
	if err := json.Unmarshal(runTool(t, oras, "manifest", "fetch", "--plain-http", ref), &m); err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, l := range m.Layers {
		types = append(types, l.MediaType)
	}
	return types
}

// TestRePushWithNewCompressionKeepsDigest: scripts are now packaged as
// tar+zstd, which changes the digest of unchanged content. A version
// published with tar+gzip (as every tierpack before zstd wrote it, here
// with --compression gzip) and pushed again unchanged with the new default
// keeps its digest and its tag: nothing is uploaded, nothing signed again,
// its tier records stay. A new version gets zstd; changed content under
// the published version is still refused. On both registries.
func TestRePushWithNewCompressionKeepsDigest(t *testing.T) {
	oras := lookTool(t, "oras")
	registries(t, func(t *testing.T, reg *registrytest.Registry) {
		p := newTP(t)
		repo := reg.Host + "/compression/kept"
		dir := p.path("c")
		writeContribution(t, dir, "repository", "source: {url: https://github.com/falcosecurity/gov-demo, revision: abc123}\n", true)
		first := strings.TrimSpace(p.ok("push", dir, repo, "--compression", "gzip"))
		if got := layerTypes(t, oras, repo+":1.0.0"); len(got) != 1 || got[0] != sdk.MediaTypeLayerTarGzip {
			t.Fatalf("--compression gzip pushed layers %v", got)
		}
		records := p.ok("inspect", repo+":1.0.0", "--output", "json")

		out, errs, code := p.run("push", dir, repo) // the new default: zstd
		if code != 0 || strings.TrimSpace(out) != first || !strings.Contains(errs, "unchanged") || !strings.Contains(errs, "0 blob(s) uploaded") {
			t.Fatalf("re-pushing the gzip-published version with the zstd default: exit %d\n%s\n%s", code, out, errs)
		}
		if d := tagDigest(p, repo+":1.0.0"); !strings.HasSuffix(first, "@"+d) {
			t.Fatalf("the re-push moved the tag to %s (was %s)", d, first)
		}
		if again := p.ok("inspect", repo+":1.0.0", "--output", "json"); again != records {
			t.Errorf("the re-push changed what the version carries:\n%s", again)
		}
		if got := layerTypes(t, oras, repo+":1.0.0"); got[0] != sdk.MediaTypeLayerTarGzip {
			t.Fatalf("the published version's layer is now %v", got)
		}

		// Changed content under the published version: still refused,
		// whichever compression would have matched.
		os.WriteFile(filepath.Join(dir, "extra.txt"), []byte("changed\n"), 0o644)
		if _, errs, code := p.run("push", dir, repo); code != 1 || !strings.Contains(errs, "version already published with other content") {
			t.Fatalf("pushing other content as the published version: exit %d\n%s", code, errs)
		}
		if d := tagDigest(p, repo+":1.0.0"); !strings.HasSuffix(first, "@"+d) {
			t.Fatalf("the refused push moved the tag to %s", d)
		}

		// A new version is packaged with zstd, and pulls back whole.
		os.WriteFile(filepath.Join(dir, "tierpack.yaml"), []byte(strings.Replace(readFile(t, filepath.Join(dir, "tierpack.yaml")), "version: 1.0.0", "version: 1.1.0", 1)), 0o644)
		p.ok("push", dir, repo)
		if got := layerTypes(t, oras, repo+":1.1.0"); len(got) != 1 || got[0] != sdk.MediaTypeLayerTarZstd {
			t.Fatalf("a new version's layers: %v, want tar+zstd", got)
		}
		p.ok("pull", repo+":1.1.0", "-o", p.path("out"))
		if b := readFile(t, p.path("out/extra.txt")); b != "changed\n" {
			t.Fatalf("pulled extra.txt = %q", b)
		}
		// A re-push of the zstd version is unchanged too (no gzip detour
		// needed), and --compression gzip of it is other content.
		if _, errs, code := p.run("push", dir, repo); code != 0 || !strings.Contains(errs, "unchanged") {
			t.Fatalf("re-pushing the zstd version: exit %d\n%s", code, errs)
		}
		if _, errs, code := p.run("push", dir, repo, "--compression", "gzip"); code != 1 || !strings.Contains(errs, "version already published") {
			t.Fatalf("re-pushing the zstd version with --compression gzip: exit %d\n%s", code, errs)
		}
	})
}

// TestZstdLayerInterop: a script's tar+zstd layer is a standard OCI
// tar+zstd layer: oras pulls it as a file that the zstd and tar command
// lines unpack to the contribution, and crane and skopeo copy the artifact
// to other repositories, unchanged, from which tierpack pulls it.
// (containerd is not on this machine: not checked.)
func TestZstdLayerInterop(t *testing.T) {
	oras, crane := lookTool(t, "oras"), lookTool(t, "crane")
	zstdBin, skopeo := lookTool(t, "zstd"), lookTool(t, "skopeo")
	reg := registrytest.New(t)
	p := newTP(t)
	dir := p.path("c")
	writeContribution(t, dir, "contrib", "", false)
	ref := reg.Host + "/interop/zstd:1.0.0"
	p.ok("push", dir, ref)

	orasOut := p.path("oras-out")
	os.MkdirAll(orasOut, 0o755)
	cmd := exec.Command(oras, "pull", "--plain-http", "-o", orasOut, ref)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("oras pull: %v\n%s", err, out)
	}
	layer := filepath.Join(orasOut, "gov-demo-1.0.0.tar.zst")
	tarball := p.path("layer.tar")
	runTool(t, zstdBin, "-q", "-d", layer, "-o", tarball)
	unpacked := p.path("unpacked")
	os.MkdirAll(unpacked, 0o755)
	runTool(t, "tar", "-xf", tarball, "-C", unpacked)
	if got := readFile(t, filepath.Join(unpacked, "run.sh")); got != "#!/bin/sh\necho governed\n" {
		t.Fatalf("run.sh from the zstd CLI = %q", got)
	}

	want := tagDigest(p, ref)
	for tool, copied := range map[string]string{"crane": reg.Host + "/interop/crane-copy:1.0.0", "skopeo": reg.Host + "/interop/skopeo-copy:1.0.0"} {
		if tool == "crane" {
			runTool(t, crane, "copy", "--insecure", ref, copied)
		} else {
			runTool(t, skopeo, "--insecure-policy", "copy", "--src-tls-verify=false", "--dest-tls-verify=false", "docker://"+ref, "docker://"+copied)
		}
		if got := tagDigest(p, copied); got != want {
			t.Errorf("%s copy changed the digest: %s, was %s", tool, got, want)
		}
		out := p.path(tool + "-out")
		p.ok("pull", copied, "-o", out)
		if got := readFile(t, filepath.Join(out, "run.sh")); got != "#!/bin/sh\necho governed\n" {
			t.Fatalf("run.sh after %s copy = %q", tool, got)
		}
	}
}

// readFile is the content of path, or the test fails.
func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestCompressionFlag: --compression takes auto, gzip or zstd; anything
// else, or zstd for a type whose plugin writes only gzip (falcoctl's rules
// format), is a usage error (exit 2) and writes nothing; auto keeps gzip
// for such a type.
func TestCompressionFlag(t *testing.T) {
	p := newTP(t)
	rules := filepath.Join(examplesDir(t), "rules", "falco-shell-rules")
	layout := p.path("layout")
	if _, errs, code := p.run("push", "--compression", "xz", rules, "oci:"+layout); code != 2 || !strings.Contains(errs, `--compression "xz"`) {
		t.Fatalf("--compression xz: exit %d\n%s", code, errs)
	}
	if _, errs, code := p.run("push", "--compression", "zstd", rules, "oci:"+layout); code != 2 || !strings.Contains(errs, "does not write tar+zstd layers") {
		t.Fatalf("--compression zstd for falco-rules: exit %d\n%s", code, errs)
	}
	if _, err := os.Stat(layout); err == nil {
		t.Fatal("a refused push created the layout")
	}
	p.ok("push", rules, "oci:"+layout)
	inspect := p.ok("inspect", "oci:"+layout+":0.1.0")
	if !strings.Contains(inspect, "rulesfile.layer.v1+tar.gz") || strings.Contains(inspect, "zstd") {
		t.Fatalf("falco-rules pushed with auto:\n%s", inspect)
	}
}
