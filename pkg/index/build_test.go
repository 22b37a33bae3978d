package index

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry/remote/credentials"

	"github.com/tierpack/tierpack/internal/registrytest"
	"github.com/tierpack/tierpack/pkg/oci"
	"github.com/tierpack/tierpack/pkg/owners"
	"github.com/tierpack/tierpack/pkg/target"
	"github.com/tierpack/tierpack/sdk"
	"github.com/tierpack/tierpack/sdk/tier"
)

// open opens a reference the way the CLI does, with no credentials.
func open(t *testing.T, ref string, readOnly bool) *target.Target {
	t.Helper()
	r, err := target.Parse(ref)
	if err != nil {
		t.Fatal(err)
	}
	tg, err := target.Open(context.Background(), r, target.Options{Credentials: credentials.NewMemoryStore(), ReadOnly: readOnly})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tg.Close() })
	return tg
}

// pushManifest pushes a manifest with one layer (content) and the given
// config and annotations, tags it, and returns its digest.
func pushManifest(t *testing.T, dst oras.Target, tag, artifactType string, cfg *oci.Blob, ann map[string]string, content string) string {
	t.Helper()
	data := []byte(content)
	layer := oci.Blob{Desc: ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayerGzip, Digest: digest.FromBytes(data), Size: int64(len(data))}, Data: data}
	config := oci.Blob{Desc: ocispec.DescriptorEmptyJSON, Data: ocispec.DescriptorEmptyJSON.Data}
	config.Desc.Data = nil
	if cfg != nil {
		config = *cfg
	}
	m := ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest,
		ArtifactType: artifactType, Config: config.Desc, Layers: []ocispec.Descriptor{layer.Desc}, Annotations: ann,
	}
	mdata, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	root := oci.Blob{Desc: ocispec.Descriptor{MediaType: m.MediaType, Digest: digest.FromBytes(mdata), Size: int64(len(mdata))}, Data: mdata}
	if _, err := oci.PushBlobs(context.Background(), dst, []oci.Blob{config, layer, root}, tag, oci.PushOptions{}); err != nil {
		t.Fatal(err)
	}
	return root.Desc.Digest.String()
}

// contribution returns a tierpack contribution's annotations.
func contribution(name, typ, tierName, version string, extra ...string) map[string]string {
	a := map[string]string{
		"dev.tierpack.tier": tierName, sdk.AnnotationType: typ, sdk.AnnotationName: name,
		ocispec.AnnotationTitle: name, ocispec.AnnotationVersion: version,
	}
	for i := 0; i+1 < len(extra); i += 2 {
		a[extra[i]] = extra[i+1]
	}
	return a
}

func helmConfig(t *testing.T, chart map[string]any) *oci.Blob {
	t.Helper()
	data, err := json.Marshal(chart)
	if err != nil {
		t.Fatal(err)
	}
	return &oci.Blob{Desc: ocispec.Descriptor{MediaType: sdk.MediaTypeHelmConfig, Digest: digest.FromBytes(data), Size: int64(len(data))}, Data: data}
}

