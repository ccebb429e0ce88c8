package file

import (
	"os"
	"syscall"
)

// Flags of sync_file_range(2).
const (
	syncFileRangeWaitBefore = 0x1
	syncFileRangeWrite      = 0x2
	syncFileRangeWaitAfter  = 0x4
)

// startWriteback asks the kernel to start writing a range of f back to the
// disk, without waiting. Failure only loses the optimisation: the final
// fsync writes whatever is left.
func startWriteback(f *os.File, off, n int64) {
	syscall.SyncFileRange(int(f.Fd()), off, n, syncFileRangeWrite)
}

// waitWriteback waits until a range of f is written back.
func waitWriteback(f *os.File, off, n int64) {
	syscall.SyncFileRange(int(f.Fd()), off, n, syncFileRangeWaitBefore|syncFileRangeWrite|syncFileRangeWaitAfter)
}
