//go:build !linux

package csvstream_test

import (
	"os"
	"testing"
	"time"
)

// waitUnread gives the reader of the pipe f a moment to read it down to n
// bytes: only Linux names the ioctl that counts them here.
func waitUnread(t *testing.T, f *os.File, n int) { time.Sleep(100 * time.Millisecond) }
