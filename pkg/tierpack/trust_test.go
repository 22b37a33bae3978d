package tierpack_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/registry/remote"

	"github.com/tierpack/tierpack/internal/registrytest"
	"github.com/tierpack/tierpack/pkg/index"
	"github.com/tierpack/tierpack/pkg/policy"
	"github.com/tierpack/tierpack/pkg/sign"
	"github.com/tierpack/tierpack/pkg/tierpack"
	"github.com/tierpack/tierpack/sdk"
	"github.com/tierpack/tierpack/sdk/tier"
)

// debugBundle is the example script contribution at the repository tier
// (OWNERS, source, licence, semver).
const debugBundle = "../../examples/scripts/falco-debug-bundle"

// keyPair makes a cosign key pair and returns the private key (with its
// password) and the public key file.
func keyPair(t *testing.T, cl *tierpack.Client, name string) (tierpack.Key, string) {
	t.Helper()
	pw := func() ([]byte, error) { return []byte("pw-" + name), nil }
	k, err := cl.GenerateKey(tierpack.KeyRequest{Prefix: filepath.Join(t.TempDir(), name), Password: pw})
	if err != nil {
		t.Fatal(err)
	}
	return tierpack.Key{File: k.PrivateKey, Password: pw}, k.PublicKey
}

// repo opens a repository of the test registry as an attacker with push
// access would: plain oras-go, no tierpack.
func repo(t *testing.T, ref string) *remote.Repository {
	t.Helper()
	r, err := remote.NewRepository(ref)
	if err != nil {
		t.Fatal(err)
	}
	r.PlainHTTP = true
	return r
}

