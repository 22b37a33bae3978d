//go:build unix

package dist

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/tierpack/tierpack/internal/testbin"
	"github.com/tierpack/tierpack/sdk/host"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/errdef"

	"github.com/tierpack/tierpack/pkg/oci"
	"github.com/tierpack/tierpack/pkg/plugin"
	"github.com/tierpack/tierpack/pkg/target"
	"github.com/tierpack/tierpack/sdk"
)

// testPlugin is pkg/plugin's test plugin, built by TestMain; named
// tierpack-plugin-<mode> it behaves as that mode, and "good" is a working
// plugin of type good, version 0.0.1.
var testPlugin string

func TestMain(m *testing.M) {
	os.Exit(testbin.Run(m, testbin.Build{Pkg: "../../../sdk/plugintest/testdata/testplugin", Name: "testplugin", Dst: &testPlugin}))
}

func TestParseBinaryName(t *testing.T) {
	for _, tc := range []struct {
		name string
		typ  string
		p    ocispec.Platform
		ok   bool
	}{
		{"tierpack-plugin-rules-linux-amd64", "rules", ocispec.Platform{OS: "linux", Architecture: "amd64"}, true},
		{"tierpack-plugin-falco-rules-darwin-arm64", "falco-rules", ocispec.Platform{OS: "darwin", Architecture: "arm64"}, true},
		{"tierpack-plugin-rules-windows-amd64.exe", "rules", ocispec.Platform{OS: "windows", Architecture: "amd64"}, true},
		{"tierpack-plugin-rules-linux-arm-v7", "rules", ocispec.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}, true},
		{"tierpack-plugin-rules", "", ocispec.Platform{}, false},
		{"tierpack-plugin-linux-amd64", "", ocispec.Platform{}, false}, // no type
		{"tierpack-plugin-Rules-linux-amd64", "", ocispec.Platform{}, false},
		{"tierpack-plugin-rules-beos-amd64", "", ocispec.Platform{}, false},
		{"rules-linux-amd64", "", ocispec.Platform{}, false},
	} {
		typ, p, ok := ParseBinaryName(tc.name)
		if ok != tc.ok || (ok && (typ != tc.typ || !reflect.DeepEqual(p, tc.p))) {
			t.Errorf("ParseBinaryName(%q) = %q, %+v, %v; want %q, %+v, %v", tc.name, typ, p, ok, tc.typ, tc.p, tc.ok)
		}
	}
}

// folder writes the test plugin under each of the given names into a new
// folder.
func folder(t *testing.T, names ...string) string {
	t.Helper()
	dir := t.TempDir()
	data, err := os.ReadFile(testPlugin)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(dir, n), data, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestScanDirRefuses(t *testing.T) {
	native := "-" + runtime.GOOS + "-" + runtime.GOARCH
	other := "-" + runtime.GOOS + "-" + map[bool]string{true: "arm64", false: "amd64"}[runtime.GOARCH == "amd64"]
	for _, tc := range []struct {
		names []string
		want  string
	}{
		{nil, "holds no plugin binaries"},
		{[]string{"README.md"}, "holds no plugin binaries"},
		{[]string{"tierpack-plugin-good"}, "name it tierpack-plugin-<type>-<os>-<arch>"},
		{[]string{"tierpack-plugin-good" + native, "tierpack-plugin-bad" + native[:len(native)-1] + "x"}, "name it"},
		{[]string{"tierpack-plugin-a" + native, "tierpack-plugin-b" + native}, `types "a" and "b"`},
		// The Go build settings say which platform a binary is for.
		{[]string{"tierpack-plugin-good" + other}, "was built for " + runtime.GOOS + "/" + runtime.GOARCH + ", but its name says"},
	} {
		_, err := ScanDir(folder(t, tc.names...))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ScanDir(%v) = %v, want an error saying %q", tc.names, err, tc.want)
		}
	}
	bins, err := ScanDir(folder(t, "tierpack-plugin-good"+native, "notes.txt"))
	if err != nil || len(bins) != 1 || bins[0].Type != "good" {
		t.Errorf("ScanDir = %+v, %v", bins, err)
	}
}

