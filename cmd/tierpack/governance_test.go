package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/sigstore/sigstore/pkg/signature/payload"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/registry/remote"

	"github.com/tierpack/tierpack/internal/registrytest"
	"github.com/tierpack/tierpack/pkg/promotion"
	"github.com/tierpack/tierpack/sdk/tier"
)

// tp runs tierpack in a fixed home with COSIGN_PASSWORD set and returns
// stdout, stderr and the exit code.
type tp struct {
	t    *testing.T
	home string
	dir  string
	// env is added to killMidway's environment.
	env []string
}

func newTP(t *testing.T) *tp {
	return &tp{t: t, home: t.TempDir(), dir: t.TempDir()}
}

func (p *tp) run(args ...string) (string, string, int) {
	p.t.Helper()
	return p.runEnv(nil, args...)
}

func (p *tp) ok(args ...string) string {
	p.t.Helper()
	out, errs, code := p.run(args...)
	if code != 0 {
		p.t.Fatalf("tierpack %s: exit %d\n%s", strings.Join(args, " "), code, errs)
	}
	return out
}

// refused runs a command that must exit 4 and mention every want.
func (p *tp) refused(args []string, want ...string) string {
	p.t.Helper()
	_, errs, code := p.run(args...)
	if code != exitTierRefused {
		p.t.Fatalf("tierpack %s: exit %d, want %d\n%s", strings.Join(args, " "), code, exitTierRefused, errs)
	}
	for _, w := range want {
		if !strings.Contains(errs, w) {
			p.t.Errorf("tierpack %s: stderr lacks %q:\n%s", strings.Join(args, " "), w, errs)
		}
	}
	return errs
}

func (p *tp) path(name string) string { return filepath.Join(p.dir, name) }

// writeContribution writes a script contribution; extra goes into tierpack.yaml.
func writeContribution(t *testing.T, dir, tierName, extra string, withOwners bool) {
	t.Helper()
	os.MkdirAll(dir, 0o755)
	manifest := "name: gov-demo\nversion: 1.0.0\ntype: script\ntier: " + tierName + "\nlicense: Apache-2.0\n" + extra
	files := map[string]string{"tierpack.yaml": manifest, "README.md": "# gov-demo\n"}
	if withOwners {
		files["OWNERS"] = "approvers: [jane]\nreviewers: [sam]\n"
	}
	for n, b := range files {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(b), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "run.sh"), []byte("#!/bin/sh\necho governed\n"), 0o755); err != nil {
		t.Fatal(err)
	}
}

// TestPromotionLadder: contrib → repository → official against a real
// registry, each step refused until its requirements are met, and no
// content blob uploaded by a promotion.
func TestPromotionLadder(t *testing.T) {
	reg := registrytest.New(t)
	p := newTP(t)
	p.ok("key", "generate", "core")
	p.ok("key", "generate", "stranger")
	ref := reg.Host + "/gov/gov-demo:1.0.0"

	// A bare contrib contribution: promotion to repository lists all gaps.
	writeContribution(t, p.path("c1"), "contrib", "", false)
	p.ok("push", p.path("c1"), reg.Host+"/gov/gov-demo")
	p.refused([]string{"promote", ref, "--to", "repository", "--key", "core.key"},
		"does not meet the repository tier's requirements (3 unmet)", "owners: no OWNERS file", "source: no source URL", "revision: no source revision")
	// A repository-tier push of it is refused at push time for the same reasons.
	writeContribution(t, p.path("c1r"), "repository", "", false)
	p.refused([]string{"push", p.path("c1r"), reg.Host + "/gov/other"}, "owners: no OWNERS file", "nothing was pushed")

	// With OWNERS and a source, still at contrib, it can be promoted.
	// (The same version with other metadata: --replace says it is meant.)
	writeContribution(t, p.path("c2"), "contrib", "source: {url: https://github.com/falcosecurity/gov-demo, revision: abc123}\n", true)
	p.ok("push", p.path("c2"), reg.Host+"/gov/gov-demo", "--replace")
	contentDigests := blobDigests(t, reg, "gov/gov-demo", "1.0.0")

	// Official straight from contrib needs a promotion step... and the
	// policy is checked for it; missing --key is a usage error.
	if _, _, code := p.run("promote", ref, "--to", "official"); code != exitUsage {
		t.Errorf("promote without --key: exit %d", code)
	}

	reg.ResetStats()
	p.ok("promote", ref, "--to", "repository", "--key", "core.key", "--reason", "has maintainers")
	assertNoContentUploads(t, reg, contentDigests)
	// The core key signed the repository tier: pulls trust it with --key.
	p.refused([]string{"pull", ref, "--tier", "repository", "-o", p.path("x")}, "repository (claimed, unverified: ", "not signed by a key trusted for repository")
	p.ok("pull", ref, "--tier", "repository", "--key", "core.pub", "-o", p.path("pulled-repo"))
	p.refused([]string{"pull", ref, "--tier", "official", "--key", "core.pub", "-o", p.path("x")},
		"is tier repository, but official or higher is required", "--tier official: drop --tier, or ask a maintainer to promote it")

	reg.ResetStats()
	p.ok("promote", ref, "--to", "official", "--key", "core.key", "--reason", "core review", "--by", "core-maintainer")
	assertNoContentUploads(t, reg, contentDigests)
	if s := reg.Stats(); s.BlobUploadsStarted > 6 {
		t.Errorf("promotion started %d blob uploads; only signatures (payload, config, bundle) and the record are new", s.BlobUploadsStarted)
	}

	// Verified pull: needs the trusted key.
	p.refused([]string{"pull", ref, "--tier", "official", "-o", p.path("x")}, "official (claimed, unverified: ", "not signed by a key trusted for official")
	p.refused([]string{"pull", ref, "--tier", "official", "--key", "stranger.pub", "-o", p.path("x")}, "not signed by a key trusted for official")
	p.ok("pull", ref, "--tier", "official", "--key", "core.pub", "-o", p.path("official"))
	if _, err := os.Stat(p.path("official/run.sh")); err != nil {
		t.Fatal(err)
	}
	p.ok("verify", ref, "--key", "core.pub")
	p.refused([]string{"verify", ref, "--key", "stranger.pub"}, "none valid for the trusted key")

	// inspect shows tier, signatures and the whole history.
	out := p.ok("inspect", ref, "--key", "core.pub")
	for _, want := range []string{"Tier:           official", "trusted key", "contrib -> repository  by", "repository -> official  by core-maintainer", "core review"} {
		if !strings.Contains(out, want) {
			t.Errorf("inspect lacks %q:\n%s", want, out)
		}
	}
	var js struct {
		Tier         string
		ClaimedTier  string
		VerifiedTier string
		Promotions   []promotion.Signed
		Signatures   []map[string]string
	}
	if err := json.Unmarshal([]byte(p.ok("inspect", "--output", "json", ref, "--key", "core.pub")), &js); err != nil {
		t.Fatal(err)
	}
	if js.Tier != "official" || js.ClaimedTier != "official" || js.VerifiedTier != "official" || len(js.Promotions) != 2 || js.Promotions[1].To != tier.Official || len(js.Signatures) == 0 {
		t.Errorf("inspect json: %+v", js)
	}

	// Demotion on deprecation works the same way.
	p.ok("promote", ref, "--to", "contrib", "--key", "core.key", "--reason", "deprecated")
	p.refused([]string{"pull", ref, "--tier", "repository", "-o", p.path("y")}, "is tier contrib")
}