// forge rewrites the manifest ref names with extra annotations and pushes
// it under tag, the way `oras push --annotation` would.
func forge(t *testing.T, ref, tag string, set map[string]string) string {
	t.Helper()
	ctx := context.Background()
	r := repo(t, ref)
	desc, rc, err := r.FetchReference(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var m ocispec.Manifest
	if err := json.NewDecoder(rc).Decode(&m); err != nil {
		t.Fatal(err)
	}
	for k, v := range set {
		m.Annotations[k] = v
	}
	b, _ := json.Marshal(m)
	nd := ocispec.Descriptor{MediaType: desc.MediaType, Digest: digest.FromBytes(b), Size: int64(len(b))}
	if err := r.PushReference(ctx, nd, strings.NewReader(string(b)), tag); err != nil {
		t.Fatal(err)
	}
	return nd.Digest.String()
}

func TestForgedTierIsAClaimNotAFact(t *testing.T) {
	ctx := context.Background()
	reg := registrytest.New(t)
	cl := newClient(t)
	base := reg.Host + "/contrib/forged"
	if _, err := cl.Publish(ctx, tierpack.PublishRequest{Dir: quickstart, Ref: base + ":0.1.0"}); err != nil {
		t.Fatal(err)
	}
	// The attacker copies every annotation the repository and official
	// tiers look at, signs nothing.
	forged := forge(t, base+":0.1.0", "0.1.0", map[string]string{
		sdk.AnnotationTier:         "official",
		sdk.AnnotationOwners:       `{"approvers":["mallory"]}`,
		sdk.AnnotationWarnings:     "0",
		ocispec.AnnotationSource:   "https://github.com/falcosecurity/x",
		ocispec.AnnotationRevision: "abc",
		ocispec.AnnotationLicenses: "Apache-2.0",
		ocispec.AnnotationVersion:  "0.1.0",
	})
	ref := base + ":0.1.0"

	ins, err := cl.Inspect(ctx, tierpack.InspectRequest{Ref: ref})
	if err != nil {
		t.Fatal(err)
	}
	if ins.Digest != forged || ins.ClaimedTier != "official" || ins.VerifiedTier != "" || !strings.Contains(ins.Verdict.String(), "official (claimed, unverified: ") {
		t.Fatalf("inspect of the forgery: claimed %q verified %q %q", ins.ClaimedTier, ins.VerifiedTier, ins.Verdict)
	}
	for _, want := range []tier.Tier{tier.Repository, tier.Official} {
		out := filepath.Join(t.TempDir(), "out")
		_, err := cl.Pull(ctx, tierpack.PullRequest{Ref: ref, OutputDir: out, MinTier: want})
		if !errors.Is(err, tier.ErrBelow) || !strings.Contains(err.Error(), "claimed, unverified") {
			t.Fatalf("pull --tier %s of the forgery: %v", want, err)
		}
	}
	// Without --tier (or with contrib) it pulls, and says what it is.
	res, err := cl.Pull(ctx, tierpack.PullRequest{Ref: ref, OutputDir: filepath.Join(t.TempDir(), "out"), MinTier: tier.Contrib})
	if err != nil {
		t.Fatal(err)
	}
	if res.ClaimedTier != "official" || res.VerifiedTier != "" || !strings.Contains(res.Verdict.String(), "claimed, unverified") {
		t.Fatalf("pull --tier contrib: claimed %q verified %q %q", res.ClaimedTier, res.VerifiedTier, res.Verdict)
	}

	// The index records the verified tier, with the claim beside it; search
	// --tier filters on the verified one.
	file := filepath.Join(t.TempDir(), "index.yaml")
	if _, err := cl.IndexBuild(ctx, tierpack.IndexBuildRequest{Repos: []string{base}, File: file}); err != nil {
		t.Fatal(err)
	}
	ix, err := index.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	if v := ix.Entries[0].Versions[0]; v.Tier != tier.Contrib || v.ClaimedTier != tier.Official {
		t.Fatalf("index version: tier %s claimed %s; want contrib, claimed official", v.Tier, v.ClaimedTier)
	}
	for q, want := range map[tier.Tier]int{tier.Official: 0, tier.Repository: 0, tier.Contrib: 1} {
		sr, err := cl.Search(ctx, tierpack.SearchRequest{Query: index.Query{Tier: q}, Files: []string{file}})
		if err != nil {
			t.Fatal(err)
		}
		if len(sr.Results) != want {
			t.Errorf("search --tier %s: %d results, want %d", q, len(sr.Results), want)
		}
		if want == 1 && (sr.Results[0].ClaimedTier != "official" || sr.Results[0].VerifiedTier != "" || !strings.Contains(sr.Results[0].TierText(), "unverified")) {
			t.Errorf("search hit: %+v %q", sr.Results[0], sr.Results[0].TierText())
		}
	}
}

func TestRepositoryTierIsSignedByATrustedKey(t *testing.T) {
	ctx := context.Background()
	reg := registrytest.New(t)
	cl := newClient(t)
	ref := reg.Host + "/scripts/falco-debug-bundle:1.2.0"
	ciKey, ciPub := keyPair(t, cl, "ci")
	_, strangerPub := keyPair(t, cl, "stranger")

	// No key: the repository tier is refused before anything is pushed.
	_, err := cl.Publish(ctx, tierpack.PublishRequest{Dir: debugBundle, Ref: ref})
	var refusal *policy.RefusalError
	if !errors.As(err, &refusal) || refusal.Unmet[0].Rule != "tier-signature" {
		t.Fatalf("publish at repository without a key: %v", err)
	}
	if _, err := cl.Inspect(ctx, tierpack.InspectRequest{Ref: ref}); err == nil {
		t.Fatal("a refused publish left a tag behind")
	}
	pub, err := cl.Publish(ctx, tierpack.PublishRequest{Dir: debugBundle, Ref: ref, Key: ciKey, By: "ci"})
	if err != nil {
		t.Fatal(err)
	}
	if pub.Record == "" {
		t.Fatal("publish with a key wrote no tier record")
	}
	again, err := cl.Publish(ctx, tierpack.PublishRequest{Dir: debugBundle, Ref: ref, Key: ciKey, By: "ci"})
	if err != nil || again.Record != "" {
		t.Fatalf("re-publishing with the same key wrote another record (%q, %v)", again.Record, err)
	}

	for _, tc := range []struct {
		keys []string
		ok   bool
	}{{nil, false}, {[]string{strangerPub}, false}, {[]string{ciPub}, true}} {
		res, err := cl.Pull(ctx, tierpack.PullRequest{Ref: ref, OutputDir: filepath.Join(t.TempDir(), "out"), MinTier: tier.Repository, KeyFiles: tc.keys})
		if tc.ok != (err == nil) {
			t.Fatalf("pull --tier repository with keys %v: %v", tc.keys, err)
		}
		if tc.ok && (res.VerifiedTier != "repository" || res.Verdict.String() != "repository (verified)") {
			t.Fatalf("verified pull: %q %q", res.VerifiedTier, res.Verdict)
		}
	}
	// The record names the approvers: the verdict's come from it.
	ins, err := cl.Inspect(ctx, tierpack.InspectRequest{Ref: ref, KeyFiles: []string{ciPub}})
	if err != nil {
		t.Fatal(err)
	}
	if ins.Verdict.Record == nil || strings.Join(ins.Verdict.Record.Approvers, ",") != "jane-maintainer,falco-core-bot" {
		t.Fatalf("record approvers: %+v", ins.Verdict.Record)
	}
	// A key trusted only for official by policy vouches for repository too;
	// one trusted only for repository cannot make anything official.
	writePolicy(t, cl, "keys:\n  repository: ["+ciPub+"]\n")
	if _, err := cl.Pull(ctx, tierpack.PullRequest{Ref: ref, OutputDir: filepath.Join(t.TempDir(), "out"), MinTier: tier.Repository}); err != nil {
		t.Fatalf("policy keys.repository: %v", err)
	}
}

func writePolicy(t *testing.T, cl *tierpack.Client, body string) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	cl.PolicyFile = p
}

