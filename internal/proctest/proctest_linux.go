package proctest

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// WaitUnread waits until the pipe that f is one end of holds n bytes
// unread, and fails t if it does not within ten seconds.
func WaitUnread(t testing.TB, f *os.File, n int) {
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

// WaitRuns waits until process pid runs the program called name, as
// /proc/pid/comm shows it, and fails t if it does not within 30 seconds.
func WaitRuns(t testing.TB, pid int, name string) {
	t.Helper()
	comm := fmt.Sprintf("/proc/%d/comm", pid)
	for start := time.Now(); ; time.Sleep(5 * time.Millisecond) {
		b, err := os.ReadFile(comm)
		if err == nil && strings.TrimSpace(string(b)) == name {
			return
		}
		if time.Since(start) > 30*time.Second {
			t.Fatalf("process %d runs %q, not %s, after 30s (%v)", pid, b, name, err)
		}
	}
}
