//go:build !linux

package host

import (
	"fmt"
	"os/exec"
)

// SandboxStatus says how far this system can confine a plugin: not at all
// off Linux.
func SandboxStatus() (abi int, summary string, ok bool) {
	return 0, "none (plugins are confined with Landlock, on Linux only)", false
}

func startConfined(cmd *exec.Cmd, sb *Sandbox, _ <-chan struct{}) (string, error) {
	_, summary, _ := SandboxStatus()
	if sb.Require {
		return summary, fmt.Errorf("%w: plugins are confined on Linux only (it was required: requireSandbox or --require-sandbox)", ErrNoSandbox)
	}
	return summary, cmd.Start()
}
