//go:build !unix

package plugin

import (
	"os/exec"
	"runtime"
)

func setProcessGroup(*exec.Cmd) {}

func killGroup(int) {}

var exeSuffix = map[bool]string{true: ".exe"}[runtime.GOOS == "windows"]

// lockFolder is a no-op where flock is unavailable: concurrent installs into
// one folder may then lose one another's lock entries.
func lockFolder(string) (unlock func(), err error) { return func() {}, nil }