// publish packs the test plugin as type good into an OCI layout and returns
// the layout's folder and a target for the plugin's tag.
func publish(t *testing.T) (layout string, tgt *target.Target) {
	t.Helper()
	ctx := context.Background()
	bins, err := ScanDir(folder(t, "tierpack-plugin-good-"+runtime.GOOS+"-"+runtime.GOARCH))
	if err != nil {
		t.Fatal(err)
	}
	// The test plugin takes its mode from its name: ask it as installed.
	meta, err := Probe(ctx, filepath.Join(folder(t, "tierpack-plugin-good"), "tierpack-plugin-good"), ProbeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if meta.Type != "good" || meta.Version != "0.0.1" || len(meta.Protocols) != 1 || meta.Protocols[0] != 1 {
		t.Fatalf("Probe = %+v", meta)
	}
	packed, err := Pack(bins, meta, time.Time{}, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	layout = filepath.Join(t.TempDir(), "layout")
	ref, err := target.Parse("oci:" + layout + ":0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	tgt, err = target.Open(ctx, ref, target.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tgt.Close() })
	if _, err := oci.PushBlobs(ctx, tgt.Store, packed.Blobs, "0.0.1", oci.PushOptions{}); err != nil {
		t.Fatal(err)
	}
	return layout, tgt
}

// TestInstall checks an install end to end from an OCI layout: the binary
// lands in the folder, pinned with what the artifact and the plugin say,
// and a Manager runs it.
func TestInstall(t *testing.T) {
	_, tgt := publish(t)
	dir := filepath.Join(t.TempDir(), "plugins")
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	res, err := Install(context.Background(), tgt, InstallOptions{Dir: dir, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	sum, _ := plugin.FileSHA256(res.Path)
	pin := res.Pin
	if pin.Type != "good" || pin.Version != "0.0.1" || pin.SHA256 != sum || !pin.Installed.Equal(now) ||
		pin.Platform != runtime.GOOS+"/"+runtime.GOARCH || !strings.HasPrefix(pin.Digest, "sha256:") || pin.Source != tgt.Ref.String() {
		t.Errorf("pin = %+v", pin)
	}
	lock, err := plugin.ReadLock(dir)
	if err != nil || lock.Plugins["good"].SHA256 != sum {
		t.Fatalf("lock = %+v, %v", lock, err)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".install-") {
			t.Errorf("staging folder %s left behind", e.Name())
		}
	}
	m, err := plugin.NewManager(plugin.Options{ManagedDir: dir, Reattach: map[string]sdk.ReattachInfo{}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if _, err := m.Get(context.Background(), "good"); err != nil {
		t.Errorf("the installed plugin does not run: %v", err)
	}
}

// TestInstallRefuses checks what Install will not install, and that it
// leaves the plugin folder as it was then.
func TestInstallRefuses(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		corrupt func([]byte) []byte
		want    string
	}{
		{"corrupt layer", func(b []byte) []byte { b[len(b)/2] ^= 0xff; return b }, "does not match its digest"},
		{"truncated layer", func(b []byte) []byte { return b[:len(b)/2] }, "does not match its descriptor"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			layout, tgt := publish(t)
			// The layer is the biggest blob in the layout.
			var biggest string
			var size int64
			blobs, _ := filepath.Glob(filepath.Join(layout, "blobs", "sha256", "*"))
			for _, b := range blobs {
				if st, err := os.Stat(b); err == nil && st.Size() > size {
					biggest, size = b, st.Size()
				}
			}
			data, err := os.ReadFile(biggest)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(biggest, tc.corrupt(data), 0o644); err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			_, err = Install(ctx, tgt, InstallOptions{Dir: dir})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Install = %v, want an error saying %q", err, tc.want)
			}
			assertEmpty(t, dir)
		})
	}
	t.Run("built-in type", func(t *testing.T) {
		_, tgt := publish(t)
		dir := t.TempDir()
		_, err := Install(ctx, tgt, InstallOptions{Dir: dir, Builtins: []string{"good"}})
		if err == nil || !strings.Contains(err.Error(), "built into tierpack and cannot be replaced") {
			t.Fatalf("Install of a built-in type = %v", err)
		}
		assertEmpty(t, dir)
	})
	t.Run("no tag", func(t *testing.T) {
		_, tgt := publish(t)
		tgt.Ref.Tag = ""
		if _, err := Install(ctx, tgt, InstallOptions{Dir: t.TempDir()}); err == nil || !strings.Contains(err.Error(), "names no tag or digest") {
			t.Fatalf("Install without a tag = %v", err)
		}
	})
	t.Run("missing tag", func(t *testing.T) {
		_, tgt := publish(t)
		tgt.Ref.Tag = "9.9.9"
		if _, err := Install(ctx, tgt, InstallOptions{Dir: t.TempDir()}); !errors.Is(err, errdef.ErrNotFound) {
			t.Fatalf("Install of a missing tag = %v, want ErrNotFound", err)
		}
	})
}

// assertEmpty checks that dir holds nothing but an empty lock's leftovers.
func assertEmpty(t *testing.T, dir string) {
	t.Helper()
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		t.Errorf("%s left in the plugin folder", e.Name())
	}
}

// TestRemove checks that Remove takes the binary and the pin, and says so
// when there is nothing to remove.
func TestRemove(t *testing.T) {
	_, tgt := publish(t)
	dir := t.TempDir()
	if _, err := Install(context.Background(), tgt, InstallOptions{Dir: dir}); err != nil {
		t.Fatal(err)
	}
	pin, err := Remove(dir, "good")
	if err != nil || pin == nil || pin.Version != "0.0.1" {
		t.Fatalf("Remove = %+v, %v", pin, err)
	}
	if _, err := os.Stat(filepath.Join(dir, plugin.BinaryName("good"))); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the binary is still there: %v", err)
	}
	if lock, _ := plugin.ReadLock(dir); len(lock.Plugins) != 0 {
		t.Errorf("lock still has %v", lock.Plugins)
	}
	if _, err := Remove(dir, "good"); !errors.Is(err, host.ErrNotFound) {
		t.Errorf("second Remove = %v, want ErrNotFound", err)
	}
}
