//go:build unix

package plugin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tierpack/tierpack/sdk"
	"github.com/tierpack/tierpack/sdk/host"
)

// pin installs the test plugin as tierpack-plugin-<mode> in a fresh managed
// folder and pins it there, as `tierpack plugin install` would.
func pin(t *testing.T, mode string) (dir, bin string) {
	t.Helper()
	dir = t.TempDir()
	bin = filepath.Join(dir, BinaryName(mode))
	copyFile(t, testPlugin, bin)
	sum, err := FileSHA256(bin)
	if err != nil {
		t.Fatal(err)
	}
	err = UpdateLock(dir, func(l *Lock) error {
		l.Plugins[mode] = Pin{
			Type: mode, Version: "0.0.1", Source: "registry.example/plugins/" + mode + ":0.0.1",
			Digest: "sha256:" + strings.Repeat("ab", 32), SHA256: sum, Protocols: []int{1}, Installed: time.Now().UTC(),
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return dir, bin
}

// TestPinnedPluginRuns checks that a managed binary that matches its pin
// starts, and that Sources reports the pin.
func TestPinnedPluginRuns(t *testing.T) {
	env(t)
	dir, bin := pin(t, "good")
	m := newManager(t, Options{ManagedDir: dir})
	srcs, err := m.Sources()
	if err != nil {
		t.Fatal(err)
	}
	if len(srcs) != 1 || !srcs[0].Managed || srcs[0].Pin == nil || srcs[0].Pin.Version != "0.0.1" || srcs[0].Path != bin {
		t.Fatalf("Sources() = %+v, want the pinned good plugin", srcs)
	}
	p, err := m.Get(context.Background(), "good")
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if p.Protocol() != 1 {
		t.Errorf("Protocol() = %d, want 1", p.Protocol())
	}
	if got := m.Dirs(); len(got) != 1 || got[0] != dir {
		t.Errorf("Dirs() = %v, want the managed folder", got)
	}
}

// TestManagedPluginRefused checks that a managed binary is refused with
// ErrTampered, and a message saying what to do, when it no longer matches
// its pin, when it has none, and when the lock file is unreadable; and that
// nothing is started then.
func TestManagedPluginRefused(t *testing.T) {
	pidDir := env(t)
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, dir, bin string)
		want  []string
		// reinstall is the pinned reference the command line offers to
		// reinstall (TamperedError.Reinstall).
		reinstall string
	}{
		{
			name: "modified",
			setup: func(t *testing.T, dir, bin string) {
				f, err := os.OpenFile(bin, os.O_WRONLY|os.O_APPEND, 0)
				if err != nil {
					t.Fatal(err)
				}
				f.WriteString("tampered")
				f.Close()
			},
			want:      []string{"was pinned when it was installed from registry.example/plugins/good:0.0.1", "modified or replaced"},
			reinstall: "registry.example/plugins/good@sha256:abab",
		},
		{
			name: "unpinned",
			setup: func(t *testing.T, dir, bin string) {
				if err := os.Remove(filepath.Join(dir, LockFileName)); err != nil {
					t.Fatal(err)
				}
			},
			want: []string{"not in its lock.json"},
		},
		{
			name: "corrupt-lock",
			setup: func(t *testing.T, dir, bin string) {
				if err := os.WriteFile(filepath.Join(dir, LockFileName), []byte("{oops"), 0o644); err != nil {
					t.Fatal(err)
				}
			},
			want: []string{"cannot be checked against its pin", "lock.json is not valid JSON", "reinstall"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, bin := pin(t, "good")
			tc.setup(t, dir, bin)
			os.Remove(filepath.Join(pidDir, "good.pid"))
			m := newManager(t, Options{ManagedDir: dir})
			_, err := m.Get(context.Background(), "good")
			if err == nil {
				t.Fatal("Get succeeded")
			}
			t.Logf("error:\n%v", err)
			if !errors.Is(err, ErrTampered) {
				t.Errorf("error is not ErrTampered: %v", err)
			}
			assertContains(t, err, append([]string{`plugin "good"`, bin}, tc.want...)...)
			var te *TamperedError
			if tc.name != "corrupt-lock" && (!errors.As(err, &te) || te.Type != "good" || !strings.HasPrefix(te.Reinstall, tc.reinstall) || (tc.reinstall == "") != (te.Reinstall == "")) {
				t.Errorf("TamperedError = %+v, want reinstall %q", te, tc.reinstall)
			}
			if pids := readPIDs(t, filepath.Join(pidDir, "good.pid")); len(pids) != 0 {
				t.Errorf("the refused plugin ran (pids %v)", pids)
			}
		})
	}
}

// TestUnpinnedDirsStillRun checks that the pin rule is the managed folder's
// alone: the same binary, unpinned, runs from Dirs, and a binary in Dirs
// still shadows one in the managed folder that has no pin.
func TestUnpinnedDirsStillRun(t *testing.T) {
	env(t)
	own := pluginDir(t, "good")
	managed, bin := pin(t, "good")
	if err := os.Remove(filepath.Join(managed, LockFileName)); err != nil {
		t.Fatal(err)
	}
	m := newManager(t, Options{Dirs: []string{own}, ManagedDir: managed})
	p, err := m.Get(context.Background(), "good")
	if err != nil {
		t.Fatal(err)
	}
	if p.Source.Managed || p.Source.Path != filepath.Join(own, host.BinaryPrefix+"good") {
		t.Errorf("Source = %+v, want the unpinned one from Dirs", p.Source)
	}
	if len(p.Source.Shadowed) != 1 || p.Source.Shadowed[0] != bin {
		t.Errorf("Shadowed = %v, want the unpinned managed binary", p.Source.Shadowed)
	}
}

// TestPinnedPluginNotShadowed checks that a type installed and pinned in
// the managed folder is never replaced by an unpinned binary of the same
// type in Dirs: the pinned one runs, the other is listed as shadowed, and
// a warning names both.
func TestPinnedPluginNotShadowed(t *testing.T) {
	pidDir := env(t)
	managed, bin := pin(t, "good")
	rogueDir := t.TempDir()
	rogue := filepath.Join(rogueDir, host.BinaryPrefix+"good")
	os.WriteFile(rogue, []byte("#!/bin/sh\necho rogue > "+filepath.Join(pidDir, "rogue-ran")+"\n"), 0o755)
	var warnings []string
	m := newManager(t, Options{Dirs: []string{rogueDir}, ManagedDir: managed, Warn: func(s string) { warnings = append(warnings, s) }})
	srcs, err := m.Sources()
	if err != nil {
		t.Fatal(err)
	}
	if len(srcs) != 1 || srcs[0].Path != bin || srcs[0].Pin == nil || len(srcs[0].Shadowed) != 1 || srcs[0].Shadowed[0] != rogue {
		t.Fatalf("Sources() = %+v, want the pinned %s shadowing %s", srcs, bin, rogue)
	}
	p, err := m.Get(context.Background(), "good")
	if err != nil {
		t.Fatal(err)
	}
	if p.Source.Path != bin || !p.Source.Managed {
		t.Errorf("Get ran %+v, want the pinned binary", p.Source)
	}
	if _, err := os.Stat(filepath.Join(pidDir, "rogue-ran")); err == nil {
		t.Error("the unpinned binary ran")
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], bin) || !strings.Contains(warnings[0], rogue) {
		t.Errorf("warnings = %q, want one naming %s and %s", warnings, bin, rogue)
	}
}

