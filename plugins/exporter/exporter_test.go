package exporter

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"debug/elf"
	"debug/macho"
	"debug/pe"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/tierpack/tierpack/sdk"
	"github.com/tierpack/tierpack/sdk/contrib"
)

// file is a file of a test contribution.
type file struct {
	data []byte
	mode os.FileMode
	dir  bool
}

func exe(data []byte) file { return file{data: data, mode: 0o755} }

// manifestHead is tierpack.yaml up to its spec; spec lines start at line 9.
const manifestHead = `name: demo
version: 1.2.3
type: exporter
tier: contrib
description: A demo exporter.
license: MIT
source: {url: "https://example.org/demo", revision: abc123}
spec:
`

// contribution writes a contribution folder with the given spec (YAML
// lines below `spec:`) and files, and loads it as the host does.
func contribution(t *testing.T, spec string, files map[string]file) (string, sdk.Contribution) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "tierpack.yaml"), []byte(manifestHead+spec), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, f := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if f.dir {
			if err := os.Mkdir(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(p, f.data, f.mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, f.mode); err != nil { // past the umask
			t.Fatal(err)
		}
	}
	m, err := contrib.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	c, err := m.Contribution()
	if err != nil {
		t.Fatal(err)
	}
	return dir, c
}

func diagStrings(ds []sdk.Diagnostic) string {
	var lines []string
	for _, d := range ds {
		lines = append(lines, d.String())
	}
	return strings.Join(lines, "\n")
}

var (
	amd64ELF = fakeELF(elfOpts{machine: elf.EM_X86_64})
	arm64ELF = fakeELF(elfOpts{machine: elf.EM_AARCH64})
)

