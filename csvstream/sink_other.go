//go:build !unix

package csvstream

import (
	"context"
	"errors"
	"os"
)

// openPipe opens the named pipe at path for writing.
func openPipe(_ context.Context, path string) (*os.File, error) {
	return os.OpenFile(path, os.O_WRONLY, 0)
}

// dupDescriptor is not available here: a descriptor's path is a file.
func dupDescriptor(int, string) (*os.File, error) {
	return nil, errors.ErrUnsupported
}

// checkDescriptor has nothing to check here.
func checkDescriptor(int) error { return nil }
