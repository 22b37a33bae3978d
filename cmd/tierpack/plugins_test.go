//go:build unix

package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/tierpack/tierpack/internal/registrytest"
)

// pluginBuilds are the plugin binaries the plugin tests share, built once.
var pluginBuilds struct {
	once sync.Once
	err  error
	// dist holds the example rules plugin for this platform and one other,
	// named tierpack-plugin-rules-<os>-<arch> as `plugin push` wants them.
	dist string
	// native is the rules plugin for this platform, in dist.
	native string
	// platforms is what `plugin push` reports for dist, e.g.
	// "linux/amd64, linux/arm64".
	platforms string
	// foreign holds only the other platform's build.
	foreign string
	// broken holds sdk/plugintest's misbehaving test plugin, as
	// tierpack-plugin-<mode> for the modes the tests use.
	broken string
}

// buildPlugins builds the out-of-tree example plugin
// (examples/plugins/falco-rules, its own Go module) as its author would, with
// go build in its folder, for this platform and another; and the broken
// test plugin.
func buildPlugins(t *testing.T) {
	t.Helper()
	b := &pluginBuilds
	b.once.Do(func() {
		// Beside the tierpack binary, in the folder TestMain removes.
		dir, err := os.MkdirTemp(filepath.Dir(tierpackBin), "plugins-")
		if err != nil {
			b.err = err
			return
		}
		b.dist = filepath.Join(dir, "dist")
		b.foreign = filepath.Join(dir, "foreign")
		b.broken = filepath.Join(dir, "broken")
		for _, d := range []string{b.dist, b.foreign, b.broken} {
			if b.err = os.Mkdir(d, 0o755); b.err != nil {
				return
			}
		}
		other := "arm64"
		if runtime.GOARCH == "arm64" {
			other = "amd64"
		}
		src, err := filepath.Abs("../../examples/plugins/falco-rules")
		if err != nil {
			b.err = err
			return
		}
		for _, arch := range []string{runtime.GOARCH, other} {
			out := filepath.Join(b.dist, "tierpack-plugin-rules-"+runtime.GOOS+"-"+arch)
			build := exec.Command("go", "build", "-trimpath", "-o", out, ".")
			build.Dir = src
			build.Env = append(os.Environ(), "GOOS="+runtime.GOOS, "GOARCH="+arch, "CGO_ENABLED=0", "GOFLAGS=-mod=readonly")
			if o, err := build.CombinedOutput(); err != nil {
				b.err = &buildError{what: "the example plugin in " + src + " for " + runtime.GOOS + "/" + arch, out: o,
					hint: "if go.sum is missing entries, run `go mod tidy` in " + src + " (tierpack's dependencies changed)", err: err}
				return
			}
		}
		b.native = filepath.Join(b.dist, "tierpack-plugin-rules-"+runtime.GOOS+"-"+runtime.GOARCH)
		b.platforms = runtime.GOOS + "/" + min(runtime.GOARCH, other) + ", " + runtime.GOOS + "/" + max(runtime.GOARCH, other)
		foreign := filepath.Join(b.foreign, "tierpack-plugin-rules-"+runtime.GOOS+"-"+other)
		data, err := os.ReadFile(filepath.Join(b.dist, filepath.Base(foreign)))
		if err == nil {
			err = os.WriteFile(foreign, data, 0o755)
		}
		if err != nil {
			b.err = err
			return
		}
		testPlugin := filepath.Join(b.broken, "testplugin")
		if o, err := exec.Command("go", "build", "-o", testPlugin, "../../sdk/plugintest/testdata/testplugin").CombinedOutput(); err != nil {
			b.err = &buildError{what: "the test plugin", out: o, err: err}
			return
		}
		for _, mode := range []string{"sloppy", "stdout"} {
			if b.err = os.Link(testPlugin, filepath.Join(b.broken, "tierpack-plugin-"+mode)); b.err != nil {
				return
			}
		}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
}

type buildError struct {
	what, hint string
	out        []byte
	err        error
}

func (e *buildError) Error() string {
	s := "building " + e.what + ": " + e.err.Error() + "\n" + string(e.out)
	if e.hint != "" && bytes.Contains(e.out, []byte("go.sum")) {
		s += "\n" + e.hint
	}
	return s
}

// TestPluginScripts runs testdata/plugins: plugin check against the example
// plugin and a broken one, and plugin push, install, use, tampering and
// remove against a real Distribution registry.
func TestPluginScripts(t *testing.T) {
	buildPlugins(t)
	reg := registrytest.New(t)
	rules, err := filepath.Abs("../../examples/plugins/falco-rules/testdata")
	if err != nil {
		t.Fatal(err)
	}
	b := &pluginBuilds
	testscript.Run(t, testscript.Params{
		Dir: "testdata/plugins",
		Setup: func(env *testscript.Env) error {
			env.Setenv("PATH", filepath.Dir(tierpackBin)+string(os.PathListSeparator)+env.Getenv("PATH"))
			env.Setenv("REGISTRY", reg.Host)
			env.Setenv("TIERPACK_HOME", filepath.Join(env.WorkDir, ".tierpack"))
			env.Setenv("DOCKER_CONFIG", filepath.Join(env.WorkDir, ".docker"))
			env.Setenv("HOME", env.WorkDir)
			env.Setenv("TIERPACK_PLUGINS_DIR", "")
			env.Setenv("RULES", rules)
			env.Setenv("PLUGIN_DIST", b.dist)
			env.Setenv("PLUGIN_NATIVE", b.native)
			env.Setenv("PLUGIN_FOREIGN", b.foreign)
			env.Setenv("PLUGIN_PLATFORMS", b.platforms)
			env.Setenv("BROKEN_PLUGINS", b.broken)
			env.Setenv("GOOS", runtime.GOOS)
			env.Setenv("GOARCH", runtime.GOARCH)
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exitcode": cmdExitCode,
			"tamper":   cmdTamper,
		},
		RequireExplicitExec: true,
	})
}

// cmdTamper appends a byte to each file, as an attacker or a careless edit
// would change an installed binary:
//
//	tamper FILE...
func cmdTamper(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) == 0 {
		ts.Fatalf("usage: tamper FILE...")
	}
	for _, a := range args {
		f, err := os.OpenFile(ts.MkAbs(a), os.O_WRONLY|os.O_APPEND, 0)
		ts.Check(err)
		_, err = f.WriteString("\x00")
		ts.Check(err)
		ts.Check(f.Close())
	}
}

// TestPluginPushIsReproducible checks that pushing the same binaries twice
// to two layouts gives the same index digest, and that SOURCE_DATE_EPOCH is
// the only time in it.
func TestPluginPushIsReproducible(t *testing.T) {
	buildPlugins(t)
	home := t.TempDir()
	var digests []string
	for i := range 2 {
		layout := filepath.Join(t.TempDir(), "layout")
		cmd := exec.Command(tierpackBin, "plugin", "push", pluginBuilds.dist, "oci:"+layout)
		cmd.Env = append(os.Environ(), "TIERPACK_HOME="+home, "TIERPACK_PLUGINS_DIR=")
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("push %d: %v", i, err)
		}
		_, d, ok := strings.Cut(strings.TrimSpace(string(out)), "@")
		if !ok {
			t.Fatalf("push %d printed %q", i, out)
		}
		digests = append(digests, d)
	}
	if digests[0] != digests[1] {
		t.Errorf("two pushes of the same binaries gave %s and %s", digests[0], digests[1])
	}
}
