package oci_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"
	orasoci "oras.land/oras-go/v2/content/oci"
	"oras.land/oras-go/v2/registry"
	"oras.land/oras-go/v2/registry/remote"

	"github.com/tierpack/tierpack/internal/registrytest"
	"github.com/tierpack/tierpack/pkg/oci"
	"github.com/tierpack/tierpack/pkg/promotion"
)

// remoteRepo returns a fresh oras-go client (referrers capability unknown,
// as in a new process) for name in reg.
func remoteRepo(t *testing.T, reg *registrytest.Registry, name string) *remote.Repository {
	t.Helper()
	r, err := remote.NewRepository(reg.Ref(name, ""))
	if err != nil {
		t.Fatal(err)
	}
	r.PlainHTTP = true
	return r
}

// pushArtifact pushes a one-layer artifact and tags it.
func pushArtifact(t *testing.T, store oras.Target, tag string) ocispec.Descriptor {
	t.Helper()
	return pushNamed(t, store, tag, tag)
}

// pushNamed pushes a one-layer artifact whose content depends on name and
// tags it tag (none when empty).
func pushNamed(t *testing.T, store oras.Target, name, tag string) ocispec.Descriptor {
	t.Helper()
	ctx := context.Background()
	data := []byte("content of " + name)
	layer := content.NewDescriptorFromBytes("application/vnd.tierpack.test.layer", data)
	if err := store.Push(ctx, layer, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	d, err := oras.PackManifest(ctx, store, oras.PackManifestVersion1_1, "application/vnd.tierpack.test.v1", oras.PackManifestOptions{
		Layers: []ocispec.Descriptor{layer}, ManifestAnnotations: map[string]string{ocispec.AnnotationCreated: "2024-01-01T00:00:00Z"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if tag != "" {
		if err := store.Tag(ctx, d, tag); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

// attachRecord attaches a promotion-record-shaped referrer (artifactType
// promotion.ArtifactType, one record layer, empty config) to subject, as
// promotion.Attach lays it out.
func attachRecord(t *testing.T, store oras.Target, subject ocispec.Descriptor, by string) ocispec.Descriptor {
	t.Helper()
	ctx := context.Background()
	data, _ := json.Marshal(map[string]string{"subject": subject.Digest.String(), "repository": "test", "by": by})
	layer := content.NewDescriptorFromBytes(promotion.ArtifactType, data)
	if err := store.Push(ctx, layer, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	subj := ocispec.Descriptor{MediaType: subject.MediaType, Digest: subject.Digest, Size: subject.Size}
	d, err := oras.PackManifest(ctx, store, oras.PackManifestVersion1_1, promotion.ArtifactType, oras.PackManifestOptions{
		Subject: &subj, Layers: []ocispec.Descriptor{layer},
		ManifestAnnotations: map[string]string{ocispec.AnnotationCreated: "2024-01-01T00:00:00Z", "test.by": by},
	})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// listedByAPI returns what the registry's referrers API itself answers.
func listedByAPI(t *testing.T, reg *registrytest.Registry, name string, subject ocispec.Descriptor) []ocispec.Descriptor {
	t.Helper()
	resp, err := http.Get(reg.URL + "/v2/" + name + "/referrers/" + subject.Digest.String())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var idx ocispec.Index
	if err := json.NewDecoder(resp.Body).Decode(&idx); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("referrers API: %d %v", resp.StatusCode, err)
	}
	return idx.Manifests
}

// TestReferrersGGCRForeignArtifactType: go-containerregistry's registry
// lists a promotion record under its config media type; oras-go's lookup
// by artifactType then misses it, oci.Referrers and promotion.List do not,
// also after the tag-schema index (which oras-go writes there, as ggcr
// sends no OCI-Subject header) is gone.
func TestReferrersGGCRForeignArtifactType(t *testing.T) {
	ctx := context.Background()
	reg := registrytest.NewGGCR(t)
	writer := remoteRepo(t, reg, "ref/ggcr")
	subject := pushArtifact(t, writer, "v1")
	rec := attachRecord(t, writer, subject, "alice")

	api := listedByAPI(t, reg, "ref/ggcr", subject)
	if len(api) != 1 || api[0].Digest != rec.Digest || api[0].ArtifactType != ocispec.MediaTypeEmptyJSON {
		t.Fatalf("ggcr's referrers API listed %+v; expected the record under %s", api, ocispec.MediaTypeEmptyJSON)
	}
	if refs, err := registry.Referrers(ctx, remoteRepo(t, reg, "ref/ggcr"), subject, promotion.ArtifactType); err != nil || len(refs) != 0 {
		t.Fatalf("oras-go registry.Referrers: %v %v (expected the miss)", refs, err)
	}

	check := func(what string) {
		t.Helper()
		refs, err := oci.Referrers(ctx, remoteRepo(t, reg, "ref/ggcr"), subject, promotion.ArtifactType)
		if err != nil || len(refs) != 1 || refs[0].Digest != rec.Digest || refs[0].ArtifactType != promotion.ArtifactType || refs[0].Annotations["test.by"] != "alice" {
			t.Fatalf("%s: oci.Referrers: %+v %v", what, refs, err)
		}
		recs, err := promotion.List(ctx, remoteRepo(t, reg, "ref/ggcr"), subject)
		if err != nil || len(recs) != 1 || recs[0].By != "alice" {
			t.Fatalf("%s: promotion.List: %+v %v", what, recs, err)
		}
		if refs, err := oci.Referrers(ctx, remoteRepo(t, reg, "ref/ggcr"), subject, "application/vnd.other"); err != nil || len(refs) != 0 {
			t.Fatalf("%s: another artifactType: %+v %v", what, refs, err)
		}
	}
	check("API and tag schema")

	// Without the tag-schema index only the API's wrong answer is left.
	req, _ := http.NewRequest(http.MethodDelete, reg.URL+"/v2/ref/ggcr/manifests/"+oci.ReferrersTag(subject.Digest), nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("deleting the tag-schema index: %v %v", resp, err)
	}
	resp.Body.Close()
	if _, err := remoteRepo(t, reg, "ref/ggcr").Resolve(ctx, oci.ReferrersTag(subject.Digest)); err == nil {
		t.Fatal("the tag-schema index is still there")
	}
	check("API only")
}

// TestReferrersTagSchemaWhenAPIMisses: a registry whose referrers API
// exists but does not list a referrer (here Distribution behind a proxy
// answering every referrers request with an empty list) still has it in
// the tag schema, which oci.Referrers reads even though the API answered.
func TestReferrersTagSchemaWhenAPIMisses(t *testing.T) {
	ctx := context.Background()
	emptyReferrers := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.Contains(r.URL.Path, "/referrers/") {
				w.Header().Set("Content-Type", ocispec.MediaTypeImageIndex)
				w.Write([]byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}`))
				return
			}
			next.ServeHTTP(w, r)
		})
	}
	reg := registrytest.New(t, registrytest.WithHandlerWrapper(emptyReferrers))
	writer := remoteRepo(t, reg, "ref/tags")
	subject := pushArtifact(t, writer, "v1")
	// A client that believes there is no referrers API writes the index.
	if err := writer.SetReferrersCapability(false); err != nil {
		t.Fatal(err)
	}
	rec := attachRecord(t, writer, subject, "bob")
	if _, err := writer.Resolve(ctx, oci.ReferrersTag(subject.Digest)); err != nil {
		t.Fatalf("no tag-schema index: %v", err)
	}
	if refs, err := registry.Referrers(ctx, remoteRepo(t, reg, "ref/tags"), subject, ""); err != nil || len(refs) != 0 {
		t.Fatalf("oras-go registry.Referrers: %v %v (expected the miss)", refs, err)
	}
	refs, err := oci.Referrers(ctx, remoteRepo(t, reg, "ref/tags"), subject, promotion.ArtifactType)
	if err != nil || len(refs) != 1 || refs[0].Digest != rec.Digest {
		t.Fatalf("oci.Referrers: %+v %v", refs, err)
	}
	// With no filter too: tag-schema entries are always read to be sure.
	refs, err = oci.Referrers(ctx, remoteRepo(t, reg, "ref/tags"), subject, "")
	if err != nil || len(refs) != 1 || refs[0].ArtifactType != promotion.ArtifactType {
		t.Fatalf("oci.Referrers, no filter: %+v %v", refs, err)
	}
}

// TestReferrersLayoutAndBounds: an OCI layout answers from its graph
// (children of an index are not referrers), a missing subject has none,
// and more candidates to inspect than allowed is an error, not a silent
// miss.
func TestReferrersLayoutAndBounds(t *testing.T) {
	ctx := context.Background()
	store, err := orasoci.New(filepath.Join(t.TempDir(), "layout"))
	if err != nil {
		t.Fatal(err)
	}
	subject := pushArtifact(t, store, "v1")
	a := attachRecord(t, store, subject, "a")
	b := attachRecord(t, store, subject, "b")
	// An index listing subject as a child is a predecessor, not a referrer.
	idx, err := oci.IndexBlob(oci.NewIndex("", []ocispec.Descriptor{subject}, nil))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := oci.PushBlob(ctx, store, idx, oci.PushOptions{}); err != nil {
		t.Fatal(err)
	}
	refs, err := oci.Referrers(ctx, store, subject, promotion.ArtifactType)
	if err != nil || len(refs) != 2 {
		t.Fatalf("layout: %+v %v", refs, err)
	}
	got := map[string]bool{refs[0].Digest.String(): true, refs[1].Digest.String(): true}
	if !got[a.Digest.String()] || !got[b.Digest.String()] {
		t.Fatalf("layout: %+v", refs)
	}
	if refs, err := oci.Referrers(ctx, store, b, ""); err != nil || len(refs) != 0 {
		t.Fatalf("a referrer without referrers: %+v %v", refs, err)
	}

	reg := registrytest.NewGGCR(t)
	repo := remoteRepo(t, reg, "ref/bounds")
	s := pushArtifact(t, repo, "v1")
	attachRecord(t, repo, s, "a")
	attachRecord(t, repo, s, "b")
	_, err = oci.ReferrersWith(ctx, remoteRepo(t, reg, "ref/bounds"), s, promotion.ArtifactType, oci.ReferrersOptions{MaxChecks: 1})
	if !errors.Is(err, oci.ErrTooManyReferrers) {
		t.Fatalf("bounded: %v", err)
	}
	missing := s
	missing.Digest = digest.Digest("sha256:" + strings.Repeat("0", 64))
	if refs, err := oci.Referrers(ctx, remoteRepo(t, reg, "ref/bounds"), missing, ""); err != nil || len(refs) != 0 {
		t.Fatalf("missing subject: %+v %v", refs, err)
	}
	if refs, err := oci.Referrers(ctx, remoteRepo(t, reg, "ref/none"), missing, ""); err != nil || len(refs) != 0 {
		t.Fatalf("missing repository: %+v %v", refs, err)
	}
}

// TestReferrersEndlessPages: a hostile registry (go-containerregistry's,
// behind a proxy that adds a Link header pointing back at the same page
// to every referrers answer) never ends its listing; Referrers stops past
// MaxListedReferrers with ErrTooManyReferrers instead of following it for
// ever.
func TestReferrersEndlessPages(t *testing.T) {
	ctx := context.Background()
	pages := 0
	reg := registrytest.NewGGCR(t, registrytest.WithHandlerWrapper(endlessReferrers(&pages)))
	writer := remoteRepo(t, reg, "ref/loop")
	subject := pushArtifact(t, writer, "v1")
	for i := range 8 {
		attachRecord(t, writer, subject, "spam"+strconv.Itoa(i))
	}
	_, err := oci.Referrers(ctx, remoteRepo(t, reg, "ref/loop"), subject, promotion.ArtifactType)
	if !errors.Is(err, oci.ErrTooManyReferrers) {
		t.Fatalf("endless referrers pages: %v after %d pages", err, pages)
	}
	if max := oci.MaxListedReferrers/8 + 2; pages > max {
		t.Fatalf("followed %d pages, more than the %d the bound allows", pages, max)
	}
}

// TestReferrersEmptyPagesForever: a hostile registry that answers every
// referrers page empty, with a next link, is cut off after
// MaxReferrerPages pages (counting referrers alone never would).
func TestReferrersEmptyPagesForever(t *testing.T) {
	ctx := context.Background()
	pages := 0
	reg := registrytest.NewGGCR(t, registrytest.WithHandlerWrapper(endlessReferrers(&pages)))
	subject := pushArtifact(t, remoteRepo(t, reg, "ref/empty"), "v1")
	_, err := oci.Referrers(ctx, remoteRepo(t, reg, "ref/empty"), subject, promotion.ArtifactType)
	if !errors.Is(err, oci.ErrTooManyReferrers) || !strings.Contains(err.Error(), "did not end after") {
		t.Fatalf("empty referrers pages for ever: %v after %d pages", err, pages)
	}
	if pages > oci.MaxReferrerPages+1 {
		t.Fatalf("followed %d pages", pages)
	}
}

// endlessReferrers adds, to every referrers answer, a Link header that
// points back at the same page, counting the pages served: a registry
// whose listing never ends.
func endlessReferrers(pages *int) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/referrers/") {
				*pages++
				w.Header().Set("Link", "<"+r.URL.Path+"?last="+strconv.Itoa(*pages)+">; rel=\"next\"")
			}
			next.ServeHTTP(w, r)
		})
	}
}
