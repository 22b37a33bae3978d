// Command testplugin is a tierpack plugin that misbehaves on purpose, for
// the tests of package plugintest and of the host (pkg/plugin,
// cmd/tierpack). One binary serves every mode: the tests copy it to
// tierpack-plugin-<mode> and it picks its behaviour from its own file name.
//
// It lives in testdata so that `go build ./...` and `go vet ./...` skip it;
// it imports only the SDK, so the SDK's module builds it on its own.
package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	goplugin "github.com/hashicorp/go-plugin"

	"github.com/tierpack/tierpack/sdk"
)

// hostile is text a hostile plugin sends to the host's terminal: an OSC
// title, a screen clear, a carriage return, a bidi override and a line
// that looks like tierpack's verdict.
const hostile = "\x1b]0;pwned\a\x1b[2J\r\u202eofficial (verified)\nTier: official (verified)"

// Environment variables the tests set.
const (
	pidDirEnv        = "TIERPACK_TEST_PIDDIR"
	grandchildPIDEnv = "TIERPACK_TEST_GRANDCHILD_PIDFILE"
)

// stderr is the process's own standard error. sdk.Serve (go-plugin) points
// os.Stderr at a pipe it forwards over gRPC, which loses what is written just
// before the process dies; this still reaches the host directly.
var stderr = os.Stderr

func main() {
	mode := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(os.Args[0]), "tierpack-plugin-"), ".exe")
	// As published (tierpack-plugin-<type>-<os>-<arch>), the type is the mode.
	mode = strings.TrimSuffix(mode, "-"+runtime.GOOS+"-"+runtime.GOARCH)
	// Built-ins are started as `<self> __plugin <type>`: the type is the mode.
	builtin := len(os.Args) == 3 && os.Args[1] == "__plugin"
	if builtin {
		mode = os.Args[2]
	}
	// First thing, and never on stdout: record our pid for the tests, one
	// line per start so that a test can tell whether it started us twice.
	if dir := os.Getenv(pidDirEnv); dir != "" {
		appendLine(filepath.Join(dir, mode+".pid"), strconv.Itoa(os.Getpid()))
	}

	p := packager{mode: mode, builtin: builtin}
	switch mode {
	case "hangstart":
		block()
	case "spawnstart":
		spawn(mode, true)
		block()
	case "stdout":
		fmt.Println("hello from a careless plugin")
	case "notplugin":
		// What a program that is not a plugin does: print usage (to stderr,
		// as Go's flag package does) and exit successfully.
		fmt.Fprintln(os.Stderr, "usage: tierpack-plugin-notplugin [flags] FILE")
		os.Exit(0)
	case "v2":
		goplugin.Serve(&goplugin.ServeConfig{
			HandshakeConfig: sdk.Handshake,
			VersionedPlugins: map[int]goplugin.PluginSet{
				2: {sdk.PluginName: &sdk.GRPCPlugin{Impl: p}},
			},
			GRPCServer: goplugin.DefaultGRPCServer,
		})
		return
	}
	sdk.Serve(p)
}

type packager struct {
	mode    string
	builtin bool
}

func (p packager) Describe(context.Context) (sdk.Description, error) {
	typ := p.mode
	switch p.mode {
	case "wrongtype":
		typ = "something-else"
	case "hangdescribe":
		block()
	}
	desc := "test plugin in mode " + p.mode
	if strings.HasPrefix(p.mode, "hostile") {
		desc += hostile
	}
	if p.builtin {
		desc += " (built-in)"
	}
	if p.mode == "sloppy" {
		// Breaks sdk/plugintest's describe check.
		return sdk.Description{Type: typ, Version: "latest"}, nil
	}
	return sdk.Description{
		Type:         typ,
		Version:      "0.0.1",
		ArtifactType: "application/vnd.tierpack.test.v1",
		MediaTypes:   []string{sdk.MediaTypeLayerTarGzip},
		Description:  desc,
	}, nil
}