func TestValidate(t *testing.T) {
	const amd64Only = "  binaries:\n    linux/amd64: bin/linux-amd64/demo\n  port: 9100\n"
	for _, tc := range []struct {
		name  string
		spec  string
		files map[string]file
		// want are substrings of the diagnostics, one per line; none means
		// no diagnostic at all.
		want []string
	}{
		{
			name:  "valid",
			spec:  "  binaries:\n    linux/amd64: bin/linux-amd64/demo\n    linux/arm64: bin/linux-arm64/demo\n  port: 9100\n  args: [--web.listen-address=:9100]\n",
			files: map[string]file{"bin/linux-amd64/demo": exe(amd64ELF), "bin/linux-arm64/demo": exe(arm64ELF)},
		},
		{
			name:  "arm64 binary declared amd64",
			spec:  amd64Only,
			files: map[string]file{"bin/linux-amd64/demo": exe(arm64ELF)},
			want:  []string{"bin/linux-amd64/demo: error: ELF machine is AArch64 (arm64) but tierpack.yaml:10 declares linux/amd64 (rebuild it for linux/amd64 (a Go exporter: CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go build), or declare the platform it was built for)"},
		},
		{
			name:  "text file",
			spec:  amd64Only,
			files: map[string]file{"bin/linux-amd64/demo": exe([]byte("not a binary\n"))},
			want:  []string{"bin/linux-amd64/demo: error: is a text file, not an executable binary (ELF, Mach-O or PE) (tierpack.yaml:10 declares linux/amd64: point it at the compiled exporter for that platform)"},
		},
		{
			name:  "script",
			spec:  amd64Only,
			files: map[string]file{"bin/linux-amd64/demo": exe([]byte("#!/bin/sh\nexec demo\n"))},
			want:  []string{"bin/linux-amd64/demo: error: is a script (#!/bin/sh), not a compiled binary: exporter images hold no interpreter to run it"},
		},
		{
			name: "missing, with spec.build",
			spec: amd64Only + "  build: make examples\n",
			want: []string{"bin/linux-amd64/demo: error: the linux/amd64 binary does not exist: binaries are build outputs, build them before validating or pushing (build them with `make examples`)"},
		},
		{
			name: "missing, without spec.build",
			spec: amd64Only,
			want: []string{"(build it, e.g. CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go build -o bin/linux-amd64/demo ., and set spec.build"},
		},
		{
			name:  "directory",
			spec:  amd64Only,
			files: map[string]file{"bin/linux-amd64/demo": {dir: true}},
			want:  []string{"bin/linux-amd64/demo: error: the linux/amd64 binary is not a regular file"},
		},
		{
			name:  "no execute bit",
			spec:  amd64Only,
			files: map[string]file{"bin/linux-amd64/demo": {data: amd64ELF, mode: 0o644}},
			want:  []string{"bin/linux-amd64/demo: error: is not executable (mode -rw-r--r--) (run chmod +x bin/linux-amd64/demo)"},
		},
		{
			name:  "shared library",
			spec:  amd64Only,
			files: map[string]file{"bin/linux-amd64/demo": exe(fakeELF(elfOpts{machine: elf.EM_X86_64, typ: elf.ET_DYN}))},
			want:  []string{"error: is a shared library, not an executable"},
		},
		{
			name:  "freebsd binary declared linux",
			spec:  amd64Only,
			files: map[string]file{"bin/linux-amd64/demo": exe(fakeELF(elfOpts{machine: elf.EM_X86_64, osabi: elf.ELFOSABI_FREEBSD}))},
			want:  []string{"error: ELF OS ABI is freebsd but tierpack.yaml:10 declares linux/amd64"},
		},
		{
			name:  "mach-o declared linux",
			spec:  amd64Only,
			files: map[string]file{"bin/linux-amd64/demo": exe(fakeMachO(macho.CpuAmd64, macho.TypeExec))},
			want:  []string{"error: is a Mach-O binary (macOS) but tierpack.yaml:10 declares linux/amd64"},
		},
		{
			name:  "pe declared linux, and the wrong CPU",
			spec:  amd64Only,
			files: map[string]file{"bin/linux-amd64/demo": exe(fakePE(pe.IMAGE_FILE_MACHINE_ARM64, peExe))},
			want:  []string{"error: is a PE binary (Windows) but", "error: PE machine is AArch64 (arm64) but"},
		},
		{
			name:  "windows and darwin are for tierpack pull",
			spec:  "  binaries:\n    windows/amd64: bin/windows-amd64/demo.exe\n    darwin/arm64: bin/darwin-arm64/demo\n  port: 9100\n",
			files: map[string]file{"bin/windows-amd64/demo.exe": {data: fakePE(pe.IMAGE_FILE_MACHINE_AMD64, peExe), mode: 0o644}, "bin/darwin-arm64/demo": exe(fakeMachO(macho.CpuArm64, macho.TypeExec))},
			want:  []string{"bin/darwin-arm64/demo: info: container runtimes run only Linux images", "bin/windows-amd64/demo.exe: info: container runtimes run only Linux images"},
		},
		{
			name:  "dynamically linked",
			spec:  amd64Only,
			files: map[string]file{"bin/linux-amd64/demo": exe(fakeELF(elfOpts{machine: elf.EM_X86_64, typ: elf.ET_DYN, interp: "/lib64/ld-linux-x86-64.so.2"}))},
			want:  []string{"bin/linux-amd64/demo: warning: is dynamically linked (loader /lib64/ld-linux-x86-64.so.2): tierpack pull installs it, but its image has no C library, so containers cannot run it (link it statically)"},
		},
		{
			name:  "platform typos",
			spec:  "  binaries:\n    linux/x86_64: bin/a\n    macos/arm64: bin/b\n    linux: bin/c\n    linux/arm/7: bin/d\n  port: 9100\n",
			files: map[string]file{"bin/a": exe(amd64ELF), "bin/b": exe(amd64ELF), "bin/c": exe(amd64ELF), "bin/d": exe(amd64ELF)},
			want: []string{
				`tierpack.yaml:12: error: spec.binaries: platform "linux": write it os/arch or os/arch/variant`,
				`tierpack.yaml:13: error: spec.binaries: platform "linux/arm/7": variant "7" is not of the form v7, v8`,
				`tierpack.yaml:10: error: spec.binaries: platform "linux/x86_64": "x86_64" is not an OCI architecture: use "amd64"`,
				`tierpack.yaml:11: error: spec.binaries: platform "macos/arm64": "macos" is not an OCI operating system: use "darwin"`,
			},
		},
		{
			name: "path outside the contribution",
			spec: "  binaries:\n    linux/amd64: ../demo\n  port: 9100\n",
			want: []string{`tierpack.yaml:10: error: spec.binaries: linux/amd64: "../demo" leaves the contribution folder`},
		},
		{
			name: "no binaries, no port",
			spec: "  metricsPath: metrics\n",
			want: []string{
				"tierpack.yaml:8: error: spec.binaries is required",
				"tierpack.yaml:8: error: spec.port is required",
				`tierpack.yaml:9: error: spec.metricsPath "metrics" is not a URL path (use an absolute path such as /metrics)`,
			},
		},
		{
			name:  "bad port and binary name",
			spec:  "  binaries:\n    linux/amd64: bin/linux-amd64/demo\n  binary: exporter.json\n  port: 70000\n",
			files: map[string]file{"bin/linux-amd64/demo": exe(amd64ELF)},
			want:  []string{`tierpack.yaml:11: error: spec.binary "exporter.json" is not a usable file name`, "tierpack.yaml:12: error: spec.port 70000 is not a TCP port"},
		},
		{
			name: "unknown field",
			spec: "  prot: 9100\n",
			want: []string{`tierpack.yaml:8: error: tierpack.yaml: spec: unknown field "prot"`},
		},
		{
			name: "wrong type",
			spec: "  port: \"9100\"\n",
			want: []string{"tierpack.yaml:8: error: tierpack.yaml: spec.port: expected int, got string"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, c := contribution(t, tc.spec, tc.files)
			diags, err := Plugin{}.Validate(context.Background(), sdk.ValidateRequest{Dir: dir, Contribution: c})
			if err != nil {
				t.Fatal(err)
			}
			got := diagStrings(diags)
			if len(diags) != len(tc.want) {
				t.Fatalf("got %d diagnostic(s), want %d:\n%s", len(diags), len(tc.want), got)
			}
			for i, w := range tc.want {
				if !strings.Contains(diags[i].String(), w) {
					t.Errorf("diagnostic %d:\n  %s\nwant it to contain\n  %s", i, diags[i], w)
				}
			}
		})
	}
}

