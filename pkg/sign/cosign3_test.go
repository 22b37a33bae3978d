package sign

import (
	"context"
	"crypto"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	sgbundle "github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore/pkg/signature"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/registry"
	"oras.land/oras-go/v2/registry/remote"

	"github.com/tierpack/tierpack/internal/registrytest"
	"github.com/tierpack/tierpack/pkg/oci"
)

// registries are the two real registry implementations the interop tests
// run against: CNCF Distribution, and go-containerregistry's, whose
// referrers API reports the config media type as artifactType.
var registries = []struct {
	name  string
	start func(testing.TB, ...registrytest.Option) *registrytest.Registry
}{
	{"distribution", registrytest.New},
	{"ggcr", registrytest.NewGGCR},
}

// repo returns a fresh oras-go client for name in reg: its referrers
// capability is unknown, as in a new process.
func repo(t *testing.T, reg *registrytest.Registry, name string) *remote.Repository {
	t.Helper()
	r, err := remote.NewRepository(reg.Ref(name, ""))
	if err != nil {
		t.Fatal(err)
	}
	r.PlainHTTP = true
	return r
}

// pushSubject pushes a small artifact tagged tag and returns its manifest.
func pushSubject(t *testing.T, store oras.Target, tag string) ocispec.Descriptor {
	t.Helper()
	ctx := context.Background()
	data := []byte("payload of " + tag)
	layer := content.NewDescriptorFromBytes("application/vnd.tierpack.test.layer", data)
	if err := store.Push(ctx, layer, strings.NewReader(string(data))); err != nil {
		t.Fatal(err)
	}
	d, err := oras.PackManifest(ctx, store, oras.PackManifestVersion1_1, "application/vnd.tierpack.test.v1", oras.PackManifestOptions{
		Layers: []ocispec.Descriptor{layer}, ManifestAnnotations: map[string]string{ocispec.AnnotationCreated: "2024-01-01T00:00:00Z"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Tag(ctx, d, tag); err != nil {
		t.Fatal(err)
	}
	return d
}

// keyFiles writes a new cosign key pair (password "test-password") to dir
// and returns the signer and the trusted public key.
func keyFiles(t *testing.T, dir, prefix string) (signature.Signer, PublicKey) {
	t.Helper()
	priv, pub, err := GenerateKeyPair([]byte("test-password"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, prefix+".key"), priv, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, prefix+".pub"), pub, 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := LoadPrivateKey(priv, []byte("test-password"))
	if err != nil {
		t.Fatal(err)
	}
	k, err := LoadPublicKey(pub, prefix+".pub")
	if err != nil {
		t.Fatal(err)
	}
	return s, k
}

// cosign3 returns a runner for the real cosign v3 binary (`make test`
// installs it as bin/cosign3), offline: no TUF, no Rekor, HOME in dir.
func cosign3(t *testing.T, dir string) func(wantOK bool, args ...string) string {
	t.Helper()
	bin, err := exec.LookPath("cosign3")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("cosign3 not on PATH; make test should have installed it")
		}
		t.Skip("cosign3 not on PATH (make bin/cosign3, then PATH=$PWD/bin:$PATH)")
	}
	return func(wantOK bool, args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "COSIGN_PASSWORD=test-password", "HOME="+dir, "TUF_ROOT="+filepath.Join(dir, "tuf"))
		out, err := cmd.CombinedOutput()
		if (err == nil) != wantOK {
			t.Fatalf("cosign %s: %v (want success %v)\n%s", strings.Join(args, " "), err, wantOK, out)
		}
		return string(out)
	}
}

// TestCosign3VerifiesTierpackBundle: cosign v3 accepts the bundle
// referrer tierpack writes, with the legacy .sig tag gone so the bundle is
// all it can read:
//
//	cosign verify --key tp.pub --insecure-ignore-tlog=true --allow-http-registry=true REF@DIGEST
func TestCosign3VerifiesTierpackBundle(t *testing.T) {
	for _, r := range registries {
		t.Run(r.name, func(t *testing.T) {
			ctx := context.Background()
			dir := t.TempDir()
			cosign := cosign3(t, dir)
			reg := r.start(t)
			store := repo(t, reg, "sign/bundle")
			subject := pushSubject(t, store, "v1")
			signer, _ := keyFiles(t, dir, "tp")
			keyFiles(t, dir, "other")

			var err error
			switch r.name {
			case "distribution":
				// Sign writes both; delete the legacy one.
				if _, err = Sign(ctx, store, reg.Host+"/sign/bundle", subject, signer); err != nil {
					t.Fatal(err)
				}
				sig, err := store.Resolve(ctx, SignatureTag(subject.Digest))
				if err != nil {
					t.Fatal(err)
				}
				if err := store.Delete(ctx, sig); err != nil {
					t.Fatal(err)
				}
			default:
				// go-containerregistry's registry deletes a digest but keeps
				// its tags: write the bundle alone.
				_, err = signBundle(ctx, store, reg.Host+"/sign/bundle", subject, signer, mustKey(t, signer))
			}
			if err != nil {
				t.Fatal(err)
			}
			ref := reg.Ref("sign/bundle", subject.Digest.String())
			out := cosign(true, "verify", "--key", "tp.pub", "--insecure-ignore-tlog=true", "--allow-http-registry=true", ref)
			if !strings.Contains(out, "The signatures were verified against the specified public key") {
				t.Errorf("cosign verify:\n%s", out)
			}
			cosign(false, "verify", "--key", "other.pub", "--insecure-ignore-tlog=true", "--allow-http-registry=true", ref)
		})
	}
}

