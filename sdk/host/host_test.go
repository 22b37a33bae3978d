//go:build unix

package host

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tierpack/tierpack/sdk"
	"github.com/tierpack/tierpack/sdk/archive"
)

// echoPlugin is testdata/echoplugin, built by TestMain.
var echoPlugin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "tierpack-host-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	echoPlugin = filepath.Join(dir, BinaryName("echo"))
	cmd := exec.Command("go", "build", "-o", echoPlugin, "./testdata/echoplugin")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building testdata/echoplugin:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func TestTypeFromBinaryName(t *testing.T) {
	for _, tc := range []struct {
		name, typ string
		ok        bool
	}{
		{"tierpack-plugin-rules", "rules", true},
		{"tierpack-plugin-rules.exe", "rules", true},
		{"tierpack-plugin-my-rules", "my-rules", true},
		{"tierpack-plugin-", "", false},
		{"tierpack-plugin--x", "", false},
		{"tierpack-plugin-rules.bak", "", false},
		{"tierpack-plugin-a b", "", false},
		{"rules", "", false},
	} {
		typ, ok := TypeFromBinaryName(tc.name)
		if typ != tc.typ || ok != tc.ok {
			t.Errorf("TypeFromBinaryName(%q) = %q, %v; want %q, %v", tc.name, typ, ok, tc.typ, tc.ok)
		}
	}
	if typ, ok := TypeFromBinaryName(BinaryName("rules")); !ok || typ != "rules" {
		t.Errorf("BinaryName does not round-trip: %q", BinaryName("rules"))
	}
}

func TestTail(t *testing.T) {
	tl := newTail(3)
	fmt.Fprint(tl, "one\n\n")
	fmt.Fprint(tl, `{"@level":"debug","@message":"plugin address"}`+"\n")
	fmt.Fprint(tl, `{"@level":"error","@message":"it broke"}`+"\n")
	fmt.Fprint(tl, "panic: boom\n")
	for i := range 5 {
		fmt.Fprintf(tl, "goroutine frame %d\n", i)
	}
	fmt.Fprint(tl, "unfinished")
	want := []string{"panic: boom", "…", "goroutine frame 2", "goroutine frame 3", "goroutine frame 4", "unfinished"}
	if got := tl.Lines(); !slices.Equal(got, want) {
		t.Errorf("Lines() = %q, want %q", got, want)
	}
	tl = newTail(5)
	fmt.Fprint(tl, `{"@level":"debug","@message":"chatter"}`+"\n"+`{"@level":"warn","@message":"careful"}`+"\n")
	if got := tl.Lines(); !slices.Equal(got, []string{"[warn] careful"}) {
		t.Errorf("JSON lines: %q", got)
	}
}

func TestReattachFromEnv(t *testing.T) {
	t.Setenv(sdk.ReattachEnv, "")
	if r, err := ReattachFromEnv(); err != nil || len(r) != 0 {
		t.Fatalf("unset: %v, %v", r, err)
	}
	t.Setenv(sdk.ReattachEnv, `{"rules":{"protocol":"grpc","protocolVersion":1,"pid":42,"network":"unix","address":"/tmp/x.sock"}}`)
	r, err := ReattachFromEnv()
	if err != nil || r["rules"].Pid != 42 || r["rules"].Address != "/tmp/x.sock" {
		t.Fatalf("set: %+v, %v", r, err)
	}
	t.Setenv(sdk.ReattachEnv, "{")
	if _, err := ReattachFromEnv(); err == nil || !strings.Contains(err.Error(), "copy it from the plugin's debug output") {
		t.Fatalf("bad JSON: %v", err)
	}
}

func TestReattachWrongProtocol(t *testing.T) {
	_, err := Start(t.Context(), Config{Type: "rules", Reattach: &sdk.ReattachInfo{ProtocolVersion: 9, Network: "unix", Address: "/nonexistent.sock"}})
	if !errors.Is(err, ErrProtocol) || !strings.Contains(err.Error(), "speaks tierpack plugin protocol 9, but this tierpack speaks 1") {
		t.Fatalf("Start = %v, want ErrProtocol", err)
	}
}

