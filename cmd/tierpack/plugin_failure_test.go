package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tierpack/tierpack/internal/registrytest"
	"github.com/tierpack/tierpack/sdk/host"
)

// buildTestPlugin installs the test plugin (built once by TestMain) as
// tierpack-plugin-<mode> for each mode, in a fresh plugin directory.
func buildTestPlugin(t *testing.T, modes ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, m := range modes {
		if err := os.Link(testPluginBin, filepath.Join(dir, "tierpack-plugin-"+m)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func contributionOfType(t *testing.T, typ string) string {
	t.Helper()
	dir := t.TempDir()
	manifest := "name: c\nversion: 0.1.0\ntype: " + typ + "\ntier: contrib\n"
	if err := os.WriteFile(filepath.Join(dir, "tierpack.yaml"), []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestCLIPluginFailures: each plugin failure ends the command with exit
// code 7, an explanation, and no plugin process left behind.
func TestCLIPluginFailures(t *testing.T) {
	plugins := buildTestPlugin(t, "crash", "hang", "stdout", "v2", "notplugin")
	for _, tc := range []struct {
		mode string
		args []string
		want string
	}{
		{"crash", nil, "exited during Validate(.|\n)*run with --log-level debug"},
		{"hang", []string{"--plugin-timeout", "1s"}, "did not finish Validate within 1s and was stopped(.|\n)*raise --plugin-timeout"},
		{"stdout", nil, "to stdout before its handshake"},
		{"v2", nil, "speaks tierpack plugin protocol 2, but this tierpack speaks 1"},
		{"notplugin", nil, "is not a tierpack plugin"},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			pids := t.TempDir()
			args := append(tc.args, "validate", contributionOfType(t, tc.mode))
			cmd := exec.Command(tierpackBin, args...)
			cmd.Env = append(os.Environ(), "TIERPACK_PLUGINS_DIR="+plugins, "TIERPACK_TEST_PIDDIR="+pids, "TIERPACK_HOME="+t.TempDir(),
				// Failure handling, not confinement: the plugin records its pid
				// in the test's folder.
				"TIERPACK_PLUGIN_ENV=TIERPACK_TEST_PIDDIR", "TIERPACK_PLUGIN_SANDBOX=off")
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != exitPlugin {
				t.Fatalf("exit: %v, want %d\n%s", err, exitPlugin, stderr.String())
			}
			if !regexp.MustCompile(tc.want).MatchString(stderr.String()) {
				t.Errorf("stderr does not say %q:\n%s", tc.want, stderr.String())
			}
			assertGone(t, readPid(t, filepath.Join(pids, tc.mode+".pid")))
		})
	}
}

// TestCLIInterruptStopsPlugins: Ctrl-C (SIGINT) while a plugin works ends
// tierpack with exit code 130 and stops the plugin.
func TestCLIInterruptStopsPlugins(t *testing.T) {
	plugins := buildTestPlugin(t, "hang")
	pids := t.TempDir()
	cmd := exec.Command(tierpackBin, "validate", contributionOfType(t, "hang"))
	cmd.Env = append(os.Environ(), "TIERPACK_PLUGINS_DIR="+plugins, "TIERPACK_TEST_PIDDIR="+pids, "TIERPACK_HOME="+t.TempDir(),
		// Failure handling, not confinement: the plugin records its pid
		// in the test's folder.
		"TIERPACK_PLUGIN_ENV=TIERPACK_TEST_PIDDIR", "TIERPACK_PLUGIN_SANDBOX=off")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait (bounded) until the plugin has started: its pid file appears
	// when its main runs. Polling is the only way to observe another
	// process's progress here.
	pidFile := filepath.Join(pids, "hang.pid")
	deadline := time.Now().Add(20 * time.Second)
	for {
		if b, err := os.ReadFile(pidFile); err == nil && len(bytes.TrimSpace(b)) > 0 {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("the plugin never started\n%s", stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The signal may land while the host is still starting the plugin or
	// already inside Validate: either way the outcome must be the same.
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitInterrupted {
		t.Fatalf("exit after SIGINT: %v, want %d\n%s", err, exitInterrupted, stderr.String())
	}
	if !strings.Contains(stderr.String(), "interrupted") {
		t.Errorf("stderr: %s", stderr.String())
	}
	assertGone(t, readPid(t, pidFile))
}

func readPid(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("plugin pid file: %v", err)
	}
	lines := strings.Fields(string(b))
	pid, err := strconv.Atoi(lines[len(lines)-1])
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

// assertGone checks that pid no longer runs. tierpack has exited, so the
// plugin (its child) is reparented and reaped by init; allow a bounded
// moment for that.
func assertGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := syscall.Kill(pid, 0)
		if errors.Is(err, syscall.ESRCH) {
			return
		}
		if st, rerr := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat"); rerr == nil {
			if f := strings.Fields(string(st)); len(f) > 2 && f[2] == "Z" {
				return // a zombie: dead, only not yet reaped
			}
		}
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("plugin process %d is still running after tierpack exited", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Push refuses, with exit 7, a manifest its plugin made too large for any
// pull to read (a 31 MB annotation), and pushes nothing.
func TestPushRefusesUnpullableManifest(t *testing.T) {
	reg := registrytest.New(t)
	p := newTP(t)
	env := []string{"TIERPACK_PLUGINS_DIR=" + buildTestPlugin(t, "bigmanifest")}
	ref := reg.Host + "/hostile/big:0.1.0"
	_, errs, code := p.runEnv(env, "push", contributionOfType(t, "bigmanifest"), ref)
	if code != exitPlugin || !strings.Contains(errs, "more than the 4194304 a pull reads") {
		t.Fatalf("push: exit %d, want %d\n%s", code, exitPlugin, errs)
	}
	if _, err := remoteRepo(t, reg, "hostile/big").Resolve(context.Background(), "0.1.0"); err == nil {
		t.Error("the manifest was pushed")
	}
}

// A pull of a small script starts one process: tierpack extracts the
// standard archive layers of its built-in types itself, so no plugin is
// started and no plugin code sees the bytes. (Validate, for contrast,
// starts the script plugin: the debug log says so.)
func TestScriptPullStartsNoPlugin(t *testing.T) {
	p := newTP(t)
	writeContribution(t, p.path("c"), "contrib", "", false)
	_, errs, code := p.run("validate", p.path("c"), "--log-level", "debug")
	if code != 0 || strings.Count(errs, "plugin started") != 1 {
		t.Fatalf("validate starts the script plugin once: exit %d\n%s", code, errs)
	}
	p.ok("push", p.path("c"), "gov-demo")
	_, errs, code = p.run("pull", "gov-demo:1.0.0", "-o", p.path("out"), "--log-level", "debug")
	if code != 0 || strings.Contains(errs, "plugin started") {
		t.Fatalf("pull of a script: exit %d, want no plugin started\n%s", code, errs)
	}
	if _, err := os.Stat(p.path("out/README.md")); err != nil {
		t.Fatal(err)
	}
}

// Where plugins cannot be confined (here: the sandbox turned off, as on a
// kernel without Landlock), --require-sandbox refuses third-party plugins
// with exit 7 and runs the built-ins, which are tierpack's own code.
func TestRequireSandboxRefusesUnconfinedPlugins(t *testing.T) {
	p := newTP(t)
	env := []string{"TIERPACK_PLUGINS_DIR=" + buildTestPlugin(t, "good"), "TIERPACK_PLUGIN_SANDBOX=off"}
	_, errs, code := p.runEnv(env, "--require-sandbox", "validate", contributionOfType(t, "good"))
	if code != exitPlugin || !strings.Contains(errs, "plugin sandbox unavailable") || !strings.Contains(errs, "must be confined") {
		t.Fatalf("a third-party plugin, unconfined, sandbox required: exit %d\n%s", code, errs)
	}
	writeContribution(t, p.path("c"), "contrib", "", false)
	if _, errs, code := p.runEnv(env, "--require-sandbox", "validate", p.path("c")); code != 0 {
		t.Fatalf("a built-in plugin: exit %d\n%s", code, errs)
	}
	// The policy says it too.
	if err := os.WriteFile(filepath.Join(p.home, "policy.yaml"), []byte("requireSandbox: true\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, errs, code := p.runEnv(env, "validate", contributionOfType(t, "good")); code != exitPlugin {
		t.Fatalf("requireSandbox in the policy: exit %d\n%s", code, errs)
	}
	if _, _, ok := host.SandboxStatus(); ok {
		if _, errs, code := p.runEnv(env[:1], "validate", contributionOfType(t, "good")); code != 0 && code != exitInvalid {
			t.Fatalf("confined, as required: exit %d\n%s", code, errs)
		}
	}
}
