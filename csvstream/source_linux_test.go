package csvstream

import (
	"context"
	"io"
	"testing"
)

// TestOpenSourceProcFile: a file of /proc says its size is 0 and is read
// whole, not taken for a file cut to nothing.
func TestOpenSourceProcFile(t *testing.T) {
	r, err := OpenSource(context.Background(), nil, Location{Path: "/proc/self/status"}, nil, ReaderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if b, err := io.ReadAll(r); err != nil || len(b) == 0 {
		t.Errorf("read %d bytes, %v; want the file, no error", len(b), err)
	}
}
