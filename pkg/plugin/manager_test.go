//go:build unix

package plugin

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tierpack/tierpack/internal/testbin"
	"github.com/tierpack/tierpack/sdk"
	"github.com/tierpack/tierpack/sdk/host"
)

// Environment variables read by testdata/testplugin.
const (
	pidDirEnv        = "TIERPACK_TEST_PIDDIR"
	grandchildPIDEnv = "TIERPACK_TEST_GRANDCHILD_PIDFILE"
)

// Timeouts the tests give their Managers. A case that waits for a timeout
// to fire sets a short one; the others are generous, so that a slow, loaded
// machine does not make them fail (they cost nothing when all goes well).
const (
	testStartTimeout = 10 * time.Second
	testCallTimeout  = 10 * time.Second
	shortTimeout     = time.Second
)

// testPlugin is the test plugin binary built by TestMain.
var testPlugin string

func TestMain(m *testing.M) {
	os.Exit(testbin.Run(m, testbin.Build{Pkg: "../../sdk/plugintest/testdata/testplugin", Name: "testplugin", Dst: &testPlugin}))
}

// env prepares one test: it points the test plugin's pid files at a fresh
// directory (returned), makes sure no debug setting of the developer's
// reaches the Manager or the plugins, and, should the test fail half-way,
// kills whatever the plugins recorded so that a failure leaves nothing
// running either. It sets environment variables, so the test calling it
// must not be parallel (its subtests may be).
func env(t *testing.T) (pidDir string) {
	t.Helper()
	pidDir = t.TempDir()
	t.Setenv(pidDirEnv, pidDir)
	t.Setenv(grandchildPIDEnv, filepath.Join(pidDir, "grandchild.pid"))
	t.Setenv(sdk.DebugEnv, "")
	t.Setenv(sdk.ReattachEnv, "")
	t.Cleanup(func() {
		if t.Failed() {
			killRecorded(pidDir)
		}
	})
	return pidDir
}

// killRecorded kills every process whose pid is recorded in pidDir.
func killRecorded(pidDir string) {
	files, _ := filepath.Glob(filepath.Join(pidDir, "*.pid"))
	for _, f := range files {
		b, _ := os.ReadFile(f)
		for _, field := range strings.Fields(string(b)) {
			if pid, err := strconv.Atoi(field); err == nil && pid > 1 {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
}

// within runs fn and fails the test if it has not returned after d. A
// Manager that hangs — say, waiting for a pipe a leftover process holds —
// should fail the test, not stall it until the leftover exits: so the
// processes recorded in pidDir are killed then, which lets fn return.
func within(t *testing.T, d time.Duration, pidDir string, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); fn() }()
	select {
	case <-done:
	case <-time.After(d):
		killRecorded(pidDir)
		<-done
		t.Fatalf("still running after %v (the processes it waited for have now been killed)", d)
	}
}

// pluginDir returns a new directory holding the test plugin as
// tierpack-plugin-<mode> for each mode.
func pluginDir(t *testing.T, modes ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, mode := range modes {
		dst := filepath.Join(dir, host.BinaryPrefix+mode)
		if err := os.Link(testPlugin, dst); err != nil {
			copyFile(t, testPlugin, dst) // e.g. the temp dirs are on different file systems
		}
	}
	return dir
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o755); err != nil {
		t.Fatal(err)
	}
}

func newManager(t *testing.T, opts Options) *Manager {
	t.Helper()
	if opts.StartTimeout == 0 {
		opts.StartTimeout = testStartTimeout
	}
	if opts.CallTimeout == 0 {
		opts.CallTimeout = testCallTimeout
	}
	// The test plugin records its pids in the test's folder (env): it gets
	// the variables and the right to write there, and nothing else.
	if dir := os.Getenv(pidDirEnv); dir != "" {
		opts.Env = append(opts.Env, pidDirEnv+"="+dir, grandchildPIDEnv+"="+os.Getenv(grandchildPIDEnv))
		opts.Grant.Write = append(opts.Grant.Write, dir)
	}
	m, err := NewManager(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close) // Close is idempotent; tests close explicitly too
	return m
}

// readPIDs returns the pids in a pid file, one per line; none if the file
// does not exist.
func readPIDs(t *testing.T, path string) []int {
	t.Helper()
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, f := range strings.Fields(string(b)) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		pids = append(pids, pid)
	}
	return pids
}

