package artifact

import (
	"bytes"
	"context"
	"debug/elf"
	"encoding/binary"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/tierpack/tierpack/pkg/oci"
	"github.com/tierpack/tierpack/pkg/plugin"
)

func TestPlatformDir(t *testing.T) {
	for _, tc := range []struct {
		p    ocispec.Platform
		want string
	}{
		{ocispec.Platform{OS: "linux", Architecture: "amd64"}, "linux-amd64"},
		{ocispec.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}, "linux-arm-v7"},
		{ocispec.Platform{OS: "windows", Architecture: "amd64", OSVersion: "10.0.17763"}, "windows-amd64"},
		{ocispec.Platform{OS: "..", Architecture: "amd64"}, ""},
		{ocispec.Platform{OS: "linux", Architecture: "../../etc"}, ""},
		{ocispec.Platform{OS: "linux", Architecture: ""}, ""},
		{ocispec.Platform{OS: "linux", Architecture: "arm", Variant: "v7/x"}, ""},
	} {
		got, err := oci.PlatformDir(tc.p)
		if got != tc.want || (err != nil) != (tc.want == "") {
			t.Errorf("PlatformDir(%+v) = %q, %v; want %q", tc.p, got, err, tc.want)
		}
	}
}

// fakeExecutable is the smallest ELF executable header for machine: the
// exporter plugin validates binaries by their headers only.
func fakeExecutable(machine elf.Machine) []byte {
	var ident [elf.EI_NIDENT]byte
	copy(ident[:], elf.ELFMAG)
	ident[elf.EI_CLASS], ident[elf.EI_DATA], ident[elf.EI_VERSION] = byte(elf.ELFCLASS64), byte(elf.ELFDATA2LSB), byte(elf.EV_CURRENT)
	var buf bytes.Buffer
	binary.Write(&buf, binary.LittleEndian, elf.Header64{Ident: ident, Type: uint16(elf.ET_EXEC), Machine: uint16(machine), Version: 1, Ehsize: 64, Phentsize: 56, Shentsize: 64})
	return buf.Bytes()
}

// exporterContribution writes a two-platform exporter contribution.
func exporterContribution(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string][]byte{
		"tierpack.yaml": []byte("name: demo\nversion: 1.0.0\ntype: exporter\ntier: contrib\nspec:\n  port: 9100\n  binaries:\n" +
			"    linux/amd64: bin/linux-amd64/demo\n    linux/arm64: bin/linux-arm64/demo\n"),
		"bin/linux-amd64/demo": fakeExecutable(elf.EM_X86_64),
		"bin/linux-arm64/demo": fakeExecutable(elf.EM_AARCH64),
	}
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, data, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestPullAllPlatforms pulls every platform of an index into its own
// folder, and checks that a failure leaves the previous output untouched.
func TestPullAllPlatforms(t *testing.T) {
	ctx := context.Background()
	pm, err := plugin.NewManager(plugin.Options{Self: selfBin, Builtins: []string{"exporter"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pm.Close)
	p := pack(t, pm, exporterContribution(t), PackOptions{})
	if p.Root.MediaType != ocispec.MediaTypeImageIndex {
		t.Fatalf("packed %s, want an index", p.Root.MediaType)
	}
	layout := filepath.Join(t.TempDir(), "layout")
	tg := openLayout(t, layout, "1.0.0")
	if _, err := oci.PushBlobs(ctx, tg.Store, p.Blobs, "1.0.0", oci.PushOptions{}); err != nil {
		t.Fatal(err)
	}

	out := filepath.Join(t.TempDir(), "out")
	res, err := Pull(ctx, pm, tg, PullOptions{OutputDir: out, AllPlatforms: true})
	if err != nil {
		t.Fatal(err)
	}
	wantFiles := []string{"linux-amd64/demo", "linux-amd64/exporter.json", "linux-arm64/demo", "linux-arm64/exporter.json"}
	if !slices.Equal(res.Platforms, []string{"linux-amd64", "linux-arm64"}) || !slices.Equal(res.Files, wantFiles) {
		t.Errorf("platforms %v, files %v", res.Platforms, res.Files)
	}
	for dir, machine := range map[string]elf.Machine{"linux-amd64": elf.EM_X86_64, "linux-arm64": elf.EM_AARCH64} {
		got, err := os.ReadFile(filepath.Join(out, dir, "demo"))
		if err != nil || !bytes.Equal(got, fakeExecutable(machine)) {
			t.Errorf("%s/demo: %v", dir, err)
		}
	}

	if _, err := Pull(ctx, pm, tg, PullOptions{OutputDir: t.TempDir(), AllPlatforms: true, Platform: &ocispec.Platform{OS: "linux", Architecture: "amd64"}}); err == nil {
		t.Error("AllPlatforms with a Platform was accepted")
	}

	// Corrupt the arm64 layer: the pull fails on its digest, after the amd64
	// blobs arrived, and the existing output stays as it was.
	var arm64Layer string
	for _, b := range p.Blobs {
		if b.Desc.MediaType == ocispec.MediaTypeImageLayerGzip && strings.Contains(b.Desc.Annotations[ocispec.AnnotationTitle], "arm64") {
			arm64Layer = filepath.Join(layout, "blobs", "sha256", b.Desc.Digest.Encoded())
		}
	}
	data, err := os.ReadFile(arm64Layer)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0xff
	os.Chmod(arm64Layer, 0o644)
	if err := os.WriteFile(arm64Layer, data, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Pull(ctx, pm, tg, PullOptions{OutputDir: out, AllPlatforms: true, Force: true})
	if err == nil || !strings.Contains(err.Error(), "digest") {
		t.Fatalf("pull of a corrupt platform: %v", err)
	}
	if _, err := os.Stat(filepath.Join(out, "linux-arm64", "demo")); err != nil {
		t.Errorf("the previous output was touched: %v", err)
	}
	if entries, _ := os.ReadDir(filepath.Dir(out)); len(entries) != 1 {
		t.Errorf("pull left %v behind", entries)
	}
}
