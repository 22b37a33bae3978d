package plugin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tierpack/tierpack/sdk"
)

// Plugin is a running plugin process. Its methods bound each call with the
// Manager's timeouts and translate failures into the package's errors.
type Plugin struct {
	Source      Source
	Description sdk.Description

	client       *goplugin.Client
	impl         sdk.Packager
	stderr       *tail
	callTimeout  time.Duration
	startTimeout time.Duration
	pid, pgid    int
	killOnce     sync.Once
}

// Pid returns the plugin's process id (0 when attached in debug mode).
func (p *Plugin) Pid() int { return p.pid }

// Protocol returns the tierpack plugin protocol version negotiated with the
// plugin.
func (p *Plugin) Protocol() int { return p.client.NegotiatedVersion() }

// Describe returns the plugin's Describe answer, as cached at start.
func (p *Plugin) Describe() sdk.Description { return p.Description }

func (p *Plugin) describe(ctx context.Context, timeout time.Duration) (sdk.Description, error) {
	var d sdk.Description
	err := p.call(ctx, "Describe", timeout, func(ctx context.Context) (err error) {
		d, err = p.impl.Describe(ctx)
		return err
	})
	return d, err
}

// Validate checks a contribution.
func (p *Plugin) Validate(ctx context.Context, req sdk.ValidateRequest) ([]sdk.Diagnostic, error) {
	var diags []sdk.Diagnostic
	err := p.call(ctx, "Validate", p.callTimeout, func(ctx context.Context) (err error) {
		diags, err = p.impl.Validate(ctx, req)
		return err
	})
	return diags, err
}

// Package packages a contribution into req.StagingDir.
func (p *Plugin) Package(ctx context.Context, req sdk.PackageRequest) (sdk.PackageResult, error) {
	var res sdk.PackageResult
	err := p.call(ctx, "Package", p.callTimeout, func(ctx context.Context) (err error) {
		res, err = p.impl.Package(ctx, req)
		return err
	})
	return res, err
}

// Unpack unpacks fetched blobs into req.OutputDir.
func (p *Plugin) Unpack(ctx context.Context, req sdk.UnpackRequest) (sdk.UnpackResult, error) {
	var res sdk.UnpackResult
	err := p.call(ctx, "Unpack", p.callTimeout, func(ctx context.Context) (err error) {
		res, err = p.impl.Unpack(ctx, req)
		return err
	})
	return res, err
}

func (p *Plugin) name() string {
	if p.Source.Builtin {
		return fmt.Sprintf("built-in plugin %q", p.Source.Type)
	}
	return fmt.Sprintf("plugin %q (%s)", p.Source.Type, p.Source.Path)
}

