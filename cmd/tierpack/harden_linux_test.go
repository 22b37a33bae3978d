package main

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tierpack/tierpack/internal/faultproxy"
	"github.com/tierpack/tierpack/internal/registrytest"
	"github.com/tierpack/tierpack/pkg/plugin"
)

// procStat returns the parent pid and state letter of pid from
// /proc/<pid>/stat; ok is false when the process does not exist.
func procStat(pid int) (ppid int, state string, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, "", false
	}
	// pid (comm) state ppid …; comm may hold spaces and parentheses.
	rest := string(b[bytes.LastIndexByte(b, ')')+2:])
	f := strings.Fields(rest)
	ppid, _ = strconv.Atoi(f[1])
	return ppid, f[0], true
}

// childrenOf lists the processes whose parent is pid.
func childrenOf(pid int) []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if ppid, _, ok := procStat(child); ok && ppid == pid {
			out = append(out, child)
		}
	}
	return out
}

// dead reports whether pid is gone: no such process, or a zombie waiting
// for an init that may never reap it.
func dead(pid int) bool {
	_, state, ok := procStat(pid)
	return !ok || state == "Z" || state == "X"
}

// waitFor polls cond until it holds or d has passed.
func waitFor(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}

// killMidway starts tierpack with args, waits (bounded) until midway holds
// and tierpack has a plugin running, SIGKILLs tierpack, and checks that
// every plugin process of that run is gone within 2 s.
func killMidway(t *testing.T, p *tp, tmp string, midway func() bool, args ...string) {
	t.Helper()
	cmd := exec.Command(tierpackBin, args...)
	cmd.Dir = p.dir
	cmd.Env = append(append(testEnv(t, p.home), p.env...), "TMPDIR="+tmp)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var plugins []int
	ok := waitFor(30*time.Second, func() bool {
		plugins = childrenOf(cmd.Process.Pid)
		return len(plugins) > 0 && midway()
	})
	if !ok {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("tierpack %s never got midway with a plugin running (plugins %v)\n%s", strings.Join(args, " "), plugins, stderr.String())
	}
	cmd.Process.Kill()
	cmd.Wait()
	start := time.Now()
	if !waitFor(2*time.Second, func() bool {
		for _, pid := range plugins {
			if !dead(pid) {
				return false
			}
		}
		return true
	}) {
		for _, pid := range plugins {
			if !dead(pid) {
				killPID(pid)
				t.Errorf("plugin process %d of the killed tierpack %s is still alive 2s later", pid, args[0])
			}
		}
		return
	}
	t.Logf("tierpack %s killed: its %d plugin process(es) were gone after %s", args[0], len(plugins), time.Since(start).Round(time.Millisecond))
}

func killPID(pid int) {
	if p, err := os.FindProcess(pid); err == nil {
		p.Kill()
	}
}

// diskUsage adds up the sizes of the files under dir, each file (inode)
// once, as du does.
func diskUsage(t *testing.T, dir string) int64 {
	t.Helper()
	seen := map[uint64]bool{}
	var n int64
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return nil
		}
		ino := fi.Sys().(*syscall.Stat_t).Ino
		if !seen[ino] {
			seen[ino] = true
			n += fi.Size()
		}
		return nil
	})
	return n
}

// glob returns the matches of pattern.
func glob(pattern string) []string {
	m, _ := filepath.Glob(pattern)
	return m
}

