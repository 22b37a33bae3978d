package main

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tierpack/tierpack/internal/registrytest"
	"github.com/tierpack/tierpack/pkg/index"
	"github.com/tierpack/tierpack/pkg/promotion"
	"github.com/tierpack/tierpack/sdk/tier"
)

// registries runs fn against both registries tierpack is tested on:
// Distribution (no referrers API: records live in the sha256-<hex> tag
// schema) and go-containerregistry's (the referrers API).
func registries(t *testing.T, fn func(t *testing.T, reg *registrytest.Registry)) {
	t.Run("distribution", func(t *testing.T) { fn(t, registrytest.New(t)) })
	t.Run("ggcr", func(t *testing.T) { fn(t, registrytest.NewGGCR(t)) })
}

// digestOf is the "digest" of a command's JSON result.
func digestOf(t *testing.T, out string) string {
	t.Helper()
	var r struct{ Digest string }
	if err := json.Unmarshal([]byte(out), &r); err != nil || r.Digest == "" {
		t.Fatalf("no digest in %q: %v", out, err)
	}
	return r.Digest
}

// TestLineageRollback is the attack of an attacker with push access who
// re-tags an older manifest of a demoted version with the real oras and
// crane CLIs. A demotion covers the content, every manifest over the same
// layers, so the older grant no longer decides: exit 4, for the client
// that saw the history and for a fresh one.
func TestLineageRollback(t *testing.T) {
	oras := lookTool(t, "oras")
	crane := lookTool(t, "crane")
	registries(t, func(t *testing.T, reg *registrytest.Registry) {
		p := newTP(t)
		p.ok("key", "generate", "ci")
		p.ok("key", "generate", "core")
		fresh := func() *tp { return &tp{t: t, home: t.TempDir(), dir: p.dir} }
		trust := []string{"--key", "ci.pub", "--key", "core.pub"}
		source := "source: {url: https://github.com/falcosecurity/gov-demo, revision: abc123}\n"
		writeContribution(t, p.path("c"), "repository", source, true)

		// Variant 1: repository (A0) → official (A1) → contrib for a CVE
		// (A2); `oras tag REPO@A0 1.0.0` brings the repository grant back.
		repo := reg.Host + "/lineage/one"
		ref := repo + ":1.0.0"
		a0 := digestOf(t, p.ok("push", p.path("c"), repo, "--key", "ci.key", "--output", "json"))
		p.ok("promote", ref, "--to", "official", "--key", "core.key", "--reason", "core review")
		p.ok("promote", ref, "--to", "contrib", "--key", "core.key", "--advisory", "CVE-2026-1234", "--reason", "remote code execution")
		// A fixed version is out, at repository: the refusal offers it.
		writeContribution(t, p.path("fixed"), "repository", source, true)
		manifest := p.path("fixed/tierpack.yaml")
		b, _ := os.ReadFile(manifest)
		os.WriteFile(manifest, []byte(strings.Replace(string(b), "version: 1.0.0", "version: 1.0.1", 1)), 0o644)
		os.WriteFile(p.path("fixed/run.sh"), []byte("#!/bin/sh\necho fixed\n"), 0o755)
		p.ok("push", p.path("fixed"), repo, "--key", "ci.key")
		if out, err := exec.Command(oras, "tag", "--plain-http", repo+"@"+a0, "1.0.0").CombinedOutput(); err != nil {
			t.Fatalf("oras tag: %v\n%s", err, out)
		}
		for name, c := range map[string]*tp{"saw the history": p, "fresh": fresh()} {
			errs := c.refused(append([]string{"pull", ref, "--tier", "repository", "-o", c.path("x-" + strings.ReplaceAll(name, " ", "-"))}, trust...),
				"demoted from official to contrib", "security, CVE-2026-1234: remote code execution",
				"the newest version still at repository is "+repo+":1.0.1")
			t.Logf("%s: %s", name, errs)
			if strings.Contains(errs, "ask a maintainer to promote it") {
				t.Errorf("%s: a security demotion's refusal tells the user to ask for a promotion:\n%s", name, errs)
			}
			out := c.ok(append([]string{"inspect", ref}, trust...)...)
			if strings.Contains(out, "repository (verified)") || !strings.Contains(out, "contrib (demoted from official: security, CVE-2026-1234)") {
				t.Errorf("%s: inspect of the re-tagged manifest does not say it is demoted:\n%s", name, out)
			}
			// Wherever the version appears, it is marked demoted.
			if out := c.ok(append([]string{"tags", repo, "--long"}, trust...)...); !strings.Contains(out, "contrib (demoted from official: security, CVE-2026-1234)") {
				t.Errorf("%s: tags --long does not mark the version demoted:\n%s", name, out)
			}
		}
		// The reason's kind is one of three, and an advisory looks like one.
		if _, errs, code := p.run("promote", ref, "--to", "contrib", "--key", "core.key", "--reason-kind", "whim"); code != exitUsage || !strings.Contains(errs, "--reason-kind \"whim\": use one of security, deprecated, policy") {
			t.Errorf("promote --reason-kind whim: exit %d\n%s", code, errs)
		}
		if _, errs, code := p.run("promote", ref, "--to", "contrib", "--key", "core.key", "--advisory", "see the mailing list"); code != exitUsage || !strings.Contains(errs, "--advisory") {
			t.Errorf("promote --advisory with spaces: exit %d\n%s", code, errs)
		}

		// The index marks the version demoted, with why.
		p.ok(append([]string{"index", "build", repo, "-o", p.path("lineage.yaml")}, trust...)...)
		if b, _ := os.ReadFile(p.path("lineage.yaml")); !regexp.MustCompile(`(?s)version: 1\.0\.0.*demoted:\s+from: official\s+reasonKind: security\s+advisory: CVE-2026-1234`).Match(b) {
			t.Errorf("the index does not mark 1.0.0 demoted:\n%s", b)
		}

		// By digest, the message says so rather than guess at a re-tag.
		p.refused(append([]string{"pull", repo + "@" + a0, "--tier", "repository", "-o", p.path("by-digest")}, trust...), "it was pulled by digest")

		// Variant 2: official (B1) → repository (B2) → contrib (B3); crane
		// re-tags the official digest.
		repo = reg.Host + "/lineage/two"
		ref = repo + ":1.0.0"
		b0 := digestOf(t, p.ok("push", p.path("c"), repo, "--key", "ci.key", "--output", "json"))
		b1 := digestOf(t, p.ok("promote", ref, "--to", "official", "--key", "core.key", "--output", "json"))
		// The manifest a promotion replaced is not demoted: it was superseded.
		p.refused(append([]string{"pull", repo + "@" + b0, "--tier", "official", "-o", p.path("superseded")}, trust...),
			"superseded by a later promotion to official (manifest "+b1)
		p.ok("promote", ref, "--to", "repository", "--key", "core.key", "--reason", "unmaintained")
		p.ok("promote", ref, "--to", "contrib", "--key", "core.key", "--reason", "abandoned")
		if out, err := exec.Command(crane, "tag", "--insecure", repo+"@"+b1, "1.0.0").CombinedOutput(); err != nil {
			t.Fatalf("crane tag: %v\n%s", err, out)
		}
		for name, c := range map[string]*tp{"saw the history": p, "fresh": fresh()} {
			c.refused(append([]string{"pull", ref, "--tier", "repository", "-o", c.path("y-" + strings.ReplaceAll(name, " ", "-"))}, trust...),
				"to contrib")
		}

		// A later trusted promotion raises the content again.
		p.ok("promote", ref, "--to", "repository", "--key", "core.key", "--reason", "fixed in place")
		fresh().ok(append([]string{"pull", ref, "--tier", "repository", "-o", p.path("z")}, trust...)...)
	})
}

