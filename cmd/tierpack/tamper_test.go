package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/sigstore/sigstore/pkg/signature"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/registry/remote"

	"github.com/tierpack/tierpack/internal/registrytest"
	"github.com/tierpack/tierpack/pkg/promotion"
	"github.com/tierpack/tierpack/pkg/sign"
	"github.com/tierpack/tierpack/sdk"
	"github.com/tierpack/tierpack/sdk/tier"
)

// TestTamperingIsCaught: every way of faking the official tier is refused
// by `pull --tier official` with a message that names the problem.
func TestTamperingIsCaught(t *testing.T) {
	reg := registrytest.New(t)
	p := newTP(t)
	p.ok("key", "generate", "core")
	p.ok("key", "generate", "stranger")
	p.ok("push", examplesDir(t)+"/scripts/falco-debug-bundle", reg.Host+"/tamper/dbg")
	ref := reg.Host + "/tamper/dbg:1.2.0"
	p.ok("promote", ref, "--to", "official", "--key", "core.key")
	p.ok("pull", ref, "--tier", "official", "--key", "core.pub", "-o", p.path("genuine"))

	ctx := context.Background()
	repo := remoteRepo(t, reg, "tamper/dbg")
	official, err := repo.Resolve(ctx, "1.2.0")
	if err != nil {
		t.Fatal(err)
	}
	core := loadKey(t, p.path("core.key"))
	stranger := loadKey(t, p.path("stranger.key"))

	// A copy of the official manifest with one annotation changed, tagged.
	variant := func(tag string, mutate func(map[string]string)) ocispec.Descriptor {
		t.Helper()
		raw, err := content.FetchAll(ctx, repo, official)
		if err != nil {
			t.Fatal(err)
		}
		var m ocispec.Manifest
		json.Unmarshal(raw, &m)
		mutate(m.Annotations)
		b, _ := json.Marshal(m)
		d := content.NewDescriptorFromBytes(ocispec.MediaTypeImageManifest, b)
		d.ArtifactType = m.ArtifactType
		if err := repo.PushReference(ctx, d, bytes.NewReader(b), tag); err != nil {
			t.Fatal(err)
		}
		return d
	}
	pullOfficial := func(tag string, want ...string) {
		t.Helper()
		p.refused([]string{"pull", reg.Host + "/tamper/dbg:" + tag, "--tier", "official", "--key", "core.pub", "-o", p.path("out-" + tag)}, want...)
	}

	t.Run("changed tier annotation", func(t *testing.T) {
		// The official manifest with an annotation changed: a new digest
		// that no signature covers.
		variant("relabelled", func(a map[string]string) {
			a["org.opencontainers.image.description"] = "now with more official"
			a[sdk.AnnotationTier] = "official"
		})
		pullOfficial("relabelled", "official (claimed, unverified: no tier record signed by a trusted key")
	})

	t.Run("re-tagged unsigned manifest", func(t *testing.T) {
		variant("1.2.0-retagged", func(a map[string]string) { a["org.opencontainers.image.revision"] = "evil" })
		pullOfficial("1.2.0-retagged", "official (claimed, unverified: no tier record signed by a trusted key")
	})

	t.Run("signature by an untrusted key", func(t *testing.T) {
		d := variant("stranger", func(a map[string]string) { a["org.opencontainers.image.revision"] = "stranger" })
		if _, err := sign.Sign(ctx, repo, reg.Host+"/tamper/dbg", d, stranger); err != nil {
			t.Fatal(err)
		}
		attachRecord(t, repo, d, d.Digest.String(), stranger)
		pullOfficial("stranger", "claimed, unverified", "is not signed by a key trusted for official")
	})

	t.Run("promotion record for another digest", func(t *testing.T) {
		d := variant("elsewhere", func(a map[string]string) { a["org.opencontainers.image.revision"] = "elsewhere" })
		if _, err := sign.Sign(ctx, repo, reg.Host+"/tamper/dbg", d, core); err != nil {
			t.Fatal(err)
		}
		// A genuine, trusted record — but it makes the real official
		// manifest official, not this one.
		attachRecord(t, repo, d, official.Digest.String(), core)
		pullOfficial("elsewhere", "claimed, unverified", "no tier record signed by a trusted key about "+d.Digest.String()[:19])
	})

	t.Run("replayed signature", func(t *testing.T) {
		// The official manifest's genuine cosign signature, tagged for a
		// variant with crane: it names the official digest, not this one.
		crane := lookTool(t, "crane")
		d := variant("replayed", func(a map[string]string) { a["org.opencontainers.image.revision"] = "replayed" })
		base := reg.Host + "/tamper/dbg:"
		if out, err := exec.Command(crane, "tag", "--insecure", base+sign.SignatureTag(official.Digest), sign.SignatureTag(d.Digest)).CombinedOutput(); err != nil {
			t.Fatalf("crane tag: %v\n%s", err, out)
		}
		out := p.ok("inspect", base+"replayed", "--key", "core.pub")
		if !strings.Contains(out, "but signed for another digest, "+official.Digest.String()[:19]) || !strings.Contains(out, "replayed here, it proves nothing") {
			t.Errorf("inspect does not tell the replayed signature apart:\n%s", out)
		}
		p.refused([]string{"verify", base + "replayed", "--key", "core.pub"}, "names "+official.Digest.String()+", not this manifest")
	})

	t.Run("repository claim without OWNERS", func(t *testing.T) {
		variant("no-owners", func(a map[string]string) { delete(a, "dev.tierpack.owners"); a[sdk.AnnotationTier] = "repository" })
		p.refused([]string{"pull", reg.Host + "/tamper/dbg:no-owners", "--tier", "repository", "-o", p.path("out-no-owners")},
			"repository (claimed, unverified: no tier record signed by a trusted key")
	})

	// Nothing tampered with was written anywhere.
	for _, tag := range []string{"relabelled", "1.2.0-retagged", "stranger", "elsewhere", "replayed", "no-owners"} {
		if _, err := statIfExists(p.path("out-" + tag)); err == nil {
			t.Errorf("a refused pull wrote out-%s", tag)
		}
	}
}