// grandchildren returns the pids of the processes that plugins of the given
// mode recorded in the grandchild pid file (lines "<mode> <pid>").
func grandchildren(t *testing.T, pidDir, mode string) []int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(pidDir, "grandchild.pid"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	var pids []int
	for line := range strings.Lines(string(b)) {
		m, p, ok := strings.Cut(strings.TrimSpace(line), " ")
		if !ok {
			t.Fatalf("grandchild.pid: bad line %q", line)
		}
		if m != mode {
			continue
		}
		pid, err := strconv.Atoi(p)
		if err != nil {
			t.Fatalf("grandchild.pid: %v", err)
		}
		pids = append(pids, pid)
	}
	return pids
}

// onePID returns the pid in a pid file that must hold exactly one.
func onePID(t *testing.T, path string) int {
	t.Helper()
	pids := readPIDs(t, path)
	if len(pids) != 1 {
		t.Fatalf("%s holds pids %v, want exactly one (the process did not start, or started more than once)", path, pids)
	}
	return pids[0]
}

// processState says whether pid is gone: it does not exist, or it is a zombie
// (dead, only waiting for its parent — perhaps an init that never reaps — to
// collect its exit status). Otherwise it returns the state letter from
// /proc/<pid>/stat (or "?" without /proc).
func processState(pid int) (gone bool, state string) {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return true, ""
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if errors.Is(err, os.ErrNotExist) {
		return true, "" // exited between the two checks
	}
	if err != nil {
		return false, "?"
	}
	// The state follows the command name, which is in parentheses and may
	// itself contain ") ".
	s := string(b)
	if i := strings.LastIndex(s, ") "); i >= 0 && i+2 < len(s) {
		state = s[i+2 : i+3]
	}
	return state == "Z", state
}

// assertExited checks that pid is gone now. It is for plugin processes: the
// Manager waits for those to exit (go-plugin reaps them) before Get, a
// method or Close returns, so there is nothing to wait for.
func assertExited(t *testing.T, pid int, what string) {
	t.Helper()
	if gone, state := processState(pid); !gone {
		t.Errorf("%s (pid %d) is still running (state %s)", what, pid, state)
	}
}

// assertGoneSoon checks that pid disappears within a few seconds. It is for
// a plugin's children: the Manager kills their process group with SIGKILL,
// but a signal to another process is delivered asynchronously and they are
// not our children, so we cannot wait(2) for them — the only way to see
// them die is to look, for a bounded time.
func assertGoneSoon(t *testing.T, pid int, what string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		gone, state := processState(pid)
		if gone {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("%s (pid %d) is still running 5s after its plugin was stopped (state %s)", what, pid, state)
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func assertContains(t *testing.T, err error, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error does not mention %q:\n%v", p, err)
		}
	}
}

func validateReq(dir string) sdk.ValidateRequest {
	return sdk.ValidateRequest{Dir: dir, Contribution: sdk.Contribution{Name: "demo", Version: "1.0.0", Type: "good"}}
}

