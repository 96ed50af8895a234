package s3test

import (
	"bytes"
	"fmt"
	"io"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// Process is a child process that Stop ends with SIGTERM, then SIGKILL, and
// that the kernel kills if this process dies first, so none is left behind.
type Process struct {
	cmd    *exec.Cmd
	exited chan struct{}
	err    error // the exit status; read after exited is closed
	once   sync.Once
}

// StartProcess starts bin with args and env (nil means this process's
// environment), sending its stdout and stderr to w.
func StartProcess(bin string, args, env []string, w io.Writer) (*Process, error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = w, w
	KillWithParent(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	p := &Process{cmd: cmd, exited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// Exited is closed once the process has exited.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// Err returns the exit status; it is meaningful once Exited is closed.
func (p *Process) Err() error { return p.err }

// Stop asks the process to end with SIGTERM, kills it if it has not ended
// within two seconds, and waits for it. It is safe to call more than once.
func (p *Process) Stop() {
	p.once.Do(func() {
		select {
		case <-p.exited:
			return
		default:
		}
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(2 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
	})
}

// SyncBuffer collects output written from several goroutines, such as a
// child's stdout and stderr.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p; it never fails.
func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String returns everything written so far.
func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
