package oci_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/sigstore/sigstore/pkg/signature"
	"oras.land/oras-go/v2"
	orasoci "oras.land/oras-go/v2/content/oci"
	"oras.land/oras-go/v2/errdef"

	"github.com/tierpack/tierpack/internal/registrytest"
	"github.com/tierpack/tierpack/pkg/oci"
	"github.com/tierpack/tierpack/pkg/promotion"
	"github.com/tierpack/tierpack/pkg/sign"
)

// signedIndex pushes to store an index of two platform manifests tagged
// "v1", signs the index and both children (bundle referrer and legacy
// .sig tag each), attaches a promotion record to the index and signs the
// record too (a referrer of a referrer). It returns the index, its
// children, the record and the trusted key.
func signedIndex(t *testing.T, store oras.GraphTarget, identity string) (root ocispec.Descriptor, children []ocispec.Descriptor, rec ocispec.Descriptor, key sign.PublicKey) {
	t.Helper()
	ctx := context.Background()
	for _, arch := range []string{"amd64", "arm64"} {
		c := pushNamed(t, store, "linux/"+arch, "")
		c.Platform = &ocispec.Platform{OS: "linux", Architecture: arch}
		children = append(children, c)
	}
	idx, err := oci.IndexBlob(oci.NewIndex("", children, nil))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := oci.PushBlobs(ctx, store, []oci.Blob{idx}, "v1", oci.PushOptions{}); err != nil {
		t.Fatal(err)
	}
	root = idx.Desc
	priv, pub, err := sign.GenerateKeyPair(nil)
	if err != nil {
		t.Fatal(err)
	}
	var signer signature.Signer
	if signer, err = sign.LoadPrivateKey(priv, nil); err != nil {
		t.Fatal(err)
	}
	if key, err = sign.LoadPublicKey(pub, "test.pub"); err != nil {
		t.Fatal(err)
	}
	for _, d := range append([]ocispec.Descriptor{root}, children...) {
		if _, err := sign.Sign(ctx, store, identity, d, signer); err != nil {
			t.Fatal(err)
		}
	}
	rec = attachRecord(t, store, root, "carol")
	if _, err := sign.Sign(ctx, store, identity, rec, signer); err != nil {
		t.Fatal(err)
	}
	return root, children, rec, key
}

// checkCopied checks that dst has everything signedIndex made.
func checkCopied(t *testing.T, hop string, dst oras.ReadOnlyGraphTarget, root ocispec.Descriptor, children []ocispec.Descriptor, rec ocispec.Descriptor, key sign.PublicKey) {
	t.Helper()
	ctx := context.Background()
	got, err := dst.Resolve(ctx, "v1")
	if err != nil || got.Digest != root.Digest {
		t.Fatalf("%s: tag v1: %v %v", hop, got.Digest, err)
	}
	for _, d := range append([]ocispec.Descriptor{root}, children...) {
		d.Platform = nil
		sigs, err := sign.Signatures(ctx, dst, d)
		if err != nil || len(sigs) != 2 || sigs[0].Format != sign.FormatBundle || sigs[1].Format != sign.FormatLegacy {
			t.Fatalf("%s: signatures of %s: %d %v", hop, d.Digest, len(sigs), err)
		}
		v, err := sign.Verify(ctx, dst, d, []sign.PublicKey{key})
		if err != nil || v.Format != sign.FormatBundle {
			t.Fatalf("%s: verify %s: %+v %v", hop, d.Digest, v, err)
		}
	}
	recs, err := promotion.List(ctx, dst, root)
	if err != nil || len(recs) != 1 || recs[0].By != "carol" {
		t.Fatalf("%s: promotion records: %+v %v", hop, recs, err)
	}
	if _, err := sign.Verify(ctx, dst, rec, []sign.PublicKey{key}); err != nil {
		t.Fatalf("%s: the record's own signature: %v", hop, err)
	}
}

// TestCopyAcrossTargets: an index with signed platform children, a
// promotion record and its signature goes Distribution → OCI layout →
// go-containerregistry's registry → another Distribution, and arrives
// whole at every hop: the tag, both signature formats of the root and of
// each child, the record, the record's signature.
func TestCopyAcrossTargets(t *testing.T) {
	ctx := context.Background()
	regA := registrytest.New(t)
	srcRepo := remoteRepo(t, regA, "copy/src")
	root, children, rec, key := signedIndex(t, srcRepo, regA.Host+"/copy/src")

	layout, err := orasoci.New(filepath.Join(t.TempDir(), "layout"))
	if err != nil {
		t.Fatal(err)
	}
	ggcr := registrytest.NewGGCR(t)
	regB := registrytest.New(t)
	hops := []struct {
		name  string
		src   oras.ReadOnlyGraphTarget
		dst   oras.GraphTarget
		check oras.ReadOnlyGraphTarget
	}{
		{"distribution→layout", remoteRepo(t, regA, "copy/src"), layout, layout},
		{"layout→ggcr", layout, remoteRepo(t, ggcr, "copy/dst"), remoteRepo(t, ggcr, "copy/dst")},
		{"ggcr→distribution", remoteRepo(t, ggcr, "copy/dst"), remoteRepo(t, regB, "copy/dst"), remoteRepo(t, regB, "copy/dst")},
	}
	for _, h := range hops {
		res, err := oci.Copy(ctx, h.src, "v1", h.dst, "", oci.CopyOptions{})
		if err != nil {
			t.Fatalf("%s: %v", h.name, err)
		}
		if res.Root.Digest != root.Digest || res.Children != 2 || len(res.LegacyTags) != 3 || res.Referrers < 5 {
			t.Fatalf("%s: %+v", h.name, res)
		}
		if !slices.Contains(res.LegacyTags, sign.SignatureTag(root.Digest)) {
			t.Fatalf("%s: legacy tags %v", h.name, res.LegacyTags)
		}
		t.Logf("%s: %+v", h.name, res)
		checkCopied(t, h.name, h.check, root, children, rec, key)
	}

	// Copying again moves nothing and fails nothing.
	regB.ResetStats()
	if _, err := oci.Copy(ctx, remoteRepo(t, ggcr, "copy/dst"), "v1", remoteRepo(t, regB, "copy/dst"), "v1", oci.CopyOptions{}); err != nil {
		t.Fatal(err)
	}
	if s := regB.Stats(); s.BlobUploadsStarted != 0 {
		t.Errorf("re-copy uploaded blobs: %+v", s)
	}

	// By digest, under another tag.
	if _, err := oci.Copy(ctx, layout, root.Digest.String(), remoteRepo(t, regB, "copy/other"), "again", oci.CopyOptions{}); err != nil {
		t.Fatal(err)
	}
	if d, err := remoteRepo(t, regB, "copy/other").Resolve(ctx, "again"); err != nil || d.Digest != root.Digest {
		t.Fatalf("copy by digest: %v %v", d, err)
	}

	if _, err := oci.Copy(ctx, layout, "missing", remoteRepo(t, regB, "copy/dst"), "", oci.CopyOptions{}); !errors.Is(err, oci.ErrNotCopied) || !errors.Is(err, errdef.ErrNotFound) {
		t.Fatalf("missing source: %v", err)
	}
}