// script writes an executable shell script: a real process that is not a
// plugin.
func script(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), BinaryName("script"))
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestStartFailures(t *testing.T) {
	notExecutable := filepath.Join(t.TempDir(), "tierpack-plugin-x")
	if err := os.WriteFile(notExecutable, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		path     string
		start    time.Duration
		want     error
		contains []string
	}{
		{"missing", filepath.Join(t.TempDir(), "tierpack-plugin-gone"), 0, ErrNotFound, []string{"no such file"}},
		{"not executable", notExecutable, 0, ErrHandshake, []string{"cannot be executed", "chmod +x"}},
		{"not a plugin", script(t, "echo usage: script FILE >&2; exit 0"), 0, ErrHandshake,
			[]string{"is not a tierpack plugin", "must call sdk.Serve", "usage: script FILE"}},
		{"stdout before handshake", script(t, "echo hello there; sleep 5"), 0, ErrHandshake,
			[]string{`wrote "hello there" to stdout before its handshake`, "sdk.Logger"}},
		{"hangs at start", script(t, "exec sleep 30"), 500 * time.Millisecond, ErrTimeout,
			[]string{"did not complete its handshake within the start timeout (500ms)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			began := time.Now()
			p, err := Start(t.Context(), Config{Name: "plugin under test", Path: tc.path, StartTimeout: tc.start, LogLevel: "off"})
			if err == nil {
				p.Kill()
				t.Fatal("Start succeeded")
			}
			if !errors.Is(err, tc.want) {
				t.Errorf("error %v does not wrap %v", err, tc.want)
			}
			for _, s := range append(tc.contains, "plugin under test") {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error does not say %q: %v", s, err)
				}
			}
			if took := time.Since(began); took > 10*time.Second {
				t.Errorf("Start took %s", took)
			}
		})
	}
}

func validate(t *testing.T, p *Plugin, name string) ([]sdk.Diagnostic, error) {
	t.Helper()
	return p.Validate(t.Context(), sdk.ValidateRequest{Dir: t.TempDir(), Contribution: sdk.Contribution{Name: name, Type: "echo"}})
}

func TestCalls(t *testing.T) {
	var stopped []int
	p, err := Start(t.Context(), Config{Type: "echo", Path: echoPlugin, CallTimeout: time.Second, LogLevel: "off",
		StopChildren: func(pid int) { stopped = append(stopped, pid) }})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	if d := p.Describe(); d.Type != "echo" || d.SDKVersion != sdk.Version || p.Protocol() != sdk.ProtocolVersion || p.Pid() <= 0 {
		t.Fatalf("Describe %+v, protocol %d, pid %d", d, p.Protocol(), p.Pid())
	}
	if p.Name() != "plugin at "+echoPlugin {
		t.Errorf("default name %q", p.Name())
	}

	diags, err := validate(t, p, "demo")
	if err != nil || len(diags) != 1 || diags[0].Message != "validated demo" {
		t.Fatalf("Validate = %v, %v", diags, err)
	}
	// The plugin's own error: it keeps running.
	_, err = validate(t, p, "fail")
	if err == nil || !strings.Contains(err.Error(), "Validate: echo cannot read its configuration") || errors.Is(err, ErrCrashed) {
		t.Fatalf("plugin error = %v", err)
	}
	if _, err := validate(t, p, "demo"); err != nil {
		t.Fatalf("after a plugin error: %v", err)
	}

	// A hang is stopped after the call timeout, and the plugin with it.
	began := time.Now()
	_, err = validate(t, p, "hang")
	if !errors.Is(err, ErrTimeout) || !strings.Contains(err.Error(), "did not finish Validate within 1s and was stopped") {
		t.Fatalf("hang = %v", err)
	}
	if took := time.Since(began); took > 10*time.Second {
		t.Errorf("the timeout took %s", took)
	}
	if !p.Exited() || !slices.Equal(stopped, []int{p.Pid()}) {
		t.Errorf("after a timeout: exited=%v, StopChildren called with %v", p.Exited(), stopped)
	}
	if _, err := validate(t, p, "demo"); !errors.Is(err, ErrCrashed) || !strings.Contains(err.Error(), "is no longer running") {
		t.Fatalf("call after the timeout = %v", err)
	}
}

