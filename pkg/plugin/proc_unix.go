//go:build unix

package plugin

import (
	"os/exec"
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
