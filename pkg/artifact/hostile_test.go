package artifact

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"

	"github.com/tierpack/tierpack/internal/registrytest"
	"github.com/tierpack/tierpack/pkg/owners"
	"github.com/tierpack/tierpack/pkg/target"
	"github.com/tierpack/tierpack/sdk"
	"github.com/tierpack/tierpack/sdk/archive"
	"github.com/tierpack/tierpack/sdk/archive/archivetest"
	"github.com/tierpack/tierpack/sdk/contrib"
)

// hostileLayer is one layer of a hand-made artifact.
type hostileLayer struct {
	mediaType string
	data      []byte
}

// pushHostile pushes a script artifact made of layers (one manifest per
// entry of platforms, each with all the layers; a plain manifest when
// platforms is empty) to the registry, tagged tag, as someone with push
// access but without tierpack would.
func pushHostile(t *testing.T, tg *target.Target, tag string, platforms []string, layers ...hostileLayer) {
	t.Helper()
	ctx := context.Background()
	push := func(mediaType string, b []byte) ocispec.Descriptor {
		d := content.NewDescriptorFromBytes(mediaType, b)
		if err := tg.Store.Push(ctx, d, bytes.NewReader(b)); err != nil && !strings.Contains(err.Error(), "already exists") {
			t.Fatal(err)
		}
		return d
	}
	ann := map[string]string{sdk.AnnotationTier: "contrib", sdk.AnnotationType: "script", sdk.AnnotationName: "hostile"}
	manifest := func(p *ocispec.Platform) ocispec.Descriptor {
		m := ocispec.Manifest{
			Versioned:    specs.Versioned{SchemaVersion: 2},
			MediaType:    ocispec.MediaTypeImageManifest,
			ArtifactType: "application/vnd.tierpack.script.v1",
			Config:       push(ocispec.MediaTypeEmptyJSON, []byte("{}")),
			Annotations:  ann,
		}
		for _, l := range layers {
			m.Layers = append(m.Layers, push(l.mediaType, l.data))
		}
		b, _ := json.Marshal(m)
		d := push(ocispec.MediaTypeImageManifest, b)
		d.Platform = p
		return d
	}
	root := manifest(nil)
	if len(platforms) > 0 {
		idx := ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex, Annotations: ann}
		for _, p := range platforms {
			goos, arch, _ := strings.Cut(p, "/")
			idx.Manifests = append(idx.Manifests, manifest(&ocispec.Platform{OS: goos, Architecture: arch}))
		}
		b, _ := json.Marshal(idx)
		root = push(ocispec.MediaTypeImageIndex, b)
	}
	if err := tg.Store.Tag(ctx, root, tag); err != nil {
		t.Fatal(err)
	}
}

func gzLayer(b []byte) hostileLayer {
	return hostileLayer{sdk.MediaTypeLayerTarGzip, archivetest.Gzip(b)}
}

func fileOf(name string, size int) []byte {
	return archivetest.Tar(archivetest.File{Name: name, Mode: 0o644, Body: bytes.Repeat([]byte{'x'}, size)})
}

// TestPullRefusesHostileArtifacts: issue 12's hostile artifacts, pushed to
// the real registry and pulled with the real script plugin, are refused
// with ErrRefusedContent and the archive error, and leave nothing behind.
// Sizes are scaled down with PullOptions.Limits; the mechanism is the one
// the defaults use.
func TestPullRefusesHostileArtifacts(t *testing.T) {
	reg := registrytest.New(t)
	pm := manager(t)
	const mib = 1 << 20
	for _, tc := range []struct {
		name      string
		platforms []string
		layers    []hostileLayer
		limits    archive.Limits
		all       bool
		want      error
		say       string
	}{{
		// Two layers, each within the limit alone (the old per-layer bound).
		name:   "budget spans layers",
		layers: []hostileLayer{gzLayer(fileOf("a", 2*mib)), gzLayer(fileOf("b", 2*mib))},
		limits: archive.Limits{MaxTotalSize: 3 * mib},
		want:   archive.ErrTooLarge, say: "3 MiB limit on the total size",
	}, {
		name:   "entries span layers",
		layers: []hostileLayer{gzLayer(fileOf("a", 1)), gzLayer(fileOf("b", 1)), gzLayer(fileOf("c", 1))},
		limits: archive.Limits{MaxEntries: 2},
		want:   archive.ErrTooLarge, say: "more than 2 entries",
	}, {
		// Each platform within the limit alone.
		name:      "budget spans platforms",
		platforms: []string{"linux/amd64", "linux/arm64"},
		layers:    []hostileLayer{gzLayer(fileOf("a", 2*mib))},
		limits:    archive.Limits{MaxTotalSize: 3 * mib},
		all:       true,
		want:      archive.ErrTooLarge, say: "3 MiB limit",
	}, {
		// A few hundred bytes declaring 1 GiB, under the default limits.
		name:   "PAX sparse",
		layers: []hostileLayer{gzLayer(archivetest.PAXSparse("big", 1<<30))},
		want:   archive.ErrUnsafeEntry, say: "PAX sparse file",
	}, {
		name:   "plain zeros typed tar+gzip",
		layers: []hostileLayer{{sdk.MediaTypeLayerTarGzip, make([]byte, 8*mib)}},
		want:   archive.ErrCorrupt, say: "gzip magic",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			tag := strings.NewReplacer(" ", "-", "+", "-").Replace(tc.name)
			tg := remoteTarget(t, reg, "hostile/x", tag, false)
			pushHostile(t, tg, tag, tc.platforms, tc.layers...)
			out := filepath.Join(t.TempDir(), "out")
			_, err := Pull(context.Background(), pm, tg, PullOptions{OutputDir: out, Limits: tc.limits, AllPlatforms: tc.all})
			if !errors.Is(err, ErrRefusedContent) || !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.say) {
				t.Fatalf("Pull() = %v\nwant ErrRefusedContent and %v, saying %q", err, tc.want, tc.say)
			}
			if _, err := os.Stat(out); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("the output exists after a refused pull: %v", err)
			}
			leftovers, _ := os.ReadDir(filepath.Dir(out))
			if len(leftovers) != 0 {
				t.Errorf("left behind: %v", leftovers)
			}
		})
	}

	t.Run("raised limits accept", func(t *testing.T) {
		tg := remoteTarget(t, reg, "hostile/x", "big-enough", false)
		pushHostile(t, tg, "big-enough", nil, gzLayer(fileOf("a", 2*mib)), gzLayer(fileOf("b", 2*mib)))
		out := filepath.Join(t.TempDir(), "out")
		if _, err := Pull(context.Background(), pm, tg, PullOptions{OutputDir: out, Limits: archive.Limits{MaxTotalSize: 4 * mib}}); err != nil {
			t.Fatal(err)
		}
	})
}