// packaged runs Package on a two-platform contribution.
func packaged(t *testing.T, epoch int64) (staging string, c sdk.Contribution, res sdk.PackageResult) {
	t.Helper()
	spec := "  binaries:\n    linux/arm64: bin/linux-arm64/demo-arm\n    linux/amd64: bin/linux-amd64/demo\n  port: 9100\n  args: [--web.listen-address=:9100]\n"
	dir, c := contribution(t, spec, map[string]file{"bin/linux-amd64/demo": exe(amd64ELF), "bin/linux-arm64/demo-arm": exe(arm64ELF)})
	staging = t.TempDir()
	res, err := Plugin{}.Package(context.Background(), sdk.PackageRequest{Dir: dir, Contribution: c, StagingDir: staging, SourceDateEpoch: epoch})
	if err != nil {
		t.Fatal(err)
	}
	return staging, c, res
}

func readImage(t *testing.T, staging string, m sdk.Manifest) ocispec.Image {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(staging, m.Config.Path))
	if err != nil {
		t.Fatal(err)
	}
	var img ocispec.Image
	if err := json.Unmarshal(data, &img); err != nil {
		t.Fatal(err)
	}
	return img
}

type tarEntry struct {
	name  string
	mode  int64
	uid   int
	mtime int64
	data  string
}

func readLayer(t *testing.T, p string) ([]tarEntry, digest.Digest) {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	tr := tar.NewReader(io.TeeReader(zr, h))
	var entries []tarEntry
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		entries = append(entries, tarEntry{hdr.Name, hdr.Mode, hdr.Uid, hdr.ModTime.Unix(), string(b)})
	}
	io.Copy(io.Discard, zr)
	return entries, digest.NewDigest(digest.SHA256, h)
}