// TestConcurrentDemotionsBothLand: on Distribution (no referrers API)
// attaching a record rewrites the subject's sha256-<hex> referrers index,
// so of two maintainers demoting at once one could lose the other's
// record. The registry here is slowed down where it hurts — writing that
// index — so both read the old one before either writes; both records
// must be listed afterwards.
func TestConcurrentDemotionsBothLand(t *testing.T) {
	reg := registrytest.New(t, registrytest.WithHandlerWrapper(func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/sha256-") {
				time.Sleep(250 * time.Millisecond)
			}
			h.ServeHTTP(w, r)
		})
	}))
	p := newTP(t)
	p.ok("key", "generate", "core")
	writeContribution(t, p.path("c"), "repository", "source: {url: https://github.com/falcosecurity/gov-demo, revision: abc123}\n", true)
	repo := reg.Host + "/lineage/race"
	ref := repo + ":1.0.0"
	p.ok("push", p.path("c"), repo, "--key", "core.key")
	official := repo + "@" + digestOf(t, p.ok("promote", ref, "--to", "official", "--key", "core.key", "--output", "json"))

	// Both demote the official manifest, named by digest so that neither
	// sees the other's tag move first.
	var wg sync.WaitGroup
	for _, why := range []string{"first maintainer", "second maintainer"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, errs, code := p.run("promote", official, "--to", "contrib", "--key", "core.key", "--reason-kind", "deprecated", "--reason", why); code != 0 {
				t.Errorf("promote (%s): exit %d\n%s", why, code, errs)
			}
		}()
	}
	wg.Wait()
	var ins struct{ Promotions []promotion.Signed }
	if err := json.Unmarshal([]byte(p.ok("inspect", official, "--key", "core.pub", "--output", "json")), &ins); err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, r := range ins.Promotions {
		if r.Demotion() && !r.Remembered {
			got[r.Reason] = true
		}
	}
	if !got["first maintainer"] || !got["second maintainer"] {
		t.Errorf("the registry lists the demotions %v, want both", got)
	}
}

