//go:build linux

package main

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tierpack/tierpack/internal/registrytest"
	"github.com/tierpack/tierpack/sdk/host"
)

// attacker pushes a contribution of the test plugin's "attacker" type and
// returns a tp whose runs find that plugin, and the reference.
func attacker(t *testing.T) (*tp, string, []string) {
	t.Helper()
	if _, _, ok := host.SandboxStatus(); !ok {
		t.Skip("no Landlock on this kernel: the sandbox cannot be tested here")
	}
	reg := registrytest.New(t)
	p := newTP(t)
	env := []string{"TIERPACK_PLUGINS_DIR=" + buildTestPlugin(t, "attacker")}
	ref := reg.Host + "/hostile/attacker:0.1.0"
	if _, errs, code := p.runEnv(env, "push", contributionOfType(t, "attacker"), ref); code != 0 {
		t.Fatalf("push: exit %d\n%s", code, errs)
	}
	return p, ref, env
}

// pullAttack has the attacker plugin unpack with attack=what (and more
// options), and returns its report (empty when the pull failed), stderr
// and exit code.
func pullAttack(p *tp, ref string, env []string, out string, opts ...string) (string, string, int) {
	p.t.Helper()
	args := []string{"pull", ref, "-o", out}
	for _, o := range opts {
		args = append(args, "--option", o)
	}
	_, errs, code := p.runEnv(env, args...)
	report, _ := os.ReadFile(filepath.Join(out, "report.txt"))
	return string(report), errs, code
}

// A third-party plugin is untrusted code that every artifact of its type
// runs through. Run as a hostile author would, each attack is contained:
// the secrets in tierpack's environment never reach it, it writes nothing
// outside its folders, it cannot connect over TCP, and a child it starts
// in a session of its own does not outlive the pull.
func TestHostilePluginIsContained(t *testing.T) {
	p, ref, env := attacker(t)

	report, errs, code := pullAttack(p, ref, env, p.path("env"), "attack=env")
	if code != 0 {
		t.Fatalf("pull: exit %d\n%s", code, errs)
	}
	for _, secret := range []string{"COSIGN_PASSWORD", "TIERPACK_SIGNING_KEY", "TIERPACK_HOME", "DOCKER_CONFIG"} {
		if strings.Contains(report, secret+"=") {
			t.Errorf("the plugin read %s from its environment:\n%s", secret, report)
		}
	}
	if !strings.Contains(report, "PLUGIN_PROTOCOL_VERSIONS=") || strings.Contains(report, "HOME="+os.Getenv("HOME")+"\n") {
		t.Errorf("the plugin's environment:\n%s", report)
	}

	for _, victim := range []string{p.path("victim"), filepath.Join(p.home, "trusted-keys", "evil.pub"), filepath.Join(os.TempDir(), "tierpack-victim-"+strconv.Itoa(os.Getpid()))} {
		out := p.path("write-" + filepath.Base(victim))
		report, errs, code := pullAttack(p, ref, env, out, "attack=write", "path="+victim)
		if code != 0 || !strings.Contains(report, "denied") {
			t.Errorf("write %s: exit %d, report %q\n%s", victim, code, report, errs)
		}
		if _, err := os.Stat(victim); err == nil {
			t.Errorf("the plugin wrote %s", victim)
			os.Remove(victim)
		}
	}

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var accepted atomic.Int32
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			c.Close()
		}
	}()
	// TCP is confined from Landlock ABI 4 on; below, nothing is claimed.
	if abi, _, _ := host.SandboxStatus(); abi >= 4 {
		report, errs, code = pullAttack(p, ref, env, p.path("connect"), "attack=connect", "addr="+l.Addr().String())
		if code != 0 || !strings.Contains(report, "denied") || accepted.Load() != 0 {
			t.Errorf("connect to a local port: exit %d, %d connection(s), report %q\n%s", code, accepted.Load(), report, errs)
		}
	}

	report, errs, code = pullAttack(p, ref, env, p.path("setsid"), "attack=setsid")
	if code != 0 || !strings.Contains(report, "child ") {
		t.Fatalf("setsid: exit %d, report %q\n%s", code, report, errs)
	}
	pid, _ := strconv.Atoi(strings.Fields(strings.SplitN(report, "child ", 2)[1])[0])
	deadline := time.Now().Add(5 * time.Second)
	for syscall.Kill(pid, 0) == nil && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if syscall.Kill(pid, 0) == nil {
		syscall.Kill(pid, syscall.SIGKILL)
		t.Errorf("the plugin's setsid child %d outlived the pull", pid)
	}
}