func TestPackage(t *testing.T) {
	staging, _, res := packaged(t, 0)
	if len(res.Manifests) != 2 {
		t.Fatalf("%d manifests, want one per platform", len(res.Manifests))
	}
	for i, want := range []struct{ arch, bin string }{{"amd64", string(amd64ELF)}, {"arm64", string(arm64ELF)}} {
		m := res.Manifests[i]
		if m.Platform == nil || m.Platform.String() != "linux/"+want.arch {
			t.Fatalf("manifest %d is for %v, want linux/%s (sorted by platform)", i, m.Platform, want.arch)
		}
		if m.ArtifactType != "-" {
			t.Errorf("platform manifest artifactType %q, want none: it must be a plain runnable image", m.ArtifactType)
		}
		if m.Config == nil || m.Config.MediaType != ocispec.MediaTypeImageConfig {
			t.Fatalf("config %+v, want an OCI image config", m.Config)
		}
		if len(m.Layers) != 1 || m.Layers[0].MediaType != ocispec.MediaTypeImageLayerGzip {
			t.Fatalf("layers %+v, want one tar+gzip layer", m.Layers)
		}
		if title := m.Layers[0].Annotations[sdk.AnnotationTitle]; title != "demo-1.2.3-linux-"+want.arch+".tar.gz" {
			t.Errorf("layer title %q", title)
		}

		entries, diffID := readLayer(t, filepath.Join(staging, m.Layers[0].Path))
		wantEntries := []tarEntry{
			{"usr/", 0o755, 0, 0, ""},
			{"usr/local/", 0o755, 0, 0, ""},
			{"usr/local/bin/", 0o755, 0, 0, ""},
			{"usr/local/bin/demo", 0o755, 0, 0, want.bin},
		}
		if !slices.Equal(entries, wantEntries) {
			t.Errorf("layer holds\n%v\nwant\n%v", entries, wantEntries)
		}

		img := readImage(t, staging, m)
		if img.OS != "linux" || img.Architecture != want.arch {
			t.Errorf("image platform %s/%s", img.OS, img.Architecture)
		}
		if len(img.RootFS.DiffIDs) != 1 || img.RootFS.DiffIDs[0] != diffID || img.RootFS.Type != "layers" {
			t.Errorf("rootfs %+v, want the layer's diff id %s", img.RootFS, diffID)
		}
		cfg := img.Config
		if !slices.Equal(cfg.Entrypoint, []string{"/usr/local/bin/demo"}) || !slices.Equal(cfg.Cmd, []string{"--web.listen-address=:9100"}) {
			t.Errorf("entrypoint %q cmd %q", cfg.Entrypoint, cfg.Cmd)
		}
		if _, ok := cfg.ExposedPorts["9100/tcp"]; !ok || len(cfg.ExposedPorts) != 1 {
			t.Errorf("exposed ports %v", cfg.ExposedPorts)
		}
		if cfg.User != DefaultUser || len(cfg.Env) != 1 || !strings.HasPrefix(cfg.Env[0], "PATH=") {
			t.Errorf("user %q env %q", cfg.User, cfg.Env)
		}
		for k, v := range map[string]string{
			LabelTier: "contrib", LabelType: "exporter", LabelName: "demo", LabelPort: "9100", LabelMetricsPath: "/metrics",
			ocispec.AnnotationVersion: "1.2.3", ocispec.AnnotationSource: "https://example.org/demo", ocispec.AnnotationRevision: "abc123", ocispec.AnnotationLicenses: "MIT",
		} {
			if cfg.Labels[k] != v {
				t.Errorf("label %s = %q, want %q", k, cfg.Labels[k], v)
			}
		}
		if img.Created != nil || cfg.Labels[ocispec.AnnotationCreated] != "" || len(img.History) != 1 || img.History[0].Created != nil {
			t.Errorf("created stamped without SOURCE_DATE_EPOCH: %v %v", img.Created, img.History)
		}
	}
	// Only what the manifests name is left in the staging directory.
	var left []string
	filepath.WalkDir(staging, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(staging, p)
			left = append(left, filepath.ToSlash(rel))
		}
		return nil
	})
	if want := []string{"linux-amd64/config.json", "linux-amd64/layer.tar.gz", "linux-arm64/config.json", "linux-arm64/layer.tar.gz"}; !slices.Equal(left, want) {
		t.Errorf("staging holds %v, want %v", left, want)
	}
}

func TestPackageIsDeterministic(t *testing.T) {
	read := func(staging string, res sdk.PackageResult) map[string]string {
		out := map[string]string{}
		for _, m := range res.Manifests {
			for _, b := range append([]sdk.Blob{*m.Config}, m.Layers...) {
				data, err := os.ReadFile(filepath.Join(staging, b.Path))
				if err != nil {
					t.Fatal(err)
				}
				out[b.Path] = fmt.Sprintf("%x", sha256.Sum256(data))
			}
		}
		return out
	}
	s1, _, r1 := packaged(t, 0)
	s2, _, r2 := packaged(t, 0) // other folder, other mtimes
	a, b := read(s1, r1), read(s2, r2)
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Errorf("same binaries, different blobs:\n%v\n%v", a, b)
	}

	// SOURCE_DATE_EPOCH becomes created, and the layer's mtimes.
	const epoch = 1700000000
	s3, _, r3 := packaged(t, epoch)
	img := readImage(t, s3, r3.Manifests[0])
	if img.Created == nil || !img.Created.Equal(time.Unix(epoch, 0)) || img.Config.Labels[ocispec.AnnotationCreated] != "2023-11-14T22:13:20Z" {
		t.Errorf("created %v, label %q", img.Created, img.Config.Labels[ocispec.AnnotationCreated])
	}
	entries, _ := readLayer(t, filepath.Join(s3, r3.Manifests[0].Layers[0].Path))
	if entries[3].mtime != epoch {
		t.Errorf("layer mtime %d, want %d", entries[3].mtime, epoch)
	}
}

