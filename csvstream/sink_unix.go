//go:build unix

package csvstream

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"
)

// openPipe opens the named pipe at path for writing. Such an open waits
// for a reader, as a shell redirection does; openPipe waits by trying
// again, without blocking a thread, so that it ends when ctx does. The
// file is left non-blocking, which Go's poller handles.
func openPipe(ctx context.Context, path string) (*os.File, error) {
	const poll = 20 * time.Millisecond
	var wait *time.Timer
	for {
		f, err := os.OpenFile(path, os.O_WRONLY|syscall.O_NONBLOCK, 0)
		if !errors.Is(err, syscall.ENXIO) { // ENXIO: no reader yet
			return f, err
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
