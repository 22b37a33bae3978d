//go:build unix && !linux

package plugin

import "syscall"

// dieWithHost: no parent-death signal here; sdk.Serve's parent check stops
// a plugin whose host was killed.
func dieWithHost(*syscall.SysProcAttr) {}
