package csvstream

import (
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
		for k, where := range []string{"after", "before", "after", "before"} {
			line := lines[k/2]
			data := middle[:n:n]
			if where == "before" {
				data = middle[page-n:]
			}
			for i := range data {
				data[i] = line[i%len(line)]
			}
			want, ws, wa := splitLineReference(data, ',')
			for _, split := range splitters {
				got := make([]span, n)
				var gn, gs int
				var ga bool
				func() {
					defer func() {
						if r := recover(); r != nil {
							t.Fatalf("%s on %d bytes just %s a guard page read outside them: %v", split.name, n, where, r)
						}
					}()
					gn, gs, ga = split.fn(data, ',', got)
				}()
				if gs != ws || ga != wa || !slices.Equal(got[:gn], want) {
					t.Fatalf("%s on %d bytes just %s a guard page: %d %d %v %v, want %d %d %v %v", split.name, n, where, gn, gs, ga, got[:gn], len(want), ws, wa, want)
				}
			}
		}
	}
}
