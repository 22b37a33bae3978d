//go:build !unix

package plugin

import (
	"os/exec"
)

func setProcessGroup(*exec.Cmd) {}

func killGroup(int) {}

// lockFolder is a no-op where flock is unavailable: concurrent installs into
// one folder may then lose one another's lock entries.
func lockFolder(string) (unlock func(), err error) { return func() {}, nil }
