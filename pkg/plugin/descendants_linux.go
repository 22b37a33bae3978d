package plugin

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tierpack/tierpack/internal/proc"
)

// A plugin may start processes, and a hostile one starts them in sessions
// of their own (setsid), out of reach of its process group. Every plugin
// process and its descendants carry RunEnv=<the Manager's run folder> in
// their environment (unless they clear it: the plugin's own folder in the
// run folder), and the host is their child
// subreaper: a descendant orphaned by its plugin's exit becomes the host's
// child, not init's. When a plugin stops, and when the Manager closes,
// every process carrying its run folder's mark is killed, and those that
// became the host's children are reaped — each by its own pid: the host
// never waits for any child (wait(-1)), which would steal go-plugin's. A
// host killed outright cannot do this; the next Manager does it for every
// run folder whose owner is gone (reapStale).
//
// What this cannot reach: a descendant that clears its environment before
// it is orphaned. A cgroup or PID namespace would, but neither can be made
// without privileges on most systems; Landlock confines such a process all
// the same, as it inherits the plugin's domain.

// RunEnv marks a plugin's processes with the plugin's own folder, inside
// the run folder of the Manager that started it.
const RunEnv = "TIERPACK_PLUGIN_RUN"

// becomeSubreaper makes the host the subreaper of its plugins' orphans.
func becomeSubreaper() { _ = unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) }

// marked returns the pids of the processes whose environment marks them
// with a run folder match accepts.
func marked(match func(run string) bool) []int {
	entries, _ := os.ReadDir("/proc")
	self := os.Getpid()
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		env, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err != nil {
			continue // gone, or not ours to read
		}
		for _, kv := range bytes.Split(env, []byte{0}) {
			if run, ok := strings.CutPrefix(string(kv), RunEnv+"="); ok && match(run) {
				pids = append(pids, pid)
				break
			}
		}
	}
	return pids
}

// killMarked kills every process marked with dir, or with a folder inside
// it, and reaps those that are the host's children.
func killMarked(dir string) {
	if dir == "" {
		return
	}
	pids := marked(func(r string) bool { return r == dir || strings.HasPrefix(r, dir+string(filepath.Separator)) })
	for _, pid := range pids {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	reap(pids)
}

// reap waits, briefly, for each of pids that is the host's child, by pid.
func reap(pids []int) {
	deadline := time.Now().Add(2 * time.Second)
	for _, pid := range pids {
		for {
			var ws syscall.WaitStatus
			got, err := syscall.Wait4(pid, &ws, syscall.WNOHANG, nil)
			if got == pid || err != nil || time.Now().After(deadline) {
				break // reaped, or not our child (ECHILD)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// reapStale kills what plugins of Managers that no longer run left
// behind: processes marked with a run folder whose owner is gone.
func reapStale() {
	pids := marked(func(own string) bool {
		owner := proc.PidFromName(filepath.Base(filepath.Dir(own)), RunDirPrefix)
		return owner > 0 && !proc.Alive(owner)
	})
	for _, pid := range pids {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	reap(pids)
}
