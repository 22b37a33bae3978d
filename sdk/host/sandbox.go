package host

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin/runner"
)

// Sandbox confines a plugin process. A plugin is third-party code that
// every artifact of its type runs through: it gets the host's secrets,
// files and network only where a Sandbox leaves them.
//
// Where it lives: here, in the SDK's host package, so that sdk/plugintest
// starts a plugin under the same sandbox tierpack does and a plugin author
// meets its limits in their own tests, not in their users' hands. The cost
// is go-landlock in the SDK module's requirements (it is compiled into a
// plugin only if the plugin imports sdk/host, which sdk.Serve does not).
//
// On Linux it is a Landlock domain (landlock_restrict_self), applied to
// the one OS thread that forks the plugin, between fork and exec in effect:
// the plugin's first instruction already runs confined, so it cannot opt
// out, and the host's other threads stay unconfined. The domain:
//   - writes: only under Dir (the plugin's socket folder, HOME and TMPDIR)
//     and Write (the call's staging or output folder);
//   - reads and executes: Read (the contribution, the fetched blobs), the
//     plugin's own binary, and what a Go or Helm process reads (/usr, /lib,
//     /lib64, /etc/ssl, /etc/ld.so.cache, /etc/localtime, /dev/null,
//     /dev/urandom);
//   - no TCP (from Landlock ABI 4), no UDP (ABI 10), no connect to pathname
//     unix sockets outside those folders (ABI 9), no signals or abstract
//     unix sockets outside its own processes (ABI 6).
//
// Each right is enforced only where the kernel's Landlock ABI has it
// (SandboxStatus says which); on a kernel without Landlock, or off Linux,
// nothing is confined, and RequireSandbox refuses to start the plugin.
type Sandbox struct {
	// Dir is the plugin's own folder: its unix socket, HOME and TMPDIR are
	// made there. It must exist, and never be a folder that holds other
	// plugins' binaries.
	Dir string
	// Read are files and folders the plugin may read.
	Read []string
	// Write are folders the plugin may create, write and remove files in.
	Write []string
	// Require refuses to start the plugin when the system cannot confine
	// it (no Landlock), instead of running it unconfined.
	Require bool
}

// ErrNoSandbox is wrapped when a plugin that must be confined
// (Sandbox.Require) cannot be.
var ErrNoSandbox = errors.New("plugin sandbox unavailable")

// EnvAllowList names the host's environment variables a plugin receives,
// besides go-plugin's own (its magic cookie, PLUGIN_PROTOCOL_VERSIONS,
// PLUGIN_MIN_PORT/PLUGIN_MAX_PORT, PLUGIN_UNIX_SOCKET_DIR), HOME and
// TMPDIR (which point into Sandbox.Dir) and Config.Env: PATH (a plugin
// may run a tool; the sandbox decides what it can reach), the locale, and
// nothing else. Secrets such as COSIGN_PASSWORD or TIERPACK_SIGNING_KEY, a
// registry token, or a cloud provider's credentials never reach a plugin.
var EnvAllowList = []string{"PATH", "LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "LC_MESSAGES", "LC_COLLATE", "LC_NUMERIC", "LC_TIME", "TZ"}

// pluginEnv is the environment a plugin starts with: go-plugin's variables
// (base), the allow-listed ones, HOME and TMPDIR, and extra.
func pluginEnv(base []string, sb *Sandbox, extra []string) []string {
	env := append([]string{}, base...)
	for _, k := range EnvAllowList {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	if sb != nil && sb.Dir != "" {
		env = append(env, "HOME="+filepath.Join(sb.Dir, "home"), "TMPDIR="+filepath.Join(sb.Dir, "tmp"))
	} else {
		env = append(env, "TMPDIR="+os.TempDir())
	}
	return append(env, extra...)
}

// prepareDir makes the folders a sandboxed plugin's HOME and TMPDIR name.
func prepareDir(sb *Sandbox) error {
	if sb == nil || sb.Dir == "" {
		return nil
	}
	for _, d := range []string{"home", "tmp"} {
		if err := os.MkdirAll(filepath.Join(sb.Dir, d), 0o700); err != nil {
			return err
		}
	}
	return nil
}

// procRunner is go-plugin's runner.Runner for a local process, started
// confined (startConfined) when there is a sandbox.
type procRunner struct {
	cmd     *exec.Cmd
	sandbox *Sandbox
	logger  hclog.Logger
	stdout  io.ReadCloser
	stderr  io.ReadCloser
	pid     int
	// exited is closed once Wait has returned, releasing the thread the
	// plugin was forked from (see startConfined).
	exited   chan struct{}
	exitOnce sync.Once
	// confined says what the sandbox enforced, for messages.
	confined string
}

func newProcRunner(cmd *exec.Cmd, sb *Sandbox, logger hclog.Logger) (*procRunner, error) {
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	return &procRunner{cmd: cmd, sandbox: sb, logger: logger, stdout: stdout, stderr: stderr, exited: make(chan struct{})}, nil
}

func (r *procRunner) Start(context.Context) error {
	var err error
	if r.sandbox == nil {
		err = r.cmd.Start()
	} else {
		r.confined, err = startConfined(r.cmd, r.sandbox, r.exited)
	}
	if err != nil {
		r.release()
		return err
	}
	r.pid = r.cmd.Process.Pid
	r.logger.Debug("plugin started", "path", r.cmd.Path, "pid", r.pid, "sandbox", r.confined)
	return nil
}

func (r *procRunner) release() { r.exitOnce.Do(func() { close(r.exited) }) }

func (r *procRunner) Wait(context.Context) error {
	defer r.release()
	return r.cmd.Wait()
}

func (r *procRunner) Kill(context.Context) error {
	if r.cmd.Process == nil {
		return nil
	}
	if err := r.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	return nil
}

func (r *procRunner) Stdout() io.ReadCloser { return r.stdout }
func (r *procRunner) Stderr() io.ReadCloser { return r.stderr }
func (r *procRunner) Name() string          { return r.cmd.Path }
func (r *procRunner) ID() string            { return strconv.Itoa(r.pid) }

func (r *procRunner) Diagnose(context.Context) string {
	return "the plugin was not compiled for this system, cannot be executed, or did not complete go-plugin's handshake"
}

func (r *procRunner) PluginToHost(n, a string) (string, string, error) { return n, a, nil }
func (r *procRunner) HostToPlugin(n, a string) (string, string, error) { return n, a, nil }

var _ runner.Runner = (*procRunner)(nil)

// abs makes each path absolute, dropping empty ones.
func abs(paths []string) []string {
	var out []string
	for _, p := range paths {
		if p == "" {
			continue
		}
		if a, err := filepath.Abs(p); err == nil {
			out = append(out, a)
		}
	}
	return out
}

// describeConfinement says what a Landlock ABI enforces, for messages.
func describeConfinement(abi int) string {
	if abi <= 0 {
		return "none (no Landlock on this system)"
	}
	parts := []string{"files"}
	if abi >= 4 {
		parts = append(parts, "TCP")
	}
	if abi >= 6 {
		parts = append(parts, "signals and abstract unix sockets")
	}
	if abi >= 9 {
		parts = append(parts, "pathname unix sockets")
	}
	if abi >= 10 {
		parts = append(parts, "UDP")
	}
	return fmt.Sprintf("Landlock ABI %d: %s", abi, strings.Join(parts, ", "))
}