// TestKilledPushLeavesNothing: SIGKILL a push in the middle of its upload.
// Its plugin dies with it (within 2 s), cache info counts what it left on
// disk, and the next command removes it all: the packaging staging folder,
// the plugin's socket folder.
func TestKilledPushLeavesNothing(t *testing.T) {
	proxy := faultproxy.New()
	reg := registrytest.New(t, registrytest.WithHandlerWrapper(proxy.Wrap))
	p := newTP(t)
	tmp := t.TempDir()
	writeContribution(t, p.path("c"), "contrib", "", false)
	big := make([]byte, 8<<20)
	rand.Read(big)
	os.WriteFile(filepath.Join(p.path("c"), "big.bin"), big, 0o644)

	// Every blob upload is held: kill tierpack while it waits.
	proxy.Set(faultproxy.Rule{Kind: faultproxy.Stall, Path: faultproxy.BlobUpload, Stall: 3 * time.Second})
	staging := filepath.Join(p.home, "cache", "tierpack-pack-*")
	killMidway(t, p, tmp, func() bool { return proxy.Fired(0) > 0 && len(glob(staging)) > 0 },
		"push", p.path("c"), reg.Host+"/kill/push")

	if len(glob(staging)) == 0 {
		t.Fatal("expected the killed push's staging folder: nothing to prove")
	}
	if len(glob(filepath.Join(tmp, plugin.RunDirPrefix+"*"))) == 0 {
		t.Error("expected the killed push's plugin socket folder")
	}
	var info struct{ Bytes, TempBytes, BlobBytes int64 }
	if err := json.Unmarshal([]byte(p.ok("cache", "info", "--output", "json")), &info); err != nil {
		t.Fatal(err)
	}
	if du := diskUsage(t, filepath.Join(p.home, "cache")); info.Bytes != du {
		t.Errorf("cache info says %d bytes, but the cache folder holds %d (each file once)", info.Bytes, du)
	}

	proxy.Set()
	cmd := exec.Command(tierpackBin, "push", p.path("c"), reg.Host+"/kill/push")
	cmd.Dir, cmd.Env = p.dir, append(testEnv(t, p.home), "TMPDIR="+tmp)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the next push: %v\n%s", err, out)
	}
	if m := glob(staging); len(m) > 0 {
		t.Errorf("left after the next push: %v", m)
	}
	if left, _ := os.ReadDir(tmp); len(left) > 0 {
		t.Errorf("left in TMPDIR after the next push: %v", left)
	}
}

// TestKilledPullLeavesNothing: SIGKILL a pull in the middle of a download,
// with its plugin started. The plugin dies within 2 s, and the next pull
// leaves no temporary file anywhere.
func TestKilledPullLeavesNothing(t *testing.T) {
	proxy := faultproxy.New()
	reg := registrytest.New(t, registrytest.WithHandlerWrapper(proxy.Wrap))
	p := newTP(t)
	tmp := t.TempDir()
	// A type a third-party plugin unpacks (a script pull starts none: the
	// host extracts it), so that a plugin runs while the pull is killed.
	p.env = []string{"TIERPACK_PLUGINS_DIR=" + buildTestPlugin(t, "attacker")}
	c := contributionOfType(t, "attacker")
	big := make([]byte, 4<<20)
	rand.Read(big)
	os.WriteFile(filepath.Join(c, "big.bin"), big, 0o644)
	if _, errs, code := p.runEnv(p.env, "--no-cache", "push", c, reg.Host+"/kill/pull"); code != 0 {
		t.Fatalf("push: exit %d\n%s", code, errs)
	}

	// Every blob download is held after 1 MiB: the small layers pass, the
	// 4 MiB one stalls, so the pull cannot finish before the kill.
	proxy.Set(faultproxy.Rule{Kind: faultproxy.Stall, After: 1 << 20, Stall: time.Minute, Method: "GET", Path: faultproxy.Blob})
	killMidway(t, p, tmp, func() bool { return proxy.Fired(0) > 0 },
		"pull", reg.Host+"/kill/pull:0.1.0", "-o", p.path("out"))
	if len(glob(filepath.Join(tmp, plugin.RunDirPrefix+"*"))) == 0 {
		t.Error("expected the killed pull's plugin socket folder")
	}

	proxy.Set()
	cmd := exec.Command(tierpackBin, "pull", reg.Host+"/kill/pull:0.1.0", "-o", p.path("out"))
	cmd.Dir, cmd.Env = p.dir, append(append(testEnv(t, p.home), p.env...), "TMPDIR="+tmp)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the next pull: %v\n%s", err, out)
	}
	if left, _ := os.ReadDir(tmp); len(left) > 0 {
		t.Errorf("left in TMPDIR after the next pull: %v", left)
	}
	for _, pattern := range []string{
		filepath.Join(p.dir, ".tierpack-*"),
		filepath.Join(p.home, "cache", "blobs", "*", ".tmp-*"),
		filepath.Join(p.home, "cache", "tierpack-pack-*"),
	} {
		if m := glob(pattern); len(m) > 0 {
			t.Errorf("left after the next pull: %v", m)
		}
	}
}

