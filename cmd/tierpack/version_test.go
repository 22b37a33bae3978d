package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tierpack/tierpack/internal/registrytest"
)

// A published version keeps its digest. Pushed again unchanged, it
// uploads nothing, signs nothing again and moves no tag; pushed with other
// content, or over its promoted manifest, it is refused, and the tag still
// names what its records are about; --replace moves it on purpose. The
// local store is a working area and is not held to it.
func TestPublishedVersionKeepsDigest(t *testing.T) {
	reg := registrytest.New(t)
	p := newTP(t)
	repo := reg.Host + "/run/kept"
	dir := p.path("c")
	writeContribution(t, dir, "repository", "source: {url: https://github.com/falcosecurity/gov-demo, revision: abc123}\n", true)
	first := strings.TrimSpace(p.ok("push", dir, repo))
	records := p.ok("inspect", repo+":1.0.0", "--output", "json")

	out, errs, code := p.run("push", dir, repo)
	if code != 0 || strings.TrimSpace(out) != first || !strings.Contains(errs, "unchanged") || !strings.Contains(errs, "0 blob(s) uploaded") {
		t.Fatalf("pushing the same version again: exit %d\n%s\n%s", code, out, errs)
	}
	if again := p.ok("inspect", repo+":1.0.0", "--output", "json"); again != records {
		t.Errorf("an unchanged re-push changed what the version carries:\n%s", again)
	}

	os.WriteFile(filepath.Join(dir, "extra.txt"), []byte("changed\n"), 0o644)
	_, errs, code = p.run("push", dir, repo)
	if code != 1 || !strings.Contains(errs, "version already published with other content") || !strings.Contains(errs, "--replace") {
		t.Fatalf("pushing other content as the same version: exit %d\n%s", code, errs)
	}
	if d := tagDigest(p, repo+":1.0.0"); !strings.HasSuffix(first, "@"+d) {
		t.Errorf("the refused push moved the tag to %s (was %s)", d, first)
	}
	p.ok("push", dir, repo, "--replace")
	if d := tagDigest(p, repo+":1.0.0"); strings.HasSuffix(first, "@"+d) {
		t.Errorf("--replace did not move the tag (still %s)", d)
	}

	// Promoted, the version's tag names the promoted manifest: pushing the
	// contribution again would put it back at its first tier.
	p.ok("promote", repo+":1.0.0", "--to", "official", "--key", ciKey, "--reason", "core review")
	if _, errs, code := p.run("push", dir, repo); code != 1 || !strings.Contains(errs, "promoted version would fall back") {
		t.Errorf("re-pushing over a promotion: exit %d\n%s", code, errs)
	}

	// The local store: a working copy, rebuilt freely.
	p.ok("package", dir)
	os.WriteFile(filepath.Join(dir, "extra.txt"), []byte("changed again\n"), 0o644)
	p.ok("package", dir)
}

// tagDigest is the digest ref names now.
func tagDigest(p *tp, ref string) string {
	p.t.Helper()
	var info struct {
		Digest string `json:"digest"`
	}
	if err := json.Unmarshal([]byte(p.ok("inspect", ref, "--output", "json")), &info); err != nil {
		p.t.Fatal(err)
	}
	return info.Digest
}