func blobDigests(t *testing.T, reg *registrytest.Registry, repo, tag string) map[string]bool {
	t.Helper()
	r := remoteRepo(t, reg, repo)
	ctx := context.Background()
	d, err := r.Resolve(ctx, tag)
	if err != nil {
		t.Fatal(err)
	}
	b, err := content.FetchAll(ctx, r, d)
	if err != nil {
		t.Fatal(err)
	}
	var m ocispec.Manifest
	json.Unmarshal(b, &m)
	out := map[string]bool{m.Config.Digest.String(): true}
	for _, l := range m.Layers {
		out[l.Digest.String()] = true
	}
	return out
}

func remoteRepo(t *testing.T, reg *registrytest.Registry, repo string) *remote.Repository {
	t.Helper()
	r, err := remote.NewRepository(reg.Host + "/" + repo)
	if err != nil {
		t.Fatal(err)
	}
	r.PlainHTTP = true
	return r
}

// assertNoContentUploads checks the registry's request log: no upload
// carried one of the artifact's config or layer digests.
func assertNoContentUploads(t *testing.T, reg *registrytest.Registry, digests map[string]bool) {
	t.Helper()
	for _, r := range reg.Requests() {
		if r.Method != "PUT" || !strings.Contains(r.RawQuery, "digest=") {
			continue
		}
		for d := range digests {
			if strings.Contains(r.RawQuery, strings.Replace(d, ":", "%3A", 1)) || strings.Contains(r.RawQuery, d) {
				t.Errorf("promotion uploaded content blob %s again", d)
			}
		}
	}
}

