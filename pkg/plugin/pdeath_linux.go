package plugin

import "syscall"

// dieWithHost has the kernel send the plugin SIGKILL when the host dies
// (prctl PR_SET_PDEATHSIG). Strictly, the signal comes when the host
// thread that started the plugin exits; Go keeps that thread unless a
// goroutine locked to it exits, which tierpack's do not. sdk.Serve's
// parent check backs it up.
func dieWithHost(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGKILL }
