// Package leakcheck finds goroutines that outlive the code that started
// them, for tests: a job's goroutines must all end when the job ends.
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
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var left []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if runsCode(g, pkgs) && !testFrame.MatchString(g) {
			left = append(left, g)
		}
	}
	return left
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