// TestPinnedBinarySwappedAfterCheck replaces the pinned binary right after
// its check and before it starts — the race that used to run the swapped
// file — and checks that the checked bytes run, not the swapped ones.
func TestPinnedBinarySwappedAfterCheck(t *testing.T) {
	pidDir := env(t)
	managed, bin := pin(t, "good")
	marker := filepath.Join(pidDir, "swapped-ran")
	testHookAfterPinCheck = func(Source) {
		tmp := bin + ".swap"
		if err := os.WriteFile(tmp, []byte("#!/bin/sh\necho swapped > "+marker+"\n"), 0o755); err != nil {
			t.Error(err)
		}
		if err := os.Rename(tmp, bin); err != nil {
			t.Error(err)
		}
	}
	t.Cleanup(func() { testHookAfterPinCheck = nil })
	m := newManager(t, Options{ManagedDir: managed})
	p, err := m.Get(context.Background(), "good")
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("the binary swapped in after the pin check ran")
	}
	if p.Description.Type != "good" {
		t.Errorf("Describe = %+v", p.Description)
	}
	if exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", p.Pid())); err == nil && exe == bin {
		t.Errorf("the plugin runs from the installed path %s, not a private copy", exe)
	}
	// The next start checks the swapped file, and refuses it.
	testHookAfterPinCheck = nil
	m2 := newManager(t, Options{ManagedDir: managed})
	if _, err := m2.Get(context.Background(), "good"); !errors.Is(err, ErrTampered) {
		t.Fatalf("Get of the swapped binary = %v, want ErrTampered", err)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("the swapped binary ran")
	}
}