// seed fills repositories under prefix with every kind of tag Build meets.
func seed(t *testing.T, host string) {
	own := (&owners.File{Approvers: []string{"alice", "bob"}, Reviewers: []string{"bob", "carol"}}).JSON()

	// A script with releases, a pre-release, a non-semver tag on an old
	// release, and the tags a signature and a promotion record leave.
	dbg := open(t, host+"/idx/debug-bundle", false)
	pushManifest(t, dbg.Store, "1.9.0", "application/vnd.tierpack.script.v1", nil,
		contribution("debug-bundle", "script", "contrib", "1.9.0"), "dbg 1.9.0")
	d10 := pushManifest(t, dbg.Store, "1.10.0", "application/vnd.tierpack.script.v1", nil,
		contribution("debug-bundle", "script", "official", "1.10.0",
			ocispec.AnnotationDescription, "Collect logs for bug reports.",
			ocispec.AnnotationLicenses, "Apache-2.0",
			ocispec.AnnotationSource, "https://example.org/debug-bundle",
			ocispec.AnnotationRevision, "9c1e4b7",
			ocispec.AnnotationURL, "https://example.org",
			ocispec.AnnotationCreated, "2025-01-02T03:04:05Z",
			ocispec.AnnotationAuthors, "Jane Maintainer <jane@example.org>, The Falco community, alice, Sam (sam@example.org), Not (an email)",
			sdk.AnnotationKeywords, "falco, debug,,falco",
			sdk.AnnotationOwners, own), "dbg 1.10.0")
	if err := dbg.Store.Tag(context.Background(), mustResolve(t, dbg, "1.10.0"), "stable"); err != nil {
		t.Fatal(err)
	}
	pushManifest(t, dbg.Store, "1.11.0-rc.1", "application/vnd.tierpack.script.v1", nil,
		contribution("debug-bundle", "script", "repository", "1.11.0-rc.1"), "dbg rc")
	hex := strings.TrimPrefix(d10, "sha256:")
	pushManifest(t, dbg.Store, "sha256-"+hex+".sig", "", nil, map[string]string{"dev.cosignproject.cosign/signature": "x"}, "sig")
	pushManifest(t, dbg.Store, "sha256-"+hex, "application/vnd.tierpack.promotion.v1+json", nil, nil, "record")
	// Something else in the same repository: an image without tierpack
	// annotations, and a published index.
	pushManifest(t, dbg.Store, "some-image", "", &oci.Blob{Desc: ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: digest.FromString("{}"), Size: 2}, Data: []byte("{}")}, nil, "image")
	if _, err := Push(context.Background(), open(t, host+"/idx/debug-bundle:catalogue", false), []byte("apiVersion: tierpack.dev/v1\nkind: Index\n"), PushOptions{}); err != nil {
		t.Fatal(err)
	}

	// A repository-tier chart whose keywords live in its Chart.yaml, and
	// an untiered chart pushed the way helm push does.
	chart := open(t, host+"/idx/charts/rules-exporter", false)
	pushManifest(t, chart.Store, "0.3.1", "", helmConfig(t, map[string]any{"name": "rules-exporter", "version": "0.3.1", "keywords": []string{"prometheus", "falco"}}),
		contribution("rules-exporter", "chart", "repository", "0.3.1", ocispec.AnnotationDescription, "Rules as metrics."), "chart")
	helm := open(t, host+"/idx/charts/helm-only", false)
	pushManifest(t, helm.Store, "1.0.0", "", helmConfig(t, map[string]any{"name": "helm-only", "version": "1.0.0", "description": "From Chart.yaml.", "home": "https://helm.example", "sources": []string{"https://src.example"}}),
		map[string]string{ocispec.AnnotationTitle: "helm-only", ocispec.AnnotationVersion: "1.0.0"}, "helm chart")
}

