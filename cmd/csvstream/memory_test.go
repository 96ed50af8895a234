package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync/atomic"
	"testing"
	"time"

	"github.com/csvstream/csvstream/internal/gen"
	"github.com/csvstream/csvstream/internal/s3test"
)

// inputBytes is the size of TestRunPeakMemory1GB's input.
const inputBytes = 1 << 30

// TestRunPeakMemory1GB streams 1 GiB through the built command into a real
// S3 server with default settings and checks the process's peak resident
// memory (its VmHWM, read as it runs): under 100 MiB when few
// rows are rejected, and bounded still when a quarter are, filling the
// rejects' buffers too and leaving the garbage collector more to do. The
// object written is then read back from S3, in ranges four at once, whose
// buffers add 32 MiB, and as much again that the garbage collector lets
// the heap grow by.
func TestRunPeakMemory1GB(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.Bucket(t, "memory")
	bin := buildCLI(t)
	tests := []struct {
		name string
		// invalidEvery makes every invalidEvery-th row invalid (see
		// gen.Options); without a schema, half the kinds are rejected.
		invalidEvery int
		limit        int64
		minRejected  int64
		// fromS3 reads the object the case before wrote, in ranges,
		// instead of rows generated on standard input.
		fromS3 bool
	}{
		{"all valid", 0, 100 << 20, 0, false},
		{"S3 source read in ranges", 0, 160 << 20, 0, true},
		{"a quarter rejected", 2, 200 << 20, inputBytes / 110 / 5, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src, dst := "-", "s3://"+bucket+"/big.csv"
			if tt.fromS3 {
				src, dst = dst, "s3://"+bucket+"/copy.csv"
			}
			cmd := exec.Command(bin, "run", src, dst)
			cmd.Env = append(os.Environ(), srv.Env()...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			stdin, err := cmd.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			peak := watchPeakRSS(cmd.Process.Pid)
			genErr := make(chan error, 1)
			if tt.fromS3 {
				stdin.Close()
				genErr <- nil
			} else {
				go generate(stdin, tt.invalidEvery, genErr)
			}
			waitErr := cmd.Wait()
			rss := peak()
			if err := <-genErr; err != nil {
				t.Fatalf("generate input: %v", err)
			}
			if waitErr != nil {
				t.Fatalf("csvstream run: %v\n%s", waitErr, stderr.String())
			}
			var sum struct {
				BytesIn  int64 `json:"bytes_in"`
				Parts    int   `json:"parts"`
				Rejected int64 `json:"rejected"`
			}
			if err := json.Unmarshal(stdout.Bytes(), &sum); err != nil {
				t.Fatalf("summary: %v\n%s", err, stdout.String())
			}
			if sum.BytesIn < inputBytes*9/10 || sum.Parts < 50 || sum.Rejected < tt.minRejected {
				t.Fatalf("summary %+v: expected about 1 GiB in over 50+ parts, and at least %d rejected", sum, tt.minRejected)
			}
			t.Logf("peak RSS %.1f MiB for %d bytes in %d parts, %d rows rejected", float64(rss)/(1<<20), sum.BytesIn, sum.Parts, sum.Rejected)
			if rss >= tt.limit {
				t.Errorf("peak RSS %d bytes, want under %d", rss, tt.limit)
			}
		})
	}
}

// watchPeakRSS reads the peak resident memory (VmHWM) of process pid
// every 10 ms until the returned function is called, which gives the last
// value read. The kernel's own maximum for a child (rusage's Maxrss) will
// not do: os/exec starts the child with vfork, and at exec the kernel
// counts the test process's peak as the child's.
func watchPeakRSS(pid int) func() int64 {
	var peak atomic.Int64
	stop, done := make(chan struct{}), make(chan struct{})
	status := fmt.Sprintf("/proc/%d/status", pid)
	go func() {
		defer close(done)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			if b, err := os.ReadFile(status); err == nil {
				if _, rest, ok := bytes.Cut(b, []byte("VmHWM:")); ok {
					var kib int64
					if _, err := fmt.Sscan(string(rest), &kib); err == nil {
						peak.Store(max(peak.Load(), kib<<10))
					}
				}
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	return func() int64 {
		close(stop)
		<-done
		return peak.Load()
	}
}

// generate writes 1 GiB of orders to w, every invalidEvery-th row invalid,
// closes w, and sends the outcome to done.
func generate(w io.WriteCloser, invalidEvery int, done chan<- error) {
	// About 110 bytes a row: enough rows for 1 GiB, cut at exactly 1 GiB
	// on a record boundary by the limit writer.
	lw := &limitWriter{w: w, n: inputBytes}
	_, err := gen.Orders(lw, gen.Options{Rows: inputBytes / 60, Seed: 1, InvalidEvery: invalidEvery})
	if errors.Is(err, errLimit) {
		err = nil
	}
	done <- err
	w.Close()
}

var errLimit = errors.New("input limit reached")

// limitWriter passes on whole writes until n bytes have gone through, then
// fails, so the input ends on a record boundary near n bytes.
type limitWriter struct {
	w io.Writer
	n int64
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if int64(len(p)) > l.n {
		return 0, errLimit
	}
	n, err := l.w.Write(p)
	l.n -= int64(n)
	return n, err
}
