//go:build !linux

package main

import (
	"context"
	"io"
	"os"
)

// interruptibleStdin returns standard input as it is: an interrupt stops
// a job reading it once a read returns.
func interruptibleStdin(context.Context) (io.Reader, func()) {
	return os.Stdin, func() {}
}
