package script

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tierpack/tierpack/sdk"
	"github.com/tierpack/tierpack/sdk/contrib"
)

// file is one file of a test contribution.
type file struct {
	content string
	mode    fs.FileMode
	// link, if set, makes the file a symlink to it instead; a mode with
	// fs.ModeDir makes it an empty folder.
	link string
}

const manifest = "apiVersion: tierpack.dev/v1\nname: demo\nversion: 0.1.0\ntype: script\ntier: contrib\n"

// contribution writes files into a new folder and loads it as the host
// does (contrib.Load), returning the folder and the plugin's view of it.
func contribution(t *testing.T, files map[string]file) (string, sdk.Contribution) {
	t.Helper()
	dir := t.TempDir()
	for name, f := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if f.link != "" {
			if err := os.Symlink(f.link, p); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if f.mode.IsDir() {
			if err := os.MkdirAll(p, f.mode.Perm()); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if f.mode == 0 {
			f.mode = 0o644
		}
		if err := os.WriteFile(p, []byte(f.content), f.mode); err != nil {
			t.Fatal(err)
		}
		// WriteFile's mode is subject to the umask.
		if err := os.Chmod(p, f.mode); err != nil {
			t.Fatal(err)
		}
	}
	m, err := contrib.Load(dir)
	if err != nil {
		t.Fatalf("contrib.Load: %v", err)
	}
	c, err := m.Contribution()
	if err != nil {
		t.Fatal(err)
	}
	return dir, c
}

// good is a contribution the plugin accepts without a word.
func good() map[string]file {
	return map[string]file{
		"tierpack.yaml": {content: manifest + "spec:\n  entrypoint: install.sh\n"},
		"install.sh":    {content: "#!/usr/bin/env bash\necho hi\n", mode: 0o755},
		"config.yaml":   {content: "a: 1\n---\nb: [2, 3]\n"},
		"data.json":     {content: `{"a": [1, 2]}`},
		"README.md":     {content: "# demo\n"},
		"docs/more.md":  {content: "more\n"},
	}
}

func with(base map[string]file, changes map[string]file) map[string]file {
	for k, v := range changes {
		if v == (file{}) {
			delete(base, k)
			continue
		}
		base[k] = v
	}
	return base
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]file
		// want are the diagnostics, formatted as the CLI prints them, in
		// order; an empty want means none at all.
		want []string
	}{
		{name: "good", files: good()},
		{name: "a symlink to a script is not checked twice",
			files: with(good(), map[string]file{"run.sh": {link: "install.sh"}})},
		{name: "script without shebang",
			files: with(good(), map[string]file{"install.sh": {content: "echo hi\n", mode: 0o755}}),
			want:  []string{"install.sh:1: error: script has no shebang line (start it with e.g. #!/usr/bin/env bash)"}},
		{name: "script not executable",
			files: with(good(), map[string]file{"install.sh": {content: "#!/bin/sh\n", mode: 0o644}}),
			want:  []string{"install.sh: error: script is not executable (run chmod +x install.sh)"}},
		{name: "a shebang makes a script of a file without extension",
			files: with(good(), map[string]file{"tool": {content: "#!/bin/sh\n", mode: 0o644}}),
			want:  []string{"tool: error: script is not executable (run chmod +x tool)"}},
		{name: "an executable bit makes a script too",
			files: with(good(), map[string]file{"notes.txt": {content: "hello\n", mode: 0o755}}),
			want:  []string{"notes.txt:1: error: script has no shebang line (start it with e.g. #!/usr/bin/env bash)"}},
		{name: "invalid YAML",
			files: with(good(), map[string]file{"config.yaml": {content: "a: [1,\nb: 2\n"}}),
			want:  []string{"config.yaml:2: error: invalid YAML: did not find expected ',' or ']'"}},
		{name: "invalid JSON",
			files: with(good(), map[string]file{"data.json": {content: "{\n  \"a\": ,\n}\n"}}),
			want:  []string{"data.json:2: error: invalid JSON: invalid character ',' looking for beginning of value"}},
		{name: "entrypoint that is not a script",
			files: with(good(), map[string]file{"tierpack.yaml": {content: manifest + "spec:\n  entrypoint: README.md\n"}}),
			want: []string{`tierpack.yaml: error: spec.entrypoint "README.md" is not one of the contribution's scripts ` +
				"(list it under files: and give it a shebang and the executable bit)"}},
		{name: "unknown spec field",
			files: with(good(), map[string]file{"tierpack.yaml": {content: manifest + "spec:\n  entry: install.sh\n"}}),
			want: []string{`tierpack.yaml: error: tierpack.yaml: spec: unknown field "entry" (check its spelling against the script plugin's documentation) ` +
				"(the script type's spec has one field: entrypoint)"}},
		{name: "no README",
			files: with(good(), map[string]file{"README.md": {}}),
			want:  []string{"warning: no README: users of a contrib contribution rely on it to know what it does (add a README.md)"}},
		{name: "no files",
			files: map[string]file{"tierpack.yaml": {content: manifest + "files: [docs]\n"}, "docs": {mode: fs.ModeDir | 0o755}},
			want: []string{
				"tierpack.yaml: error: the contribution has no files (add scripts, YAML or markdown next to tierpack.yaml, or list them under files:)",
				"warning: no README: users of a contrib contribution rely on it to know what it does (add a README.md)",
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, c := contribution(t, tt.files)
			diags, err := Plugin{}.Validate(t.Context(), sdk.ValidateRequest{Dir: dir, Contribution: c})
			if err != nil {
				t.Fatalf("Validate: %v (problems with a contribution are diagnostics)", err)
			}
			var got []string
			for _, d := range diags {
				got = append(got, d.String())
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("diagnostics:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(tt.want, "\n  "))
			}
		})
	}
}