func TestDemotedManifestCannotBeRestoredByRetagging(t *testing.T) {
	ctx := context.Background()
	reg := registrytest.New(t)
	cl := newClient(t)
	ciKey, _ := keyPair(t, cl, "ci")
	coreKey, corePub := keyPair(t, cl, "core")
	writePolicy(t, cl, "keys:\n  official: ["+corePub+"]\n")
	ref := reg.Host + "/scripts/falco-debug-bundle:1.2.0"
	if _, err := cl.Publish(ctx, tierpack.PublishRequest{Dir: debugBundle, Ref: ref, Key: ciKey, By: "ci"}); err != nil {
		t.Fatal(err)
	}
	// The CI key is not trusted here: promote with the core key.
	up, err := cl.Promote(ctx, tierpack.PromoteRequest{Ref: ref, To: tier.Official, Key: coreKey, By: "core", Reason: "audit"})
	if err != nil {
		t.Fatal(err)
	}
	official := up.Digest
	if res, err := cl.Pull(ctx, tierpack.PullRequest{Ref: ref, OutputDir: filepath.Join(t.TempDir(), "a"), MinTier: tier.Official}); err != nil || res.VerifiedTier != "official" {
		t.Fatalf("pull --tier official after promotion: %v", err)
	}
	down, err := cl.Promote(ctx, tierpack.PromoteRequest{Ref: ref, To: tier.Contrib, Key: coreKey, By: "core", Reason: "CVE-2026-1"})
	if err != nil {
		t.Fatal(err)
	}
	if down.Source != official {
		t.Fatalf("demoted %s, want %s", down.Source, official)
	}
	// The attacker re-tags the version back to the official manifest.
	r := repo(t, ref)
	d, err := r.Resolve(ctx, official)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Tag(ctx, d, "1.2.0"); err != nil {
		t.Fatal(err)
	}
	_, err = cl.Pull(ctx, tierpack.PullRequest{Ref: ref, OutputDir: filepath.Join(t.TempDir(), "b"), MinTier: tier.Official})
	if !errors.Is(err, tier.ErrBelow) || !strings.Contains(err.Error(), "demoted from official to contrib by core") || !strings.Contains(err.Error(), "CVE-2026-1") {
		t.Fatalf("pull --tier official of the re-tagged manifest: %v", err)
	}
	ins, err := cl.Inspect(ctx, tierpack.InspectRequest{Ref: ref})
	if err != nil {
		t.Fatal(err)
	}
	if !ins.Verdict.Demoted || ins.VerifiedTier != "" || len(ins.Promotions) != 3 {
		t.Fatalf("inspect of the re-tagged manifest: %+v, %d records", ins.Verdict, len(ins.Promotions))
	}
}

