package fabricatest

import "syscall"

// procAttr makes the kernel kill the server if the test process dies without running its
// cleanups (a test timeout, a SIGKILL from CI), so no CA is left listening.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