func TestValidateCanceled(t *testing.T) {
	dir, c := contribution(t, good())
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := (Plugin{}).Validate(ctx, sdk.ValidateRequest{Dir: dir, Contribution: c}); err == nil {
		t.Fatal("Validate with a canceled context succeeded")
	}
}

// pack packages the contribution in dir into a new staging folder and
// returns the result and the layer's bytes.
func pack(t *testing.T, dir string, c sdk.Contribution, epoch int64) (sdk.PackageResult, string, []byte) {
	t.Helper()
	staging := t.TempDir()
	res, err := Plugin{}.Package(t.Context(), sdk.PackageRequest{Dir: dir, Contribution: c, StagingDir: staging, SourceDateEpoch: epoch})
	if err != nil {
		t.Fatalf("Package: %v", err)
	}
	if len(res.Manifests) != 1 || len(res.Manifests[0].Layers) != 1 || res.Manifests[0].Config != nil {
		t.Fatalf("Package described %+v, want one manifest with one layer and the empty config", res.Manifests)
	}
	l := res.Manifests[0].Layers[0]
	if l.MediaType != sdk.MediaTypeLayerTarGzip || l.Annotations[sdk.AnnotationTitle] != "demo-0.1.0.tar.gz" {
		t.Errorf("layer = %+v, want a tar+gzip layer titled demo-0.1.0.tar.gz", l)
	}
	b, err := os.ReadFile(filepath.Join(staging, filepath.FromSlash(l.Path)))
	if err != nil {
		t.Fatal(err)
	}
	return res, staging, b
}

func TestPackageDeterministic(t *testing.T) {
	dir, c := contribution(t, good())
	_, _, first := pack(t, dir, c, 1700000000)
	_, _, again := pack(t, dir, c, 1700000000)
	if !bytes.Equal(first, again) {
		t.Fatal("two Package runs on the same folder gave different layers")
	}
	// The same content elsewhere, written later: the same bytes.
	dir2, c2 := contribution(t, good())
	if _, _, moved := pack(t, dir2, c2, 1700000000); !bytes.Equal(first, moved) {
		t.Fatal("the same contribution in another folder, with other mtimes, gave a different layer")
	}
	// The time stamped into the archive is SOURCE_DATE_EPOCH's.
	if _, _, later := pack(t, dir, c, 1800000000); bytes.Equal(first, later) {
		t.Fatal("another SourceDateEpoch gave the same layer: is it stamped into the archive?")
	}
}

func TestUnpackRoundTrip(t *testing.T) {
	files := with(good(), map[string]file{"run.sh": {link: "install.sh"}})
	dir, c := contribution(t, files)
	res, staging, _ := pack(t, dir, c, 0)
	l := res.Manifests[0].Layers[0]
	out := t.TempDir()
	got, err := Plugin{}.Unpack(t.Context(), sdk.UnpackRequest{
		BlobsDir:  staging,
		Layers:    []sdk.Blob{{MediaType: l.MediaType, Path: l.Path, Digest: "sha256:test"}},
		OutputDir: out,
	})
	if err != nil {
		t.Fatalf("Unpack: %v", err)
	}
	var want []string
	for name := range files {
		want = append(want, name)
	}
	slices.Sort(want)
	if !slices.Equal(got.Files, want) {
		t.Errorf("Unpack listed %q, want %q", got.Files, want)
	}
	for name, f := range files {
		p := filepath.Join(out, filepath.FromSlash(name))
		if f.link != "" {
			if target, err := os.Readlink(p); err != nil || target != f.link {
				t.Errorf("%s: link to %q (%v), want %q", name, target, err, f.link)
			}
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil || string(b) != f.content {
			t.Errorf("%s: %q (%v), want %q", name, b, err, f.content)
			continue
		}
		st, _ := os.Stat(p)
		if wantExec := f.mode&0o111 != 0; (st.Mode()&0o111 != 0) != wantExec {
			t.Errorf("%s: mode %v, want executable=%v", name, st.Mode(), wantExec)
		}
	}
}

func TestUnpackRefusesOtherLayers(t *testing.T) {
	_, err := Plugin{}.Unpack(t.Context(), sdk.UnpackRequest{
		BlobsDir:  t.TempDir(),
		Layers:    []sdk.Blob{{MediaType: sdk.MediaTypeHelmChart, Path: "x", Digest: "sha256:x"}},
		OutputDir: t.TempDir(),
	})
	if err == nil || !strings.Contains(err.Error(), "cannot unpack") {
		t.Fatalf("Unpack of a Helm chart layer: %v, want a refusal", err)
	}
}
