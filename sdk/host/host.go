// Package host starts a tierpack plugin binary and talks to it, exactly as
// tierpack does: it is the host side of the contract package sdk defines.
// tierpack's plugin manager (discovery, pinned installs, built-ins) builds on
// it, and so does sdk/plugintest, so that a plugin checked by plugintest is
// started, timed and diagnosed the way tierpack will start it.
//
// Start runs the binary under hashicorp/go-plugin with sdk.Handshake and the
// sdk's versioned plugin sets over gRPC, captures the plugin's stderr so that
// failures can quote it, bounds the start (exec, handshake and Describe) and
// every later call with a timeout, and turns go-plugin's failure modes into
// errors that wrap one of ErrCrashed, ErrTimeout, ErrHandshake, ErrProtocol
// or ErrNotFound and say what to do next.
//
// Invariants: a Plugin whose call timed out or whose process died is killed
// at once, and every later call fails with ErrCrashed without reaching it;
// Stop and Kill are idempotent and safe to call concurrently; nothing the
// plugin writes to stdout after its handshake reaches the host's stdout
// unless Config.Stdout asks for it.
package host

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	goplugin "github.com/hashicorp/go-plugin"
	"github.com/hashicorp/go-plugin/runner"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tierpack/tierpack/sdk"
)

// BinaryPrefix is the file name prefix of a plugin executable:
// tierpack-plugin-<type>.
const BinaryPrefix = "tierpack-plugin-"

// exeSuffix is what the system appends to executables' names.
var exeSuffix = map[bool]string{true: ".exe"}[runtime.GOOS == "windows"]

// BinaryName returns the executable name of a plugin for typ on this
// system: tierpack-plugin-<typ>, with .exe on Windows.
func BinaryName(typ string) string { return BinaryPrefix + typ + exeSuffix }

// TypeFromBinaryName returns the type a plugin executable's file name says
// it serves, and false for a name that is not tierpack-plugin-<type>[.exe]
// with a plausible type.
func TypeFromBinaryName(name string) (string, bool) {
	rest, ok := strings.CutPrefix(name, BinaryPrefix)
	if !ok {
		return "", false
	}
	rest = strings.TrimSuffix(rest, ".exe")
	if rest == "" || strings.ContainsAny(rest, ". ") || strings.HasPrefix(rest, "-") {
		return "", false
	}
	return rest, true
}

// Default timeouts; see Config.
const (
	// DefaultStartTimeout bounds exec, handshake and Describe.
	DefaultStartTimeout = 10 * time.Second
	// DefaultCallTimeout bounds each Validate, Package or Unpack call.
	DefaultCallTimeout = 5 * time.Minute
)

// StopGrace bounds how long Stop lets go-plugin stop a plugin before
// Config.StopChildren is called anyway: go-plugin gives the plugin 2s to
// exit, and a child that inherited the plugin's stderr would otherwise keep
// go-plugin waiting.
const StopGrace = 3 * time.Second

// Sentinel errors, wrapped by the errors Start and the Plugin's methods
// return, so that callers can tell what kind of failure it was.
var (
	// ErrNotFound: there is no plugin binary (for this type).
	ErrNotFound = errors.New("no plugin for this type")
	// ErrTimeout: the plugin did not answer in time and was stopped.
	ErrTimeout = errors.New("plugin timed out")
	// ErrCrashed: the plugin process died.
	ErrCrashed = errors.New("plugin crashed")
	// ErrHandshake: the binary did not complete go-plugin's handshake.
	ErrHandshake = errors.New("plugin handshake failed")
	// ErrProtocol: the plugin speaks a protocol version this host does not.
	ErrProtocol = errors.New("incompatible plugin protocol")
)

