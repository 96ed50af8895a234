package csvstream_test

import (
	"os"
	"testing"

	"github.com/csvstream/csvstream/internal/leakcheck"
)

// lib is the import path of the package tested.
const lib = "github.com/csvstream/csvstream/csvstream"

// TestMain runs the package's tests, then fails when goroutines the
// library started outlive them all.
func TestMain(m *testing.M) { os.Exit(leakcheck.Main(m, lib)) }
