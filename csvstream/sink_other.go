//go:build !unix

package csvstream

import (
	"context"
	"os"
)

// openPipe opens the named pipe at path for writing.
func openPipe(_ context.Context, path string) (*os.File, error) {
	return os.OpenFile(path, os.O_WRONLY, 0)
}
