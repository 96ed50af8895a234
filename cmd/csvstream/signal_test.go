package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/csvstream/csvstream/internal/gen"
	"github.com/csvstream/csvstream/internal/proctest"
	"github.com/csvstream/csvstream/internal/s3test"
)

// TestInterruptStopsStalledStdin interrupts a job whose producer has sent
// a first part's worth of rows and then stalls, keeping standard input
// open. The job must stop at once, not when the producer next writes: exit
// 1 naming the interrupt, no object published and its upload aborted.
func TestInterruptStopsStalledStdin(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.Bucket(t, "interrupt")
	bin := buildCLI(t)

	cmd := exec.Command(bin, "run", "-", "s3://"+bucket+"/out.csv")
	cmd.Env = append(os.Environ(), srv.Env()...)
	stdin, stderr, exited := startWithStdin(t, cmd)

	// About 10 MiB: more than the first part, so that an upload is open.
	if _, err := gen.Orders(stdin, gen.Options{Rows: 100_000, Seed: 1}); err != nil {
		t.Fatalf("write input: %v", err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for len(srv.Uploads(t, bucket)) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no multipart upload began; stderr: %s", stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}

	interruptStops(t, cmd, exited, stderr, "its input stayed open")
	if ups := srv.Uploads(t, bucket); len(ups) != 0 {
		t.Errorf("%d multipart uploads left after the interrupt", len(ups))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := srv.Client().HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("out.csv")})
	var notFound *types.NotFound
	if !errors.As(err, &notFound) {
		t.Errorf("HeadObject out.csv after the interrupt: %v, want NotFound", err)
	}
}

// TestClosedStdoutFailsTheJob runs a job writing its valid rows to standard
// output into a reader that stops after a few bytes, as head does. The job
// must fail as any failed write does, with exit 1 and one line naming the
// broken pipe, and leave no temporary file of its rejects behind, rather
// than be killed by SIGPIPE halfway.
func TestClosedStdoutFailsTheJob(t *testing.T) {
	bin := buildCLI(t)
	dir := t.TempDir()
	src := writeOrders(t, dir, 200_000)

	cmd := exec.Command(bin, "run", "--rejects", filepath.Join(dir, "rejects.csv"), src, "-")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(stdout, make([]byte, 100)); err != nil {
		t.Fatalf("read the first bytes: %v", err)
	}
	stdout.Close()
	err = cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != exitFailure {
		t.Fatalf("exit: %v, want status %d; stderr: %s", err, exitFailure, stderr.String())
	}
	if msg := stderr.String(); strings.Count(msg, "\n") != 1 || !strings.Contains(msg, "broken pipe") {
		t.Errorf("stderr %q: want one line naming the broken pipe", msg)
	}
	onlySourceLeft(t, dir)
}

// TestClosedStdoutFailsTheJobWhileStdinStalls runs a job from standard
// input to standard output whose reader stops after a few bytes, as head
// does, while the producer has sent its rows and stalls, keeping standard
// input open. The failed write must fail the job at once, not when the
// producer next writes or closes.
func TestClosedStdoutFailsTheJobWhileStdinStalls(t *testing.T) {
	bin := buildCLI(t)
	dir := t.TempDir()
	cmd := exec.Command(bin, "run", "--rejects", filepath.Join(dir, "rejects.csv"), "-", "-")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	cmd.Stdin = r
	stderr := new(bytes.Buffer)
	cmd.Stderr = stderr
	exited := startCLI(t, cmd)
	r.Close()
	// About 300 KB: more than standard output's pipe and the job's stream
	// buffer hold, so that the job waits in a write once it has read every
	// byte of its input. The input stays open.
	if _, err := io.WriteString(w, idNameRows(8000, 30)); err != nil {
		t.Fatal(err)
	}
	proctest.WaitUnread(t, w, 0) // the job has read the last bytes
	if _, err := io.ReadFull(stdout, make([]byte, 100)); err != nil {
		t.Fatalf("read the first bytes: %v", err)
	}
	stdout.Close()
	select {
	case err = <-exited:
	case <-time.After(10 * time.Second):
		t.Fatalf("the job still runs 10 s after its reader went away; stderr: %s", stderr.String())
	}
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != exitFailure || !strings.Contains(stderr.String(), "broken pipe") {
		t.Fatalf("exit: %v, want status %d naming the broken pipe; stderr: %s", err, exitFailure, stderr.String())
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("%d files left in the directory, want none", len(entries))
	}
}

// TestSignalStopsStalledLocalJob sends an interrupt, SIGTERM or SIGHUP to a job
// of local files whose producer at standard input stalls: either stops
// the job as a failure, exit 1 naming the signal, with no output, final
// or temporary, left behind.
func TestSignalStopsStalledLocalJob(t *testing.T) {
	bin := buildCLI(t)
	for _, tc := range []struct {
		sig  os.Signal
		want string
	}{
		{os.Interrupt, "interrupt signal received"},
		{syscall.SIGTERM, "terminated signal received"},
		{syscall.SIGHUP, "hangup signal received"},
	} {
		t.Run(tc.sig.String(), func(t *testing.T) {
			dir := t.TempDir()
			cmd := exec.Command(bin, "run", "--rejects", filepath.Join(dir, "r.csv"), "-", filepath.Join(dir, "out.csv"))
			stdin, stderr, exited := startWithStdin(t, cmd)
			if _, err := io.WriteString(stdin, "a,b\n1,2\n"); err != nil {
				t.Fatal(err)
			}
			// The job has started once its outputs' temporary files are
			// there.
			deadline := time.Now().Add(30 * time.Second)
			for {
				if entries, _ := os.ReadDir(dir); len(entries) == 2 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("no temporary outputs after 30 s; stderr: %s", stderr.String())
				}
				time.Sleep(20 * time.Millisecond)
			}
			if err := cmd.Process.Signal(tc.sig); err != nil {
				t.Fatal(err)
			}
			var err error
			select {
			case err = <-exited:
			case <-time.After(20 * time.Second):
				t.Fatalf("the job did not stop within 20 s of %v", tc.sig)
			}
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != exitFailure {
				t.Fatalf("exit: %v, want status %d; stderr: %s", err, exitFailure, stderr.String())
			}
			if msg := stderr.String(); strings.Count(msg, "\n") != 1 || !strings.Contains(msg, tc.want) {
				t.Errorf("stderr %q: want one line naming %q", msg, tc.want)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("%d files left in the directory, want none", len(entries))
			}
		})
	}
}