func TestPackageRefusesInvalidSpec(t *testing.T) {
	dir, c := contribution(t, "  binaries: {linux/amd64: bin/x}\n", nil)
	res, err := Plugin{}.Package(context.Background(), sdk.PackageRequest{Dir: dir, Contribution: c, StagingDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if sdk.Count(res.Diagnostics, sdk.SeverityError) == 0 || len(res.Manifests) != 0 {
		t.Errorf("packaged a spec without a port: %+v", res)
	}
}

// unpackRequest turns Package's output for one platform into what the host
// sends Unpack after fetching the blobs.
func unpackRequest(t *testing.T, staging string, m sdk.Manifest) sdk.UnpackRequest {
	t.Helper()
	blob := func(b sdk.Blob) sdk.Blob {
		b.Digest = "sha256:" + strings.Repeat("0", 64)
		b.Platform = m.Platform
		return b
	}
	cfg := blob(*m.Config)
	req := sdk.UnpackRequest{BlobsDir: staging, Config: &cfg, OutputDir: t.TempDir()}
	for _, l := range m.Layers {
		req.Layers = append(req.Layers, blob(l))
	}
	return req
}

func TestUnpack(t *testing.T) {
	staging, _, res := packaged(t, 0)
	req := unpackRequest(t, staging, res.Manifests[1])
	// The manifest's annotations (which promotion rewrites) win over the labels.
	req.Annotations = map[string]string{LabelTier: "official", ocispec.AnnotationVersion: "1.2.3"}
	out, err := Plugin{}.Unpack(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(out.Files, []string{"demo", RunInfoFile}) {
		t.Errorf("files %v", out.Files)
	}
	bin := filepath.Join(req.OutputDir, "demo")
	data, err := os.ReadFile(bin)
	if err != nil || !bytes.Equal(data, arm64ELF) {
		t.Errorf("installed binary differs from the contribution's (%v)", err)
	}
	if st, _ := os.Stat(bin); st == nil || st.Mode().Perm() != 0o755 {
		t.Errorf("installed binary mode %v, want 0755", st.Mode())
	}
	raw, err := os.ReadFile(filepath.Join(req.OutputDir, RunInfoFile))
	if err != nil {
		t.Fatal(err)
	}
	var info RunInfo
	if err := json.Unmarshal(raw, &info); err != nil {
		t.Fatal(err)
	}
	want := RunInfo{Name: "demo", Version: "1.2.3", Tier: "official", Platform: "linux/arm64", Binary: "demo",
		Args: []string{"--web.listen-address=:9100"}, Port: 9100, MetricsPath: "/metrics", MetricsURL: "http://localhost:9100/metrics"}
	if fmt.Sprint(info) != fmt.Sprint(want) {
		t.Errorf("exporter.json:\n%+v\nwant\n%+v", info, want)
	}
}

// writeLayer writes a tar+gzip layer with the given entries.
func writeLayer(t *testing.T, dir, name string, entries ...*tar.Header) sdk.Blob {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, h := range entries {
		body := ""
		if h.Typeflag == tar.TypeReg {
			body = string(amd64ELF)
			h.Size = int64(len(body))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		io.WriteString(tw, body)
	}
	tw.Close()
	zw.Close()
	if err := os.WriteFile(filepath.Join(dir, name), buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return sdk.Blob{MediaType: ocispec.MediaTypeImageLayerGzip, Path: name, Digest: "sha256:" + name}
}

func TestUnpackRefuses(t *testing.T) {
	bin := &tar.Header{Name: "usr/local/bin/demo", Typeflag: tar.TypeReg, Mode: 0o755}
	for _, tc := range []struct {
		name   string
		config string // image config JSON; "" means none
		layers func(dir string) []sdk.Blob
		want   string
	}{
		{
			name: "no image config",
			want: "has no OCI image config",
		},
		{
			name:   "no entrypoint",
			config: `{"os":"linux","architecture":"amd64"}`,
			want:   "has no absolute entrypoint",
		},
		{
			name:   "config for another platform",
			config: `{"os":"linux","architecture":"arm64","config":{"Entrypoint":["/usr/local/bin/demo"]}}`,
			want:   "is for linux/arm64, but the index lists it as linux/amd64",
		},
		{
			name:   "entrypoint not in any layer",
			config: `{"os":"linux","architecture":"amd64","config":{"Entrypoint":["/usr/local/bin/demo"]}}`,
			layers: func(dir string) []sdk.Blob {
				return []sdk.Blob{writeLayer(t, dir, "l1", &tar.Header{Name: "etc/", Typeflag: tar.TypeDir, Mode: 0o755})}
			},
			want: "no layer of the image holds /usr/local/bin/demo",
		},
		{
			name:   "deleted by a later layer",
			config: `{"os":"linux","architecture":"amd64","config":{"Entrypoint":["/usr/local/bin/demo"]}}`,
			layers: func(dir string) []sdk.Blob {
				return []sdk.Blob{
					writeLayer(t, dir, "l1", bin),
					writeLayer(t, dir, "l2", &tar.Header{Name: "usr/local/bin/.wh.demo", Typeflag: tar.TypeReg, Mode: 0o644}),
				}
			},
			want: "layer sha256:l2 deletes /usr/local/bin/demo",
		},
		{
			name:   "symlink",
			config: `{"os":"linux","architecture":"amd64","config":{"Entrypoint":["/usr/local/bin/demo"]}}`,
			layers: func(dir string) []sdk.Blob {
				return []sdk.Blob{writeLayer(t, dir, "l1", &tar.Header{Name: "usr/local/bin/demo", Typeflag: tar.TypeSymlink, Linkname: "/etc/shadow"})}
			},
			want: "is not a regular file",
		},
		{
			name:   "not executable",
			config: `{"os":"linux","architecture":"amd64","config":{"Entrypoint":["/usr/local/bin/demo"]}}`,
			layers: func(dir string) []sdk.Blob {
				return []sdk.Blob{writeLayer(t, dir, "l1", &tar.Header{Name: "usr/local/bin/demo", Typeflag: tar.TypeReg, Mode: 0o644})}
			},
			want: "is not executable (mode -rw-r--r--)",
		},
		{
			name:   "path-like entrypoint name",
			config: `{"os":"linux","architecture":"amd64","config":{"Entrypoint":["/"]}}`,
			want:   "is not a file name tierpack installs",
		},
		{
			name:   "zstd layer",
			config: `{"os":"linux","architecture":"amd64","config":{"Entrypoint":["/usr/local/bin/demo"]}}`,
			layers: func(dir string) []sdk.Blob {
				b := writeLayer(t, dir, "l1", bin)
				b.MediaType = "application/vnd.oci.image.layer.v1.tar+zstd"
				return []sdk.Blob{b}
			},
			want: "is not a tar or tar+gzip layer",
		},
		{
			name:   "binary for another CPU than its config says",
			config: `{"os":"linux","architecture":"arm64","config":{"Entrypoint":["/usr/local/bin/demo"]}}`,
			layers: func(dir string) []sdk.Blob { return []sdk.Blob{writeLayer(t, dir, "l1", bin)} },
			want:   "holds ELF code for x86-64 (amd64), but its config says linux/arm64",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			plat := &sdk.Platform{OS: "linux", Architecture: "amd64"}
			req := sdk.UnpackRequest{BlobsDir: dir, OutputDir: t.TempDir()}
			if tc.config != "" {
				os.WriteFile(filepath.Join(dir, "config"), []byte(tc.config), 0o644)
				req.Config = &sdk.Blob{MediaType: ocispec.MediaTypeImageConfig, Path: "config", Digest: "sha256:config"}
				if !strings.Contains(tc.name, "another CPU") {
					req.Config.Platform = plat
				}
			}
			if tc.layers != nil {
				req.Layers = tc.layers(dir)
			}
			_, err := Plugin{}.Unpack(context.Background(), req)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}
