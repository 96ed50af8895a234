//go:build !linux

package s3test

import "os/exec"

// KillWithParent does nothing where the kernel has no parent-death signal;
// Process.Stop still ends the child on every normal exit.
func KillWithParent(*exec.Cmd) {}