// TestTierpackVerifiesCosign3Signature: tierpack accepts what
//
//	cosign sign --key k.key --use-signing-config=false --tlog-upload=false --allow-http-registry=true --yes REF@DIGEST
//
// writes (a bundle referrer only), and signing again with the same key
// adds the legacy tag but no second bundle.
func TestTierpackVerifiesCosign3Signature(t *testing.T) {
	for _, r := range registries {
		t.Run(r.name, func(t *testing.T) {
			ctx := context.Background()
			dir := t.TempDir()
			cosign := cosign3(t, dir)
			reg := r.start(t)
			store := repo(t, reg, "sign/cosign3")
			subject := pushSubject(t, store, "v1")
			signer, pub := keyFiles(t, dir, "k")
			_, other := keyFiles(t, dir, "other")

			cosign(true, "sign", "--key", "k.key", "--use-signing-config=false", "--tlog-upload=false", "--allow-http-registry=true", "--yes",
				reg.Ref("sign/cosign3", subject.Digest.String()))

			store = repo(t, reg, "sign/cosign3")
			if r.name == "ggcr" {
				// What cosign wrote is listed under the empty config's media
				// type: oras-go's own lookup misses it.
				refs, err := registry.Referrers(ctx, store, subject, BundleMediaType)
				if err != nil || len(refs) != 0 {
					t.Errorf("oras-go registry.Referrers on ggcr: %v %v (expected the miss oci.Referrers fixes)", refs, err)
				}
			}
			sigs, err := Signatures(ctx, store, subject)
			if err != nil || len(sigs) != 1 || sigs[0].Format != FormatBundle || sigs[0].Digest != subject.Digest.String() {
				t.Fatalf("signatures of cosign's bundle: %+v %v", sigs, err)
			}
			v, err := Verify(ctx, store, subject, []PublicKey{other, pub})
			if err != nil || v.KeyID != pub.ID || v.Format != FormatBundle {
				t.Fatalf("verify: %+v %v", v, err)
			}
			if _, err := Verify(ctx, store, subject, []PublicKey{other}); !errors.Is(err, ErrUntrusted) {
				t.Errorf("other key: %v", err)
			}

			// cosign's bundle counts as ours: only the legacy tag is added.
			d, err := Sign(ctx, store, reg.Host+"/sign/cosign3", subject, signer)
			if err != nil || d.Digest == "" || d.ArtifactType == BundleMediaType {
				t.Fatalf("sign after cosign: %+v %v", d, err)
			}
			if d, err := Sign(ctx, store, reg.Host+"/sign/cosign3", subject, signer); err != nil || d.Digest != "" {
				t.Fatalf("sign again: %+v %v", d, err)
			}
			sigs, err = Signatures(ctx, repo(t, reg, "sign/cosign3"), subject)
			if err != nil || len(sigs) != 2 {
				t.Fatalf("signatures after tierpack signed too: %d %v", len(sigs), err)
			}
		})
	}
}

// TestBundleShape: the referrer tierpack writes is cosign v3's: artifactType
// and layer the v0.3 bundle media type, empty config, cosign's annotations,
// a DSSE envelope of an in-toto statement with cosign's sign predicate.
func TestBundleShape(t *testing.T) {
	ctx := context.Background()
	if mt, err := sgbundle.MediaTypeString("0.3"); err != nil || mt != BundleMediaType {
		t.Fatalf("sigstore-go says the v0.3 media type is %q (%v)", mt, err)
	}
	reg := registrytest.New(t)
	store := repo(t, reg, "sign/shape")
	subject := pushSubject(t, store, "v1")
	signer, pub := keyFiles(t, t.TempDir(), "k")
	d, err := Sign(ctx, store, reg.Host+"/sign/shape", subject, signer)
	if err != nil || d.ArtifactType != BundleMediaType {
		t.Fatalf("sign: %+v %v", d, err)
	}
	var m ocispec.Manifest
	if err := oci.FetchJSON(ctx, store, d, 0, &m); err != nil {
		t.Fatal(err)
	}
	if m.ArtifactType != BundleMediaType || m.Config.MediaType != ocispec.MediaTypeEmptyJSON || len(m.Layers) != 1 ||
		m.Layers[0].MediaType != BundleMediaType || m.Subject == nil || m.Subject.Digest != subject.Digest ||
		m.Annotations[AnnotationBundleContent] != "dsse-envelope" || m.Annotations[AnnotationBundlePredicateType] != SignPredicateType ||
		m.Annotations[ocispec.AnnotationCreated] == "" {
		t.Fatalf("referrer manifest: %+v", m)
	}
	sigs, err := bundleSignatures(ctx, store, subject)
	if err != nil || len(sigs) != 1 {
		t.Fatalf("bundles: %v %v", sigs, err)
	}
	env, err := sigs[0].bundle.Envelope()
	if err != nil || env.PayloadType != InTotoPayloadType {
		t.Fatalf("envelope: %v", err)
	}
	if h := sigs[0].bundle.VerificationMaterial.GetPublicKey().GetHint(); h == "" {
		t.Error("no key hint")
	}
	if sigs[0].Identity != reg.Host+"/sign/shape" {
		t.Errorf("identity %q", sigs[0].Identity)
	}
	if _, ok := sigs[0].SignedBy([]PublicKey{pub}); !ok {
		t.Error("own bundle does not verify")
	}
}

func mustKey(t *testing.T, s signature.Signer) PublicKey {
	t.Helper()
	pub, err := s.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	v, err := signature.LoadVerifier(pub, crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	return PublicKey{Verifier: v, Key: pub}
}
