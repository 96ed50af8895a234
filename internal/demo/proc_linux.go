package main

import (
	"os/exec"
	"syscall"
)

// setParentDeathSignal has the kernel kill the child if the demo itself
// dies without stopping it (for example on SIGKILL), so no process is left
// behind.
func setParentDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
