//go:build !windows

package main

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/tierpack/tierpack/internal/registrytest"
)

// ptySession runs tierpack on a new pseudo-terminal, as a person at a
// terminal would: stdin, stdout and stderr are the terminal.
type ptySession struct {
	t    *testing.T
	cmd  *exec.Cmd
	tty  *os.File
	seen bytes.Buffer
	out  chan byte
}

func startPTY(t *testing.T, env []string, args ...string) *ptySession {
	t.Helper()
	cmd := exec.Command(tierpackBin, args...)
	cmd.Env = env
	tty, err := pty.Start(cmd)
	if err != nil {
		t.Fatalf("starting tierpack on a pty: %v", err)
	}
	s := &ptySession{t: t, cmd: cmd, tty: tty, out: make(chan byte, 1<<16)}
	go func() {
		r := bufio.NewReader(tty)
		for {
			b, err := r.ReadByte()
			if err != nil {
				close(s.out)
				return
			}
			s.out <- b
		}
	}()
	t.Cleanup(func() { tty.Close(); _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return s
}

// expect reads the terminal until it has shown want (bounded, so a
// missing prompt fails the test instead of hanging it).
func (s *ptySession) expect(want string) {
	s.t.Helper()
	deadline := time.After(30 * time.Second)
	for !strings.Contains(s.seen.String(), want) {
		select {
		case b, ok := <-s.out:
			if !ok {
				s.t.Fatalf("the terminal closed before showing %q; it showed:\n%s", want, s.seen.String())
			}
			s.seen.WriteByte(b)
		case <-deadline:
			s.t.Fatalf("the terminal did not show %q; it showed:\n%s", want, s.seen.String())
		}
	}
}

// send types line and Enter.
func (s *ptySession) send(line string) {
	s.t.Helper()
	if _, err := s.tty.Write([]byte(line + "\r")); err != nil {
		s.t.Fatal(err)
	}
}

// wait reads the rest of the output and returns the exit code.
func (s *ptySession) wait() int {
	s.t.Helper()
	for b := range s.out {
		s.seen.WriteByte(b)
	}
	err := s.cmd.Wait()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	if err != nil {
		s.t.Fatal(err)
	}
	return 0
}

// TestLoginPrompt: `tierpack login HOST -u alice` on a terminal asks for
// the password without echoing it (issue 14: it used to say "needs
// --username and a password" although the user name was given); without
// -u it asks for the user name too; a per-command -u on another command
// asks the same way; a wrong password is refused with what to check.
func TestLoginPrompt(t *testing.T) {
	reg := registrytest.New(t, registrytest.WithTLS(), registrytest.WithBasicAuth("alice", "s3cret"))
	home := t.TempDir()
	env := testEnv(t, home)
	config := filepath.Join(home, "docker", "config.json")

	s := startPTY(t, env, "login", reg.Host, "-u", "alice", "--ca-file", reg.CAFile)
	s.expect("Password for alice at " + reg.Host + ": ")
	s.send("wrong")
	if code := s.wait(); code != 6 {
		t.Fatalf("wrong password: exit %d, want 6:\n%s", code, s.seen.String())
	}
	if out := s.seen.String(); strings.Contains(out, "wrong") || !strings.Contains(out, "nothing was saved") {
		t.Fatalf("wrong password: the terminal showed:\n%s", out)
	}
	if _, err := os.Stat(config); err == nil {
		t.Fatal("a refused login saved credentials")
	}

	s = startPTY(t, env, "login", reg.Host, "--ca-file", reg.CAFile)
	s.expect("Username for " + reg.Host + ": ")
	s.send("alice")
	s.expect("Password for alice at " + reg.Host + ": ")
	s.send("s3cret")
	if code := s.wait(); code != 0 {
		t.Fatalf("login: exit %d:\n%s", code, s.seen.String())
	}
	if out := s.seen.String(); strings.Contains(out, "s3cret") || !strings.Contains(out, "logged in to "+reg.Host+" as alice") {
		t.Fatalf("login: the terminal showed:\n%s", out)
	}
	b, err := os.ReadFile(config)
	if err != nil || !strings.Contains(string(b), reg.Host) {
		t.Fatalf("config.json after login: %s, %v", b, err)
	}

	// Logged out, a registry command with -u asks for the password too.
	if out, err := logoutCmd(env, reg.Host).CombinedOutput(); err != nil {
		t.Fatalf("logout: %v\n%s", err, out)
	}
	ref := reg.Ref("pty/none", "1.0.0")
	s = startPTY(t, env, "inspect", ref, "-u", "alice", "--ca-file", reg.CAFile)
	s.expect("Password for alice at " + reg.Host + ": ")
	s.send("s3cret")
	if code := s.wait(); code != 5 { // authenticated: the tag does not exist
		t.Fatalf("inspect -u: exit %d, want 5 (not found):\n%s", code, s.seen.String())
	}
}

func logoutCmd(env []string, host string) *exec.Cmd {
	cmd := exec.Command(tierpackBin, "logout", host)
	cmd.Env = env
	return cmd
}
