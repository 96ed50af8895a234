package csvstream_test

import (
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// waitUnread waits until the pipe that f is one end of holds n bytes unread,
// and fails t if it does not within ten seconds.
func waitUnread(t *testing.T, f *os.File, n int) {
	t.Helper()
	rc, err := f.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	for start := time.Now(); time.Since(start) < 10*time.Second; time.Sleep(5 * time.Millisecond) {
		var got int
		var ierr error
		if err := rc.Control(func(fd uintptr) { got, ierr = unix.IoctlGetInt(int(fd), unix.TIOCINQ) }); err != nil {
			t.Fatal(err)
		}
		if ierr != nil {
			t.Fatalf("the bytes unread in the pipe: %v", ierr)
		}
		if got == n {
			return
		}
	}
	t.Fatalf("the pipe does not come to hold %d bytes unread within 10s", n)
}
