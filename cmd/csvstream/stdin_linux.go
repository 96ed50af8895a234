//go:build linux

package main

import (
	"context"
	"errors"
	"io"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// interruptibleStdin returns a reader of standard input whose reads end
// with ctx's cause once ctx is done, and a function that undoes what it
// changed. A read of a pipe, socket or terminal otherwise waits for the
// producer, so that an interrupt would wait too, and the job could not
// abort its uploads until the producer wrote or closed. The reader reads a
// duplicate of the descriptor through Go's poller, which needs the
// descriptor non-blocking; the flag is cleared again on return. Other
// inputs, such as regular files, whose reads do not wait, are read as they
// are.
func interruptibleStdin(ctx context.Context) (io.Reader, func()) {
	var st unix.Stat_t
	if err := unix.Fstat(unix.Stdin, &st); err != nil {
		return os.Stdin, func() {}
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFIFO, unix.S_IFSOCK, unix.S_IFCHR:
	default:
		return os.Stdin, func() {}
	}
	flags, err := unix.FcntlInt(uintptr(unix.Stdin), unix.F_GETFL, 0)
	if err != nil {
		return os.Stdin, func() {}
	}
	fd, err := unix.FcntlInt(uintptr(unix.Stdin), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return os.Stdin, func() {}
	}
	wasBlocking := flags&unix.O_NONBLOCK == 0
	restore := func() {
		if wasBlocking {
			unix.SetNonblock(unix.Stdin, false) // the flag is the open file's, shared with fd 0
		}
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return os.Stdin, func() {}
	}
	f := os.NewFile(uintptr(fd), "/dev/stdin")
	// A descriptor the poller does not take (some devices) has no
	// deadlines: read it as before.
	if err := f.SetReadDeadline(time.Time{}); err != nil {
		restore()
		f.Close()
		return os.Stdin, func() {}
	}
	stop := context.AfterFunc(ctx, func() { f.SetReadDeadline(time.Now()) })
	return &ctxReader{ctx: ctx, f: f}, func() {
		stop()
		restore()
		f.Close()
	}
}

// ctxReader reads f, whose read deadline is set when ctx is done, and
// reports that deadline as ctx's cause.
type ctxReader struct {
	ctx context.Context
	f   *os.File
}

func (r *ctxReader) Read(p []byte) (int, error) {
	n, err := r.f.Read(p)
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) && r.ctx.Err() != nil {
		err = context.Cause(r.ctx)
	}
	return n, err
}