// TestPullNeverWorldWritable: a setuid 4777 file and a 0777 folder land
// without the special bits and without group or world write.
func TestPullNeverWorldWritable(t *testing.T) {
	reg := registrytest.New(t)
	tg := remoteTarget(t, reg, "hostile/modes", "1", false)
	layer := archivetest.Tar(archivetest.File{Name: "w/suid.sh", Mode: 0o4777, Body: []byte("#!/bin/sh\n")}, archivetest.File{Name: "open", Mode: 0o666, Body: []byte("x")})
	pushHostile(t, tg, "1", nil, gzLayer(layer))
	out := filepath.Join(t.TempDir(), "out")
	if _, err := Pull(context.Background(), manager(t), tg, PullOptions{OutputDir: out}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"w/suid.sh", "open", "w"} {
		fi, err := os.Lstat(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		if m := fi.Mode(); m&0o022 != 0 || m&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky) != 0 {
			t.Errorf("%s has mode %v", name, m)
		}
	}
}

// TestPushRefusesWhatPullRefuses: a file over the per-file limit packs to a
// small layer, but Pack refuses it with ErrValidation naming the limit
// pull would apply, instead of pushing what can never be pulled.
func TestPushRefusesWhatPullRefuses(t *testing.T) {
	pm := manager(t)
	dir := contribution(t, "contrib")
	if err := os.WriteFile(filepath.Join(dir, "zeros.bin"), make([]byte, 2<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := contrib.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Pack(context.Background(), pm, m, PackOptions{Limits: archive.Limits{MaxFileSize: 1 << 20}})
	if !errors.Is(err, ErrValidation) || !errors.Is(err, archive.ErrTooLarge) || !strings.Contains(err.Error(), "1 MiB limit on one file") {
		t.Fatalf("Pack() = %v, want ErrValidation and ErrTooLarge naming the 1 MiB limit", err)
	}
	// Within the limits it packs.
	if p, err := Pack(context.Background(), pm, m, PackOptions{Limits: archive.Limits{MaxFileSize: 4 << 20}}); err != nil {
		t.Fatal(err)
	} else {
		p.Close()
	}
}

// TestOwnersSymlinkOutsideIsRefused: an OWNERS symlink leading outside the
// contribution is refused, and its approvers never recorded, whether
// tierpack.yaml names it or not and whether files lists it or not.
func TestOwnersSymlinkOutsideIsRefused(t *testing.T) {
	outside := filepath.Join(t.TempDir(), "OWNERS")
	if err := os.WriteFile(outside, []byte("approvers: [mallory]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, manifest := range map[string]string{
		"default OWNERS":       "",
		"named, not in files":  "owners: OWNERS\nfiles: [run.sh]\n",
		"named in a subfolder": "owners: meta/OWNERS\n",
	} {
		t.Run(name, func(t *testing.T) {
			dir := contribution(t, "contrib")
			f, _ := os.OpenFile(filepath.Join(dir, "tierpack.yaml"), os.O_APPEND|os.O_WRONLY, 0)
			f.WriteString(manifest)
			f.Close()
			link := filepath.Join(dir, "OWNERS")
			if strings.Contains(manifest, "meta/") {
				os.Mkdir(filepath.Join(dir, "meta"), 0o755)
				link = filepath.Join(dir, "meta", "OWNERS")
			}
			if err := os.Symlink(outside, link); err != nil {
				t.Fatal(err)
			}
			_, err := contrib.Load(dir)
			if !errors.Is(err, contrib.ErrInvalid) || !strings.Contains(err.Error(), "OWNERS") {
				t.Fatalf("Load() = %v, want ErrInvalid naming OWNERS", err)
			}
		})
	}
	// Read directly, the file is refused too.
	dir := t.TempDir()
	os.Symlink(outside, filepath.Join(dir, "OWNERS"))
	if _, err := owners.LoadIn(dir, "OWNERS"); !errors.Is(err, owners.ErrInvalid) {
		t.Fatalf("LoadIn() = %v, want ErrInvalid", err)
	}
}
