//go:build !linux

package main

import "os/exec"

// setParentDeathSignal does nothing where the kernel offers no parent
// death signal; the demo still stops its children on every normal exit.
func setParentDeathSignal(*exec.Cmd) {}