func mustResolve(t *testing.T, tg *target.Target, ref string) ocispec.Descriptor {
	t.Helper()
	d, err := tg.Store.Resolve(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestBuildRegistry(t *testing.T) {
	reg := registrytest.New(t)
	seed(t, reg.Host)

	var skipped []string
	b := Builder{Skipped: func(ref, reason string) {
		skipped = append(skipped, strings.ReplaceAll(ref, reg.Host, "REGISTRY")+": "+reason)
	}}
	ix, err := b.Build(context.Background(),
		open(t, reg.Host+"/idx/debug-bundle", true),
		open(t, reg.Host+"/idx/charts/rules-exporter", true),
		open(t, reg.Host+"/idx/charts/helm-only", true),
		open(t, reg.Host+"/idx/debug-bundle", true), // twice: indexed once
	)
	if err != nil {
		t.Fatal(err)
	}
	data, err := ix.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "build.golden.yaml", []byte(strings.ReplaceAll(string(data), reg.Host, "REGISTRY")))

	slices.Sort(skipped)
	want := []string{
		"REGISTRY/idx/debug-bundle:catalogue: a published tierpack index, not a contribution",
		`REGISTRY/idx/debug-bundle:some-image: not a tierpack contribution (no dev.tierpack.type annotation; artifactType "application/vnd.oci.image.config.v1+json")`,
	}
	if !slices.Equal(skipped, want) {
		t.Errorf("skipped:\n%s\nwant (signature and referrer tags silently):\n%s", strings.Join(skipped, "\n"), strings.Join(want, "\n"))
	}

	// Building again gives the same bytes.
	again, err := Build(context.Background(), open(t, reg.Host+"/idx/charts/helm-only", true), open(t, reg.Host+"/idx/debug-bundle", true), open(t, reg.Host+"/idx/charts/rules-exporter", true))
	if err != nil {
		t.Fatal(err)
	}
	data2, _ := again.Marshal()
	if string(data2) != string(data) {
		t.Error("a second build, with the repositories in another order, differs")
	}
}

func TestBuildOneTag(t *testing.T) {
	reg := registrytest.New(t)
	seed(t, reg.Host)
	// Two tags of one repository: one entry with both versions.
	// A gate that takes every claim at its word (the seed signs nothing):
	// the index records what Verify says.
	claims := Builder{Verify: func(_ context.Context, _ *target.Target, info *oci.Info) Proof {
		t, _ := tier.FromAnnotations(info.Annotations)
		return Proof{Tier: t}
	}}
	ix, err := claims.Build(context.Background(), open(t, reg.Host+"/idx/debug-bundle:1.9.0", true), open(t, reg.Host+"/idx/debug-bundle:stable", true))
	if err != nil {
		t.Fatal(err)
	}
	if got := summary(ix.Entries); !slices.Equal(got, []string{"debug-bundle@1.10.0(official)[1.10.0 1.9.0]"}) {
		t.Errorf("entries = %q", got)
	}
	// Without a gate, no claim above contrib is recorded as a tier.
	if v := ix.Entries[0].Versions[0]; v.ClaimedTier != tier.None {
		t.Errorf("a verified version keeps a claim beside its tier: %+v", v)
	}
	unverified, err := Build(context.Background(), open(t, reg.Host+"/idx/debug-bundle:stable", true))
	if err != nil {
		t.Fatal(err)
	}
	if v := unverified.Entries[0].Versions[0]; v.Tier != tier.Contrib || v.ClaimedTier != tier.Official {
		t.Errorf("without a gate: tier %s, claimed %s; want contrib, claimed official", v.Tier, v.ClaimedTier)
	}
	// A tag, then the whole repository: every tag, still one entry.
	all, err := claims.Build(context.Background(), open(t, reg.Host+"/idx/debug-bundle:1.9.0", true), open(t, reg.Host+"/idx/debug-bundle", true))
	if err != nil {
		t.Fatal(err)
	}
	if got := summary(all.Entries); !slices.Equal(got, []string{"debug-bundle@1.10.0(official)[1.11.0-rc.1 1.10.0 1.9.0]"}) {
		t.Errorf("entries = %q", got)
	}
	if v := ix.Entries[0].Versions[0]; !slices.Equal(v.Tags, []string{"stable"}) || ix.Entries[0].Description == "" {
		t.Errorf("the latest version's metadata is missing: %+v", ix.Entries[0])
	}

	// A tag that does not exist is an error, not an empty index.
	_, err = Build(context.Background(), open(t, reg.Host+"/idx/debug-bundle:9.9.9", true))
	if !errors.Is(err, errdef.ErrNotFound) {
		t.Errorf("missing tag: %v, want ErrNotFound", err)
	}
	// So is a repository that does not exist.
	_, err = Build(context.Background(), open(t, reg.Host+"/idx/nothing-here", true))
	if err == nil || !strings.Contains(err.Error(), "listing the tags of") {
		t.Errorf("missing repository: %v", err)
	}
}

// TestBuildLayouts indexes an oci: layout and the local store, whose tags
// are listed without a registry.
func TestBuildLayouts(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	t.Setenv("TIERPACK_HOME", dir+"/home")
	lay := open(t, "oci:layout", false)
	pushManifest(t, lay.Store, "0.1.0", "application/vnd.tierpack.script.v1", nil, contribution("quick", "script", "contrib", "0.1.0"), "quick")
	if err := lay.Store.Tag(context.Background(), mustResolve(t, lay, "0.1.0"), "latest"); err != nil {
		t.Fatal(err)
	}
	// An unnamed artifact is named after its folder.
	pushManifest(t, lay.Store, "2.0.0", "application/vnd.tierpack.script.v1", nil, map[string]string{sdk.AnnotationType: "script", "dev.tierpack.tier": "contrib"}, "unnamed")

	lay.Close()
	// The local store holds many repositories; a writer locks all of it.
	local := open(t, "shared", false)
	pushManifest(t, local.Store, "1.0.0", "", nil, contribution("shared", "script", "repository", "1.0.0"), "shared")
	local.Close()
	other := open(t, "other", false)
	pushManifest(t, other.Store, "3.0.0", "", nil, contribution("other", "script", "contrib", "3.0.0"), "other")
	other.Close()

	ix, err := Build(context.Background(), open(t, "oci:layout", true), open(t, "shared", true))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ix.Entries {
		for _, v := range e.Versions {
			got = append(got, fmt.Sprintf("%s %s %s %v", e.Name, e.Latest, e.Reference(v), v.Tags))
		}
	}
	want := []string{
		"layout 2.0.0 oci:layout:2.0.0 [2.0.0]",
		"layout 2.0.0 oci:layout:0.1.0 [0.1.0 latest]",
		"shared 1.0.0 shared:1.0.0 [1.0.0]",
	}
	if !slices.Equal(got, want) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestIndexable(t *testing.T) {
	hex := strings.Repeat("ab", 32)
	for tag, want := range map[string]bool{
		"1.0.0": true, "latest": true, "v1.2.3_build": true,
		"sha256-" + hex: false, "sha256-" + hex + ".sig": false, "sha256-" + hex + ".att": false,
		"sha512-" + hex: false, "x.sbom": false, "repo:tag": false, ".hidden": false,
	} {
		if got := indexable(tag); got != want {
			t.Errorf("indexable(%q) = %v, want %v", tag, got, want)
		}
	}
}