// Config says which plugin to start and how. Path, or Reattach, is
// required; the zero value of every other field has the documented default.
type Config struct {
	// Name is how messages name the plugin, e.g. `plugin "rules"
	// (/usr/local/bin/tierpack-plugin-rules)`; empty means "plugin at PATH".
	Name string
	// Type is the type the plugin is expected to serve; it names the
	// plugin's logger and is looked up in messages about Reattach. Start
	// does not check it against Describe: that is the caller's policy.
	Type string
	// Path is the executable, Args its arguments.
	Path string
	Args []string
	// Reattach, if set, attaches to a plugin already running in debug mode
	// (sdk.DebugEnv) instead of starting Path.
	Reattach *sdk.ReattachInfo
	// StartTimeout bounds exec, handshake and Describe; zero means
	// DefaultStartTimeout.
	StartTimeout time.Duration
	// CallTimeout bounds each Validate, Package or Unpack call; zero means
	// DefaultCallTimeout, negative means none.
	CallTimeout time.Duration
	// LogLevel for the plugin's log lines and go-plugin's notes about it,
	// written to stderr: "trace", "debug", "info", "warn", "error" or "off";
	// empty means "warn".
	LogLevel string
	// LogOutput receives those log lines; nil means os.Stderr. The host's
	// front end passes a writer that escapes what it did not write (a
	// plugin's log line is the plugin's text).
	LogOutput io.Writer
	// Stdout receives what the plugin writes to its standard output once it
	// serves (go-plugin forwards it); nil discards it. Stdout is no channel
	// for plugin output — a conformance check sets this to catch plugins
	// that use it anyway.
	Stdout io.Writer
	// Prepare, if set, adjusts the command before it starts, e.g. to put
	// the plugin in its own process group.
	Prepare func(*exec.Cmd)
	// SocketDir, if set, is the folder the plugin's unix socket folder is
	// made in (go-plugin's PLUGIN_UNIX_SOCKET_DIR is a new folder there);
	// empty means Sandbox.Dir, else the system's temporary folder. A host
	// that may be killed gives each run a folder of its own, so that the
	// next run can remove what a killed one left.
	SocketDir string
	// Sandbox, if set, confines the plugin process (see Sandbox); nil
	// runs it unconfined.
	Sandbox *Sandbox
	// Env are environment variables ("NAME=value") the plugin gets beyond
	// EnvAllowList. The host's own environment never reaches a plugin.
	Env []string
	// StopChildren, if set, is called with the plugin's pid to stop the
	// processes the plugin started, which go-plugin does not reach: at once
	// when the plugin failed, and after go-plugin's own stop (or StopGrace)
	// on Stop. It is not called for a reattached plugin.
	StopChildren func(pid int)
}

// Plugin is a running plugin process. Its methods bound each call with the
// configured timeout and translate failures into the package's errors. It
// is safe for concurrent use.
type Plugin struct {
	cfg      Config
	client   *goplugin.Client
	impl     sdk.Packager
	desc     sdk.Description
	stderr   *tail
	pid      int
	confined string
	killOnce sync.Once
}

// Confinement says what the plugin's sandbox enforces ("Landlock ABI 7:
// files, TCP, …", or "none (…)" where the system cannot confine it), and
// "" without a Config.Sandbox or when attached in debug mode.
func (p *Plugin) Confinement() string { return p.confined }