// interruptStops interrupts cmd, which is waiting while stalled, and
// checks that it stops within 20 s: exit 1, with the job's stop and the
// interrupt named on standard error.
func interruptStops(t *testing.T, cmd *exec.Cmd, exited <-chan error, stderr *bytes.Buffer, stalled string) {
	t.Helper()
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	var err error
	select {
	case err = <-exited:
	case <-time.After(20 * time.Second):
		t.Fatalf("the job did not stop within 20 s of the interrupt while %s", stalled)
	}
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != exitFailure {
		t.Fatalf("exit: %v, want status %d; stderr: %s", err, exitFailure, stderr.String())
	}
	if msg := stderr.String(); !strings.Contains(msg, "stopped") || !strings.Contains(msg, "interrupt signal received") {
		t.Errorf("stderr %q: want the job's stop and its cause", msg)
	}
}

// writeOrders writes rows of generated orders, one in fifty invalid, to
// orders.csv in dir, and returns its path.
func writeOrders(t *testing.T, dir string, rows int) string {
	t.Helper()
	src := filepath.Join(dir, "orders.csv")
	f, err := os.Create(src)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gen.Orders(f, gen.Options{Rows: rows, InvalidEvery: 50, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return src
}

// onlySourceLeft reports any file in dir but the one writeOrders wrote:
// a failed job leaves no output, temporary or not.
func onlySourceLeft(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != "orders.csv" {
			t.Errorf("%s left in the directory", e.Name())
		}
	}
}

// TestInterruptOfPipelineIsNotPublished interrupts pipelines as Ctrl-C
// does, signalling the producer and csvstream together: the producer's exit
// can end standard input before csvstream has acted on its own signal, and
// the input cut short must not be taken as whole. Each trial must exit 1
// naming the interrupt, with no destination for run and no schema on
// standard output for infer; without the wait at the end of a pipe, a
// quarter or more of such trials succeeded.
func TestInterruptOfPipelineIsNotPublished(t *testing.T) {
	bin := buildCLI(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "in.csv")
	if err := os.WriteFile(src, []byte(idNameRows(2000, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args func(out string) []string
	}{
		{"run", func(out string) []string { return []string{"run", "--rejects", out + ".rejects.csv", "-", out} }},
		{"infer", func(string) []string { return []string{"infer", "--rows", "100000", "-"} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for trial := range 10 {
				out := filepath.Join(dir, fmt.Sprintf("%s%d.csv", tt.name, trial))
				r, w, err := os.Pipe()
				if err != nil {
					t.Fatal(err)
				}
				// The producer sends its rows, then waits until the interrupt ends it.
				prod := exec.Command("sh", "-c", `cat "$0"; exec sleep 30`, src)
				prod.Stdout = w
				prod.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
				if err := prod.Start(); err != nil {
					t.Fatal(err)
				}
				cmd := exec.Command(bin, tt.args(out)...)
				cmd.Stdin = r
				var stdout, stderr bytes.Buffer
				cmd.Stdout, cmd.Stderr = &stdout, &stderr
				cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pgid: prod.Process.Pid}
				if err := cmd.Start(); err != nil {
					prod.Process.Kill()
					prod.Wait()
					t.Fatal(err)
				}
				w.Close()
				// The interrupt comes once the producer has sent its rows (a
				// shell still running cat may outlive it) and csvstream has
				// read them all and waits for more.
				proctest.WaitRuns(t, prod.Process.Pid, "sleep")
				proctest.WaitUnread(t, r, 0)
				r.Close()
				syscall.Kill(-prod.Process.Pid, syscall.SIGINT)
				err = cmd.Wait()
				prod.Process.Kill() // gone already, unless it ignores SIGINT
				prod.Wait()
				if ws, ok := prod.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGINT {
					t.Fatalf("trial %d: the producer ended with %v, not by SIGINT (was the test started with SIGINT ignored, as a shell's background job is?): the race is not exercised", trial, prod.ProcessState)
				}
				var exit *exec.ExitError
				if !errors.As(err, &exit) || exit.ExitCode() != exitFailure || !strings.Contains(stderr.String(), "interrupt") {
					t.Fatalf("trial %d: exit %v, want status %d naming the interrupt; stderr: %s", trial, err, exitFailure, stderr.String())
				}
				if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
					t.Fatalf("trial %d: %s after the interrupt: %v, want none", trial, out, err)
				}
				if tt.name == "infer" && stdout.Len() != 0 {
					t.Fatalf("trial %d: infer printed a schema drafted from the input cut short:\n%s", trial, stdout.String())
				}
			}
		})
	}
}
