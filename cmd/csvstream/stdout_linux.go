//go:build linux

package main

import (
	"os"

	"golang.org/x/sys/unix"
)

// pollableStdout returns standard output for the commands to write to.
// When standard output is a pipe in blocking mode, descriptor 1 is first
// moved to a new open of the same pipe in non-blocking mode, which the
// runtime's poller takes: a write that waits for the reader then waits in
// the poller, and a job that stops can end it with a write deadline
// instead of staying blocked in write(2) until the reader reads again.
// The pipe's other writers keep their own open file, whose flags do not
// change. Anything else (a file, a terminal, a pipe that cannot be opened
// again) is os.Stdout as it is.
func pollableStdout() *os.File {
	var st unix.Stat_t
	if err := unix.Fstat(unix.Stdout, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFIFO {
		return os.Stdout
	}
	if fl, err := unix.FcntlInt(uintptr(unix.Stdout), unix.F_GETFL, 0); err != nil || fl&unix.O_NONBLOCK != 0 {
		return os.Stdout // already non-blocking, so os.Stdout is in the poller
	}
	fd, err := unix.Open("/proc/self/fd/1", unix.O_WRONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return os.Stdout
	}
	defer unix.Close(fd)
	if err := unix.Dup3(fd, unix.Stdout, 0); err != nil {
		return os.Stdout
	}
	return os.NewFile(uintptr(unix.Stdout), "/dev/stdout")
}