// Start starts (or attaches to) the plugin cfg names, completes the
// handshake and asks Describe, all within cfg.StartTimeout, and returns it
// running. On failure nothing is left running, and the error says why and
// what to do.
func Start(ctx context.Context, cfg Config) (*Plugin, error) {
	if cfg.StartTimeout <= 0 {
		cfg.StartTimeout = DefaultStartTimeout
	}
	if cfg.CallTimeout == 0 {
		cfg.CallTimeout = DefaultCallTimeout
	}
	if cfg.LogLevel == "" {
		cfg.LogLevel = "warn"
	}
	if cfg.Name == "" {
		cfg.Name = "plugin at " + cfg.Path
	}
	stderr := newTail(20)
	var run *procRunner
	gcfg := &goplugin.ClientConfig{
		HandshakeConfig:  sdk.Handshake,
		VersionedPlugins: sdk.PluginSets(nil),
		AllowedProtocols: []goplugin.Protocol{goplugin.ProtocolGRPC},
		Managed:          true,
		StartTimeout:     cfg.StartTimeout,
		Stderr:           stderr,
		// go-plugin points a plugin's os.Stderr at a gRPC stream once it
		// serves; without this, whatever the plugin writes there is dropped.
		SyncStderr: stderr,
		SyncStdout: cfg.Stdout,
		Logger: hclog.New(&hclog.LoggerOptions{
			Name:   "plugin." + cfg.Type,
			Output: cmp.Or[io.Writer](cfg.LogOutput, os.Stderr),
			Level:  hclog.LevelFromString(cfg.LogLevel),
		}),
	}
	if cfg.Reattach != nil {
		rc, err := reattachConfig(*cfg.Reattach)
		if err != nil {
			return nil, fmt.Errorf("%s for %q: %w", sdk.ReattachEnv, cfg.Type, err)
		}
		gcfg.Reattach = rc
		gcfg.Managed = false
		// go-plugin negotiates a version only when it starts the process.
		set, ok := gcfg.VersionedPlugins[rc.ProtocolVersion]
		if !ok {
			return nil, fmt.Errorf("%w: the plugin in %s for %q speaks tierpack plugin protocol %d, but this tierpack speaks %d",
				ErrProtocol, sdk.ReattachEnv, cfg.Type, rc.ProtocolVersion, sdk.ProtocolVersion)
		}
		gcfg.Plugins = set
	} else {
		if err := prepareDir(cfg.Sandbox); err != nil {
			return nil, fmt.Errorf("%w: preparing %s's folder: %v", ErrHandshake, cfg.Name, err)
		}
		gcfg.SkipHostEnv = true
		socketDir := cfg.SocketDir
		if socketDir == "" && cfg.Sandbox != nil {
			socketDir = cfg.Sandbox.Dir
		}
		gcfg.UnixSocketConfig = &goplugin.UnixSocketConfig{TempDir: socketDir}
		gcfg.RunnerFunc = func(l hclog.Logger, spec *exec.Cmd, _ string) (runner.Runner, error) {
			cmd := exec.Command(cfg.Path, cfg.Args...)
			cmd.Env = pluginEnv(spec.Env, cfg.Sandbox, cfg.Env)
			cmd.Stdin = spec.Stdin
			if cfg.Prepare != nil {
				cfg.Prepare(cmd)
			}
			if cfg.Sandbox != nil && cfg.Sandbox.Dir != "" {
				// The socket goes in the plugin's own folder, which it may
				// write (it creates a temporary file there, removes it and
				// listens), rather than in the one go-plugin just made
				// (left empty): a shorter path, and one folder per plugin.
				cmd.Env = append(cmd.Env, goplugin.EnvUnixSocketDir+"="+cfg.Sandbox.Dir)
			}
			r, err := newProcRunner(cmd, cfg.Sandbox, l)
			run = r
			return r, err
		}
	}
	client := goplugin.NewClient(gcfg)
	p := &Plugin{cfg: cfg, client: client, stderr: stderr}
	rpc, err := client.Client()
	// Known as soon as the process started, so that a failed start stops
	// what the plugin started too. A plugin in debug mode is not ours to stop.
	if run != nil && run.cmd.Process != nil {
		p.pid, p.confined = run.cmd.Process.Pid, run.confined
	}
	if errors.Is(err, ErrNoSandbox) {
		p.Kill()
		return nil, fmt.Errorf("%s: %w", cfg.Name, err)
	}
	if err != nil {
		p.Kill()
		return nil, p.startError(err)
	}
	raw, err := rpc.Dispense(sdk.PluginName)
	if err != nil {
		p.Kill()
		return nil, fmt.Errorf("%w: %s: %v", ErrHandshake, cfg.Name, err)
	}
	impl, ok := raw.(sdk.Packager)
	if !ok {
		p.Kill()
		return nil, fmt.Errorf("%w: %s does not serve a tierpack Packager", ErrHandshake, cfg.Name)
	}
	p.impl = impl

	dctx, cancel := context.WithTimeout(ctx, cfg.StartTimeout)
	defer cancel()
	// Describe is bounded by the start timeout, not the call timeout.
	err = p.call(dctx, "Describe", cfg.StartTimeout, func(ctx context.Context) (err error) {
		p.desc, err = p.impl.Describe(ctx)
		return err
	})
	if err != nil {
		p.Kill()
		return nil, err
	}
	return p, nil
}