// TestFailureModes starts a misbehaving plugin for each failure mode and
// checks that the caller gets the right sentinel error with a message that
// names the plugin and says what to do, and that no process is left behind:
// not the plugin, not a process it started.
//
// The cases run in parallel, most of their time being spent waiting for a
// timeout; they share one pid directory, each recording under its own mode.
func TestFailureModes(t *testing.T) {
	pidDir := env(t)
	tests := []struct {
		mode string
		// atGet: the failure shows at start (Get), not in Validate.
		atGet bool
		want  error
		// contains are parts of the message that make it useful.
		contains []string
		// grandchild: the plugin starts a process of its own, which must
		// be gone too.
		grandchild bool
		// startTimeout and callTimeout, if set, replace the defaults.
		startTimeout, callTimeout time.Duration
		// maxDuration bounds how long the failing call may take.
		maxDuration time.Duration
	}{
		{
			mode: "crash", want: host.ErrCrashed,
			contains: []string{"exited during Validate", "its last output on stderr was", "about to crash"},
		},
		{
			mode: "panic", want: host.ErrCrashed,
			contains: []string{"exited during Validate", "panic: test plugin panics in Validate"},
		},
		{
			mode: "hang", want: host.ErrTimeout, callTimeout: shortTimeout,
			contains:    []string{"did not finish Validate within 1s and was stopped"},
			maxDuration: shortTimeout + 3*time.Second,
		},
		{
			// What the plugin wrote to os.Stderr and with sdk.Logger before
			// it hung is in the message. Those lines reach the host
			// asynchronously (see TestCrashLoggerReachesHost): 3s for them.
			mode: "hang-logger", want: host.ErrTimeout, callTimeout: 3 * time.Second,
			contains:    []string{"did not finish Validate within 3s and was stopped", "[warn] still reading big.iso", "plain line on os.Stderr"},
			maxDuration: 6 * time.Second,
		},
		{
			mode: "hangstart", atGet: true, want: host.ErrTimeout, startTimeout: shortTimeout,
			contains:    []string{"did not complete its handshake within the start timeout (", "was stopped"},
			maxDuration: shortTimeout + 3*time.Second,
		},
		{
			// It started a process, which holds the plugin's stderr open,
			// before it hung: the failed start stops that too.
			mode: "spawnstart", atGet: true, want: host.ErrTimeout, grandchild: true, startTimeout: shortTimeout,
			contains:    []string{"did not complete its handshake within the start timeout (1s) and was stopped"},
			maxDuration: shortTimeout + 3*time.Second,
		},
		{
			// The start timeout bounds the handshake and Describe alike: 3s
			// so that the handshake itself surely fits.
			mode: "hangdescribe", atGet: true, want: host.ErrTimeout, startTimeout: 3 * time.Second,
			contains:    []string{"did not finish Describe within 3s and was stopped"},
			maxDuration: 6 * time.Second,
		},
		{
			mode: "stdout", atGet: true, want: host.ErrHandshake,
			contains: []string{`wrote "hello from a careless plugin" to stdout before its handshake`, "sdk.Logger", "sdk.Serve"},
		},
		{
			mode: "v2", atGet: true, want: host.ErrProtocol,
			contains: []string{"speaks tierpack plugin protocol 2", "this tierpack speaks 1"},
		},
		{
			mode: "notplugin", atGet: true, want: host.ErrHandshake,
			contains: []string{"is not a tierpack plugin", "without the go-plugin handshake", "usage: tierpack-plugin-notplugin", "sdk.Serve"},
		},
		{
			mode: "wrongtype", atGet: true, want: host.ErrHandshake,
			contains: []string{`describes itself as type "something-else"`, `not "wrongtype"`, "rename the binary tierpack-plugin-something-else"},
		},
		{
			mode: "spawner", want: host.ErrTimeout, grandchild: true, callTimeout: shortTimeout,
			contains:    []string{"did not finish Validate within 1s and was stopped"},
			maxDuration: shortTimeout + 3*time.Second,
		},
		{
			// The grandchild holds the plugin's stderr open, which
			// go-plugin waits for; the timeout must still end promptly.
			mode: "spawner-stderr", want: host.ErrTimeout, grandchild: true, callTimeout: shortTimeout,
			contains:    []string{"did not finish Validate within 1s and was stopped"},
			maxDuration: shortTimeout + 3*time.Second,
		},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			t.Parallel()
			dir := pluginDir(t, tt.mode)
			m := newManager(t, Options{Dirs: []string{dir}, StartTimeout: tt.startTimeout, CallTimeout: tt.callTimeout})
			ctx := context.Background()

			if tt.maxDuration == 0 {
				tt.maxDuration = 10 * time.Second // time to start the plugin
			}
			var (
				p    *Plugin
				err  error
				took time.Duration
			)
			contribution := t.TempDir()
			within(t, testStartTimeout+tt.maxDuration, pidDir, func() {
				began := time.Now()
				p, err = m.Get(ctx, tt.mode)
				if tt.atGet || err != nil {
					took = time.Since(began)
					return
				}
				began = time.Now()
				_, err = p.Validate(ctx, validateReq(contribution))
				took = time.Since(began)
			})
			if tt.atGet && err == nil {
				t.Fatalf("Get succeeded; want %v", tt.want)
			}
			if !tt.atGet && p == nil {
				t.Fatalf("Get: %v", err)
			}
			if err == nil {
				t.Fatalf("Validate succeeded; want %v", tt.want)
			}
			t.Logf("error after %v:\n%v", took.Round(time.Millisecond), err)
			if !errors.Is(err, tt.want) {
				t.Errorf("error is not %v:\n%v", tt.want, err)
			}
			// Only a call past its timeout says the call timeout stopped it.
			var cte *host.CallTimeoutError
			if errors.As(err, &cte) != (tt.want == host.ErrTimeout && !tt.atGet) {
				t.Errorf("errors.As(CallTimeoutError) = %v for mode %s", !(tt.want == host.ErrTimeout && !tt.atGet), tt.mode)
			}
			// Every message names the plugin and where it is.
			assertContains(t, err, fmt.Sprintf("%q", tt.mode), filepath.Join(dir, host.BinaryPrefix+tt.mode))
			assertContains(t, err, tt.contains...)
			if took > tt.maxDuration {
				t.Errorf("the failing call took %v, want at most %v", took, tt.maxDuration)
			}

			pid := onePID(t, filepath.Join(pidDir, tt.mode+".pid"))
			var child int
			if tt.grandchild {
				pids := grandchildren(t, pidDir, tt.mode)
				if len(pids) != 1 {
					t.Fatalf("the plugin recorded children %v, want one", pids)
				}
				child = pids[0]
			}
			// The plugin is already stopped: it failed.
			assertExited(t, pid, "plugin")
			within(t, 10*time.Second, pidDir, m.Close)
			assertExited(t, pid, "plugin")
			if tt.grandchild {
				assertGoneSoon(t, child, "the plugin's child")
			}
		})
	}
}