func TestPromotionFromUntieredShowsInHistory(t *testing.T) {
	ctx := context.Background()
	reg := registrytest.New(t)
	cl := newClient(t)
	base := reg.Host + "/contrib/untiered"
	if _, err := cl.Publish(ctx, tierpack.PublishRequest{Dir: quickstart, Ref: base + ":0.1.0"}); err != nil {
		t.Fatal(err)
	}
	forge(t, base+":0.1.0", "0.1.0", map[string]string{sdk.AnnotationTier: ""})
	key, pubFile := keyPair(t, cl, "core")
	if _, err := cl.Promote(ctx, tierpack.PromoteRequest{Ref: base + ":0.1.0", To: tier.Contrib, Key: key, By: "core"}); err != nil {
		t.Fatal(err)
	}
	ins, err := cl.Inspect(ctx, tierpack.InspectRequest{Ref: base + ":0.1.0", KeyFiles: []string{pubFile}})
	if err != nil {
		t.Fatal(err)
	}
	if len(ins.Promotions) != 1 || ins.Promotions[0].From != tier.None || ins.Promotions[0].To != tier.Contrib {
		t.Fatalf("history: %+v", ins.Promotions)
	}
}

// The whole flow on both registries: CNCF Distribution (no referrers API:
// oras-go's tag-schema fallback) and go-containerregistry's (referrers API
// that reports the config media type as artifactType); then `oras cp -r`
// to the other and a verified official pull there.
func TestVerifiedOfficialTravelsWithORASCopy(t *testing.T) {
	needORAS(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name     string
		src, dst *registrytest.Registry
	}{
		{"distribution to ggcr", registrytest.New(t), registrytest.NewGGCR(t)},
		{"ggcr to distribution", registrytest.NewGGCR(t), registrytest.New(t)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cl := newClient(t)
			ciKey, ciPub := keyPair(t, cl, "ci")
			coreKey, corePub := keyPair(t, cl, "core")
			src := tc.src.Host + "/scripts/falco-debug-bundle:1.2.0"
			if _, err := cl.Publish(ctx, tierpack.PublishRequest{Dir: debugBundle, Ref: src, Key: ciKey, By: "ci"}); err != nil {
				t.Fatal(err)
			}
			if _, err := cl.Promote(ctx, tierpack.PromoteRequest{Ref: src, To: tier.Official, Key: coreKey, By: "core"}); err != nil {
				t.Fatal(err)
			}
			keys := []string{ciPub, corePub}
			if res, err := cl.Pull(ctx, tierpack.PullRequest{Ref: src, OutputDir: filepath.Join(t.TempDir(), "src"), MinTier: tier.Official, KeyFiles: keys}); err != nil || res.VerifiedTier != "official" {
				t.Fatalf("verified pull at the source: %v", err)
			}
			dst := tc.dst.Host + "/mirror/falco-debug-bundle:1.2.0"
			out, err := exec.Command("oras", "cp", "-r", "--from-plain-http", "--to-plain-http", src, dst).CombinedOutput()
			if err != nil {
				t.Fatalf("oras cp -r: %v\n%s", err, out)
			}
			res, err := cl.Pull(ctx, tierpack.PullRequest{Ref: dst, OutputDir: filepath.Join(t.TempDir(), "dst"), MinTier: tier.Official, KeyFiles: keys})
			if err != nil {
				t.Fatalf("verified pull after oras cp -r: %v", err)
			}
			if res.VerifiedTier != "official" {
				t.Fatalf("after oras cp -r: %q", res.Verdict)
			}
		})
	}
}