func (p packager) Validate(ctx context.Context, req sdk.ValidateRequest) ([]sdk.Diagnostic, error) {
	switch p.mode {
	case "crash":
		fmt.Fprintln(stderr, "about to crash")
		os.Exit(3)
	case "crash-logger":
		// What the sdk tells plugin authors to do.
		sdk.Logger().Error("about to crash")
		os.Exit(3)
	case "hang-logger":
		sdk.Logger().Warn("still reading big.iso")
		fmt.Fprintln(os.Stderr, "plain line on os.Stderr")
		block()
	case "panic":
		panic("test plugin panics in Validate")
	case "hang":
		block()
	case "spawner", "spawner-stderr":
		spawn(p.mode, strings.HasSuffix(p.mode, "-stderr"))
		block()
	case "daemon", "daemon-stderr":
		// Leaves a process running behind it.
		spawn(p.mode, strings.HasSuffix(p.mode, "-stderr"))
	case "fail":
		return nil, fmt.Errorf("cannot read %s: the test plugin fails on purpose", req.Dir)
	case "hostile":
		// Every text channel a plugin has, carrying terminal escapes.
		sdk.Logger().Warn("log line" + hostile)
		return []sdk.Diagnostic{sdk.Warnf("README.md"+hostile, 1, "diagnostic%s", hostile)}, nil
	case "hostile-crash":
		fmt.Fprintln(stderr, "stderr line"+hostile)
		os.Exit(3)
	case "stdout-later", "sloppy":
		// After the handshake go-plugin forwards stdout to the host, which
		// drops it unless told otherwise.
		fmt.Println("debug print from Validate")
	}
	if p.mode == "sloppy" {
		return nil, nil // finds nothing wrong, ever
	}
	return []sdk.Diagnostic{sdk.Warnf("README.md", 0, "no README in %s", req.Contribution.Name)}, nil
}

func (p packager) Package(ctx context.Context, req sdk.PackageRequest) (sdk.PackageResult, error) {
	const name = "layer.txt"
	content := "packaged " + req.Contribution.Name + "\n"
	if p.mode == "sloppy" {
		content += "at " + strconv.FormatInt(time.Now().UnixNano(), 10) + "\n" // not deterministic
	}
	if err := os.WriteFile(filepath.Join(req.StagingDir, name), []byte(content), 0o644); err != nil {
		return sdk.PackageResult{}, err
	}
	mediaType := sdk.MediaTypeLayerTarGzip
	if p.mode == "attacker" || p.mode == "bigmanifest" {
		mediaType = "application/vnd.tierpack.test.layer.v1" // pushable as is
	}
	var ann map[string]string
	if p.mode == "bigmanifest" {
		// A 31 MB annotation: a manifest no pull would read.
		ann = map[string]string{"org.example.huge": strings.Repeat("h", 31<<20)}
	}
	layers := []sdk.Blob{{MediaType: mediaType, Path: name}}
	if p.mode == "attacker" {
		// The contribution's files too, each a layer as is (a big one makes
		// a pull long enough to kill midway).
		for _, f := range req.Contribution.Files {
			b, err := os.ReadFile(filepath.Join(req.Dir, filepath.FromSlash(f)))
			if err != nil || f == "tierpack.yaml" {
				continue
			}
			dst := "file-" + strconv.Itoa(len(layers))
			if err := os.WriteFile(filepath.Join(req.StagingDir, dst), b, 0o644); err != nil {
				return sdk.PackageResult{}, err
			}
			layers = append(layers, sdk.Blob{MediaType: mediaType, Path: dst})
		}
	}
	return sdk.PackageResult{Manifests: []sdk.Manifest{{
		Layers:      layers,
		Annotations: ann,
	}}}, nil
}

func (p packager) Unpack(ctx context.Context, req sdk.UnpackRequest) (sdk.UnpackResult, error) {
	if p.mode == "attacker" {
		return attack(req)
	}
	return sdk.UnpackResult{}, nil
}