// TestNotFound checks that asking for a type nothing provides names the type,
// the directories searched and the types available.
func TestNotFound(t *testing.T) {
	env(t)
	dir := pluginDir(t, "good")
	missing := filepath.Join(t.TempDir(), "missing") // absent directories are skipped
	m := newManager(t, Options{Dirs: []string{dir, missing}})
	_, err := m.Get(context.Background(), "nosuch")
	if err == nil {
		t.Fatal("Get succeeded")
	}
	t.Logf("error:\n%v", err)
	if !errors.Is(err, host.ErrNotFound) {
		t.Errorf("error is not host.ErrNotFound: %v", err)
	}
	assertContains(t, err, `"nosuch"`, "tierpack-plugin-nosuch", dir, missing, "available types: good")
	var tnf *TypeNotFoundError
	if !errors.As(err, &tnf) || tnf.Type != "nosuch" {
		t.Errorf("error is not a TypeNotFoundError for nosuch: %v", err)
	}

	// And without any directory configured.
	m2 := newManager(t, Options{})
	_, err = m2.Get(context.Background(), "nosuch")
	t.Logf("error without directories:\n%v", err)
	if !errors.Is(err, host.ErrNotFound) {
		t.Errorf("error is not host.ErrNotFound: %v", err)
	}
	assertContains(t, err, `"nosuch"`, "no plugin directories are configured")
}

// TestGood checks the happy path: Describe is cached, Validate returns the
// plugin's diagnostics and Package writes into the staging directory.
func TestGood(t *testing.T) {
	pidDir := env(t)
	dir := pluginDir(t, "good")
	m := newManager(t, Options{Dirs: []string{dir}})
	ctx := context.Background()
	contribution, staging := t.TempDir(), t.TempDir()
	p, err := m.GetFor(ctx, "good", Access{Read: []string{contribution}, Write: []string{staging}})
	if err != nil {
		t.Fatal(err)
	}
	pid := onePID(t, filepath.Join(pidDir, "good.pid"))
	if p.Pid() != pid {
		t.Errorf("Pid() = %d, the plugin says it is %d", p.Pid(), pid)
	}
	want := Source{Type: "good", Path: filepath.Join(dir, host.BinaryPrefix+"good")}
	if !reflect.DeepEqual(p.Source, want) {
		t.Errorf("Source = %+v, want %+v", p.Source, want)
	}
	d := p.Describe()
	if d.Type != "good" || d.SDKVersion != sdk.Version || d.Description != "test plugin in mode good" {
		t.Errorf("Describe() = %+v", d)
	}

	diags, err := p.Validate(ctx, validateReq(contribution))
	if err != nil {
		t.Fatalf("Validate: %v", err)
	}
	wantDiags := []sdk.Diagnostic{{Severity: sdk.SeverityWarning, File: "README.md", Message: "no README in demo"}}
	if !reflect.DeepEqual(diags, wantDiags) {
		t.Errorf("Validate diagnostics = %+v, want %+v", diags, wantDiags)
	}

	res, err := p.Package(ctx, sdk.PackageRequest{Dir: contribution, Contribution: sdk.Contribution{Name: "demo"}, StagingDir: staging})
	if err != nil {
		t.Fatalf("Package: %v", err)
	}
	if len(res.Manifests) != 1 || len(res.Manifests[0].Layers) != 1 || res.Manifests[0].Layers[0].Path != "layer.txt" {
		t.Fatalf("Package result = %+v", res)
	}
	b, err := os.ReadFile(filepath.Join(staging, "layer.txt"))
	if err != nil || string(b) != "packaged demo\n" {
		t.Errorf("staging/layer.txt = %q, %v", b, err)
	}

	m.Close()
	assertExited(t, pid, "plugin")
	if _, err := m.Get(ctx, "good"); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("Get after Close = %v, want an error saying the manager is closed", err)
	}
}