// Name returns how messages name the plugin (Config.Name).
func (p *Plugin) Name() string { return p.cfg.Name }

// Pid returns the plugin's process id (0 when attached in debug mode).
func (p *Plugin) Pid() int { return p.pid }

// Protocol returns the tierpack plugin protocol version negotiated with the
// plugin.
func (p *Plugin) Protocol() int { return p.client.NegotiatedVersion() }

// Describe returns the plugin's Describe answer, as asked at start.
func (p *Plugin) Describe() sdk.Description { return p.desc }

// Exited reports whether the plugin process has exited.
func (p *Plugin) Exited() bool { return p.client.Exited() }

// Validate checks a contribution.
func (p *Plugin) Validate(ctx context.Context, req sdk.ValidateRequest) ([]sdk.Diagnostic, error) {
	var diags []sdk.Diagnostic
	err := p.call(ctx, "Validate", p.cfg.CallTimeout, func(ctx context.Context) (err error) {
		diags, err = p.impl.Validate(ctx, req)
		return err
	})
	return diags, err
}

// Package packages a contribution into req.StagingDir.
func (p *Plugin) Package(ctx context.Context, req sdk.PackageRequest) (sdk.PackageResult, error) {
	var res sdk.PackageResult
	err := p.call(ctx, "Package", p.cfg.CallTimeout, func(ctx context.Context) (err error) {
		res, err = p.impl.Package(ctx, req)
		return err
	})
	return res, err
}

// Unpack unpacks fetched blobs into req.OutputDir.
func (p *Plugin) Unpack(ctx context.Context, req sdk.UnpackRequest) (sdk.UnpackResult, error) {
	var res sdk.UnpackResult
	err := p.call(ctx, "Unpack", p.cfg.CallTimeout, func(ctx context.Context) (err error) {
		res, err = p.impl.Unpack(ctx, req)
		return err
	})
	return res, err
}

// Init asks the plugin to scaffold a contribution (sdk.Initializer), bounded
// by the call timeout. A plugin that does not scaffold — one built before
// Init existed, or whose Packager does not implement sdk.Initializer —
// gives an error wrapping sdk.ErrInitUnsupported, and keeps running.
func (p *Plugin) Init(ctx context.Context, req sdk.InitRequest) (sdk.InitResult, error) {
	in, ok := p.impl.(sdk.Initializer)
	if !ok {
		return sdk.InitResult{}, fmt.Errorf("%s: %w", p.cfg.Name, sdk.ErrInitUnsupported)
	}
	var res sdk.InitResult
	var unsupported error
	err := p.call(ctx, "Init", p.cfg.CallTimeout, func(ctx context.Context) (err error) {
		res, err = in.Init(ctx, req)
		if errors.Is(err, sdk.ErrInitUnsupported) {
			unsupported, err = err, nil
		}
		return err
	})
	if unsupported != nil {
		return sdk.InitResult{}, fmt.Errorf("%s: %w", p.cfg.Name, sdk.ErrInitUnsupported)
	}
	return res, err
}