// call runs fn with a deadline and explains how it failed.
func (p *Plugin) call(ctx context.Context, method string, timeout time.Duration, fn func(context.Context) error) error {
	if p.client.Exited() {
		// gRPC would say only that the connection is closing, as if the
		// caller had been interrupted.
		return fmt.Errorf("%w: %s is no longer running (it exited, or an earlier error stopped it), so %s was not called%s",
			ErrCrashed, p.name(), method, p.stderrNote())
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
	switch {
	case ctx.Err() == context.DeadlineExceeded || st.Code() == codes.DeadlineExceeded:
		p.kill()
		hint := "; if the contribution is just large, raise --plugin-timeout"
		if method == "Describe" { // bounded by the start timeout, not --plugin-timeout
			hint = ""
		}
		return fmt.Errorf("%w: %s did not finish %s within %s and was stopped%s%s",
			ErrTimeout, p.name(), method, timeout, hint, p.stderrNote())
	case ctx.Err() == context.Canceled || st.Code() == codes.Canceled:
		return fmt.Errorf("%s: %s: %w", p.name(), method, context.Canceled)
	case p.client.Exited() || st.Code() == codes.Unavailable:
		p.kill()
		return fmt.Errorf("%w: %s exited during %s%s", ErrCrashed, p.name(), method, p.stderrNote())
	case st.Code() == codes.Unknown || st.Code() == codes.Internal:
		// The plugin's own error, returned from its method.
		return fmt.Errorf("%s: %s: %s", p.name(), method, st.Message())
	}
	return fmt.Errorf("%s: %s: %v", p.name(), method, err)
}

func (p *Plugin) stderrNote() string {
	lines := p.stderr.Lines()
	if len(lines) == 0 {
		return ""
	}
	return "; its last output on stderr was:\n    " + strings.Join(lines, "\n    ")
}

var protoVersionRE = regexp.MustCompile(`Plugin version: (\d+)`)

// startError explains why go-plugin could not start and connect to a plugin.
func (p *Plugin) startError(err error) error {
	msg := err.Error()
	n := p.name()
	switch {
	case strings.Contains(msg, "incompatible API version"):
		v := "another"
		if m := protoVersionRE.FindStringSubmatch(msg); m != nil {
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
		return fmt.Errorf("%w: %s did not complete its handshake within the start timeout (%s) and was stopped%s", ErrTimeout, n, p.startTimeout, p.stderrNote())
	case strings.Contains(msg, "plugin exited before we could connect"):
		return fmt.Errorf("%w: %s exited before its handshake; if it is a tierpack plugin, run it with --log-level debug to see why%s",
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

// kill stops a plugin that failed, and any processes it started, at once.
// The group goes first: go-plugin's Kill returns only when the plugin's
// stdout and stderr have closed, which a child that inherited them would
// prevent, and a failed plugin has nothing to shut down gracefully.
func (p *Plugin) kill() {
	p.killOnce.Do(func() {
		if p.pgid > 0 {
			killGroup(p.pgid)
		}
		p.client.Kill()
	})
}

// stopGrace bounds how long stop lets go-plugin stop a plugin before it kills
// the plugin's process group: go-plugin gives the plugin 2s to exit.
const stopGrace = 3 * time.Second

// stop stops a healthy plugin: go-plugin asks it to exit, then any processes
// it started are killed. If go-plugin is still waiting after stopGrace — a
// child holds the plugin's stderr open — the group is killed sooner.
func (p *Plugin) stop() {
	p.killOnce.Do(func() {
		done := make(chan struct{})
		go func() { defer close(done); p.client.Kill() }()
		if p.pgid > 0 {
			select {
			case <-done:
			case <-time.After(stopGrace):
			}
			killGroup(p.pgid)
		}
		<-done
	})
}

// tail keeps the last n lines written to it.
type tail struct {
	mu    sync.Mutex
	n     int
	lines []string
	part  bytes.Buffer
	// panicLine is the first "panic:" or "fatal error:" line seen.
	panicLine string
}

func newTail(n int) *tail { return &tail{n: n} }

func (t *tail) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.part.Write(b)
	for {
		line, err := t.part.ReadString('\n')
		if err != nil {
			t.part.Reset()
			t.part.WriteString(line)
			break
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			continue
		}
		if t.panicLine == "" && (strings.HasPrefix(line, "panic: ") || strings.HasPrefix(line, "fatal error: ")) {
			t.panicLine = line
		}
		t.lines = append(t.lines, line)
		if len(t.lines) > t.n {
			t.lines = t.lines[len(t.lines)-t.n:]
		}
	}
	return len(b), nil
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
		}
		if strings.HasPrefix(l, "{") && json.Unmarshal([]byte(l), &entry) == nil && entry.Message != "" {
			if entry.Level == "debug" || entry.Level == "trace" {
				continue // go-plugin's own chatter, e.g. "plugin address"
			}
			l = "[" + entry.Level + "] " + entry.Message
		}
		out = append(out, l)
	}
	if s := strings.TrimSpace(t.part.String()); s != "" {
		out = append(out, s)
	}
	if t.panicLine != "" && (len(out) == 0 || !slices.Contains(out, t.panicLine)) {
		// A deep stack pushes the panic message out of the tail; it is the
		// line that matters most.
		out = append([]string{t.panicLine, "…"}, out...)
	}
	return out
}

func reattachFromEnv() (map[string]sdk.ReattachInfo, error) {
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
