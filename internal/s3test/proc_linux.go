package s3test

import (
	"os/exec"
	"syscall"
)

// KillWithParent has the kernel kill cmd's process when this process dies
// without stopping it, so no child is left behind.
func KillWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
