package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/csvstream/csvstream/internal/proctest"
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
	exited := startCLI(t, cmd)
	w.Close()

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

// TestSecondInterruptEndsTheProcess interrupts a job that waits in
// open(2) for the producer of a named pipe, which the first interrupt
// cannot end: a second one ends the process at once.
func TestSecondInterruptEndsTheProcess(t *testing.T) {
	cmd, _, _, stderr, exited := startOnFifo(t)
	// Interrupts until the process ends: the first stops the job, a later
	// one, once the first is handled, ends the process.
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	timeout := time.After(10 * time.Second)
	for {
		if err := cmd.Process.Signal(os.Interrupt); err != nil && !errors.Is(err, os.ErrProcessDone) {
			t.Fatal(err)
		}
		select {
		case <-exited:
			return
		case <-tick.C:
		case <-timeout:
			t.Fatalf("the process still runs 10 s after the first of its interrupts; stderr: %s", stderr.String())
		}
	}
}

// startOnFifo starts `csvstream run FIFO OUT`, through the command wrap
// when one is given, on a named pipe nobody has opened, and waits until a
// thread of the process waits in the pipe's open, so that the process
// handles its signals by then. A kernel that hides wait channels never
// says so: a few seconds do then.
func startOnFifo(t *testing.T, wrap ...string) (cmd *exec.Cmd, fifo, out string, stderr *bytes.Buffer, exited <-chan error) {
	t.Helper()
	dir := t.TempDir()
	fifo, out = filepath.Join(dir, "in.csv"), filepath.Join(dir, "out.csv")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	args := append(wrap[:len(wrap):len(wrap)], buildCLI(t), "run", fifo, out)
	cmd = exec.Command(args[0], args[1:]...)
	stderr = new(bytes.Buffer)
	cmd.Stderr = stderr
	exited = startCLI(t, cmd)
	for deadline := time.Now().Add(3 * time.Second); !waitsForPipePartner(cmd.Process.Pid) && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	return cmd, fifo, out, stderr, exited
}

// waitsForPipePartner reports whether a thread of process pid waits in
// the kernel for the other end of a named pipe to be opened.
func waitsForPipePartner(pid int) bool {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/wchan", pid))
	for _, w := range tasks {
		if b, _ := os.ReadFile(w); string(b) == "wait_for_partner" {
			return true
		}
	}
	return false
}

// TestIgnoredInterruptStaysIgnored: a process started with SIGINT
// ignored, as a shell script's command run with & is, keeps it ignored
// (README): an interrupt neither stops its job nor leaves it unable to be
// stopped, as taking the first and ignoring the second again would.
func TestIgnoredInterruptStaysIgnored(t *testing.T) {
	cmd, fifo, out, stderr, exited := startOnFifo(t, "sh", "-c", `trap "" INT; exec "$0" "$@"`)
	ignored, caught := signalMasks(t, cmd.Process.Pid)
	const sigint = 1 << (unix.SIGINT - 1)
	if ignored&sigint == 0 || caught&sigint != 0 {
		t.Errorf("SigIgn %x, SigCgt %x: want SIGINT ignored, not caught", ignored, caught)
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	const data = "id,name\n1,a\n"
	if err := os.WriteFile(fifo, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("the job failed after an ignored interrupt: %v; stderr: %s", err, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("the job did not end 10 s after its input; stderr: %s", stderr.String())
	}
	if got, err := os.ReadFile(out); err != nil || string(got) != data {
		t.Errorf("out.csv holds %q, %v; want %q", got, err, data)
	}
}

// signalMasks returns the signals process pid ignores and those it
// catches, as bit masks (signal n is bit n-1).
func signalMasks(t *testing.T, pid int) (ignored, caught uint64) {
	t.Helper()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range bytes.Split(status, []byte("\n")) {
		fmt.Sscanf(string(line), "SigIgn: %x", &ignored)
		fmt.Sscanf(string(line), "SigCgt: %x", &caught)
	}
	return ignored, caught
}

// TestRepeatedHangupIsIgnored: a closing terminal sends a job two SIGHUPs
// (the shell's, then the kernel's). The first stops the job; the second,
// once the first is handled, must not end the process before its cleanup:
// it exits 1 naming the hangup, not killed by the signal.
func TestRepeatedHangupIsIgnored(t *testing.T) {
	cmd, fifo, _, stderr, exited := startOnFifo(t)
	if err := cmd.Process.Signal(unix.SIGHUP); err != nil {
		t.Fatal(err)
	}
	// Handled once later hangups are ignored; a process that never ignores
	// them gets the second after two seconds.
	const sighup = 1 << (unix.SIGHUP - 1)
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if ignored, _ := signalMasks(t, cmd.Process.Pid); ignored&sighup != 0 {
			break
		}
	}
	if err := cmd.Process.Signal(unix.SIGHUP); err != nil {
		t.Fatal(err)
	}
	// The job still waits in the pipe's open: give it its input, which it
	// must refuse as stopped. Opened without blocking, as a process the
	// hangup ended has no reader waiting.
	if w, err := os.OpenFile(fifo, os.O_WRONLY|unix.O_NONBLOCK, 0); err == nil {
		w.WriteString("id,name\n1,a\n")
		w.Close()
	}
	var err error
	select {
	case err = <-exited:
	case <-time.After(20 * time.Second):
		t.Fatalf("the job did not end 20 s after its hangups; stderr: %s", stderr.String())
	}
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != exitFailure {
		t.Fatalf("exit: %v, want status %d; stderr: %s", err, exitFailure, stderr.String())
	}
	if msg := stderr.String(); strings.Count(msg, "\n") != 1 || !strings.Contains(msg, "hangup signal received") {
		t.Errorf("stderr %q: want one line naming the hangup", msg)
	}
}

// TestTruncatedSourceFailsTheJob truncates a local source while the job
// reads it (logrotate's copytruncate does so to a log): the job must not
// take the early end for the input's and succeed with the rows read so
// far, the last of them cut short, as a replaced S3 source does not.
func TestTruncatedSourceFailsTheJob(t *testing.T) {
	bin := buildCLI(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "in.csv")
	if err := os.WriteFile(src, []byte(idNameRows(100000, 37)), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "run", "--rejects", filepath.Join(dir, "r.csv"), src, "-")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	exited := startCLI(t, cmd)
	// The job holds a full pipe: it has read part of the source, not all.
	proctest.WaitUnread(t, stdout.(*os.File), 65536)
	if err := os.Truncate(src, 0); err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(stdout)
	<-exited
	if code := cmd.ProcessState.ExitCode(); code != 1 || !strings.Contains(stderr.String(), "in.csv: source object changed while being read: it was cut to 0 bytes") {
		t.Errorf("exit %d, %d bytes written, stderr %q; want exit 1: the source was cut short while read", code, len(got), stderr.String())
	}
}
