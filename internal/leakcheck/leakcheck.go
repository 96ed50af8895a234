// Package leakcheck finds goroutines that outlive the code that started
// them, for tests: a job's goroutines must all end when the job ends. It
// also finds a goroutine waiting at a given place, so that a test can stop
// code where it means to, not after a guessed sleep.
package leakcheck

import (
	"fmt"
	"os"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"
)

// testFrame matches a stack frame of a test, fuzz target or benchmark
// function, or of a test package, or the line naming one as a goroutine's
// creator: such goroutines belong to the tests, not to the code tested.
var testFrame = regexp.MustCompile(`(?m)^(created by )?\S+(\.(Test|Fuzz|Benchmark)\w*|_test\.\S+)[.( ]`)

// Running returns the stacks of the running goroutines that run code of
// one of the packages named by their import paths, and that no test
// started.
func Running(pkgs ...string) []string {
	var left []string
	for _, g := range stacks() {
		if runsCode(g, pkgs) && !testFrame.MatchString(g) {
			left = append(left, g)
		}
	}
	return left
}

// stacks returns the stack of every goroutine, one string each.
func stacks() []string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return strings.Split(string(buf[:n]), "\n\n")
		}
		buf = make([]byte, 2*len(buf))
	}
}

// WaitFor waits until the stack of a goroutine holds every one of frames,
// such as "(*Scanner).fill" and "(*pollDesc).waitRead" for a scan waiting
// for its input, and fails t if none does within ten seconds.
func WaitFor(t testing.TB, frames ...string) {
	t.Helper()
	waitFor(t, 10*time.Second, frames)
}

func waitFor(t testing.TB, d time.Duration, frames []string) {
	t.Helper()
	for start := time.Now(); time.Since(start) < d; time.Sleep(5 * time.Millisecond) {
		for _, g := range stacks() {
			if holdsAll(g, frames) {
				return
			}
		}
	}
	t.Fatalf("no goroutine waits in %q after %v", frames, d)
}

// holdsAll reports whether stack g holds every one of frames.
func holdsAll(g string, frames []string) bool {
	for _, f := range frames {
		if !strings.Contains(g, f) {
			return false
		}
	}
	return true
}

// runsCode reports whether stack g has a frame of one of pkgs.
func runsCode(g string, pkgs []string) bool {
	for _, p := range pkgs {
		if strings.Contains(g, "\n"+p+".") {
			return true
		}
	}
	return false
}

// Ended fails t when goroutines running code of pkgs still run a moment
// after the call that started them returned. A goroutine that has just
// said it is done may still be returning, so it waits up to two seconds
// for them to end.
func Ended(t testing.TB, pkgs ...string) {
	t.Helper()
	if left := wait(2*time.Second, pkgs); len(left) > 0 {
		t.Errorf("%d goroutines still run:\n\n%s", len(left), strings.Join(left, "\n\n"))
	}
}

// Main runs m's tests and returns the exit code for os.Exit: a failure
// when the tests pass but goroutines running code of pkgs outlive them
// by five seconds.
func Main(m *testing.M, pkgs ...string) int {
	code := m.Run()
	if code != 0 {
		return code
	}
	if left := wait(5*time.Second, pkgs); len(left) > 0 {
		fmt.Fprintf(os.Stderr, "FAIL: %d goroutines outlive the tests:\n\n%s\n", len(left), strings.Join(left, "\n\n"))
		return 1
	}
	return 0
}

// wait returns the goroutines of pkgs still running after up to d.
func wait(d time.Duration, pkgs []string) []string {
	for start := time.Now(); ; time.Sleep(10 * time.Millisecond) {
		left := Running(pkgs...)
		if len(left) == 0 || time.Since(start) > d {
			return left
		}
	}
}