// An exporter is an index of per-platform images: signing it signs each
// platform manifest too, and a single-platform copy of one (its digest
// alone) is no longer "repository": no record names that digest, so it is
// a claim.
func TestExporterPlatformsAreSignedAndNotVerifiedAlone(t *testing.T) {
	const exporterDir = "../../examples/exporters/falco-demo-exporter"
	if _, err := os.Stat(exporterDir + "/bin/linux-arm64/falco-demo-exporter"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("the example exporter's binaries are missing: make test builds them (make examples)")
		}
		t.Skip("run make examples first")
	}
	ctx := context.Background()
	reg := registrytest.New(t)
	cl := newClient(t)
	ciKey, ciPub := keyPair(t, cl, "ci")
	ref := reg.Host + "/exporters/demo:0.1.0"
	if _, err := cl.Publish(ctx, tierpack.PublishRequest{Dir: exporterDir, Ref: ref, Key: ciKey, By: "ci"}); err != nil {
		t.Fatal(err)
	}
	ins, err := cl.Inspect(ctx, tierpack.InspectRequest{Ref: ref, KeyFiles: []string{ciPub}})
	if err != nil {
		t.Fatal(err)
	}
	if ins.VerifiedTier != "repository" || len(ins.Manifests) != 2 {
		t.Fatalf("the index: verified %q, %d platforms", ins.VerifiedTier, len(ins.Manifests))
	}
	key, err := sign.LoadPublicKeyFile(ciPub)
	if err != nil {
		t.Fatal(err)
	}
	r := repo(t, ref)
	for _, child := range ins.Manifests {
		if _, err := sign.Verify(ctx, r, child, []sign.PublicKey{key}); err != nil {
			t.Errorf("platform manifest %s is not signed: %v", child.Digest, err)
		}
		alone := reg.Host + "/exporters/demo@" + child.Digest.String()
		_, err := cl.Pull(ctx, tierpack.PullRequest{Ref: alone, OutputDir: filepath.Join(t.TempDir(), "o"), MinTier: tier.Repository, KeyFiles: []string{ciPub}})
		if !errors.Is(err, tier.ErrBelow) || !strings.Contains(err.Error(), "claimed, unverified") {
			t.Errorf("pull of one platform manifest alone at --tier repository: %v", err)
		}
	}
}

