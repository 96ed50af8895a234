package s3test

import (
	"os/exec"
	"syscall"
)

// setParentDeathSignal has the kernel kill the server if its parent dies
// without stopping it, so no process is left behind.
func setParentDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