// call runs fn with a deadline and explains how it failed.
func (p *Plugin) call(ctx context.Context, method string, timeout time.Duration, fn func(context.Context) error) error {
	if p.client.Exited() {
		// gRPC would say only that the connection is closing, as if the
		// caller had been interrupted.
		return fmt.Errorf("%w: %s is no longer running (it exited, or an earlier error stopped it), so %s was not called%s",
			ErrCrashed, p.cfg.Name, method, p.stderrNote())
	}
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	err := fn(ctx)
	if err == nil {
		return nil
	}
	st, _ := status.FromError(err)
	if typed := sdk.ErrorFromStatus(err); typed != nil {
		return fmt.Errorf("%s: %s: %w", p.cfg.Name, method, typed)
	}
	switch {
	case ctx.Err() == context.DeadlineExceeded || st.Code() == codes.DeadlineExceeded:
		p.Kill()
		err := fmt.Errorf("%w: %s did not finish %s within %s and was stopped%s", ErrTimeout, p.cfg.Name, method, timeout, p.stderrNote())
		if method == "Describe" { // bounded by the start timeout, not the call timeout
			return err
		}
		return &CallTimeoutError{err: err}
	case ctx.Err() == context.Canceled || st.Code() == codes.Canceled:
		return fmt.Errorf("%s: %s: %w", p.cfg.Name, method, context.Canceled)
	case p.client.Exited() || st.Code() == codes.Unavailable:
		p.Kill()
		return fmt.Errorf("%w: %s exited during %s%s", ErrCrashed, p.cfg.Name, method, p.stderrNote())
	case st.Code() == codes.ResourceExhausted:
		return fmt.Errorf("%w: %s sent a %s reply larger than the %d MiB a message may have: %s", ErrProtocol, p.cfg.Name, method, sdk.MaxMessageSize>>20, st.Message())
	case st.Code() == codes.Unknown || st.Code() == codes.Internal:
		// The plugin's own error, returned from its method.
		return fmt.Errorf("%s: %s: %s", p.cfg.Name, method, st.Message())
	}
	return fmt.Errorf("%s: %s: %v", p.cfg.Name, method, err)
}

// CallTimeoutError is a plugin stopped because a Validate, Package or
// Unpack call ran past Config.CallTimeout (a large contribution may just
// need more time). It wraps ErrTimeout.
type CallTimeoutError struct{ err error }

func (e *CallTimeoutError) Error() string { return e.err.Error() }

// Unwrap returns the error wrapping ErrTimeout.
func (e *CallTimeoutError) Unwrap() error { return e.err }

func (p *Plugin) stderrNote() string {
	lines := p.stderr.Lines()
	if len(lines) == 0 {
		return ""
	}
	return "; its last output on stderr was:\n    " + strings.Join(lines, "\n    ")
}

var protoVersionRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`Plugin version: (\d+)`) })