func loadKey(t *testing.T, path string) signature.SignerVerifier {
	t.Helper()
	k, err := sign.LoadPrivateKeyFile(path, []byte("test-password"))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// attachRecord attaches a promotion record to subject whose Subject field
// says recordSubject, signed by s: what a forger with (or without) a
// trusted key could write by hand.
func attachRecord(t *testing.T, repo *remote.Repository, subject ocispec.Descriptor, recordSubject string, s signature.Signer) {
	t.Helper()
	ctx := context.Background()
	rec := promotion.Record{Subject: recordSubject, Source: subject.Digest.String(), From: tier.Repository, To: tier.Official, By: "mallory", Time: time.Now().UTC()}
	data, _ := json.Marshal(rec)
	sig, err := sign.SignBytes(s, data)
	if err != nil {
		t.Fatal(err)
	}
	keyID, _ := sign.SignerKeyID(s)
	layer := content.NewDescriptorFromBytes(promotion.ArtifactType, data)
	if err := repo.Push(ctx, layer, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	subj := ocispec.Descriptor{MediaType: subject.MediaType, Digest: subject.Digest, Size: subject.Size}
	_, err = oras.PackManifest(ctx, repo, oras.PackManifestVersion1_1, promotion.ArtifactType, oras.PackManifestOptions{
		Subject: &subj, Layers: []ocispec.Descriptor{layer},
		ManifestAnnotations: map[string]string{sdk.AnnotationPromotionSignature: sig, sdk.AnnotationPromotionKey: keyID},
	})
	if err != nil {
		t.Fatal(err)
	}
}

func statIfExists(p string) (bool, error) {
	_, err := os.Stat(p)
	return err == nil, err
}
