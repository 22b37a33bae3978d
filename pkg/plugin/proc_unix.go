//go:build unix

package plugin

import (
	"os/exec"
	"syscall"
)

// setProcessGroup puts the plugin in its own process group so that Close can
// stop processes the plugin started too (go-plugin's Kill reaches only the
// plugin itself), and so that a terminal's Ctrl-C reaches only the host,
// which then stops its plugins in order. Where the system can (Linux), the
// plugin is also killed by the kernel the moment the host dies, even by
// SIGKILL (see dieWithHost).
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	dieWithHost(cmd.SysProcAttr)
}

func killGroup(pgid int) {
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
}
