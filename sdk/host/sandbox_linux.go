package host

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"

	"github.com/landlock-lsm/go-landlock/landlock"
	ll "github.com/landlock-lsm/go-landlock/landlock/syscall"
	"golang.org/x/sys/unix"
)

// SandboxStatus says how far this system can confine a plugin: the
// Landlock ABI and what it enforces, and whether it can at all.
func SandboxStatus() (abi int, summary string, ok bool) {
	abi, err := ll.LandlockGetABIVersion()
	if err != nil {
		abi = 0
	}
	return abi, describeConfinement(abi), abi > 0
}

// systemRead are the files and folders a Go or Helm process reads: shared
// libraries for a dynamically linked plugin, TLS roots, time zones.
var systemRead = []string{"/usr", "/lib", "/lib64", "/lib32", "/etc/ssl", "/etc/pki", "/etc/ca-certificates"}

var systemReadFiles = []string{"/etc/ld.so.cache", "/etc/localtime", "/etc/mime.types", "/dev/urandom"}

// startConfined starts cmd on an OS thread of its own that it first puts
// in a Landlock domain (sb's rules, newest ABI go-landlock knows, down to
// what the kernel has). A domain is per thread unless applied to all, and
// a forked child inherits its parent thread's: the plugin runs confined
// from its first instruction, the host's other threads do not. The thread
// is never returned to the Go scheduler (it is confined for good): it stays
// locked until exited is closed — the plugin's Pdeathsig is tied to the
// thread that forked it — and then ends with its goroutine.
func startConfined(cmd *exec.Cmd, sb *Sandbox, exited <-chan struct{}) (string, error) {
	_, summary, ok := SandboxStatus()
	if !ok {
		if sb.Require {
			return summary, fmt.Errorf("%w: this kernel has no Landlock, so the plugin cannot be confined (it was required: requireSandbox or --require-sandbox)", ErrNoSandbox)
		}
		return summary, cmd.Start()
	}
	rules := []landlock.Rule{
		// Refer: moving files between folders of these (a plugin lifting
		// an extracted folder into place).
		landlock.RWDirs(abs(append([]string{sb.Dir}, sb.Write...))...).WithRefer(),
		landlock.RWFiles("/dev/null"),
		landlock.ROFiles(abs([]string{cmd.Path})...),
		landlock.RODirs(systemRead...).IgnoreIfMissing(),
		landlock.ROFiles(systemReadFiles...).IgnoreIfMissing(),
	}
	// A folder's rights do not apply to a file: each gets its own rule.
	var dirs, files []string
	for _, r := range abs(sb.Read) {
		if st, err := os.Stat(r); err == nil && st.IsDir() {
			dirs = append(dirs, r)
		} else if err == nil {
			files = append(files, r)
		}
	}
	if len(dirs) > 0 {
		rules = append(rules, landlock.RODirs(dirs...))
	}
	if len(files) > 0 {
		rules = append(rules, landlock.ROFiles(files...))
	}
	fd, flags, err := landlock.V11.BestEffort().NewRulesetFD(rules...)
	if err != nil {
		return summary, fmt.Errorf("%w: building the Landlock rules: %v", ErrNoSandbox, err)
	}
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: see above
		err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
		if err == nil && fd >= 0 {
			err = ll.LandlockRestrictSelf(fd, flags)
		}
		if err != nil {
			started <- fmt.Errorf("%w: confining the plugin's thread: %v", ErrNoSandbox, err)
			return
		}
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		<-exited
	}()
	err = <-started
	if fd >= 0 {
		unix.Close(fd)
	}
	return summary, err
}
