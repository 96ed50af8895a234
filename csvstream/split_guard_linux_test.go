package csvstream

import (
	"fmt"
	"runtime/debug"
	"slices"
	"syscall"
	"testing"
)

// TestSplitLineStaysInData runs splitLine and each kernel over lines that
// start just after, or end just before, a page the process may not read.
// The kernels load whole blocks, and each is called only on data at least
// a block long; a wrong length check would read outside the line, which
// gives right answers everywhere else but faults here.
func TestSplitLineStaysInData(t *testing.T) {
	page := syscall.Getpagesize()
	mem, err := syscall.Mmap(-1, 0, 3*page, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		t.Fatalf("mapping three pages: %v", err)
	}
	defer syscall.Munmap(mem)
	// Guard pages on both sides of the middle one.
	for _, guard := range [][]byte{mem[:page], mem[2*page:]} {
		if err := syscall.Mprotect(guard, syscall.PROT_NONE); err != nil {
			t.Fatalf("protecting a guard page: %v", err)
		}
	}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	middle := mem[page : 2*page : 2*page]
	// One line runs to the end of the data; the other stops at a quote.
	lines := []string{"12,ana.rossi@example.com,2021-10-22,paid,6,182.15,false,", "12,ana,\"a, b\"\n"}
	for n := 1; n <= 200; n++ {
		for _, line := range lines {
			for _, where := range []string{"after", "before"} {
				data := middle[:n:n]
				if where == "before" {
					data = middle[page-n:]
				}
				for i := range data {
					data[i] = line[i%len(line)]
				}
				checkSplitters(t, data, fmt.Sprintf("%d bytes just %s a guard page", n, where))
			}
		}
	}
}

// checkSplitters runs each splitter over data, which is described by
// where, and compares its answer with splitLineReference's; a fault while
// reading, which SetPanicOnFault turns into a panic, fails the test.
func checkSplitters(t *testing.T, data []byte, where string) {
	t.Helper()
	want, ws, wa := splitLineReference(data, ',')
	for _, split := range splitters {
		got := make([]span, len(data))
		gn, gs, ga := func() (int, int, bool) {
			defer func() {
				if r := recover(); r != nil {
					t.Fatalf("%s on %s read outside them: %v", split.name, where, r)
				}
			}()
			return split.fn(data, ',', got)
		}()
		if gs != ws || ga != wa || !slices.Equal(got[:gn], want) {
			t.Fatalf("%s on %s: %d %d %v %v, want %d %d %v %v", split.name, where, gn, gs, ga, got[:gn], len(want), ws, wa, want)
		}
	}
}
