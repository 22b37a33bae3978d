package contrib

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tierpack/tierpack/sdk/tier"
)

func TestParseValid(t *testing.T) {
	m, err := Parse([]byte(`apiVersion: tierpack.dev/v1
name: falco-debug-bundle
version: 1.2.0+build.5
type: script
tier: Repository
license: Apache-2.0 OR MIT
source:
  url: https://github.com/falcosecurity/x
  revision: abc
owners: OWNERS
files: [a.sh, docs/README.md]
spec:
  entrypoint: a.sh
  nested: {k: [1, 2]}
`))
	if err != nil {
		t.Fatal(err)
	}
	if m.Tier != tier.Repository || m.Name != "falco-debug-bundle" || m.Source.Revision != "abc" {
		t.Errorf("parsed %+v", m)
	}
	if got := TagFor(m.Version); got != "1.2.0_build.5" {
		t.Errorf("TagFor = %q", got)
	}
	spec, err := m.SpecJSON()
	if err != nil || string(spec) != `{"entrypoint":"a.sh","nested":{"k":[1,2]}}` {
		t.Errorf("SpecJSON = %s, %v", spec, err)
	}
	if m.Line("source.url") != 8 || m.Line("files[1]") != 11 {
		t.Errorf("lines: source.url=%d files[1]=%d", m.Line("source.url"), m.Line("files[1]"))
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		want       []string // each must appear in the error
	}{
		{"empty", "", []string{"tierpack.yaml: is empty"}},
		{"not yaml", "name: [", []string{"tierpack.yaml:1:"}},
		{"all missing", "description: x\n", []string{"name: is required", "version: is required", "type: is required", "tier: is required"}},
		{"bad values", "name: Foo\nversion: 'a b'\ntype: My_Type\ntier: gold\n", []string{
			`tierpack.yaml:1: name: "Foo" is not allowed`,
			`tierpack.yaml:2: version: "a b" cannot be an OCI tag`,
			`tierpack.yaml:3: type: "My_Type" is not allowed`,
			`tierpack.yaml:4: tier: "gold" is not a tier: use contrib, repository or official`,
		}},
		{"unknown field", "name: a\nversion: 1.0.0\ntype: script\ntier: contrib\nfiels: [x]\n", []string{`tierpack.yaml:5: fiels: unknown field (did you mean "files"?): allowed are`}},
		// Issue 14: an unknown key no longer hides the other problems.
		{"every problem at once", "name: a\nversion: 1.0.0\ntype: script\ntier: offical\nlicence: MIT\nsource: {url: 'https://x/y', revison: main}\n", []string{
			`tierpack.yaml:4: tier: "offical" is not a tier (did you mean "official"?)`,
			`tierpack.yaml:5: licence: unknown field (did you mean "license"?)`,
			`source.revison: unknown field (did you mean "revision"?)`,
		}},
		{"wrong type and others", "name: [a]\nversion: 1.0.0\ntype: script\ntier: gold\n", []string{
			"tierpack.yaml:1: cannot unmarshal", `tierpack.yaml:4: tier: "gold" is not a tier`,
		}},
		{"init placeholders", "name: a\nversion: 1.0.0\ntype: script\ntier: repository\nsource: {url: 'https://github.com/ORG/REPO', revision: main}\n", []string{
			`source.url: "https://github.com/ORG/REPO" is tierpack init's placeholder: replace it`,
		}},
		{"wrong type", "name: a\nversion: 1.0.0\ntype: script\ntier: contrib\nfiles: x.sh\n", []string{"tierpack.yaml:5:"}},
		{"traversal", "name: a\nversion: 1.0.0\ntype: script\ntier: contrib\nfiles: [ok.sh, ../../etc/passwd, /abs, 'a\\b']\nowners: ../OWNERS\n", []string{
			`files[1]: "../../etc/passwd" leaves the contribution folder`,
			`files[2]: "/abs" is absolute`,
			`files[3]: "a\\b": use '/'`,
			`owners: "../OWNERS" leaves`,
		}},
		{"license and url", "name: a\nversion: 1.0.0\ntype: script\ntier: contrib\nlicense: 'Apache 2'\nsource: {url: github.com/x}\n", []string{
			"license: \"Apache 2\" is not an SPDX", "source.url: \"github.com/x\" is not a URL",
		}},
		{"api version", "apiVersion: v9\nname: a\nversion: 1.0.0\ntype: script\ntier: contrib\n", []string{`apiVersion: "v9" is not supported`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yaml))
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error does not wrap ErrInvalid: %v", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not contain %q", err, w)
				}
			}
		})
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(FileName, "name: a\nversion: 1.0.0\ntype: script\ntier: contrib\n")
	write("b.sh", "#!/bin/sh\n")
	write("a.md", "x")
	write(".hidden", "x")
	write("sub/c.yaml", "x: 1")
	m, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(m.Files, ","); got != "a.md,b.sh,sub" {
		t.Errorf("default files = %s", got)
	}
	write(FileName, "name: a\nversion: 1.0.0\ntype: script\ntier: contrib\nfiles: [a.md, gone.sh]\n")
	_, err = Load(dir)
	if err == nil || !strings.Contains(err.Error(), `tierpack.yaml:5: files[1]: "gone.sh" does not exist`) {
		t.Errorf("missing file: %v", err)
	}
	if _, err := Load(filepath.Join(dir, "nope")); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("missing dir: %v", err)
	}
	var nm *NoManifestError
	if _, err := Load(filepath.Join(dir, "sub")); !errors.As(err, &nm) || !strings.Contains(err.Error(), "has no tierpack.yaml") {
		t.Errorf("missing manifest: %v", err)
	}
}

func TestIsSemver(t *testing.T) {
	for v, want := range map[string]bool{"1.0.0": true, "0.1.0-rc.1+b5": true, "v1.0.0": false, "1.0": false, "01.0.0": false} {
		if IsSemver(v) != want {
			t.Errorf("IsSemver(%q) = %v", v, !want)
		}
	}
}

// TestUnquotedColonHint: `description: Falco rule: …` is a YAML error;
// the message says to quote the value.
func TestUnquotedColonHint(t *testing.T) {
	_, err := Parse([]byte("name: x\nversion: 0.1.0\ntype: script\ntier: contrib\ndescription: Falco rule: detect shells\n"))
	if err == nil || !strings.Contains(err.Error(), `must be quoted, e.g. description: "Falco rule: …"`) || !strings.Contains(err.Error(), ":5:") {
		t.Fatalf("no hint to quote the value: %v", err)
	}
}

// A tierpack.yaml over MaxManifestSize is refused before it is read whole
// or parsed (a 100 MB one took 632 MB to refuse).
func TestLoadRefusesHugeManifest(t *testing.T) {
	dir := t.TempDir()
	huge := append([]byte("name: x\nversion: 1.0.0\ntype: script\ndescription: "), bytes.Repeat([]byte("y"), MaxManifestSize)...)
	if err := os.WriteFile(filepath.Join(dir, FileName), huge, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(dir); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "larger than the 1024 KiB") {
		t.Fatalf("Load of a %d-byte manifest: %v", len(huge), err)
	}
}