// What a plugin's Unpack writes is checked as an archive's entries are:
// a link out of the output, a special file or a dangerous mode fails the
// pull with exit 7, naming the plugin, and nothing reaches -o.
func TestHostilePluginOutputIsRefused(t *testing.T) {
	p, ref, env := attacker(t)
	secret := p.path("secret")
	if err := os.WriteFile(secret, []byte("secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		attack, want string
		unconfined   bool
	}{
		{"symlink", `"etc" is a symlink to "/etc", outside the output`, false},
		{"dotdot", `is a symlink to "../../../../etc/passwd", outside the output`, false},
		{"fifo", "named pipe", false},
		{"mode", "group- or world-writable", false},
		{"setuid", "setuid, setgid and sticky bits", false},
		// The sandbox stops a hard link to a file outside before it is
		// made; the host's check is what stops it where there is none.
		{"hardlink", "hard link to a file outside the output", true},
	} {
		t.Run(tc.attack, func(t *testing.T) {
			e := env
			if tc.unconfined {
				e = append(append([]string{}, env...), "TIERPACK_PLUGIN_SANDBOX=off")
			}
			out := p.path("out-" + tc.attack)
			_, errs, code := pullAttack(p, ref, e, out, "attack="+tc.attack, "path="+secret)
			if code != exitPlugin || !strings.Contains(errs, tc.want) || !strings.Contains(errs, `plugin "attacker"`) {
				t.Errorf("exit %d, want %d; stderr:\n%s", code, exitPlugin, errs)
			}
			if _, err := os.Lstat(out); err == nil {
				t.Errorf("%s was written", out)
			}
		})
	}
}

// A plugin's stderr flood costs the host a bounded amount and prints a
// bounded amount; a reply over the protocol limit exits 7.
func TestHostilePluginOutputIsBounded(t *testing.T) {
	p, ref, env := attacker(t)
	_, errs, code := pullAttack(p, ref, env, p.path("flood"), "attack=flood")
	if code == 0 || len(errs) > 200<<10 {
		t.Errorf("a 22 MB stderr line: exit %d, %d bytes on stderr", code, len(errs))
	}
	_, errs, code = pullAttack(p, ref, env, p.path("big"), "attack=bigreply")
	if code != exitPlugin || !strings.Contains(errs, "larger than") {
		t.Errorf("a reply over 64 MiB: exit %d, want %d\n%s", code, exitPlugin, errs)
	}
}

// running reports whether pid is a live process (a zombie is not).
func running(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	fields := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	return len(fields) > 0 && fields[0] != "Z"
}

// A host killed outright cannot stop its plugin's setsid child (the
// kernel kills the plugin itself: Pdeathsig); the next tierpack run finds
// the child by its mark and ends it.
func TestKilledHostPluginDescendantIsEndedNextRun(t *testing.T) {
	p, ref, env := attacker(t)
	cmd := exec.Command(tierpackBin, "pull", ref, "-o", p.path("killed"), "--option", "attack=setsid-hang")
	cmd.Dir, cmd.Env = p.dir, append(testEnv(t, p.home), env...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var pid int
	for deadline := time.Now().Add(10 * time.Second); pid == 0 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		files, _ := filepath.Glob(p.path(".tierpack-pull-*/out/child.pid"))
		if len(files) > 0 {
			b, _ := os.ReadFile(files[0])
			pid, _ = strconv.Atoi(string(b))
		}
	}
	cmd.Process.Kill()
	cmd.Wait()
	if pid == 0 {
		t.Fatal("the plugin never started its child")
	}
	defer syscall.Kill(pid, syscall.SIGKILL)
	// Any tierpack run ends it now, the next one here or another test's
	// running alongside: each Manager ends what dead hosts left.
	if _, errs, code := p.runEnv(env, "plugin", "list"); code != 0 {
		t.Fatalf("the next run: exit %d\n%s", code, errs)
	}
	for deadline := time.Now().Add(3 * time.Second); running(pid) && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	if running(pid) {
		t.Errorf("the next run left the killed host's plugin child %d running", pid)
	}
}