// TestRunDir checks that a Manager keeps plugin sockets and pinned copies
// in one private folder, removes it on Close, and removes the folder a
// killed process left.
func TestRunDir(t *testing.T) {
	env(t)
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	dead := filepath.Join(tmp, RunDirPrefix+"999999999-1")
	os.MkdirAll(dead, 0o700)
	os.WriteFile(filepath.Join(dead, "plugin123"), nil, 0o600)
	managed, _ := pin(t, "good")
	m := newManager(t, Options{ManagedDir: managed})
	if _, err := m.Get(context.Background(), "good"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dead); !os.IsNotExist(err) {
		t.Errorf("the folder of a dead process is still there: %v", err)
	}
	runs, _ := filepath.Glob(filepath.Join(tmp, RunDirPrefix+"*"))
	if len(runs) != 1 {
		t.Fatalf("run folders %v, want one", runs)
	}
	if st, err := os.Stat(runs[0]); err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("run folder: %v, %v; want 0700", st, err)
	}
	sockets, _ := filepath.Glob(filepath.Join(runs[0], "plugin*"))
	if len(sockets) != 1 {
		t.Errorf("sockets in the run folder: %v, want the plugin's", sockets)
	}
	m.Close()
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("left in TMPDIR after Close: %v", left)
	}
}

// TestStartBinary checks that a binary is started by path whatever its name,
// is typed by its Describe, does not become the plugin Get returns, and is
// stopped on Close.
func TestStartBinary(t *testing.T) {
	pidDir := env(t)
	dir := pluginDir(t, "wrongtype")
	m := newManager(t, Options{})
	p, err := m.StartBinary(context.Background(), filepath.Join(dir, host.BinaryPrefix+"wrongtype"))
	if err != nil {
		t.Fatalf("StartBinary: %v", err)
	}
	if p.Source.Type != "something-else" || p.Description.Type != "something-else" {
		t.Errorf("Source.Type = %q, Description.Type = %q, want the described type", p.Source.Type, p.Description.Type)
	}
	if _, err := m.Get(context.Background(), "something-else"); !errors.Is(err, host.ErrNotFound) {
		t.Errorf("Get after StartBinary = %v, want ErrNotFound", err)
	}
	pid := onePID(t, filepath.Join(pidDir, "wrongtype.pid"))
	m.Close()
	assertExited(t, pid, "plugin started with StartBinary")

	// A failure is explained as for a discovered plugin, under its file name.
	m2 := newManager(t, Options{})
	_, err = m2.StartBinary(context.Background(), filepath.Join(pluginDir(t, "stdout"), host.BinaryPrefix+"stdout"))
	if !errors.Is(err, host.ErrHandshake) {
		t.Fatalf("StartBinary of a plugin printing to stdout = %v, want ErrHandshake", err)
	}
	assertContains(t, err, `plugin "stdout"`, "to stdout before its handshake")
}

