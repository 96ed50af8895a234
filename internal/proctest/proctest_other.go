//go:build !linux

package proctest

import (
	"os"
	"testing"
	"time"
)

// WaitUnread gives the reader of the pipe f a moment to read it down to n
// bytes: only Linux names the ioctl that counts them.
func WaitUnread(t testing.TB, f *os.File, n int) { time.Sleep(100 * time.Millisecond) }

// WaitRuns gives process pid a moment to start the program called name.
func WaitRuns(t testing.TB, pid int, name string) { time.Sleep(200 * time.Millisecond) }
