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
	"github.com/tierpack/tierpack/pkg/sign"
	"github.com/tierpack/tierpack/pkg/tierpack"
)

// The exit codes the tests expect, as `tierpack --help` documents them.
const (
	exitUsage       = int(tierpack.CodeUsage)
	exitInvalid     = int(tierpack.CodeInvalid)
	exitTierRefused = int(tierpack.CodeTierRefused)
	exitPlugin      = int(tierpack.CodePlugin)
	exitRefused     = int(tierpack.CodeRefusedContent)
	exitInterrupted = int(tierpack.CodeInterrupted)
)

// tierpackBin is the real tierpack binary, built once by TestMain: the
// end-to-end tests run it as a user would, built-in plugins included (they
// are this binary re-executed).
var tierpackBin string

func TestMain(m *testing.M) {
	os.Exit(func() int {
		dir, err := os.MkdirTemp("", "tierpack-ci-key-")
		if err != nil {
			panic(err)
		}
		defer os.RemoveAll(dir)
		priv, pub, err := sign.GenerateKeyPair([]byte(testPassword))
		if err != nil {
			panic(err)
		}
		ciKey, ciPub = filepath.Join(dir, "ci.key"), filepath.Join(dir, "ci.pub")
		if os.WriteFile(ciKey, priv, 0o600) != nil || os.WriteFile(ciPub, pub, 0o644) != nil {
			panic("writing the CI key")
		}
		return testbin.Run(m,
			testbin.Build{Pkg: ".", Name: "tierpack", Dst: &tierpackBin},
			// Beside tierpack, where it looks for its companion plugins.
			testbin.Build{Pkg: "../tierpack-plugin-chart", Name: "tierpack-plugin-chart", Dst: &chartPluginBin},
			testbin.Build{Pkg: "../../sdk/plugintest/testdata/testplugin", Name: "testplugin", Dst: &testPluginBin},
		)
	}())
}

// chartPluginBin is the chart plugin, built beside tierpackBin.
var chartPluginBin string

// testPassword encrypts the tests' private keys.
const testPassword = "test-password"

// ciKey signs repository-tier pushes in the Go tests (through
// $TIERPACK_SIGNING_KEY), as a project's CI key would; ciPub is trusted in
// every test home (trusted-keys/ci.pub), as by a user who trusts the
// project's releases.
var ciKey, ciPub string

// testEnv is the environment the Go tests run tierpack in: home, Docker
// config, the CI key and its password.
func testEnv(t testing.TB, home string) []string {
	t.Helper()
	trusted := filepath.Join(home, "trusted-keys")
	if err := os.MkdirAll(trusted, 0o755); err != nil {
		t.Fatal(err)
	}
	pub, err := os.ReadFile(ciPub)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(trusted, "ci.pub"), pub, 0o644); err != nil {
		t.Fatal(err)
	}
	return append(os.Environ(), "TIERPACK_HOME="+home, "DOCKER_CONFIG="+filepath.Join(home, "docker"),
		"COSIGN_PASSWORD="+testPassword, "TIERPACK_SIGNING_KEY="+ciKey)
}

// testPluginBin is sdk/plugintest's misbehaving test plugin: named
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
// binary, a real Distribution registry (REGISTRY), one that requires
// basic auth (AUTH_REGISTRY, user "alice", password "s3cret"), one that
// speaks TLS with a certificate from a CA generated here and requires the
// same basic auth (TLS_REGISTRY, its CA in CA_FILE), and one that requires
// mutual TLS (MTLS_REGISTRY, its CA in MTLS_CA_FILE, a client certificate
// in CLIENT_CERT and CLIENT_KEY).
func TestScripts(t *testing.T) {
	reg := registrytest.New(t)
	authReg := registrytest.New(t, registrytest.WithBasicAuth("alice", "s3cret"))
	tlsReg := registrytest.New(t, registrytest.WithTLS(), registrytest.WithBasicAuth("alice", "s3cret"))
	mtlsReg := registrytest.New(t, registrytest.WithMutualTLS())
	examples := examplesDir(t)
	// The project's CI key (password x) signs repository-tier pushes: every
	// script has it as $CI_KEY and trusts its public half, as a user who
	// trusts the project's releases does.
	ciPriv, ciPub, err := sign.GenerateKeyPair([]byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(env *testscript.Env) error {
			trusted := filepath.Join(env.WorkDir, ".tierpack", "trusted-keys")
			if err := os.MkdirAll(trusted, 0o755); err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(trusted, "ci.pub"), ciPub, 0o644); err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(env.WorkDir, "ci.key"), ciPriv, 0o600); err != nil {
				return err
			}
			env.Setenv("CI_KEY", filepath.Join(env.WorkDir, "ci.key"))
			env.Setenv("COSIGN_PASSWORD", "x")
			env.Setenv("PATH", filepath.Dir(tierpackBin)+string(os.PathListSeparator)+env.Getenv("PATH"))
			env.Setenv("REGISTRY", reg.Host)
			env.Setenv("AUTH_REGISTRY", authReg.Host)
			env.Setenv("TLS_REGISTRY", tlsReg.Host)
			env.Setenv("CA_FILE", tlsReg.CAFile)
			env.Setenv("MTLS_REGISTRY", mtlsReg.Host)
			env.Setenv("MTLS_CA_FILE", mtlsReg.CAFile)
			env.Setenv("CLIENT_CERT", mtlsReg.ClientCertFile)
			env.Setenv("CLIENT_KEY", mtlsReg.ClientKeyFile)
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