// The attacker can delete manifests as well as push them: after a
// demotion they delete its tier records with the real ORAS CLI (on both
// registries: Distribution, where oras-go keeps the referrers in a
// sha256-<hex> index tag, and go-containerregistry's referrers API), then
// re-tag the version back to the official manifest. A client that has seen
// the demotion remembers the signed record ($TIERPACK_HOME/records) and
// still refuses; one that never saw it has only the registry to go by.
func TestDeletedDemotionIsRemembered(t *testing.T) {
	needORAS(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		reg  *registrytest.Registry
	}{{"distribution", registrytest.New(t)}, {"ggcr", registrytest.NewGGCR(t)}} {
		reg := tc.reg
		t.Run(tc.name, func(t *testing.T) {
			user := newClient(t)
			ciKey, ciPub := keyPair(t, user, "ci")
			coreKey, corePub := keyPair(t, user, "core")
			keys := []string{ciPub, corePub}
			base := reg.Host + "/scripts/falco-debug-bundle"
			ref := base + ":1.2.0"
			pub, err := user.Publish(ctx, tierpack.PublishRequest{Dir: debugBundle, Ref: ref, Key: ciKey, By: "ci"})
			if err != nil {
				t.Fatal(err)
			}
			up, err := user.Promote(ctx, tierpack.PromoteRequest{Ref: ref, To: tier.Official, Key: coreKey, By: "core", Reason: "audit"})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := user.Pull(ctx, tierpack.PullRequest{Ref: ref, OutputDir: filepath.Join(t.TempDir(), "a"), MinTier: tier.Official, KeyFiles: keys}); err != nil {
				t.Fatalf("pull --tier official after promotion: %v", err)
			}
			down, err := user.Promote(ctx, tierpack.PromoteRequest{Ref: ref, To: tier.Contrib, Key: coreKey, By: "core", Reason: "CVE-2026-2"})
			if err != nil {
				t.Fatal(err)
			}
			// The user pulls the version again: it is the demoted manifest
			// now, which claims contrib.
			if res, err := user.Pull(ctx, tierpack.PullRequest{Ref: ref, OutputDir: filepath.Join(t.TempDir(), "demoted"), KeyFiles: keys}); err != nil || res.Info.Digest != down.Digest {
				t.Fatalf("pull after the demotion: %v", err)
			}

			// A client whose first look is at the demoted version learns of
			// the demotion too (the manifest says it was re-tiered).
			late := newClient(t)
			if _, err := late.Pull(ctx, tierpack.PullRequest{Ref: ref, OutputDir: filepath.Join(t.TempDir(), "late"), KeyFiles: keys}); err != nil {
				t.Fatalf("first pull after the demotion: %v", err)
			}

			// The attack: delete every copy of the demotion's record (it is
			// attached to every manifest of the lineage; found as anyone
			// finds them), then re-tag.
			seen, err := newClient(t).Inspect(ctx, tierpack.InspectRequest{Ref: base + "@" + up.Digest, KeyFiles: keys})
			if err != nil || !seen.Verdict.Demoted {
				t.Fatalf("inspect of the demoted manifest: %+v, %v", seen, err)
			}
			var deleted int
			for round := 0; round < 5; round++ {
				found := 0
				for _, d := range []string{pub.Digest, up.Digest, down.Digest} {
					ins, err := newClient(t).Inspect(ctx, tierpack.InspectRequest{Ref: base + "@" + d, KeyFiles: keys})
					if err != nil {
						t.Fatal(err)
					}
					for _, r := range ins.Promotions {
						if r.Demotion() && !r.Remembered {
							oras(t, "manifest", "delete", "--plain-http", "--force", base+"@"+r.Referrer)
							found++
						}
					}
				}
				if deleted += found; found == 0 {
					break
				}
			}
			if deleted < 3 {
				t.Fatalf("deleted %d copies of the demotion record, want one on each manifest of the lineage", deleted)
			}
			oras(t, "tag", "--plain-http", base+"@"+up.Digest, "1.2.0")
			fresh := newClient(t)
			ins, err := fresh.Inspect(ctx, tierpack.InspectRequest{Ref: ref, KeyFiles: keys})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range ins.Promotions {
				if r.Demotion() || r.Subject == down.Digest {
					t.Fatalf("the registry still lists the demotion record %s: the attack did not happen", r.Referrer)
				}
			}

			_, err = user.Pull(ctx, tierpack.PullRequest{Ref: ref, OutputDir: filepath.Join(t.TempDir(), "b"), MinTier: tier.Official, KeyFiles: keys})
			if !errors.Is(err, tier.ErrBelow) || !strings.Contains(err.Error(), "demoted from official to contrib by core") ||
				!strings.Contains(err.Error(), "CVE-2026-2") || !strings.Contains(err.Error(), "no longer lists") {
				t.Fatalf("pull --tier official after the demotion was deleted: %v", err)
			}
			if _, err := late.Pull(ctx, tierpack.PullRequest{Ref: ref, OutputDir: filepath.Join(t.TempDir(), "late2"), MinTier: tier.Official, KeyFiles: keys}); !errors.Is(err, tier.ErrBelow) {
				t.Fatalf("pull --tier official by the client that first saw the demoted version: %v", err)
			}
			ins, err = user.Inspect(ctx, tierpack.InspectRequest{Ref: ref, KeyFiles: keys})
			if err != nil {
				t.Fatal(err)
			}
			var kept int
			for _, r := range ins.Promotions {
				if r.Remembered && r.Demotion() {
					kept++
				}
			}
			if !ins.Verdict.Demoted || kept == 0 {
				t.Fatalf("inspect by the client that saw the demotion: %s, history %+v", ins.Verdict, ins.Promotions)
			}
			// The documented limit: a client that never saw the demotion
			// has nothing but the registry, which now shows the promotion
			// as the latest record.
			if _, err := fresh.Pull(ctx, tierpack.PullRequest{Ref: ref, OutputDir: filepath.Join(t.TempDir(), "c"), MinTier: tier.Official, KeyFiles: keys}); err != nil {
				t.Fatalf("a client that never saw the demotion: %v (if this now refuses, update the limit in pkg/trust's doc)", err)
			}
		})
	}
}