// TestPluginError checks that an error the plugin returns from its method is
// passed on as the plugin's own error — not as a crash — and leaves the
// plugin running.
func TestPluginError(t *testing.T) {
	pidDir := env(t)
	dir := pluginDir(t, "fail")
	m := newManager(t, Options{Dirs: []string{dir}})
	ctx := context.Background()
	p, err := m.Get(ctx, "fail")
	if err != nil {
		t.Fatal(err)
	}
	for range 2 { // and the plugin still answers afterwards
		_, err = p.Validate(ctx, validateReq("/some/dir"))
		t.Logf("error:\n%v", err)
		for _, sentinel := range []error{host.ErrCrashed, host.ErrTimeout, host.ErrHandshake, host.ErrProtocol, host.ErrNotFound} {
			if errors.Is(err, sentinel) {
				t.Errorf("a plugin's own error is %v: %v", sentinel, err)
			}
		}
		assertContains(t, err, `plugin "fail"`, "Validate", "cannot read /some/dir: the test plugin fails on purpose")
	}
	pid := onePID(t, filepath.Join(pidDir, "fail.pid"))
	if gone, _ := processState(pid); gone {
		t.Error("the plugin was stopped after returning an error")
	}
	m.Close()
	assertExited(t, pid, "plugin")
}

// TestGetStartsOnce checks that Get returns the same *Plugin every time, also
// when called concurrently, and starts one process.
func TestGetStartsOnce(t *testing.T) {
	pidDir := env(t)
	m := newManager(t, Options{Dirs: []string{pluginDir(t, "good")}})
	ctx := context.Background()

	const n = 8
	got := make([]*Plugin, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { got[i], errs[i] = m.Get(ctx, "good") })
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("Get: %v", errs[i])
		}
		if got[i] != got[0] {
			t.Fatalf("Get returned different plugins")
		}
	}
	again, err := m.Get(ctx, "good")
	if err != nil || again != got[0] {
		t.Fatalf("a later Get returned %p, %v; want %p", again, err, got[0])
	}
	pid := onePID(t, filepath.Join(pidDir, "good.pid")) // fails if started twice
	if got[0].Pid() != pid {
		t.Errorf("Pid() = %d, the plugin says it is %d", got[0].Pid(), pid)
	}
	m.Close()
	assertExited(t, pid, "plugin")
}

// TestCloseStopsEverything checks that Close stops every plugin it started,
// and the processes those plugins left running — also when such a process
// holds the plugin's stderr open, which go-plugin waits for.
func TestCloseStopsEverything(t *testing.T) {
	pidDir := env(t)
	modes := []string{"good", "daemon", "daemon-stderr"}
	m := newManager(t, Options{Dirs: []string{pluginDir(t, modes...)}})
	ctx := context.Background()
	for _, mode := range modes {
		p, err := m.Get(ctx, mode)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.Validate(ctx, validateReq(t.TempDir())); err != nil {
			t.Fatal(err)
		}
	}
	children := append(grandchildren(t, pidDir, "daemon"), grandchildren(t, pidDir, "daemon-stderr")...)
	if len(children) != 2 {
		t.Fatalf("the daemon plugins recorded children %v, want two", children)
	}

	began := time.Now()
	within(t, host.StopGrace+5*time.Second, pidDir, m.Close)
	t.Logf("Close took %v", time.Since(began).Round(time.Millisecond))
	for _, mode := range modes {
		assertExited(t, onePID(t, filepath.Join(pidDir, mode+".pid")), mode+" plugin")
	}
	for _, pid := range children {
		assertGoneSoon(t, pid, "a plugin's child")
	}
}

