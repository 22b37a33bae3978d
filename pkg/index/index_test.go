package index

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"oras.land/oras-go/v2/errdef"

	"github.com/tierpack/tierpack/sdk/tier"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from what was produced (go test -update rewrites it); got:\n%s", path, got)
	}
}

// sample is an index in no particular order (entries, versions, tags),
// with every field set.
func sample() *Index {
	return &Index{Entries: []Entry{
		{
			Name: "zeta", Type: "chart", Repository: "registry.example/charts/zeta", Latest: "0.1.0",
			Versions: []Version{{Version: "0.1.0", Tags: []string{"0.1.0"}, Digest: "sha256:" + strings.Repeat("b", 64)}},
		},
		{
			Name: "alpha", Type: "script", Tier: tier.Official, Repository: "registry.example/contrib/alpha", Latest: "1.2.0",
			Description: "Does alpha things.", License: "Apache-2.0", Source: "https://example.org/alpha", Homepage: "https://example.org",
			Keywords:    []string{"falco", "alpha"},
			Maintainers: []Maintainer{{Name: "alice", Role: RoleApprover}, {Name: "Jane Doe", Email: "jane@example.org", Role: RoleAuthor}},
			Versions: []Version{
				{Version: "1.1.0", Tags: []string{"1.1.0"}, Digest: "sha256:" + strings.Repeat("c", 64), Tier: tier.Repository},
				{Version: "1.2.0", Tags: []string{"latest", "1.2.0"}, Digest: "sha256:" + strings.Repeat("a", 64), Tier: tier.Official, Created: "2025-01-02T03:04:05Z", Revision: "abc123"},
			},
			Index: "never written",
		},
	}}
}

func TestMarshalGolden(t *testing.T) {
	data, err := sample().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "sample.golden.yaml", data)

	// It reads back to the same index, and writes the same bytes again.
	ix, err := Parse("sample", data)
	if err != nil {
		t.Fatal(err)
	}
	if ix.APIVersion != APIVersion || ix.Kind != Kind || len(ix.Entries) != 2 || ix.Entries[0].Name != "alpha" {
		t.Fatalf("round trip: %+v", ix)
	}
	if ix.Entries[0].Index != "" {
		t.Error("Entry.Index was written to the file")
	}
	again, err := ix.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again, data) {
		t.Errorf("not stable across a round trip:\n%s\nthen\n%s", data, again)
	}
}

func TestSaveLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "index.yaml")
	if err := sample().Save(path); err != nil {
		t.Fatal(err)
	}
	ix, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if ix.Entries[0].Versions[0].Tier != tier.Official || ix.Entries[1].Tier != tier.None {
		t.Errorf("tiers after a round trip: %+v", ix.Entries)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("Save left temporary files: %v", entries)
	}
	_, err = Load(filepath.Join(t.TempDir(), "missing.yaml"))
	if !errors.Is(err, ErrNotFound) || !errors.Is(err, errdef.ErrNotFound) {
		t.Errorf("Load of a missing file: %v, want ErrNotFound", err)
	}
}

