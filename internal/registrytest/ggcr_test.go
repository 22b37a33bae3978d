package registrytest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"

	"github.com/tierpack/tierpack/internal/registrytest"
)

// TestGGCR: NewGGCR serves go-containerregistry's registry with the same
// *Registry conveniences, stores blobs on disk, and its referrers API
// reports a referrer's config media type as its artifactType.
func TestGGCR(t *testing.T) {
	ctx := context.Background()
	reg := registrytest.NewGGCR(t)
	if reg.URL != "http://"+reg.Host || reg.StorageDir == "" {
		t.Fatalf("registry: %+v", reg)
	}
	repo := repository(t, reg, "ggcr/demo")
	layer, err := oras.PushBytes(ctx, repo, "application/vnd.tierpack.layer.v1", []byte("on disk"))
	if err != nil {
		t.Fatal(err)
	}
	subject, b := manifestFor(t, layer)
	if err := repo.PushReference(ctx, subject, bytes.NewReader(b), "v1"); err != nil {
		t.Fatal(err)
	}
	if got, err := content.FetchAll(ctx, repo, layer); err != nil || string(got) != "on disk" {
		t.Fatalf("pull: %q %v", got, err)
	}
	if s := reg.Stats(); s.BlobUploadsStarted == 0 || s.ManifestPUTs == 0 {
		t.Errorf("stats: %+v", s)
	}

	subj := subject
	ref, err := oras.PackManifest(ctx, repo, oras.PackManifestVersion1_1, artifactType, oras.PackManifestOptions{Subject: &subj})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(reg.URL + "/v2/ggcr/demo/referrers/" + subject.Digest.String())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var idx ocispec.Index
	if err := json.NewDecoder(resp.Body).Decode(&idx); err != nil {
		t.Fatal(err)
	}
	if len(idx.Manifests) != 1 || idx.Manifests[0].Digest != ref.Digest || idx.Manifests[0].ArtifactType != ocispec.MediaTypeEmptyJSON {
		t.Fatalf("referrers: %+v (expected the quirk: artifactType %s instead of %s)", idx.Manifests, ocispec.MediaTypeEmptyJSON, artifactType)
	}
}
