package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/tierpack/tierpack/internal/registrytest"
)

// interopTool is the path of an interop CLI (oras, crane): .ci/run and
// make test install them; a developer without them skips.
func interopTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s not on PATH; .ci/run should have installed it", name)
		}
		t.Skipf("%s not on PATH: make test installs it into bin/", name)
	}
	return p
}

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
	oras := interopTool(t, "oras")
	crane := interopTool(t, "crane")
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
		p.ok("promote", ref, "--to", "contrib", "--key", "core.key", "--reason", "CVE-2026-1234: remote code execution")
		if out, err := exec.Command(oras, "tag", "--plain-http", repo+"@"+a0, "1.0.0").CombinedOutput(); err != nil {
			t.Fatalf("oras tag: %v\n%s", err, out)
		}
		for name, c := range map[string]*tp{"saw the history": p, "fresh": fresh()} {
			errs := c.refused(append([]string{"pull", ref, "--tier", "repository", "-o", c.path("x-" + strings.ReplaceAll(name, " ", "-"))}, trust...),
				"demoted from official to contrib", "CVE-2026-1234")
			t.Logf("%s: %s", name, errs)
			if strings.Contains(errs, "ask a maintainer to promote it") {
				t.Errorf("%s: a security demotion's refusal tells the user to ask for a promotion:\n%s", name, errs)
			}
			out := c.ok(append([]string{"inspect", ref}, trust...)...)
			if strings.Contains(out, "repository (verified)") {
				t.Errorf("%s: inspect of the re-tagged manifest says it is verified:\n%s", name, out)
			}
		}

		// Variant 2: official (B1) → repository (B2) → contrib (B3); crane
		// re-tags the official digest.
		repo = reg.Host + "/lineage/two"
		ref = repo + ":1.0.0"
		p.ok("push", p.path("c"), repo, "--key", "ci.key")
		b1 := digestOf(t, p.ok("promote", ref, "--to", "official", "--key", "core.key", "--output", "json"))
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
