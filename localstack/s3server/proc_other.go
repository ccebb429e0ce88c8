//go:build !linux

package s3server

import "syscall"

// sysProcAttr has nothing to add outside Linux: without Pdeathsig a server
// whose test binary is killed lingers until its port is needed again.
func sysProcAttr() *syscall.SysProcAttr { return nil }