// TestEditedIndexIsAClaim is the attack on an index: build it with the
// trusted key, edit the tiers in the file (`sed -i 's/tier: contrib/tier:
// official/'`), move a genuine record onto another version, and publish it
// with the real oras CLI. The tier an index gives is believed only when
// this client's keys verify the record it names, so search, list, the
// catalog and its API show the forged tiers as claims.
func TestEditedIndexIsAClaim(t *testing.T) {
	oras := lookTool(t, "oras")
	registries(t, func(t *testing.T, reg *registrytest.Registry) {
		p := newTP(t)
		p.ok("key", "generate", "ci")
		source := "source: {url: https://github.com/falcosecurity/gov-demo, revision: abc123}\n"
		writeContribution(t, p.path("contrib"), "contrib", "", false)
		p.ok("push", p.path("contrib"), reg.Host+"/idx/plain")
		writeContribution(t, p.path("repo"), "repository", source, true)
		p.ok("push", p.path("repo"), reg.Host+"/idx/genuine", "--key", "ci.key")
		p.ok("index", "build", reg.Host+"/idx/plain", reg.Host+"/idx/genuine", "--key", "ci.pub", "-o", p.path("index.yaml"))

		b, err := os.ReadFile(p.path("index.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		forged := strings.ReplaceAll(string(b), "tier: contrib", "tier: official")
		if forged == string(b) || !strings.Contains(forged, "record: sha256:") {
			t.Fatalf("the index has no contrib tier to forge or no record:\n%s", b)
		}
		// The genuine version's record, moved onto the forged one.
		rec := regexp.MustCompile(`record: (sha256:[0-9a-f]{64})`).FindStringSubmatch(forged)[1]
		forged = regexp.MustCompile(`(?m)^(\s+)digest: (sha256:[0-9a-f]{64})\n(\s+tier: official)`).ReplaceAllString(forged, "${1}digest: ${2}\n${3}\n${1}record: "+rec)
		if err := os.WriteFile(p.path("forged.yaml"), []byte(forged), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(oras, "push", "--plain-http", "--artifact-type", index.MediaType, reg.Host+"/idx/index:1", "forged.yaml:"+index.MediaType)
		cmd.Dir = p.dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("oras push: %v\n%s", err, out)
		}
		p.ok("index", "add", "forged", reg.Host+"/idx/index:1")

		var sr struct {
			Results []struct {
				Name    string
				Version index.Version
			}
		}
		if err := json.Unmarshal([]byte(p.ok("search", "--tier", "official", "--key", "ci.pub", "--output", "json")), &sr); err != nil || len(sr.Results) != 0 {
			t.Errorf("search --tier official finds the forged versions: %+v, %v", sr.Results, err)
		}
		if err := json.Unmarshal([]byte(p.ok("search", "--key", "ci.pub", "--output", "json")), &sr); err != nil || len(sr.Results) != 2 {
			t.Fatalf("search: %+v, %v", sr.Results, err)
		}
		for _, r := range sr.Results {
			v := r.Version
			switch r.Name {
			case "plain":
				if v.Tier != tier.Contrib || v.ClaimedTier != tier.Official || !strings.Contains(v.Unverified, "is about") {
					t.Errorf("the forged version: tier %s, claimed %s, %q", v.Tier, v.ClaimedTier, v.Unverified)
				}
			case "genuine":
				if v.Tier != tier.Repository || v.Unverified != "" {
					t.Errorf("the genuine version: tier %s, %q", v.Tier, v.Unverified)
				}
			}
		}
		// Without the key, the genuine record is not believed either.
		if out := p.ok("list"); !strings.Contains(out, "contrib (claimed official, unverified)") || !strings.Contains(out, "contrib (claimed repository, unverified)") {
			t.Errorf("list without the key:\n%s", out)
		}
		if out := p.ok("list", "--key", "ci.pub"); !strings.Contains(out, "contrib (claimed official, unverified)") || !strings.Contains(out, "repository (verified)") {
			t.Errorf("list with the key:\n%s", out)
		}

		p.ok("catalog", "build", "--key", "ci.pub", "--no-history", "-o", p.path("site"))
		page, _ := os.ReadFile(p.path("site/index.html"))
		if !strings.Contains(string(page), "(claims official, unverified") || strings.Contains(string(page), `official <span class="state">verified`) {
			t.Errorf("the catalog styles the forged tier as a fact:\n%s", page)
		}
		api, _ := os.ReadFile(p.path("site/api/v1/artifacts.json"))
		if !strings.Contains(string(api), `"unverified": "its tier record`) || !strings.Contains(string(api), `"verifiedTier": "repository"`) || strings.Contains(string(api), `"verifiedTier": "official"`) {
			t.Errorf("the catalog API:\n%s", api)
		}

		// A record verified once is kept by digest: search verifies from
		// disk, with the registry gone.
		reg.Close()
		if out := p.ok("list", "--key", "ci.pub"); !strings.Contains(out, "repository (verified)") {
			t.Errorf("list with the registry gone:\n%s", out)
		}
	})
}
