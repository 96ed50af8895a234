//go:build unix

package csvstream

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// openPipe opens the named pipe at path for writing. Such an open waits
// for a reader, as a shell redirection does; openPipe waits by trying
// again, without blocking a thread, so that it ends when ctx does. Once
// open, the pipe stays non-blocking only if the runtime's poller took it,
// so that a write waits for a slow reader in the poller and a write
// deadline can end that wait (see streamSink). Not every system's poller
// takes pipes (macOS's does not); there the pipe is made blocking again,
// as a write must wait for a slow reader rather than fail.
func openPipe(ctx context.Context, path string) (*os.File, error) {
	const poll = 20 * time.Millisecond
	var wait *time.Timer
	for {
		f, err := os.OpenFile(path, os.O_WRONLY|syscall.O_NONBLOCK, 0)
		if err == nil {
			if f.SetWriteDeadline(time.Time{}) == nil {
				return f, nil // in the poller
			}
			if err := setBlocking(f); err != nil {
				return nil, err
			}
			return f, nil
		}
		if !errors.Is(err, syscall.ENXIO) { // ENXIO: no reader yet
			return nil, err
		}
		if wait == nil {
			wait = time.NewTimer(poll)
			defer wait.Stop()
		} else {
			wait.Reset(poll)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("open %s: no reader came: %w", path, context.Cause(ctx))
		case <-wait.C:
		}
	}
}

// setBlocking clears f's O_NONBLOCK flag, closing f if it cannot.
func setBlocking(f *os.File) error {
	rc, err := f.SyscallConn()
	if err == nil {
		cerr := rc.Control(func(fd uintptr) { err = syscall.SetNonblock(int(fd), false) })
		err = errors.Join(cerr, err)
	}
	if err != nil {
		f.Close()
		return fmt.Errorf("open %s: %w", f.Name(), err)
	}
	return nil
}

// dupDescriptor returns a new File on a duplicate of descriptor fd, which
// shares its open file (offset, O_APPEND) with fd.
func dupDescriptor(fd int, name string) (*os.File, error) {
	d, err := syscall.Dup(fd)
	if err != nil {
		return nil, err
	}
	syscall.CloseOnExec(d)
	return os.NewFile(uintptr(d), name), nil
}

// checkDescriptor reports a descriptor that cannot be written through:
// one not open, which the job would otherwise take for one it opens
// itself (its source, its destination's temporary file), or one open
// only for reading.
func checkDescriptor(fd int) error {
	fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	switch {
	case errors.Is(err, unix.EBADF):
		return fmt.Errorf("descriptor %d is not open (a shell opens it with %d>>file)", fd, fd)
	case err == nil && fl&unix.O_ACCMODE == unix.O_RDONLY:
		return fmt.Errorf("descriptor %d is open only for reading", fd)
	}
	return nil
}
