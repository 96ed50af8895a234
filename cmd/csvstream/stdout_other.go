//go:build !linux

package main

import "os"

// pollableStdout returns os.Stdout: a job stopped while it waits for a
// reader of standard output stops once the write returns.
func pollableStdout() *os.File { return os.Stdout }