// TestSignatureInterop: a tierpack signature verifies with sigstore's own
// verifier and payload parser (no tierpack code), and a signature made
// with sigstore's signer in cosign's storage verifies with tierpack.
func TestSignatureInterop(t *testing.T) {
	reg := registrytest.New(t)
	p := newTP(t)
	p.ok("key", "generate", "k")
	p.ok("push", filepath.Join(examplesDir(t), "scripts", "falco-quickstart"), reg.Host+"/sig/qs")
	ref := reg.Host + "/sig/qs:0.1.0"
	p.ok("sign", ref, "--key", "k.key")
	ctx := context.Background()
	repo := remoteRepo(t, reg, "sig/qs")
	subject, err := repo.Resolve(ctx, "0.1.0")
	if err != nil {
		t.Fatal(err)
	}

	// Read it as cosign would: the .sig tag, the simple-signing layer.
	sigTag := "sha256-" + subject.Digest.Encoded() + ".sig"
	sd, err := repo.Resolve(ctx, sigTag)
	if err != nil {
		t.Fatalf("no cosign signature tag %s: %v", sigTag, err)
	}
	raw, _ := content.FetchAll(ctx, repo, sd)
	var sm ocispec.Manifest
	json.Unmarshal(raw, &sm)
	// One layer per signature: the CI key's from the push, then k's.
	for _, l := range sm.Layers {
		if l.MediaType != "application/vnd.dev.cosign.simplesigning.v1+json" {
			t.Fatalf("signature manifest: %s", raw)
		}
	}
	if len(sm.Layers) != 2 {
		t.Fatalf("signature manifest: %s; want the CI key's and k's signature", raw)
	}
	sm.Layers = sm.Layers[1:]
	pl, err := content.FetchAll(ctx, repo, sm.Layers[0])
	if err != nil {
		t.Fatal(err)
	}
	sig, err := base64.StdEncoding.DecodeString(sm.Layers[0].Annotations["dev.cosignproject.cosign/signature"])
	if err != nil {
		t.Fatal(err)
	}
	pubPEM, _ := os.ReadFile(p.path("k.pub"))
	pub, err := cryptoutils.UnmarshalPEMToPublicKey(pubPEM)
	if err != nil {
		t.Fatal(err)
	}
	v, err := signature.LoadVerifier(pub, crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.VerifySignature(bytes.NewReader(sig), bytes.NewReader(pl)); err != nil {
		t.Errorf("sigstore's verifier rejects the tierpack signature: %v", err)
	}
	var cp payload.Cosign
	if err := json.Unmarshal(pl, &cp); err != nil {
		t.Fatalf("payload is not cosign's: %v", err)
	}
	if cp.Image.DigestStr() != subject.Digest.String() {
		t.Errorf("payload names %s, want %s", cp.Image.DigestStr(), subject.Digest)
	}

	// The reverse: sign with sigstore's signer, store it as cosign does,
	// and have tierpack verify it.
	ext := newExternalSigner(t)
	p2 := newTP(t)
	p2.ok("push", filepath.Join(examplesDir(t), "scripts", "falco-debug-bundle"), reg.Host+"/sig/dbg")
	repo2 := remoteRepo(t, reg, "sig/dbg")
	subj2, _ := repo2.Resolve(ctx, "1.2.0")
	storeCosignSignature(t, repo2, reg.Host+"/sig/dbg", subj2, ext.Signer)
	os.WriteFile(p2.path("ext.pub"), ext.PubPEM, 0o644)
	p2.ok("verify", reg.Host+"/sig/dbg:1.2.0", "--key", "ext.pub")
}

// storeCosignSignature writes a signature the way cosign lays it out, with
// sigstore's payload and signer and plain oras-go calls.
func storeCosignSignature(t *testing.T, repo *remote.Repository, identity string, subject ocispec.Descriptor, s signature.Signer) {
	t.Helper()
	ctx := context.Background()
	ref, err := nameDigest(identity + "@" + subject.Digest.String())
	if err != nil {
		t.Fatal(err)
	}
	pl, _ := json.Marshal(payload.Cosign{Image: ref})
	sig, err := s.SignMessage(bytes.NewReader(pl))
	if err != nil {
		t.Fatal(err)
	}
	layer := ocispec.Descriptor{MediaType: "application/vnd.dev.cosign.simplesigning.v1+json", Digest: digest.FromBytes(pl), Size: int64(len(pl)),
		Annotations: map[string]string{"dev.cosignproject.cosign/signature": base64.StdEncoding.EncodeToString(sig)}}
	if err := repo.Push(ctx, layer, bytes.NewReader(pl)); err != nil {
		t.Fatal(err)
	}
	md, err := oras.PackManifest(ctx, repo, oras.PackManifestVersion1_1, "", oras.PackManifestOptions{Layers: []ocispec.Descriptor{layer},
		ConfigDescriptor: pushedConfig(t, repo)})
	if err != nil {
		t.Fatal(err)
	}
	if err := repo.Tag(ctx, md, "sha256-"+subject.Digest.Encoded()+".sig"); err != nil {
		t.Fatal(err)
	}
}

func pushedConfig(t *testing.T, repo *remote.Repository) *ocispec.Descriptor {
	cfg := []byte(`{"architecture":"","os":"","config":{},"rootfs":{"type":"layers","diff_ids":[]}}`)
	d := content.NewDescriptorFromBytes(ocispec.MediaTypeImageConfig, cfg)
	if err := repo.Push(context.Background(), d, bytes.NewReader(cfg)); err != nil {
		t.Fatal(err)
	}
	return &d
}

// externalSigner is a key made with the standard library and used through
// sigstore's signer: no tierpack code involved.
type externalSigner struct {
	Signer signature.Signer
	PubPEM []byte
}

func newExternalSigner(t *testing.T) externalSigner {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := signature.LoadECDSASignerVerifier(k, crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := cryptoutils.MarshalPublicKeyToPEM(k.Public())
	if err != nil {
		t.Fatal(err)
	}
	return externalSigner{Signer: s, PubPEM: pub}
}

func nameDigest(s string) (name.Digest, error) { return name.NewDigest(s, name.WeakValidation) }
