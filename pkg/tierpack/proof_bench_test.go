package tierpack_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	orasgo "oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/registry/remote"

	"github.com/tierpack/tierpack/internal/registrytest"
	"github.com/tierpack/tierpack/pkg/home"
	"github.com/tierpack/tierpack/pkg/index"
	"github.com/tierpack/tierpack/pkg/promotion"
	"github.com/tierpack/tierpack/pkg/sign"
	"github.com/tierpack/tierpack/pkg/tierpack"
	"github.com/tierpack/tierpack/sdk"
	"github.com/tierpack/tierpack/sdk/tier"
)

// proofVersions is how many versions the index-tier benchmarks verify.
const proofVersions = 1000

// BenchmarkIndexTiers measures what checking the tier records an index
// names costs search and the catalog over 1,000 versions at repository,
// each with its own signed record in a Distribution registry: cold (an
// empty content cache: every record is fetched, two requests each) and
// cached (records read from the cache and their signatures checked).
//
//	go test ./pkg/tierpack -run '^$' -bench IndexTiers -benchtime 3x
func BenchmarkIndexTiers(b *testing.B) {
	ctx := context.Background()
	reg := registrytest.New(b)
	file, pub := proofIndex(b, reg)
	search := func(cl *tierpack.Client) {
		res, err := cl.Search(ctx, tierpack.SearchRequest{Files: []string{file}, KeyFiles: []string{pub}, Query: index.Query{Tier: tier.Repository}})
		if err != nil || len(res.Results) != 1 || res.Results[0].VerifiedTier != "repository" {
			b.Fatalf("search: %+v, %v", res, err)
		}
	}
	catalog := func(cl *tierpack.Client) {
		res, err := cl.Catalog(ctx, tierpack.CatalogRequest{Files: []string{file}, KeyFiles: []string{pub}, NoHistory: true})
		if err != nil || len(res.Entries) != 1 || len(res.Entries[0].Versions) != proofVersions || res.Entries[0].Versions[proofVersions-1].Tier != tier.Repository {
			b.Fatalf("catalog: %v", err)
		}
	}
	for _, bc := range []struct {
		name string
		run  func(*tierpack.Client)
	}{{"search", search}, {"catalog", catalog}} {
		b.Run(bc.name+"/cold", func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				cl := &tierpack.Client{Home: home.At(b.TempDir()), Tool: "tierpack/bench"}
				b.StartTimer()
				bc.run(cl)
			}
		})
		b.Run(bc.name+"/cached", func(b *testing.B) {
			cl := &tierpack.Client{Home: home.At(b.TempDir()), Tool: "tierpack/bench"}
			bc.run(cl) // fills the cache
			for b.Loop() {
				bc.run(cl)
			}
		})
	}
}

// proofIndex pushes proofVersions small manifests to reg, each with a
// tier record at repository signed by a fresh key, and writes an index of
// them that names each record; it returns the index file and the key.
func proofIndex(b *testing.B, reg *registrytest.Registry) (string, string) {
	b.Helper()
	ctx := context.Background()
	dir := b.TempDir()
	priv, pubPEM, err := sign.GenerateKeyPair([]byte("pw"))
	if err != nil {
		b.Fatal(err)
	}
	signer, err := sign.LoadPrivateKey(priv, []byte("pw"))
	if err != nil {
		b.Fatal(err)
	}
	keyID, _ := sign.SignerKeyID(signer)
	pub := filepath.Join(dir, "ci.pub")
	if err := os.WriteFile(pub, pubPEM, 0o644); err != nil {
		b.Fatal(err)
	}
	r, err := remote.NewRepository(reg.Host + "/bench/versions")
	if err != nil {
		b.Fatal(err)
	}
	r.PlainHTTP = true
	e := index.Entry{Name: "versions", Type: "script", Repository: reg.Host + "/bench/versions"}
	for i := range proofVersions {
		ver := fmt.Sprintf("1.0.%d", i)
		layer := []byte("version " + ver)
		ld := content.NewDescriptorFromBytes("application/vnd.tierpack.script.v1.tar", layer)
		if err := r.Push(ctx, ld, bytes.NewReader(layer)); err != nil {
			b.Fatal(err)
		}
		m, err := orasgo.PackManifest(ctx, r, orasgo.PackManifestVersion1_1, "application/vnd.tierpack.script.v1", orasgo.PackManifestOptions{
			Layers:              []ocispec.Descriptor{ld},
			ManifestAnnotations: map[string]string{sdk.AnnotationTier: "repository", ocispec.AnnotationCreated: "2026-01-01T00:00:00Z", ocispec.AnnotationVersion: ver},
		})
		if err != nil {
			b.Fatal(err)
		}
		rec := promotion.Record{Subject: m.Digest.String(), Repository: e.Repository, From: tier.Contrib, To: tier.Repository,
			Sequence: 1, By: "ci", Time: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
		data, _ := json.Marshal(rec)
		sig, err := sign.SignBytes(signer, data)
		if err != nil {
			b.Fatal(err)
		}
		rl := content.NewDescriptorFromBytes(promotion.ArtifactType, data)
		if err := r.Push(ctx, rl, bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
		rd, err := orasgo.PackManifest(ctx, r, orasgo.PackManifestVersion1_1, promotion.ArtifactType, orasgo.PackManifestOptions{
			Subject: &m, Layers: []ocispec.Descriptor{rl},
			ManifestAnnotations: map[string]string{sdk.AnnotationPromotionSignature: sig, sdk.AnnotationPromotionKey: keyID, ocispec.AnnotationCreated: "2026-01-01T00:00:00Z"},
		})
		if err != nil {
			b.Fatal(err)
		}
		e.Versions = append(e.Versions, index.Version{Version: ver, Digest: m.Digest.String(), Tier: tier.Repository, Record: rd.Digest.String(), KeyID: keyID})
	}
	e.Latest = e.Versions[len(e.Versions)-1].Version
	ix := index.New()
	ix.Entries = []index.Entry{e}
	file := filepath.Join(dir, "index.yaml")
	if err := ix.Save(file); err != nil {
		b.Fatal(err)
	}
	return file, pub
}
