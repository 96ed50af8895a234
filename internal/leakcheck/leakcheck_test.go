package leakcheck

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

const pkg = "github.com/csvstream/csvstream/internal/leakcheck"

// startBlocked starts a goroutine that runs until stop is closed, as code
// under test would: no test function starts it.
func startBlocked(stop <-chan struct{}) { go blockUntil(stop) }

func blockUntil(stop <-chan struct{}) { <-stop }

// TestRunning finds a goroutine the package's own code started and still
// runs, not one a test started, nor one of another package, and no longer
// once it has ended.
func TestRunning(t *testing.T) {
	Ended(t, pkg) // an earlier test's goroutine may still be returning
	stop := make(chan struct{})
	startBlocked(stop)
	byTest := make(chan struct{})
	go blockUntil(byTest)
	defer close(byTest)

	left := Running(pkg)
	if len(left) != 1 || !strings.Contains(left[0], "created by "+pkg+".startBlocked") {
		close(stop)
		t.Fatalf("Running(%q) = %q; want the one goroutine startBlocked started", pkg, left)
	}
	if other := Running("example.com/other"); len(other) != 0 {
		t.Errorf("Running of another package = %q, want none", other)
	}
	close(stop)
	Ended(t, pkg)
}

// TestEndedFails: Ended fails the test when a goroutine still runs after
// its two seconds.
func TestEndedFails(t *testing.T) {
	Ended(t, pkg)
	stop := make(chan struct{})
	defer close(stop)
	startBlocked(stop)
	var rec recorder
	Ended(&rec, pkg)
	if !rec.failed || !strings.Contains(rec.msg, "1 goroutines still run") || !strings.Contains(rec.msg, "created by "+pkg+".startBlocked") {
		t.Errorf("Ended with a goroutine running: failed %v, message %q", rec.failed, rec.msg)
	}
}

// TestWaitFor waits for a goroutine that blocks only later, and fails
// when no goroutine waits where asked.
func TestWaitFor(t *testing.T) {
	Ended(t, pkg) // an earlier test's goroutine may still be returning
	stop := make(chan struct{})
	defer close(stop)
	start := time.Now() // before the timer is set: it fires 50 ms or more after this
	time.AfterFunc(50*time.Millisecond, func() { startBlocked(stop) })
	WaitFor(t, pkg+".blockUntil", "created by "+pkg+".startBlocked")
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Errorf("WaitFor returned after %v, before the goroutine started", d)
	}

	var rec recorder
	waitFor(&rec, 50*time.Millisecond, []string{pkg + ".blockUntil", "no such frame"})
	if !rec.failed || !strings.Contains(rec.msg, `no goroutine waits in ["`+pkg+`.blockUntil" "no such frame"]`) {
		t.Errorf("waitFor for a frame no goroutine has: failed %v, message %q", rec.failed, rec.msg)
	}
}

// recorder is a testing.TB that records a failure instead of failing.
type recorder struct {
	testing.TB
	failed bool
	msg    string
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.failed = true
	r.msg = fmt.Sprintf(format, args...)
}

// Fatalf records as Errorf does; the caller must return after it.
func (r *recorder) Fatalf(format string, args ...any) { r.Errorf(format, args...) }