// startError explains why go-plugin could not start and connect to a plugin.
func (p *Plugin) startError(err error) error {
	msg := err.Error()
	n := p.cfg.Name
	switch {
	case strings.Contains(msg, "incompatible API version"):
		v := "another"
		if m := protoVersionRE().FindStringSubmatch(msg); m != nil {
			v = m[1]
		}
		return fmt.Errorf("%w: %s speaks tierpack plugin protocol %s, but this tierpack speaks %d: "+
			"install a plugin built with a tierpack sdk for protocol %d, or upgrade tierpack", ErrProtocol, n, v, sdk.ProtocolVersion, sdk.ProtocolVersion)
	case strings.Contains(msg, "incompatible core API version"):
		return fmt.Errorf("%w: %s was built with an incompatible go-plugin: rebuild it against this tierpack sdk", ErrProtocol, n)
	case strings.Contains(msg, "Unrecognized remote plugin message"):
		first := strings.TrimSpace(strings.SplitN(strings.TrimPrefix(msg, "Unrecognized remote plugin message: "), "\n", 2)[0])
		if strings.Contains(msg, "Failed to read any lines") || first == "" {
			return fmt.Errorf("%w: %s is not a tierpack plugin: it exited without the go-plugin handshake; "+
				"a plugin's main must call sdk.Serve%s", ErrHandshake, n, p.stderrNote())
		}
		return fmt.Errorf("%w: %s wrote %q to stdout before its handshake; stdout belongs to go-plugin: "+
			"log to stderr (sdk.Logger) and print nothing before sdk.Serve "+
			"(if it is not a tierpack plugin at all, remove it from the plugin directory)", ErrHandshake, n, truncate(first, 80))
	case strings.Contains(msg, "timeout while waiting for plugin to start"):
		return fmt.Errorf("%w: %s did not complete its handshake within the start timeout (%s) and was stopped%s", ErrTimeout, n, p.cfg.StartTimeout, p.stderrNote())
	case strings.Contains(msg, "plugin exited before we could connect"):
		return fmt.Errorf("%w: %s exited before its handshake; if it is a tierpack plugin, its debug log says why%s",
			ErrCrashed, n, p.stderrNote())
	case errors.Is(err, os.ErrPermission) || strings.Contains(msg, "permission denied"):
		return fmt.Errorf("%w: %s cannot be executed: %v (chmod +x it)", ErrHandshake, n, err)
	case errors.Is(err, os.ErrNotExist) || strings.Contains(msg, "no such file"):
		return fmt.Errorf("%w: %s: %v", ErrNotFound, n, err)
	}
	return fmt.Errorf("%w: starting %s: %v", ErrHandshake, n, err)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// Kill stops a plugin that failed, and (through Config.StopChildren) any
// processes it started, at once. The children go first: go-plugin's Kill
// returns only when the plugin's stdout and stderr have closed, which a
// child that inherited them would prevent, and a failed plugin has nothing
// to shut down gracefully.
func (p *Plugin) Kill() {
	p.killOnce.Do(func() {
		if p.pid > 0 && p.cfg.StopChildren != nil {
			p.cfg.StopChildren(p.pid)
		}
		p.client.Kill()
	})
}

// Stop stops a healthy plugin: go-plugin asks it to exit, then
// Config.StopChildren stops any processes it started. If go-plugin is
// still waiting after StopGrace — a child holds the plugin's stderr open —
// the children are stopped sooner. Stop returns when the plugin has exited.
func (p *Plugin) Stop() {
	p.killOnce.Do(func() {
		done := make(chan struct{})
		go func() { defer close(done); p.client.Kill() }()
		if p.pid > 0 && p.cfg.StopChildren != nil {
			select {
			case <-done:
			case <-time.After(StopGrace):
			}
			p.cfg.StopChildren(p.pid)
		}
		<-done
	})
}

// tail keeps the last n lines written to it, each cut at maxLine bytes,
// so a plugin's stderr costs the host at most n*maxLine bytes however much
// it writes (a 22 MB error line is kept as its first 4 KiB).
type tail struct {
	mu    sync.Mutex
	n     int
	lines []string
	part  bytes.Buffer
	// cut is set while the rest of an over-long line is being dropped.
	cut bool
	// panicLine is the first "panic:" or "fatal error:" line seen.
	panicLine string
}

// maxLine bounds one kept stderr line; with 20 lines, 80 KiB in all.
const maxLine = 4 << 10

func newTail(n int) *tail { return &tail{n: n} }

func (t *tail) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := len(b)
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		chunk := b
		if i >= 0 {
			chunk = b[:i+1]
		}
		b = b[len(chunk):]
		if room := maxLine - t.part.Len(); !t.cut && room > 0 {
			t.part.Write(chunk[:min(len(chunk), room)])
		}
		if i < 0 {
			if t.part.Len() >= maxLine {
				t.cut = true
			}
			break
		}
		line := t.part.String()
		if t.cut || len(line) >= maxLine {
			line = strings.TrimRight(line, "\r\n") + " … (cut)"
		}
		t.part.Reset()
		t.cut = false
		t.keep(strings.TrimRight(line, "\r\n"))
	}
	return n, nil
}

