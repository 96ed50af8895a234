//go:build linux

package main

import (
	"context"
	"errors"
	"io"
	"os"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/csvstream/csvstream/csvstream"
)

// interruptibleStdin returns a reader of standard input whose reads end
// with ctx's cause once ctx is done, and a function that releases it. A
// read of a pipe, socket or terminal otherwise waits for the producer, so
// that an interrupt would wait too, and the job could not abort its
// uploads until the producer wrote or closed.
//
// Each read first waits in poll(2) for standard input or for a pipe that
// is written when ctx ends, and reads only once standard input is ready.
// Nothing about standard input changes: its O_NONBLOCK flag belongs to an
// open file that a terminal or socket shares with standard output, which
// must keep blocking. The pipe is made on the first read, so a command
// that does not read standard input makes none. At the end of the input,
// a read waits up to csvstream.PipeEndGrace for ctx to end, and reports
// its cause if it did. A regular file, whose reads do not wait, is read as
// it is.
func interruptibleStdin(ctx context.Context) (io.Reader, func()) {
	var st unix.Stat_t
	if err := unix.Fstat(unix.Stdin, &st); err != nil || st.Mode&unix.S_IFMT == unix.S_IFREG {
		return os.Stdin, func() {}
	}
	r := &pollStdin{ctx: ctx}
	return r, r.release
}

// pollStdin reads standard input after poll(2) says it is ready, or
// reports ctx's cause once ctx is done.
type pollStdin struct {
	ctx  context.Context
	once sync.Once
	wake [2]int      // a pipe, written once ctx is done; -1 before the first read
	stop func() bool // stops the write to wake
	err  error       // making the pipe failed: read as usual

	mu     sync.Mutex // orders the write to wake before its close
	closed bool       // release closed the pipe: the write must not happen
}

func (r *pollStdin) start() {
	r.wake = [2]int{-1, -1}
	if err := unix.Pipe2(r.wake[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		r.err = err
		return
	}
	w := r.wake[1]
	r.stop = context.AfterFunc(r.ctx, func() {
		// stop does not wait for a write already under way, so release
		// could close w, and its number be reused, under the write.
		r.mu.Lock()
		defer r.mu.Unlock()
		if !r.closed {
			unix.Write(w, []byte{1})
		}
	})
}

func (r *pollStdin) Read(p []byte) (int, error) {
	r.once.Do(r.start)
	if r.err != nil {
		return os.Stdin.Read(p)
	}
	if len(p) == 0 {
		return 0, nil
	}
	fds := []unix.PollFd{
		{Fd: int32(unix.Stdin), Events: unix.POLLIN},
		{Fd: int32(r.wake[0]), Events: unix.POLLIN},
	}
	for {
		if r.ctx.Err() != nil {
			return 0, context.Cause(r.ctx)
		}
		fds[0].Revents, fds[1].Revents = 0, 0
		if _, err := unix.Poll(fds, -1); err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return 0, &os.PathError{Op: "poll", Path: "/dev/stdin", Err: err}
		}
		if fds[1].Revents != 0 {
			continue // ctx is done: reported above
		}
		n, err := unix.Read(unix.Stdin, p)
		switch {
		case errors.Is(err, unix.EINTR), errors.Is(err, unix.EAGAIN):
			continue // a signal, or standard input was left non-blocking
		case err != nil:
			return 0, &os.PathError{Op: "read", Path: "/dev/stdin", Err: err}
		case n == 0:
			// The producer may have closed the pipe on the interrupt that
			// is about to stop the job: give that stop a moment, as the
			// library does for the pipes it reads.
			fds[1].Revents = 0
			for {
				_, err := unix.Poll(fds[1:], int(csvstream.PipeEndGrace.Milliseconds()))
				if !errors.Is(err, unix.EINTR) {
					break
				}
			}
			if r.ctx.Err() != nil {
				return 0, context.Cause(r.ctx)
			}
			return 0, io.EOF
		}
		return n, nil
	}
}

// release stops the wake-up and closes its pipe.
func (r *pollStdin) release() {
	r.once.Do(func() { r.wake = [2]int{-1, -1} }) // never read: nothing made
	if r.stop != nil {
		r.stop()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	r.closed = true
	for _, fd := range r.wake {
		if fd >= 0 {
			unix.Close(fd)
		}
	}
}
