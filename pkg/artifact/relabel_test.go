package artifact

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"testing"

	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"

	"github.com/tierpack/tierpack/sdk"
	"github.com/tierpack/tierpack/sdk/tier"
)

// TestRetierRelabelsImageConfig: promoting a runnable image rewrites the
// tier label of its config, and nothing else; layers stay as they are.
func TestRetierRelabelsImageConfig(t *testing.T) {
	ctx := context.Background()
	tg := openLayout(t, filepath.Join(t.TempDir(), "l"), "1.0.0")
	cfg := ocispec.Image{Platform: ocispec.Platform{OS: "linux", Architecture: "amd64"},
		Config: ocispec.ImageConfig{Entrypoint: []string{"/x"}, Labels: map[string]string{sdk.AnnotationTier: "repository", "other": "kept"}}}
	cb, _ := json.Marshal(cfg)
	cd := content.NewDescriptorFromBytes(ocispec.MediaTypeImageConfig, cb)
	layer := []byte("layer bytes")
	ld := content.NewDescriptorFromBytes(ocispec.MediaTypeImageLayerGzip, layer)
	for _, b := range []struct {
		d    ocispec.Descriptor
		data []byte
	}{{cd, cb}, {ld, layer}} {
		if err := tg.Store.Push(ctx, b.d, bytes.NewReader(b.data)); err != nil {
			t.Fatal(err)
		}
	}
	m := ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest, Config: cd, Layers: []ocispec.Descriptor{ld},
		Annotations: map[string]string{sdk.AnnotationTier: "repository"}}
	mb, _ := json.Marshal(m)
	md := content.NewDescriptorFromBytes(ocispec.MediaTypeImageManifest, mb)
	if err := tg.Store.Push(ctx, md, bytes.NewReader(mb)); err != nil {
		t.Fatal(err)
	}
	nd, err := retier(ctx, tg, md, tier.Official)
	if err != nil {
		t.Fatal(err)
	}
	nb, _ := content.FetchAll(ctx, tg.Store, nd)
	var nm ocispec.Manifest
	json.Unmarshal(nb, &nm)
	if nm.Annotations[sdk.AnnotationTier] != "official" || nm.Layers[0].Digest != ld.Digest || nm.Config.Digest == cd.Digest {
		t.Fatalf("new manifest %s", nb)
	}
	ncb, _ := content.FetchAll(ctx, tg.Store, nm.Config)
	var ncfg ocispec.Image
	json.Unmarshal(ncb, &ncfg)
	if ncfg.Config.Labels[sdk.AnnotationTier] != "official" || ncfg.Config.Labels["other"] != "kept" || ncfg.Config.Entrypoint[0] != "/x" || ncfg.Architecture != "amd64" {
		t.Errorf("new config %s", ncb)
	}
}