// needORAS skips without the ORAS CLI, which CI must have.
func needORAS(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("oras"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("the ORAS CLI is needed (make test installs it into bin/)")
		}
		t.Skip("oras not in PATH; make test installs it")
	}
}

// oras runs the real ORAS CLI, as an attacker with registry access would.
func oras(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("oras", args...).CombinedOutput(); err != nil {
		t.Fatalf("oras %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// A client that saw a demotion in one repository keeps it (by content and
// digest, never by repository: a demoted digest copied elsewhere stays
// demoted), but a later trusted promotion of the same manifest in another
// repository raises it again: records from different repositories are
// ordered by their signed time, not by sequences neither could know.
func TestFreshPromotionElsewhereBeatsARememberedDemotion(t *testing.T) {
	needORAS(t)
	ctx := context.Background()
	reg := registrytest.New(t)
	user := newClient(t)
	ciKey, ciPub := keyPair(t, user, "ci")
	coreKey, corePub := keyPair(t, user, "core")
	keys := []string{ciPub, corePub}
	refA, refB := reg.Host+"/a/falco-debug-bundle:1.2.0", reg.Host+"/b/falco-debug-bundle:1.2.0"
	if _, err := user.Publish(ctx, tierpack.PublishRequest{Dir: debugBundle, Ref: refA, Key: ciKey, By: "ci"}); err != nil {
		t.Fatal(err)
	}
	up, err := user.Promote(ctx, tierpack.PromoteRequest{Ref: refA, To: tier.Official, Key: coreKey, By: "core"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := user.Promote(ctx, tierpack.PromoteRequest{Ref: refA, To: tier.Contrib, Key: coreKey, By: "core", ReasonKind: "deprecated"}); err != nil {
		t.Fatal(err)
	}
	// The user sees the demotion, and keeps it.
	if _, err := user.Inspect(ctx, tierpack.InspectRequest{Ref: reg.Host + "/a/falco-debug-bundle@" + up.Digest, KeyFiles: keys}); err != nil {
		t.Fatal(err)
	}
	// A copy of the demoted digest in b stays demoted for this user.
	oras(t, "cp", "--from-plain-http", "--to-plain-http", reg.Host+"/a/falco-debug-bundle@"+up.Digest, reg.Host+"/b/copied:1.2.0")
	if _, err := user.Pull(ctx, tierpack.PullRequest{Ref: reg.Host + "/b/copied:1.2.0", OutputDir: filepath.Join(t.TempDir(), "c"), MinTier: tier.Official, KeyFiles: keys}); !errors.Is(err, tier.ErrBelow) {
		t.Fatalf("pull of the demoted digest copied elsewhere: %v", err)
	}

	time.Sleep(1100 * time.Millisecond) // records carry their time to the second
	if _, err := user.Publish(ctx, tierpack.PublishRequest{Dir: debugBundle, Ref: refB, Key: ciKey, By: "ci"}); err != nil {
		t.Fatal(err)
	}
	again, err := user.Promote(ctx, tierpack.PromoteRequest{Ref: refB, To: tier.Official, Key: coreKey, By: "core", Reason: "re-reviewed"})
	if err != nil {
		t.Fatal(err)
	}
	if again.Digest != up.Digest {
		t.Fatalf("the promotion in b wrote %s, not the manifest demoted in a (%s): the test does not test what it says", again.Digest, up.Digest)
	}
	res, err := user.Pull(ctx, tierpack.PullRequest{Ref: refB, OutputDir: filepath.Join(t.TempDir(), "b"), MinTier: tier.Official, KeyFiles: keys})
	if err != nil || res.VerifiedTier != "official" {
		t.Fatalf("pull --tier official of the fresh promotion in b by a client that saw the demotion in a: %v", err)
	}
}