func TestCrash(t *testing.T) {
	p, err := Start(t.Context(), Config{Name: "echo", Path: echoPlugin, LogLevel: "off"})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	_, err = validate(t, p, "crash")
	if !errors.Is(err, ErrCrashed) || !strings.Contains(err.Error(), "echo exited during Validate") || !strings.Contains(err.Error(), "echo: about to crash") {
		t.Fatalf("crash = %v", err)
	}
}

func TestCanceled(t *testing.T) {
	p, err := Start(t.Context(), Config{Path: echoPlugin, LogLevel: "off"})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = p.Validate(ctx, sdk.ValidateRequest{Contribution: sdk.Contribution{Name: "demo"}})
	if !errors.Is(err, context.Canceled) || errors.Is(err, ErrCrashed) {
		t.Fatalf("canceled call = %v", err)
	}
}

// TestRefusalIsTyped: a plugin's refusal of its content reaches the host
// as a typed error wrapping the archive sentinel (a gRPC status detail),
// so the host needs no second look at the layers; any other error of the
// plugin stays its text.
func TestRefusalIsTyped(t *testing.T) {
	p, err := Start(t.Context(), Config{Type: "echo", Path: echoPlugin, LogLevel: "off"})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Kill()
	_, err = p.Unpack(t.Context(), sdk.UnpackRequest{OutputDir: t.TempDir(), Options: map[string]string{"refuse": "true"}})
	var rc *sdk.RefusedContentError
	if !errors.Is(err, archive.ErrUnsafeEntry) || !errors.As(err, &rc) || !strings.Contains(err.Error(), `entry "../x" leaves the output folder`) {
		t.Fatalf("refusal: %v", err)
	}
	_, err = p.Unpack(t.Context(), sdk.UnpackRequest{OutputDir: t.TempDir()})
	if err == nil || errors.Is(err, archive.ErrUnsafeEntry) || errors.As(err, &rc) || !strings.Contains(err.Error(), "echo does not unpack") {
		t.Fatalf("plain error: %v", err)
	}
}

// A plugin's stderr costs the host a bounded amount whatever it writes: a
// 22 MB line without a newline, in go-plugin's 64 KiB pieces, is kept as
// its first few KiB; what is kept is escaped.
func TestTailIsBounded(t *testing.T) {
	tl := newTail(20)
	piece := bytes.Repeat([]byte("x"), 64<<10)
	for range 22 << 20 / len(piece) {
		tl.Write(piece)
	}
	if tl.part.Len() > maxLine {
		t.Fatalf("kept %d bytes of one line", tl.part.Len())
	}
	tl.Write([]byte("\n\x1b]0;pwned\a\u202eofficial (verified)\n"))
	lines := tl.Lines()
	if len(lines) != 2 || len(lines[0]) > maxLine+20 || !strings.HasSuffix(lines[0], "(cut)") {
		t.Fatalf("the long line: %d lines, %q…", len(lines), lines[0][:40])
	}
	if lines[1] != `\x1b]0;pwned\a\u202eofficial (verified)` {
		t.Errorf("not escaped: %q", lines[1])
	}
	for range 100 {
		tl.Write(append(piece[:maxLine*2:maxLine*2], '\n'))
	}
	total := 0
	for _, l := range tl.Lines() {
		total += len(l)
	}
	if total > 20*(maxLine+20) {
		t.Errorf("kept %d bytes", total)
	}
}
