package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestInterruptStopsStalledStdout interrupts a job whose valid rows go to
// a pipe that is never read, so that its write waits for the reader. The
// job must stop at once, not when the reader reads or goes away: exit 1
// naming the interrupt, and no rejects file, temporary or not, left
// behind.
func TestInterruptStopsStalledStdout(t *testing.T) {
	bin := buildCLI(t)
	dir := t.TempDir()
	src := writeOrders(t, dir, 100_000)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()

	cmd := exec.Command(bin, "run", "--rejects", filepath.Join(dir, "rejects.csv"), src, "-")
	cmd.Stdout = w
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer cmd.Process.Kill()

	// The pipe holds 64 KiB by default: once it is nearly full, the job
	// waits in a write.
	deadline := time.Now().Add(30 * time.Second)
	for {
		n, err := unix.IoctlGetInt(int(r.Fd()), unix.TIOCINQ) // FIONREAD
		if err != nil {
			t.Fatal(err)
		}
		if n >= 60<<10 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the pipe holds %d bytes after 30 s; stderr: %s", n, stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)

	interruptStops(t, cmd, exited, &stderr, "standard output was not read")
	onlySourceLeft(t, dir)
}