// TestBuiltins checks that built-in types are served by Self with the hidden
// argument, and that a third-party binary for a built-in type, or for a type
// an earlier directory already has, is listed as shadowed and never run.
func TestBuiltins(t *testing.T) {
	pidDir := env(t)
	first := pluginDir(t, "good", "fail")
	second := pluginDir(t, "fail", "crash")
	m := newManager(t, Options{Self: testPlugin, Builtins: []string{"good"}, Dirs: []string{first, second}})

	srcs, err := m.Sources()
	if err != nil {
		t.Fatal(err)
	}
	want := []Source{
		{Type: "crash", Path: filepath.Join(second, host.BinaryPrefix+"crash")},
		{Type: "fail", Path: filepath.Join(first, host.BinaryPrefix+"fail"), Shadowed: []string{filepath.Join(second, host.BinaryPrefix+"fail")}},
		{Type: "good", Path: testPlugin, Args: []string{BuiltinArg, "good"}, Builtin: true, Shadowed: []string{filepath.Join(first, host.BinaryPrefix+"good")}},
	}
	if !reflect.DeepEqual(srcs, want) {
		t.Errorf("Sources() =\n%+v\nwant\n%+v", srcs, want)
	}

	ctx := context.Background()
	p, err := m.Get(ctx, "good")
	if err != nil {
		t.Fatal(err)
	}
	if !p.Source.Builtin || p.Source.Path != testPlugin {
		t.Errorf("Source = %+v, want the built-in", p.Source)
	}
	// The test plugin says so when it is started with the hidden argument.
	if d := p.Describe().Description; d != "test plugin in mode good (built-in)" {
		t.Errorf("Describe().Description = %q: the shadowed binary ran, not the built-in", d)
	}
	if _, err := p.Validate(ctx, validateReq(t.TempDir())); err != nil {
		t.Errorf("Validate: %v", err)
	}
	pid := onePID(t, filepath.Join(pidDir, "good.pid"))
	m.Close()
	assertExited(t, pid, "built-in plugin")
}

// TestBuiltinCrashNamesBuiltin checks how a failing built-in is named: by
// type, without the path of the tierpack binary.
func TestBuiltinCrashNamesBuiltin(t *testing.T) {
	pidDir := env(t)
	m := newManager(t, Options{Self: testPlugin, Builtins: []string{"crash"}})
	ctx := context.Background()
	p, err := m.Get(ctx, "crash")
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Validate(ctx, validateReq(t.TempDir()))
	t.Logf("error:\n%v", err)
	if !errors.Is(err, host.ErrCrashed) {
		t.Errorf("error is not host.ErrCrashed: %v", err)
	}
	assertContains(t, err, `built-in plugin "crash" exited during Validate`, "about to crash")
	m.Close()
	assertExited(t, onePID(t, filepath.Join(pidDir, "crash.pid")), "built-in plugin")
}

