package localstacktest

import "syscall"

// processSysProcAttr asks the kernel to kill an agent process if the test
// binary dies without running its cleanups (a panic, a -timeout kill), so
// no agent outlives its test. As in s3server, Pdeathsig strictly fires when
// the OS thread that started the child exits, which in practice means when
// the test process exits.
func processSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// processAlive reports whether a process with that id exists.
func processAlive(pid int) bool {
	return syscall.Kill(pid, 0) != syscall.ESRCH
}