// TestIngestLeftoversRemoved: the partial blob a push killed mid-write
// leaves in an OCI layout's ingest folder (the local store's, or an oci:
// layout's) is gone after the next push there.
func TestIngestLeftoversRemoved(t *testing.T) {
	p := newTP(t)
	writeContribution(t, p.path("c"), "contrib", "", false)
	layout := p.path("layout")
	for _, tc := range []struct{ ref, dir string }{
		{"gov-demo", filepath.Join(p.home, "store")},
		{"oci:" + layout, layout},
	} {
		p.ok("push", p.path("c"), tc.ref)
		left := filepath.Join(tc.dir, "ingest", strings.Repeat("ab", 32)+"_12345")
		os.MkdirAll(filepath.Dir(left), 0o755)
		os.WriteFile(left, make([]byte, 1<<20), 0o644)
		p.ok("push", p.path("c"), tc.ref)
		if m := glob(filepath.Join(tc.dir, "ingest", "*")); len(m) > 0 {
			t.Errorf("%s: left after the next push: %v", tc.ref, m)
		}
	}
}

// TestTimeoutStopsDrip: a download that drips one byte at a time never
// stalls long enough to be cut, so only --timeout ends it: promptly, with
// an error that names the limit.
func TestTimeoutStopsDrip(t *testing.T) {
	proxy := faultproxy.New()
	reg := registrytest.New(t, registrytest.WithHandlerWrapper(proxy.Wrap))
	p := newTP(t)
	writeContribution(t, p.path("c"), "contrib", "", false)
	os.WriteFile(filepath.Join(p.path("c"), "data.bin"), make([]byte, 64<<10), 0o644)
	p.ok("--no-cache", "push", p.path("c"), reg.Host+"/drip/app")

	proxy.Set(faultproxy.Rule{Kind: faultproxy.Drip, Method: "GET", Path: faultproxy.Blob, After: 100, Stall: 500 * time.Millisecond})
	start := time.Now()
	_, errs, code := p.run("--timeout", "3s", "pull", reg.Host+"/drip/app:1.0.0", "-o", p.path("out"))
	took := time.Since(start)
	if code == 0 || !strings.Contains(errs, "--timeout 3s") {
		t.Fatalf("pull with --timeout 3s through a dripping registry: exit %d\n%s", code, errs)
	}
	if took > 10*time.Second {
		t.Errorf("--timeout 3s took %s", took)
	}
	if _, err := os.Stat(p.path("out")); err == nil {
		t.Error("a timed-out pull left its output")
	}
	t.Logf("gave up after %s: %s", took.Round(time.Millisecond), strings.TrimSpace(errs))
	if _, errs, code := p.run("--timeout", "-1s", "version"); code != exitUsage {
		t.Errorf("--timeout -1s: exit %d\n%s", code, errs)
	}
}

// TestHeaderStallBounded: a registry that takes blob requests and never
// answers costs a pull about two stall timeouts, not 16.
func TestHeaderStallBounded(t *testing.T) {
	proxy := faultproxy.New()
	reg := registrytest.New(t, registrytest.WithHandlerWrapper(proxy.Wrap))
	p := newTP(t)
	writeContribution(t, p.path("c"), "contrib", "", false)
	p.ok("--no-cache", "push", p.path("c"), reg.Host+"/stall/app")

	proxy.Set(faultproxy.Rule{Kind: faultproxy.Stall, Method: "GET", Path: faultproxy.Blob, Stall: time.Minute})
	start := time.Now()
	_, errs, code := p.runEnv([]string{"TIERPACK_STALL_TIMEOUT=1s"}, "--no-cache", "pull", reg.Host+"/stall/app:1.0.0", "-o", p.path("out"))
	took := time.Since(start)
	if code == 0 || !strings.Contains(errs, "TIERPACK_STALL_TIMEOUT") {
		t.Fatalf("pull through a stalling registry: exit %d\n%s", code, errs)
	}
	if took > 8*time.Second {
		t.Errorf("a pull with a 1s stall timeout took %s to give up (%d stalled requests)", took, proxy.Fired(0))
	}
	t.Logf("gave up after %s, %d stalled requests", took.Round(time.Millisecond), proxy.Fired(0))
}