// TestReattach checks the debug path: a plugin started by hand with
// TIERPACK_PLUGIN_DEBUG=1 prints a TIERPACK_REATTACH_PLUGINS value; a
// Manager given it uses that process instead of starting one, and leaves it
// running on Close — the developer runs several commands against it.
func TestReattach(t *testing.T) {
	pidDir := env(t)
	bin := filepath.Join(pluginDir(t, "good"), host.BinaryPrefix+"good")
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), sdk.DebugEnv+"=1")
	// In its own process group, as a shell would start it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})

	// Read the export line; keep draining stderr so the plugin never blocks
	// on a full pipe.
	value := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		prefix := "export " + sdk.ReattachEnv + "='"
		for sc.Scan() {
			if v, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), prefix); ok {
				value <- strings.TrimSuffix(v, "'")
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
		exited <- cmd.Wait()
	}()
	var v string
	select {
	case v = <-value:
	case err := <-exited:
		exited <- err
		t.Fatalf("the debug plugin exited: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("the debug plugin printed no reattach value within 10s")
	}

	t.Setenv(sdk.ReattachEnv, v)
	m := newManager(t, Options{Dirs: []string{t.TempDir()}}) // nothing to discover: it must reattach
	ctx := context.Background()
	p, err := m.Get(ctx, "good")
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if !strings.HasPrefix(p.Source.Path, "reattach pid") {
		t.Errorf("Source.Path = %q", p.Source.Path)
	}
	if _, err := p.Validate(ctx, validateReq(t.TempDir())); err != nil {
		t.Errorf("Validate: %v", err)
	}
	if pid := onePID(t, filepath.Join(pidDir, "good.pid")); pid != cmd.Process.Pid {
		t.Errorf("the plugin that answered has pid %d, want the debug plugin's %d", pid, cmd.Process.Pid)
	}
	m.Close()
	if gone, _ := processState(cmd.Process.Pid); gone {
		t.Error("Close stopped a plugin it did not start (the debug plugin)")
	}

	// A second command attaches again.
	m2 := newManager(t, Options{})
	p, err = m2.Get(ctx, "good")
	if err != nil {
		t.Fatalf("Get after the first Manager closed: %v", err)
	}
	if _, err := p.Validate(ctx, validateReq(t.TempDir())); err != nil {
		t.Errorf("Validate: %v", err)
	}
	m2.Close()
}

// TestReattachBadEnv checks that a mangled TIERPACK_REATTACH_PLUGINS is
// reported as such.
func TestReattachBadEnv(t *testing.T) {
	env(t)
	t.Setenv(sdk.ReattachEnv, "{not json")
	_, err := NewManager(Options{})
	t.Logf("error:\n%v", err)
	if err == nil || !strings.Contains(err.Error(), sdk.ReattachEnv+" is not valid JSON") {
		t.Errorf("NewManager = %v, want an error about %s", err, sdk.ReattachEnv)
	}
}

// TestCrashLoggerReachesHost checks that what a plugin logs with sdk.Logger
// just before it dies is in the crash message. go-plugin's Serve points
// os.Stderr at a pipe it forwards over gRPC, which a crash loses; sdk.Logger
// writes to the real stderr saved before Serve, which the host reads.
func TestCrashLoggerReachesHost(t *testing.T) {
	env(t)
	m := newManager(t, Options{Dirs: []string{pluginDir(t, "crash-logger")}})
	ctx := context.Background()
	p, err := m.Get(ctx, "crash-logger")
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Validate(ctx, validateReq(t.TempDir()))
	t.Logf("error:\n%v", err)
	if !errors.Is(err, host.ErrCrashed) {
		t.Errorf("error is not host.ErrCrashed: %v", err)
	}
	assertContains(t, err, "[error] about to crash")
}

// TestAfterTimeout checks that a plugin an earlier call's timeout stopped
// says so when called again, rather than failing like an interrupted call.
func TestAfterTimeout(t *testing.T) {
	pidDir := env(t)
	m := newManager(t, Options{Dirs: []string{pluginDir(t, "hang")}, CallTimeout: shortTimeout})
	ctx := context.Background()
	p, err := m.Get(ctx, "hang")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Validate(ctx, validateReq(t.TempDir())); !errors.Is(err, host.ErrTimeout) {
		t.Fatalf("first Validate: %v, want ErrTimeout", err)
	}
	// A Manager starts each plugin at most once.
	if again, err := m.Get(ctx, "hang"); err != nil || again != p {
		t.Fatalf("Get after the timeout = %p, %v; want the same plugin %p", again, err, p)
	}
	_, err = p.Package(ctx, sdk.PackageRequest{Dir: t.TempDir(), StagingDir: t.TempDir()})
	t.Logf("error:\n%v", err)
	if !errors.Is(err, host.ErrCrashed) || errors.Is(err, context.Canceled) {
		t.Errorf("error is not host.ErrCrashed, or is context.Canceled: %v", err)
	}
	assertContains(t, err, `plugin "hang"`, "no longer running", "Package was not called")
	m.Close()
	assertExited(t, onePID(t, filepath.Join(pidDir, "hang.pid")), "plugin")
}
