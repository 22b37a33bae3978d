package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/tierpack/tierpack/internal/registrytest"
	"github.com/tierpack/tierpack/internal/testbin"
)

// tierpackBin is the real tierpack binary, built once by TestMain: the
// end-to-end tests run it as a user would, built-in plugins included (they
// are this binary re-executed).
var tierpackBin string

func TestMain(m *testing.M) {
	os.Exit(testbin.Run(m,
		testbin.Build{Pkg: ".", Name: "tierpack", Dst: &tierpackBin},
		testbin.Build{Pkg: "../../pkg/plugin/testdata/testplugin", Name: "testplugin", Dst: &testPluginBin},
	))
}

// testPluginBin is pkg/plugin's misbehaving test plugin: named
// tierpack-plugin-<mode>, it behaves as that mode.
var testPluginBin string

func examplesDir(t testing.TB) string {
	d, err := filepath.Abs("../../examples")
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestScripts runs the testscript files in testdata/script against the real
// binary, a real Distribution registry (REGISTRY) and one that requires
// basic auth (AUTH_REGISTRY, user "alice", password "s3cret").
func TestScripts(t *testing.T) {
	reg := registrytest.New(t)
	authReg := registrytest.New(t, registrytest.WithBasicAuth("alice", "s3cret"))
	examples := examplesDir(t)
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(env *testscript.Env) error {
			env.Setenv("PATH", filepath.Dir(tierpackBin)+string(os.PathListSeparator)+env.Getenv("PATH"))
			env.Setenv("REGISTRY", reg.Host)
			env.Setenv("AUTH_REGISTRY", authReg.Host)
			env.Setenv("EXAMPLES", examples)
			env.Setenv("TIERPACK_HOME", filepath.Join(env.WorkDir, ".tierpack"))
			env.Setenv("DOCKER_CONFIG", filepath.Join(env.WorkDir, ".docker"))
			env.Setenv("HOME", env.WorkDir)
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exitcode": cmdExitCode,
		},
		RequireExplicitExec: true,
	})
}

// cmdExitCode runs a command and checks its exit status:
//
//	exitcode N command args...
//
// Its stdout and stderr are kept for the following stdout/stderr checks.
func cmdExitCode(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exitcode N command args...")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("exitcode: %v", err)
	}
	err = ts.Exec(args[1], args[2:]...)
	got := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		got = ee.ExitCode()
	case err != nil:
		ts.Fatalf("exitcode: %v", err)
	}
	if got != want {
		ts.Fatalf("%s exited %d, want %d", strings.Join(args[1:], " "), got, want)
	}
}