// TestStdoutAfterHandshake checks that what a serving plugin writes to
// stdout reaches Options.Stdout. go-plugin forwards it on a stream of its
// own, asynchronously, with no event to wait for: so the test looks, for a
// bounded time.
func TestStdoutAfterHandshake(t *testing.T) {
	env(t)
	var out syncBuffer
	m := newManager(t, Options{Dirs: []string{pluginDir(t, "stdout-later")}, Stdout: &out})
	ctx := context.Background()
	p, err := m.Get(ctx, "stdout-later")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Validate(ctx, validateReq(t.TempDir())); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(out.String(), "debug print from Validate") {
		if time.Now().After(deadline) {
			t.Fatalf("Options.Stdout got %q within 5s", out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	m.Close()
}

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestUpdateLockConcurrent checks that concurrent updates of one folder's
// lock file take turns: none is lost, and no temporary file is left.
func TestUpdateLockConcurrent(t *testing.T) {
	dir := t.TempDir()
	const n = 8
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			typ := fmt.Sprintf("type%d", i)
			errs <- UpdateLock(dir, func(l *Lock) error {
				l.Plugins[typ] = Pin{Type: typ, Version: "1.0.0"}
				return nil
			})
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	l, err := ReadLock(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := l.Types(); len(got) != n {
		t.Fatalf("lock file has %d pins (%v), want %d: concurrent updates lost some", len(got), got, n)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.Name() != LockFileName && e.Name() != "."+LockFileName+".lock" {
			t.Errorf("left in the folder: %s", e.Name())
		}
	}
	// A failed update leaves the file as it was.
	if err := UpdateLock(dir, func(l *Lock) error { delete(l.Plugins, "type0"); return errors.New("no") }); err == nil {
		t.Fatal("UpdateLock ignored fn's error")
	}
	if l, _ := ReadLock(dir); len(l.Plugins) != n {
		t.Fatalf("a failed update changed the file: %d pins", len(l.Plugins))
	}
}

// A hostile plugin cannot replace another plugin's pinned binary (the copy
// that runs, in the Manager's run folder), nor the installed one, nor
// write into the run folder at all: its writes are confined to its own
// folder and what its use grants.
func TestSandboxedPluginCannotReplacePinnedBinary(t *testing.T) {
	if _, _, ok := host.SandboxStatus(); !ok {
		t.Skip("no Landlock on this kernel")
	}
	env(t)
	managed, installed := pin(t, "good")
	copyFile(t, testPlugin, filepath.Join(managed, BinaryName("attacker")))
	if err := UpdateLock(managed, func(l *Lock) error {
		sum, err := FileSHA256(filepath.Join(managed, BinaryName("attacker")))
		l.Plugins["attacker"] = Pin{Type: "attacker", Version: "0.0.1", Source: "registry.example/plugins/attacker:0.0.1",
			Digest: "sha256:" + strings.Repeat("cd", 32), SHA256: sum, Protocols: []int{1}, Installed: time.Now().UTC()}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	m := newManager(t, Options{ManagedDir: managed})
	ctx := context.Background()
	if _, err := m.Get(ctx, "good"); err != nil {
		t.Fatal(err)
	}
	copies, _ := filepath.Glob(filepath.Join(m.runDir, "bin-*", BinaryName("good")))
	if len(copies) != 1 {
		t.Fatalf("pinned copies: %v", copies)
	}
	out := t.TempDir()
	a, err := m.GetFor(ctx, "attacker", Access{Write: []string{out}})
	if err != nil {
		t.Fatal(err)
	}
	for _, victim := range []string{copies[0], installed, filepath.Join(m.runDir, "planted"), filepath.Join(filepath.Dir(copies[0]), "planted")} {
		before, _ := os.ReadFile(victim)
		if _, err := a.Unpack(ctx, sdk.UnpackRequest{OutputDir: out, Options: map[string]string{"attack": "write", "path": victim}}); err != nil {
			t.Fatal(err)
		}
		report, _ := os.ReadFile(filepath.Join(out, "report.txt"))
		after, _ := os.ReadFile(victim)
		if !strings.Contains(string(report), "denied") || string(after) != string(before) {
			t.Errorf("write %s: %s", victim, report)
		}
	}
}