// TestCachePrivateAfterAuthPull: blobs pulled from a registry that needed
// credentials are not readable by other users.
func TestCachePrivateAfterAuthPull(t *testing.T) {
	reg := registrytest.New(t, registrytest.WithBasicAuth("alice", "s3cret"))
	p := newTP(t)
	writeContribution(t, p.path("c"), "contrib", "", false)
	cmd := exec.Command(tierpackBin, "login", reg.Host, "-u", "alice", "--password-stdin")
	cmd.Dir, cmd.Env, cmd.Stdin = p.dir, testEnv(t, p.home), strings.NewReader("s3cret\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("login: %v\n%s", err, out)
	}
	p.ok("--no-cache", "push", p.path("c"), reg.Host+"/private/app")
	os.RemoveAll(filepath.Join(p.home, "cache"))
	p.ok("pull", reg.Host+"/private/app:1.0.0", "-o", p.path("out"))
	n := 0
	filepath.WalkDir(filepath.Join(p.home, "cache"), func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			t.Error(err)
			return nil
		}
		fi, _ := d.Info()
		if d.IsDir() && fi.Mode().Perm() != 0o700 || !d.IsDir() && fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s is %v: readable by other users", path, fi.Mode().Perm())
		}
		if !d.IsDir() {
			n++
		}
		return nil
	})
	if n == 0 {
		t.Fatal("the pull cached nothing")
	}
}

// TestPinnedPluginNotShadowedCLI: with a type installed and pinned, an
// unpinned binary of that type in $TIERPACK_PLUGINS_DIR neither runs nor
// hides the pinned one from plugin list.
func TestPinnedPluginNotShadowedCLI(t *testing.T) {
	p := newTP(t)
	managed := filepath.Join(p.home, "plugins")
	bin := filepath.Join(managed, plugin.BinaryName("good"))
	os.MkdirAll(managed, 0o755)
	b, _ := os.ReadFile(testPluginBin)
	os.WriteFile(bin, b, 0o755)
	sum, _ := plugin.FileSHA256(bin)
	if err := plugin.UpdateLock(managed, func(l *plugin.Lock) error {
		l.Plugins["good"] = plugin.Pin{Type: "good", Version: "0.0.1", Source: "registry.example/good:0.0.1",
			Digest: "sha256:" + strings.Repeat("ab", 32), SHA256: sum, Installed: time.Now().UTC()}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	rogueDir := p.path("rogue")
	rogue := filepath.Join(rogueDir, plugin.BinaryName("good"))
	marker := p.path("rogue-ran")
	os.MkdirAll(rogueDir, 0o755)
	os.WriteFile(rogue, []byte("#!/bin/sh\necho rogue > "+marker+"\n"), 0o755)
	env := []string{plugin.DirEnv + "=" + rogueDir}

	out, errs, code := p.runEnv(env, "plugin", "list", "--output", "json")
	if code != 0 {
		t.Fatalf("plugin list: exit %d\n%s", code, errs)
	}
	var list struct {
		Plugins []struct {
			Type, Path string
			Shadowed   []string
		}
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	found := false
	for _, pl := range list.Plugins {
		if pl.Type == "good" {
			found = true
			if pl.Path != bin || len(pl.Shadowed) != 1 || pl.Shadowed[0] != rogue {
				t.Errorf("plugin list shows %+v, want the pinned %s shadowing %s", pl, bin, rogue)
			}
		}
	}
	if !found {
		t.Fatalf("plugin list lacks the pinned plugin:\n%s", out)
	}
	c := p.path("c")
	os.MkdirAll(c, 0o755)
	os.WriteFile(filepath.Join(c, "tierpack.yaml"), []byte("name: demo\nversion: 1.0.0\ntype: good\ntier: contrib\n"), 0o644)
	_, errs, code = p.runEnv(env, "validate", c)
	if code != 0 {
		t.Fatalf("validate with the pinned plugin: exit %d\n%s", code, errs)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("the unpinned binary ran")
	}
	if !strings.Contains(errs, bin) || !strings.Contains(errs, rogue) {
		t.Errorf("no warning naming both binaries:\n%s", errs)
	}
}