// keep adds a complete line.
func (t *tail) keep(line string) {
	if line == "" {
		return
	}
	if t.panicLine == "" && (strings.HasPrefix(line, "panic: ") || strings.HasPrefix(line, "fatal error: ")) {
		t.panicLine = line
	}
	t.lines = append(t.lines, line)
	if len(t.lines) > t.n {
		t.lines = t.lines[len(t.lines)-t.n:]
	}
}

// Lines returns the kept lines, oldest first, with JSON log lines reduced to
// their message.
func (t *tail) Lines() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]string, 0, len(t.lines)+1)
	for _, l := range t.lines {
		var entry struct {
			Level   string `json:"@level"`
			Message string `json:"@message"`
			Error   string `json:"error"`
		}
		if strings.HasPrefix(l, "{") && json.Unmarshal([]byte(l), &entry) == nil && entry.Message != "" {
			if entry.Level == "debug" || entry.Level == "trace" {
				continue // go-plugin's own chatter, e.g. "plugin address"
			}
			l = "[" + entry.Level + "] " + entry.Message
			if entry.Error != "" {
				l += ": " + entry.Error
				if strings.Contains(entry.Error, "listen unix") && strings.Contains(entry.Error, "invalid argument") {
					l += " (a unix socket's path may be 107 bytes at most: set TMPDIR to a shorter folder)"
				}
			}
		}
		out = append(out, escape(l))
	}
	if s := strings.TrimSpace(t.part.String()); s != "" {
		out = append(out, escape(s))
	}
	if t.panicLine != "" && (len(out) == 0 || !slices.Contains(out, t.panicLine)) {
		// A deep stack pushes the panic message out of the tail; it is the
		// line that matters most.
		out = append([]string{t.panicLine, "…"}, out...)
	}
	return out
}

// escape makes a plugin's line safe to print as sdk.Escape does, keeping
// its tabs (a Go stack trace indents with them).
func escape(s string) string {
	parts := strings.Split(s, "\t")
	for i, p := range parts {
		parts[i] = sdk.Escape(p)
	}
	return strings.Join(parts, "\t")
}

// ReattachFromEnv reads sdk.ReattachEnv: the plugins already running in
// debug mode, by type. Unset means none.
func ReattachFromEnv() (map[string]sdk.ReattachInfo, error) {
	v := os.Getenv(sdk.ReattachEnv)
	if v == "" {
		return map[string]sdk.ReattachInfo{}, nil
	}
	var r map[string]sdk.ReattachInfo
	if err := json.Unmarshal([]byte(v), &r); err != nil {
		return nil, fmt.Errorf("%s is not valid JSON (copy it from the plugin's debug output): %w", sdk.ReattachEnv, err)
	}
	return r, nil
}

type reattachAddr struct{ network, address string }

func (a reattachAddr) Network() string { return a.network }
func (a reattachAddr) String() string  { return a.address }

func reattachConfig(r sdk.ReattachInfo) (*goplugin.ReattachConfig, error) {
	if r.Protocol != "" && r.Protocol != string(goplugin.ProtocolGRPC) {
		return nil, fmt.Errorf("protocol %q: only grpc is supported", r.Protocol)
	}
	var addr net.Addr
	switch r.Network {
	case "unix":
		a, err := net.ResolveUnixAddr("unix", r.Address)
		if err != nil {
			return nil, err
		}
		addr = a
	case "tcp":
		a, err := net.ResolveTCPAddr("tcp", r.Address)
		if err != nil {
			return nil, err
		}
		addr = a
	default:
		addr = reattachAddr{r.Network, r.Address}
	}
	return &goplugin.ReattachConfig{
		Protocol:        goplugin.ProtocolGRPC,
		ProtocolVersion: r.ProtocolVersion,
		Addr:            addr,
		Pid:             r.Pid,
		Test:            true,
	}, nil
}