func TestParseErrors(t *testing.T) {
	const digest = `"sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"`
	for _, tc := range []struct {
		name, doc, want string
	}{
		{"empty", "  \n", "is empty"},
		{"not yaml", "apiVersion: [", "did not find expected"},
		{"no apiVersion", "kind: Index\n", "no apiVersion"},
		{"newer apiVersion", "apiVersion: tierpack.dev/v2\nkind: Index\n", `apiVersion "tierpack.dev/v2" is not "tierpack.dev/v1"`},
		{"wrong kind", "apiVersion: tierpack.dev/v1\nkind: Policy\n", `kind "Policy"`},
		{"no name", "apiVersion: tierpack.dev/v1\nkind: Index\nentries: [{repository: r, versions: [{version: 1.0.0, digest: " + digest + "}]}]\n", "entries[0]: no name"},
		{"no repository", "apiVersion: tierpack.dev/v1\nkind: Index\nentries: [{name: x, versions: [{version: 1.0.0, digest: " + digest + "}]}]\n", "entries[0] (x): no repository"},
		{"no versions", "apiVersion: tierpack.dev/v1\nkind: Index\nentries: [{name: x, repository: r}]\n", "no versions"},
		{"bad digest", "apiVersion: tierpack.dev/v1\nkind: Index\nentries: [{name: x, repository: r, versions: [{version: 1.0.0, digest: sha256:12}]}]\n", `versions[0]: digest "sha256:12"`},
		{"bad tier", "apiVersion: tierpack.dev/v1\nkind: Index\nentries: [{name: x, repository: r, tier: gold, versions: [{version: 1.0.0, digest: " + digest + "}]}]\n", `unknown tier "gold"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("doc.yaml", []byte(tc.doc))
			if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "doc.yaml") {
				t.Errorf("Parse: %v, want ErrInvalid naming doc.yaml and saying %q", err, tc.want)
			}
		})
	}
	// An index with no entries is valid.
	ix, err := Parse("empty", []byte("apiVersion: tierpack.dev/v1\nkind: Index\n"))
	if err != nil || ix.Entries == nil {
		t.Errorf("empty index: %v, %+v", err, ix)
	}
}

// falcoctl's own index format (a YAML list, no versions) is read too: each
// repository becomes an entry at the tag falcoctl installs by default.
func TestParseFalcoctlIndex(t *testing.T) {
	b, err := os.ReadFile("testdata/falcoctl-index.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ix, err := Parse("falcoctl-index.yaml", b)
	if err != nil {
		t.Fatal(err)
	}
	if len(ix.Entries) != 2 {
		t.Fatalf("%d entries, want 2", len(ix.Entries))
	}
	e := ix.Entries[0]
	v, ok := e.LatestVersion()
	if e.Name != "cloudtrail" || e.Type != "plugin" || e.Repository != "ghcr.io/falcosecurity/plugins/cloudtrail" || !ok ||
		e.Reference(v) != "ghcr.io/falcosecurity/plugins/cloudtrail:latest" || e.License != "Apache-2.0" ||
		len(e.Maintainers) != 1 || e.Maintainers[0].Email != "cncf-falco-dev@lists.cncf.io" || v.Tier != tier.None {
		t.Errorf("entry: %+v", e)
	}
	if got := ix.Search(Query{Text: "cloudtrail-rules"}); len(got) != 1 || got[0].Type != "rulesfile" {
		t.Errorf("search cloudtrail-rules: %+v", got)
	}
	if got := ix.Search(Query{Tier: tier.Contrib}); len(got) != 0 {
		t.Errorf("falcoctl's entries claim no tier, yet --tier contrib found %d", len(got))
	}
	if _, err := Parse("bad.yaml", []byte("- name: x\n  type: plugin\n")); err == nil || !strings.Contains(err.Error(), "registry and repository are required") {
		t.Errorf("an entry without a registry: %v", err)
	}
}

// A falcoctl entry's keyless signature identity becomes its Signer; a key
// (which tierpack cannot tie to a scope from an index) becomes nothing.
func TestFalcoctlSignatureIdentity(t *testing.T) {
	b, err := os.ReadFile("testdata/falcoctl-index-signed.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ix, err := Parse("falcoctl-index-signed.yaml", b)
	if err != nil {
		t.Fatal(err)
	}
	want := Signer{Issuer: "https://token.actions.githubusercontent.com", SubjectRegExp: "https://github.com/falcosecurity/rules/"}
	if s := ix.Entries[0].Signer; s == nil || *s != want {
		t.Errorf("falco-rules signer: %+v", s)
	}
	if s := ix.Entries[2].Signer; s != nil {
		t.Errorf("a key-signed entry got a keyless signer: %+v", s)
	}
}
