package s3server

import "syscall"

// sysProcAttr asks the kernel to kill versitygw if the test binary dies
// without running Close (a panic, a -timeout kill), so no server outlives
// its test. Strictly, Pdeathsig fires when the OS thread that started the
// child exits; Go only ends a thread early when a goroutine exits while
// locked to it, which is rare enough that in practice this means when the
// test process exits.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
