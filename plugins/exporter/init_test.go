package exporter

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tierpack/tierpack/sdk"
	"github.com/tierpack/tierpack/sdk/contrib"
)

// writeScaffold writes what Init returned, with the tierpack.yaml the host
// composes, into dir.
func writeScaffold(t *testing.T, dir, name string, res sdk.InitResult) {
	t.Helper()
	manifest := "name: " + name + "\nversion: 0.1.0\ntype: exporter\ntier: contrib\nspec:\n"
	for _, l := range strings.Split(strings.TrimRight(res.SpecYAML, "\n"), "\n") {
		manifest += "  " + l + "\n"
	}
	files := append([]sdk.InitFile{{Path: contrib.FileName, Content: []byte(manifest)}}, res.Files...)
	for _, f := range files {
		p := filepath.Join(dir, filepath.FromSlash(f.Path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		b := f.Content
		if f.CopyFrom != "" {
			var err error
			if b, err = os.ReadFile(f.CopyFrom); err != nil {
				t.Fatal(err)
			}
		}
		mode := os.FileMode(f.Mode)
		if mode == 0 {
			mode = 0o644
		}
		if err := os.WriteFile(p, b, mode); err != nil {
			t.Fatal(err)
		}
	}
}

// validateDir validates dir with the plugin, as the host does.
func validateDir(t *testing.T, dir string) []sdk.Diagnostic {
	t.Helper()
	m, err := contrib.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	c, err := m.Contribution()
	if err != nil {
		t.Fatal(err)
	}
	diags, err := Plugin{}.Validate(context.Background(), sdk.ValidateRequest{Dir: m.Dir, Contribution: c})
	if err != nil {
		t.Fatal(err)
	}
	return diags
}

// TestInitSkeletonBuilds builds the Go exporter Init scaffolds with the real
// Go toolchain, running exactly the commands Init prints, and validates
// the result: what `tierpack init --type exporter DIR` promises.
func TestInitSkeletonBuilds(t *testing.T) {
	if testing.Short() {
		t.Skip("cross-compiles twice")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go toolchain on PATH")
	}
	dir := t.TempDir()
	res, err := Plugin{}.Init(context.Background(), sdk.InitRequest{Dir: dir, Name: "my-exporter", Version: "0.1.0", Tier: sdk.TierContrib})
	if err != nil {
		t.Fatal(err)
	}
	writeScaffold(t, dir, "my-exporter", res)
	if diags := validateDir(t, dir); sdk.Count(diags, sdk.SeverityError) != 2 {
		t.Errorf("before building: want the two missing binaries, got %v", diags)
	}
	if len(res.Next) != len(InitPlatforms) {
		t.Fatalf("Next = %q, want one build command per platform", res.Next)
	}
	for _, cmdline := range res.Next {
		// ENV=… ENV=… go build ARGS…: run as a shell would.
		f := strings.Fields(cmdline)
		var env []string
		for len(f) > 0 && strings.Contains(f[0], "=") {
			env, f = append(env, f[0]), f[1:]
		}
		if len(f) < 2 || f[0] != "go" {
			t.Fatalf("not a go command: %q", cmdline)
		}
		cmd := exec.Command(goBin, f[1:]...)
		cmd.Dir, cmd.Env = dir, append(os.Environ(), env...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", cmdline, err, out)
		}
	}
	if diags := validateDir(t, dir); len(diags) != 0 {
		t.Errorf("after building: %v", diags)
	}
}

// TestInitFromBinaries declares binaries by their headers.
func TestInitFromBinaries(t *testing.T) {
	self, err := os.Executable() // a real executable for this machine
	if err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(t.TempDir(), "run.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		bins    []string
		wantErr string
	}{
		{"this machine's", []string{self}, ""},
		{"a script", []string{script}, "is a script (#!/bin/sh), not a compiled binary"},
		{"twice", []string{self, self}, "pass one --binary per platform"},
		{"missing", []string{filepath.Join(t.TempDir(), "gone")}, "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			req := sdk.InitRequest{Dir: dir, Name: "x", Version: "0.1.0", Tier: sdk.TierContrib}
			for _, b := range tc.bins {
				req.Options = append(req.Options, sdk.InitOption{Key: "binary", Value: b})
			}
			res, err := Plugin{}.Init(context.Background(), req)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Files) != 1 || res.Files[0].CopyFrom == "" || res.Files[0].Mode != 0o755 {
				t.Fatalf("files = %+v, want the binary copied with mode 0755", res.Files)
			}
			writeScaffold(t, dir, "x", res)
			if diags := validateDir(t, dir); sdk.Count(diags, sdk.SeverityError) != 0 {
				t.Errorf("validate: %v", diags)
			}
		})
	}
}
