package main

import (
	"os"
	"testing"

	"github.com/csvstream/csvstream/internal/leakcheck"
)

// TestMain runs the package's tests, then fails when goroutines the
// command or the library started outlive them all.
func TestMain(m *testing.M) {
	os.Exit(leakcheck.Main(m, "github.com/csvstream/csvstream/cmd/csvstream", "github.com/csvstream/csvstream/csvstream"))
}
