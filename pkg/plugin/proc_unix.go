//go:build unix

package plugin

import (
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
)

// setProcessGroup puts the plugin in its own process group so that Close can
// stop processes the plugin started too (go-plugin's Kill reaches only the
// plugin itself), and so that a terminal's Ctrl-C reaches only the host,
// which then stops its plugins in order.
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

func killGroup(pgid int) {
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
}

// lockFolder takes an exclusive flock on dir/.lock.json.lock until the
// returned function is called.
func lockFolder(dir string) (unlock func(), err error) {
	f, err := os.OpenFile(filepath.Join(dir, "."+LockFileName+".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() { f.Close() }, nil
}