// attack is what a hostile plugin tries in Unpack (mode "attacker"), as
// req.Options["attack"] names it; it reports in OutputDir/report.txt what
// happened, so a test sees each attempt's outcome.
func attack(req sdk.UnpackRequest) (sdk.UnpackResult, error) {
	out := req.OutputDir
	var report []string
	note := func(what string, err error) {
		res := "ok"
		if err != nil {
			res = "denied: " + err.Error()
		}
		report = append(report, what+": "+res)
	}
	switch req.Options["attack"] {
	case "env":
		report = append(report, os.Environ()...)
	case "write":
		note("write "+req.Options["path"], os.WriteFile(req.Options["path"], []byte("pwned\n"), 0o755))
	case "connect":
		c, err := net.DialTimeout("tcp", req.Options["addr"], 2*time.Second)
		if err == nil {
			c.Close()
		}
		note("connect "+req.Options["addr"], err)
	case "setsid":
		cmd := exec.Command("sleep", "300")
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		err := cmd.Start()
		if err == nil {
			report = append(report, "child "+strconv.Itoa(cmd.Process.Pid))
		}
		note("setsid", err)
	case "setsid-hang":
		// A child in a session of its own, then hang until the host is
		// killed: the child outlives both, until the next run.
		cmd := exec.Command("sleep", "300")
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		if err := cmd.Start(); err != nil {
			return sdk.UnpackResult{}, err
		}
		if err := os.WriteFile(filepath.Join(out, "child.pid"), []byte(strconv.Itoa(cmd.Process.Pid)), 0o644); err != nil {
			return sdk.UnpackResult{}, err
		}
		block()
	case "symlink":
		note("symlink", os.Symlink("/etc", filepath.Join(out, "etc")))
	case "dotdot":
		note("symlink", os.Symlink("../../../../etc/passwd", filepath.Join(out, "passwd")))
	case "hardlink":
		note("hardlink", os.Link(req.Options["path"], filepath.Join(out, "linked")))
	case "fifo":
		note("fifo", syscall.Mkfifo(filepath.Join(out, "fifo"), 0o644))
	case "mode":
		err := os.WriteFile(filepath.Join(out, "open"), []byte("x"), 0o644)
		if err == nil {
			err = os.Chmod(filepath.Join(out, "open"), 0o777)
		}
		note("chmod 0777", err)
	case "setuid":
		err := os.WriteFile(filepath.Join(out, "suid"), []byte("x"), 0o755)
		if err == nil {
			err = os.Chmod(filepath.Join(out, "suid"), os.ModeSetuid|0o755)
		}
		note("setuid", err)
	case "flood":
		// 22 MB on stderr in one line, then fail.
		line := strings.Repeat("x", 1<<20)
		for range 22 {
			fmt.Fprint(os.Stderr, line)
		}
		fmt.Fprintln(os.Stderr)
		return sdk.UnpackResult{}, errors.New("flooded")
	case "bigreply":
		// A reply over the protocol's 64 MiB limit.
		files := make([]string, 0, 70)
		for i := range 70 {
			files = append(files, strconv.Itoa(i)+strings.Repeat("f", 1<<20))
		}
		return sdk.UnpackResult{Files: files}, nil
	}
	if err := os.WriteFile(filepath.Join(out, "report.txt"), []byte(strings.Join(report, "\n")+"\n"), 0o644); err != nil {
		return sdk.UnpackResult{}, err
	}
	return sdk.UnpackResult{Files: []string{"report.txt"}}, nil
}

// spawn starts a grandchild process that lives for 5 minutes and records
// "<mode> <pid>" in the grandchild pid file (plugins of several modes may
// share it). With shareStderr, it inherits the plugin's real stderr, the pipe
// go-plugin's host side reads until it closes (as a tool would that the
// plugin runs before sdk.Serve, or hands fd 2); otherwise its stdio is
// /dev/null.
func spawn(mode string, shareStderr bool) {
	cmd := exec.Command("sleep", "300")
	if shareStderr {
		cmd.Stderr = stderr
	}
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(stderr, "testplugin:", err)
		os.Exit(1)
	}
	appendLine(os.Getenv(grandchildPIDEnv), mode+" "+strconv.Itoa(cmd.Process.Pid))
}

// block never returns. It sleeps rather than using select{}, which the Go
// runtime would report as a deadlock when no other goroutine is left.
func block() {
	for {
		time.Sleep(time.Hour)
	}
}

// appendLine appends line to the file at path (if path is set). The tests
// read these files only after the plugin has answered the host or failed,
// which happens after the write.
func appendLine(path, line string) {
	if path == "" {
		return
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err == nil {
		_, err = f.WriteString(line + "\n")
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "testplugin:", err)
		os.Exit(1)
	}
}
