package csvstream

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/csvstream/csvstream/internal/gen"
	"github.com/csvstream/csvstream/internal/leakcheck"
)

// chunkWriter records every Write it receives as one chunk.
type chunkWriter struct {
	chunks [][]byte
}

func (w *chunkWriter) Write(p []byte) (int, error) {
	w.chunks = append(w.chunks, bytes.Clone(p))
	return len(p), nil
}

func (w *chunkWriter) bytes() []byte { return bytes.Join(w.chunks, nil) }

// checkWholeChunks reports a chunk of w that does not end at one of the
// offsets in ends, the ends of the records written so far.
func checkWholeChunks(t *testing.T, w *chunkWriter, ends []int) {
	t.Helper()
	off := 0
	for i, c := range w.chunks {
		off += len(c)
		if _, ok := slices.BinarySearch(ends, off); !ok {
			t.Fatalf("chunk %d of %d ends at byte %d, inside a record", i, len(w.chunks), off)
		}
	}
}

// records returns n records of the given sizes, cycling through them, each
// ending in a newline, and the offsets where they end.
func records(n int, sizes ...int) (recs [][]byte, ends []int) {
	off := 0
	for i := range n {
		size := sizes[i%len(sizes)]
		r := append(bytes.Repeat([]byte{'a' + byte(i%26)}, size-1), '\n')
		recs = append(recs, r)
		off += size
		ends = append(ends, off)
	}
	return recs, ends
}

func TestStreamSinkWritesWholePayloads(t *testing.T) {
	const buf = streamBufferSize
	cases := []struct {
		name  string
		n     int
		sizes []int
	}{
		{"small", 100_000, []int{7, 31, 130}},
		{"fills the buffer exactly", 5, []int{buf / 4}},
		{"one byte too many", 5, []int{buf/4 + 1}},
		{"as large as the buffer", 4, []int{buf}},
		{"larger than the buffer", 4, []int{buf + 1, 10, 3 * buf}},
		{"buffered then large", 6, []int{100, buf - 50, 200}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			recs, ends := records(tc.n, tc.sizes...)
			var w chunkWriter
			s := newStreamSink(context.Background(), &w, nil)
			for _, r := range recs {
				if n, err := s.Write(r); n != len(r) || err != nil {
					t.Fatalf("Write = %d, %v; want %d, nil", n, err, len(r))
				}
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if got, want := w.bytes(), bytes.Join(recs, nil); !bytes.Equal(got, want) {
				t.Fatalf("stream holds %d bytes, want the %d written", len(got), len(want))
			}
			checkWholeChunks(t, &w, ends)
			off := 0
			for i, c := range w.chunks {
				off += len(c)
				if len(c) <= buf {
					continue
				}
				j, _ := slices.BinarySearch(ends, off)
				if start := off - len(c); j > 0 && ends[j-1] != start || j == 0 && start != 0 {
					t.Errorf("chunk %d has %d bytes, more than the buffer, and is not one record", i, len(c))
				}
			}
		})
	}
}

func TestStreamSinkAbortKeepsWholeRecords(t *testing.T) {
	recs, ends := records(10_000, 51, 77, 1000)
	var w chunkWriter
	c := &closeCounter{}
	s := newStreamSink(context.Background(), &w, c)
	for _, r := range recs {
		if _, err := s.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	written := len(w.bytes())
	if written == 0 || written == ends[len(ends)-1] {
		t.Fatalf("%d bytes reached the stream before Abort; the test wants some, not all", written)
	}
	if err := s.Abort(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if got := len(w.bytes()); got != written {
		t.Errorf("the stream holds %d bytes after Abort and Close, want the %d written before", got, written)
	}
	checkWholeChunks(t, &w, ends)
	if c.n != 1 {
		t.Errorf("the stream was closed %d times, want once", c.n)
	}
}

type closeCounter struct{ n int }

func (c *closeCounter) Close() error { c.n++; return nil }

// TestRunFailureLeavesWholeRecordsOnStdout fails a job after more than a
// buffer of valid records went to standard output, and checks that what
// standard output received is a run of whole records.
func TestRunFailureLeavesWholeRecordsOnStdout(t *testing.T) {
	var src bytes.Buffer
	if _, err := gen.Orders(&src, gen.Options{Rows: 30_000, InvalidEvery: 20_000, Seed: 3}); err != nil {
		t.Fatal(err)
	}
	schema, err := ParseSchema([]byte(gen.Schema))
	if err != nil {
		t.Fatal(err)
	}
	var ends []int
	sc, err := NewScanner(bytes.NewReader(src.Bytes()), ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for off := 0; sc.Scan(); {
		off += len(sc.Record().Raw)
		ends = append(ends, off)
	}
	var w chunkWriter
	_, err = Run(context.Background(), nil, Job{
		Source: Stdio, Stdin: bytes.NewReader(src.Bytes()),
		Destination: Stdio, Stdout: &w,
		Rejects:    Location{Path: filepath.Join(t.TempDir(), "rejects.csv")},
		Schema:     schema,
		MaxRejects: new(int64(0)),
	})
	if !errors.Is(err, ErrTooManyRejects) {
		t.Fatalf("err %v, want ErrTooManyRejects", err)
	}
	out := w.bytes()
	if len(out) <= streamBufferSize {
		t.Fatalf("standard output received %d bytes; the test wants more than a buffer", len(out))
	}
	if !bytes.HasPrefix(src.Bytes(), out) {
		t.Fatal("standard output is not a prefix of the source's valid records")
	}
	checkWholeChunks(t, &w, ends)
}

// umask returns the process umask, read from a new file's mode.
func umask(t *testing.T) fs.FileMode {
	t.Helper()
	p := filepath.Join(t.TempDir(), "probe")
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o666)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return 0o666 &^ fi.Mode().Perm()
}

// TestLocalSinkFiles writes outputs that are, or will be, regular files:
// Close replaces the file the path names, links followed, and keeps an
// existing file's permissions; Abort leaves everything as it was.
func TestLocalSinkFiles(t *testing.T) {
	cases := []struct {
		name     string
		existing fs.FileMode // the target's mode; 0: no target
		link     bool        // the output path is a symbolic link to the target
		abort    bool
	}{
		{name: "new file"},
		{name: "existing 0600", existing: 0o600},
		{name: "existing 0664", existing: 0o664},
		{name: "link to 0640", existing: 0o640, link: true},
		{name: "abort new file", abort: true},
		{name: "abort existing", existing: 0o600, abort: true},
		{name: "abort through link", existing: 0o640, link: true, abort: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			linkDir, targetDir := t.TempDir(), t.TempDir()
			target := filepath.Join(targetDir, "out.csv")
			path := target
			if tc.existing != 0 {
				if err := os.WriteFile(target, []byte("old\n"), 0o600); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(target, tc.existing); err != nil {
					t.Fatal(err)
				}
			}
			if tc.link {
				path = filepath.Join(linkDir, "link.csv")
				if err := os.Symlink(target, path); err != nil {
					t.Fatal(err)
				}
			}
			s, err := openLocalSink(context.Background(), path)
			if err != nil {
				t.Fatal(err)
			}
			if tmp, _ := filepath.Glob(filepath.Join(targetDir, ".out.csv.*.tmp")); len(tmp) != 1 {
				t.Errorf("temporary files next to the target: %q, want one", tmp)
			}
			if _, err := s.Write([]byte("new\n")); err != nil {
				t.Fatal(err)
			}
			want, wantMode := "new\n", tc.existing
			if wantMode == 0 {
				wantMode = 0o666 &^ umask(t)
			}
			if tc.abort {
				err = s.Abort()
				want = "old\n"
			} else {
				err = s.Close()
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, dir := range []string{linkDir, targetDir} {
				if tmp, _ := filepath.Glob(filepath.Join(dir, ".*.tmp")); len(tmp) != 0 {
					t.Errorf("temporary files left behind: %q", tmp)
				}
			}
			if tc.link {
				if fi, err := os.Lstat(path); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
					t.Errorf("the link %s is no longer a link: %v, %v", path, fi.Mode(), err)
				}
			}
			fi, err := os.Stat(target)
			if tc.abort && tc.existing == 0 {
				if !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("an aborted new output exists: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode() != wantMode {
				t.Errorf("mode %v, want %v", fi.Mode(), wantMode)
			}
			if got, _ := os.ReadFile(target); string(got) != want {
				t.Errorf("target holds %q, want %q", got, want)
			}
		})
	}
}

// TestLocalSinkLongName writes outputs whose names are near the 255 bytes
// a file name may have: the temporary file's longer name must still fit.
func TestLocalSinkLongName(t *testing.T) {
	for _, name := range []string{
		strings.Repeat("x", maxTempBase-4) + ".csv",
		strings.Repeat("x", maxTempBase-3) + ".csv",
		strings.Repeat("x", 251) + ".csv",
		strings.Repeat("é", 125) + ".csv",       // 254 bytes, cut within no character
		"x" + strings.Repeat("é", 125) + ".csv", // 255 bytes, the cut moved back to a character's start
	} {
		t.Run(fmt.Sprint(len(name)), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), name)
			s, err := openLocalSink(context.Background(), path)
			if err != nil {
				t.Fatal(err)
			}
			// A name cut within a character is not UTF-8, which some
			// file systems refuse.
			if tmp, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".*.tmp")); len(tmp) != 1 || !utf8.ValidString(filepath.Base(tmp[0])) {
				t.Errorf("temporary files %q, want one whose name is UTF-8", tmp)
			}
			if _, err := s.Write([]byte("a\n")); err != nil {
				t.Fatal(err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if got, err := os.ReadFile(path); err != nil || string(got) != "a\n" {
				t.Errorf("output %q, %v", got, err)
			}
			if left, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".*")); len(left) != 0 {
				t.Errorf("temporary files left behind: %q", left)
			}
		})
	}
}

// TestLocalSinkThroughLinkAndDotDot writes a new file named through a
// link followed by "..": its temporary file goes where the system resolves
// the name, next to the file the rename makes, not where the cleaned name
// points, which may be on another file system.
func TestLocalSinkThroughLinkAndDotDot(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "real", "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join("real", "sub"), filepath.Join(dir, "down")); err != nil {
		t.Fatal(err)
	}
	s, err := openLocalSink(context.Background(), dir+"/down/../out.csv")
	if err != nil {
		t.Fatal(err)
	}
	tmp, _ := filepath.Glob(filepath.Join(dir, "real", ".out.csv.*.tmp"))
	astray, _ := filepath.Glob(filepath.Join(dir, ".out.csv.*.tmp"))
	if len(tmp) != 1 || len(astray) != 0 {
		t.Errorf("temporary files %q next to real/out.csv and %q beside the link; want one next to real/out.csv", tmp, astray)
	}
	if _, err := s.Write([]byte("a\n")); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(filepath.Join(dir, "real", "out.csv")); err != nil || string(got) != "a\n" {
		t.Errorf("real/out.csv holds %q, %v", got, err)
	}
}

// TestLocalSinkStreams writes to a named pipe, a socket and /dev/null,
// which are written directly and stay what they are.
func TestLocalSinkStreams(t *testing.T) {
	recs, _ := records(20_000, 40, 99)
	all := bytes.Join(recs, nil)
	cases := []struct {
		name string
		// setup makes the stream at path, and returns what a reader of it
		// received once the writer is closed, or nil when nothing reads it.
		setup func(t *testing.T, path string) func() []byte
		mode  fs.FileMode
		path  string // fixed path; "" means a new one in a temporary directory
	}{
		{name: "fifo", mode: fs.ModeNamedPipe, setup: func(t *testing.T, path string) func() []byte {
			if err := syscall.Mkfifo(path, 0o600); err != nil {
				t.Fatal(err)
			}
			return readAllAsync(t, func() (io.ReadCloser, error) { return os.Open(path) })
		}},
		{name: "socket", mode: fs.ModeSocket, setup: func(t *testing.T, path string) func() []byte {
			l, err := net.Listen("unix", path)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { l.Close() })
			return readAllAsync(t, func() (io.ReadCloser, error) { return l.Accept() })
		}},
		{name: "null", mode: fs.ModeDevice | fs.ModeCharDevice, path: os.DevNull},
	}
	for _, tc := range cases {
		for _, abort := range []bool{false, true} {
			name := tc.name
			if abort {
				name += "/abort"
			}
			t.Run(name, func(t *testing.T) {
				path, received := tc.path, func() []byte { return nil }
				if path == "" {
					path = filepath.Join(t.TempDir(), "out")
					received = tc.setup(t, path)
				}
				if fi, err := os.Stat(path); err != nil || fi.Mode().Type() != tc.mode {
					t.Fatalf("%s is not a %v: %v", path, tc.mode, err)
				}
				s, err := openLocalSink(context.Background(), path)
				if err != nil {
					t.Fatal(err)
				}
				if _, ok := s.(*streamSink); !ok {
					s.Abort()
					t.Fatalf("openLocalSink(%s) is a %T, want a *streamSink", path, s)
				}
				for _, r := range recs {
					if _, err := s.Write(r); err != nil {
						t.Fatal(err)
					}
				}
				if abort {
					err = s.Abort()
				} else {
					err = s.Close()
				}
				if err != nil {
					t.Fatal(err)
				}
				if fi, err := os.Lstat(path); err != nil || fi.Mode().Type() != tc.mode {
					t.Errorf("%s is now %v, %v; want a %v", path, fi.Mode(), err, tc.mode)
				}
				got := received()
				switch {
				case got == nil:
				case abort && (len(got) >= len(all) || !bytes.HasPrefix(all, got)):
					t.Errorf("after Abort the reader got %d bytes, want a prefix of the %d written", len(got), len(all))
				case !abort && !bytes.Equal(got, all):
					t.Errorf("the reader got %d bytes, want the %d written", len(got), len(all))
				}
			})
		}
	}
}

// TestFileSinkSendAll writes a file's bytes out ahead of Close, without
// publishing them: the target appears only with Close.
func TestFileSinkSendAll(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.csv")
	s, err := openLocalSink(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Write([]byte("a,b\n1,2\n")); err != nil {
		t.Fatal(err)
	}
	if err := s.sendAll(); err != nil {
		t.Fatal(err)
	}
	if tmp, err := os.ReadFile(s.(*fileSink).f.Name()); err != nil || string(tmp) != "a,b\n1,2\n" {
		t.Errorf("after sendAll the temporary file holds %q (%v)", tmp, err)
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("after sendAll %s exists already (%v)", path, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(path); err != nil || string(got) != "a,b\n1,2\n" {
		t.Errorf("after Close %s holds %q (%v)", path, got, err)
	}
}

// TestLocalSinkStreamWaitEnds opens a named pipe no one reads: the open
// waits for a reader, and gives up when the context ends. A reader that
// comes in time gets every byte, through a slow reader's full pipe too.
func TestLocalSinkStreamWaitEnds(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	s, err := openLocalSink(ctx, fifo)
	if err == nil {
		s.Abort()
	}
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), fifo) {
		t.Errorf("opening a pipe with no reader: %v, want the deadline's error naming the pipe", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the open took %v after its context ended", d)
	}

	// A reader that comes while the open waits, and then reads slowly,
	// gets what is written: more than a pipe holds, so that writes wait.
	rec := bytes.Repeat([]byte("0123456789abcdef,x\n"), 1<<10)
	received := make(chan []byte, 1)
	go func() {
		time.Sleep(100 * time.Millisecond)
		f, err := os.Open(fifo)
		if err != nil {
			t.Error(err)
			received <- nil
			return
		}
		defer f.Close()
		time.Sleep(100 * time.Millisecond) // let the pipe fill
		b, err := io.ReadAll(f)
		if err != nil {
			t.Error(err)
		}
		received <- b
	}()
	if s, err = openLocalSink(context.Background(), fifo); err != nil {
		t.Fatal(err)
	}
	for range 32 {
		if _, err := s.Write(rec); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if got := <-received; len(got) != 32*len(rec) {
		t.Errorf("the reader got %d bytes, want %d", len(got), 32*len(rec))
	}
}

// readAllAsync reads, in a goroutine, everything from the reader open
// returns; the function it returns waits for the end and returns the
// bytes.
func readAllAsync(t *testing.T, open func() (io.ReadCloser, error)) func() []byte {
	done := make(chan []byte, 1)
	go func() {
		var b []byte
		defer func() { done <- b }()
		r, err := open()
		if err != nil {
			t.Error(err)
			return
		}
		defer r.Close()
		b, err = io.ReadAll(r)
		if err != nil {
			t.Error(err)
		}
		if b == nil {
			b = []byte{}
		}
	}()
	return func() []byte { return <-done }
}

// TestRunRefusesUnwritableOutputs checks that an output that is a
// directory, or a link to nothing, fails the job before any input is read,
// and is left alone.
func TestRunRefusesUnwritableOutputs(t *testing.T) {
	cases := []struct {
		name     string
		dst, rej string // relative to a temporary directory; "." is the directory
		want     string // the message, after the path
	}{
		{"destination is a directory", ".", "rejects.csv", ": destination: %s is a directory"},
		{"rejects is a directory", "out.csv", ".", ": rejects: %s is a directory"},
		{"destination is a dangling link", "link.csv", "rejects.csv", ": destination: %s is a symbolic link to a file that does not exist"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.Symlink(filepath.Join(dir, "missing", "x.csv"), filepath.Join(dir, "link.csv")); err != nil {
				t.Fatal(err)
			}
			job := Job{
				Source: Stdio, Stdin: failReader{t},
				Destination: Location{Path: filepath.Join(dir, tc.dst)},
				Rejects:     Location{Path: filepath.Join(dir, tc.rej)},
			}
			_, err := Run(context.Background(), nil, job)
			if !errors.Is(err, ErrInvalidJob) {
				t.Fatalf("err %v, want ErrInvalidJob", err)
			}
			bad := job.Destination
			if tc.rej == "." {
				bad = job.Rejects
			}
			if want := fmt.Sprintf(tc.want, bad); !strings.HasSuffix(err.Error(), want) {
				t.Errorf("err %q, want it to end in %q", err, want)
			}
			if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
				t.Errorf("%s is no longer a directory: %v", dir, err)
			}
			if fi, err := os.Lstat(filepath.Join(dir, "link.csv")); err != nil || fi.Mode().Type() != fs.ModeSymlink {
				t.Errorf("link.csv is no longer a link: %v", err)
			}
		})
	}
}

// failReader fails the test when read.
type failReader struct{ t *testing.T }

func (r failReader) Read([]byte) (int, error) {
	r.t.Error("the job read its input")
	return 0, io.EOF
}

// TestRunStopsWaitingForStalledStream stops jobs whose valid rows go to a
// stream that is never read, so that a write waits for the reader. Ending
// the job's context must end that wait: Run returns the context's cause,
// leaves no rejects behind, and clears the deadline it set, so that
// standard output can be written again.
func TestRunStopsWaitingForStalledStream(t *testing.T) {
	var src bytes.Buffer
	if _, err := gen.Orders(&src, gen.Options{Rows: 100_000, InvalidEvery: 50, Seed: 2}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		// setup returns the job's destination, after arranging for a
		// reader that never reads, and the job's standard output with
		// that reader when the destination is standard output.
		setup func(t *testing.T, dir string) (dst Location, stdout, reader *os.File)
	}{
		{"standard output", func(t *testing.T, dir string) (Location, *os.File, *os.File) {
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { r.Close(); w.Close() })
			return Stdio, w, r
		}},
		{"named pipe", func(t *testing.T, dir string) (Location, *os.File, *os.File) {
			path := filepath.Join(dir, "fifo")
			if err := syscall.Mkfifo(path, 0o600); err != nil {
				t.Fatal(err)
			}
			r, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { r.Close() })
			return Location{Path: path}, nil, nil
		}},
		{"socket", func(t *testing.T, dir string) (Location, *os.File, *os.File) {
			path := filepath.Join(dir, "socket")
			l, err := net.Listen("unix", path)
			if err != nil {
				t.Fatal(err)
			}
			accepted := make(chan net.Conn, 1)
			go func() {
				c, _ := l.Accept()
				accepted <- c
			}()
			t.Cleanup(func() {
				l.Close()
				if c := <-accepted; c != nil {
					c.Close()
				}
			})
			return Location{Path: path}, nil, nil
		}},
	}
	stopped := errors.New("stopped by the test")
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			dst, stdout, reader := tc.setup(t, dir)
			job := Job{
				Source: Stdio, Stdin: bytes.NewReader(src.Bytes()),
				Destination: dst, Rejects: Location{Path: filepath.Join(dir, "rejects.csv")},
			}
			if stdout != nil {
				job.Stdout = stdout
			}
			ctx, cancel := context.WithCancelCause(context.Background())
			defer cancel(nil)
			done := make(chan error, 1)
			go func() {
				_, err := Run(ctx, nil, job)
				done <- err
			}()
			// The stream holds far less than the input: the job comes to
			// wait in a write.
			leakcheck.WaitFor(t, "csvstream.(*streamSink).send(", "(*pollDesc).waitWrite(", "created by github.com/csvstream/csvstream/csvstream.TestRunStopsWaitingForStalledStream.")
			cancel(stopped)
			var err error
			select {
			case err = <-done:
			case <-time.After(20 * time.Second):
				t.Fatal("Run did not return within 20 s of its context's end while its output was not read")
			}
			if !errors.Is(err, stopped) || !strings.Contains(err.Error(), "stopped waiting for the reader") {
				t.Fatalf("Run: %v, want the stop of a waiting write, with its cause", err)
			}
			if _, err := os.Stat(job.Rejects.Path); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("rejects after the stop: %v, want none", err)
			}
			if stdout == nil {
				return
			}
			go io.Copy(io.Discard, reader)
			if _, err := stdout.Write([]byte("\n")); err != nil {
				t.Errorf("write to standard output after the job, with its reader reading: %v", err)
			}
		})
	}
}

// TestFileSinkCloseFailureRemovesTemp closes local outputs whose last
// step fails: Close fails naming the target, nothing is published there,
// and no temporary file is left behind.
func TestFileSinkCloseFailureRemovesTemp(t *testing.T) {
	for _, tc := range []struct {
		name  string
		spoil func(t *testing.T, s *fileSink, target string)
		want  string // in Close's error
	}{
		{"the last write fails, as on a full disk", func(t *testing.T, s *fileSink, _ string) {
			s.f.Close() // the buffered bytes can no longer be written
		}, "write "},
		{"the rename fails: the target became a directory meanwhile", func(t *testing.T, _ *fileSink, target string) {
			if err := os.Mkdir(target, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(target, "x"), nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			target := filepath.Join(dir, "out.csv")
			s, err := newFileSink(target, target, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Write([]byte("a,b\n1,2\n")); err != nil {
				t.Fatal(err)
			}
			tc.spoil(t, s, target)
			if err := s.Close(); err == nil || !strings.Contains(err.Error(), tc.want+target) {
				t.Errorf("Close: %v, want an error naming %s", err, target)
			}
			ents, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range ents {
				if fi, _ := e.Info(); e.Name() != "out.csv" || fi != nil && fi.Mode().IsRegular() {
					t.Errorf("left behind: %s", e.Name())
				}
			}
		})
	}
}

// TestCheckOutputKeyLength accepts a key of S3's 1024-byte maximum and
// refuses one byte more.
func TestCheckOutputKeyLength(t *testing.T) {
	if err := checkOutput(Location{Bucket: "b", Key: strings.Repeat("k", 1024)}); err != nil {
		t.Errorf("1024-byte key: %v", err)
	}
	if err := checkOutput(Location{Bucket: "b", Key: strings.Repeat("k", 1025)}); err == nil {
		t.Error("1025-byte key accepted")
	}
}

// TestRunOutputThroughLinkAndDotDot writes to an output whose directory is
// reached through a link and "..": the system resolves the link before
// the "..", so the directory exists although the path cleaned of "link/.."
// names none, and the job is not refused.
func TestRunOutputThroughLinkAndDotDot(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "real", "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "real", "only"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join("real", "sub"), filepath.Join(dir, "down")); err != nil {
		t.Fatal(err)
	}
	_, err := Run(context.Background(), nil, Job{
		Source: Stdio, Stdin: strings.NewReader("a\n1\n"),
		Destination: Location{Path: dir + "/down/../only/out.csv"},
		Rejects:     Location{Path: dir + "/down/../only/rejects.csv"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(filepath.Join(dir, "real", "only", "out.csv")); err != nil || string(got) != "a\n1\n" {
		t.Errorf("real/only/out.csv holds %q, %v", got, err)
	}
}

// TestRunMissingDirectoryThroughLinkAndDotDot refuses an output whose
// directory, reached through a link and "..", does not exist, and names
// that directory as the path gives it: the path cleaned of "link/.."
// names another directory, which here exists.
func TestRunMissingDirectoryThroughLinkAndDotDot(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{filepath.Join(dir, "real", "sub"), filepath.Join(dir, "only")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(filepath.Join("real", "sub"), filepath.Join(dir, "down")); err != nil {
		t.Fatal(err)
	}
	out := dir + "/down/../only/out.csv"
	_, err := Run(context.Background(), nil, Job{
		Source: Stdio, Stdin: failReader{t},
		Destination: Location{Path: out},
		Rejects:     Location{Path: filepath.Join(dir, "rejects.csv")},
	})
	if want := "invalid job: destination: " + out + ": directory " + dir + "/down/../only does not exist"; err == nil || err.Error() != want {
		t.Errorf("err %v\nwant %s", err, want)
	}
}

// TestRunRefusesOutputInMissingDirectory names an output in a directory
// that does not exist: the job fails before any input is read, as for an
// output that is a directory, and says which directory is missing.
func TestRunRefusesOutputInMissingDirectory(t *testing.T) {
	for _, out := range []string{"destination", "rejects"} {
		t.Run(out, func(t *testing.T) {
			dir := t.TempDir()
			missing := filepath.Join(dir, "missing", "x.csv")
			job := Job{
				Source: Stdio, Stdin: failReader{t},
				Destination: Location{Path: filepath.Join(dir, "out.csv")},
				Rejects:     Location{Path: filepath.Join(dir, "rejects.csv")},
			}
			if out == "destination" {
				job.Destination.Path = missing
			} else {
				job.Rejects.Path = missing
			}
			_, err := Run(context.Background(), nil, job)
			if !errors.Is(err, ErrInvalidJob) || !strings.Contains(err.Error(), filepath.Join(dir, "missing")) {
				t.Errorf("err %v, want ErrInvalidJob naming the missing directory", err)
			}
		})
	}
}

// TestRunRejectsToAnotherDescriptorAppends writes the rejects to
// /dev/fd/N, and to /proc/self/fd/N, where descriptor N is open on a log
// file to append to, as `--rejects /dev/stderr 2>>errors.log` has it: the
// rejects are appended to the log, as with /dev/stdout, and the log's
// earlier lines stay. Replacing the file would lose them, and every line
// the process writes to the descriptor afterwards.
func TestRunRejectsToAnotherDescriptorAppends(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "in.csv")
	if err := os.WriteFile(src, []byte("a,b\n1,2\n3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	prefixes := []string{"/dev/fd/"}
	if runtime.GOOS == "linux" {
		prefixes = append(prefixes, "/proc/self/fd/")
	}
	for _, prefix := range prefixes {
		log := filepath.Join(t.TempDir(), "errors.log")
		if err := os.WriteFile(log, []byte("earlier log line\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		f, err := os.OpenFile(log, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		rejects := prefix + strconv.Itoa(int(f.Fd()))
		_, err = Run(context.Background(), nil, Job{
			Source:      Location{Path: src},
			Destination: Location{Path: filepath.Join(dir, "out.csv")},
			Rejects:     Location{Path: rejects},
		})
		if err != nil {
			f.Close()
			t.Fatalf("%s: %v", rejects, err)
		}
		// A line written through the descriptor after the job lands in
		// the log too.
		f.WriteString("later log line\n")
		f.Close()
		got, _ := os.ReadFile(log)
		want := "earlier log line\n" + rejectsHeader + "3,2,missing-cell,b,missing cell: the row ends before column 2,3\n" + "later log line\n"
		if string(got) != want {
			t.Errorf("rejects %s: the log holds\n%q\nwant\n%q", rejects, got, want)
		}
	}
}

// TestRunRefusesDescriptorNotOpen names as the rejects /dev/fd/N for
// descriptors the process does not have open when Run is called (a shell
// that was not told N>>file): Run must refuse them before it reads, not
// write through whatever it opens itself as N meanwhile, such as the
// destination's temporary file.
func TestRunRefusesDescriptorNotOpen(t *testing.T) {
	// Start the poller, so that its descriptors are not among those taken.
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	pr.Close()
	pw.Close()
	probe, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	low := int(probe.Fd())
	probe.Close()
	for n := low; n < low+4; n++ {
		rejects := "/dev/fd/" + strconv.Itoa(n)
		if _, err := os.Stat(rejects); err == nil {
			continue // open: not this test's case
		}
		dir := t.TempDir()
		src := filepath.Join(dir, "in.csv")
		if err := os.WriteFile(src, []byte("a,b\n1,2\n3\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(dir, "out.csv")
		_, err := Run(context.Background(), nil, Job{
			Source:      Location{Path: src},
			Destination: Location{Path: dst},
			Rejects:     Location{Path: rejects},
		})
		got, _ := os.ReadFile(dst)
		if !errors.Is(err, ErrInvalidJob) || !strings.Contains(err.Error(), "not open") {
			t.Errorf("rejects %s, not open when Run is called: err %v, destination %q; want ErrInvalidJob saying descriptor %d is not open", rejects, err, got, n)
		}
	}
}

// TestRunRejectsToSocketDescriptor writes the rejects to /dev/fd/N where
// descriptor N is a connected socket, as standard error is for a systemd
// service logging to the journal (--rejects /dev/stderr): the rejects
// go through that descriptor, as for one open on a file.
func TestRunRejectsToSocketDescriptor(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "in.csv")
	if err := os.WriteFile(src, []byte("a,b\n1,2\n3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	w, r := os.NewFile(uintptr(fds[0]), "w"), os.NewFile(uintptr(fds[1]), "r")
	defer r.Close()
	got := make(chan []byte, 1)
	go func() { b, _ := io.ReadAll(r); got <- b }()
	rejects := "/dev/fd/" + strconv.Itoa(fds[0])
	_, err = Run(context.Background(), nil, Job{
		Source:      Location{Path: src},
		Destination: Location{Path: filepath.Join(dir, "out.csv")},
		Rejects:     Location{Path: rejects},
	})
	w.Close()
	b := <-got
	want := rejectsHeader + "3,2,missing-cell,b,missing cell: the row ends before column 2,3\n"
	if err != nil || string(b) != want {
		t.Errorf("rejects %s on a socket: %v; the socket's reader got %q, want %q", rejects, err, b, want)
	}
}

// TestDescriptorOf checks which paths name a descriptor: the names the
// system lists, and no others.
func TestDescriptorOf(t *testing.T) {
	for path, want := range map[string]int{
		"/dev/stdin": 0, "/dev/stdout": 1, "/dev/stderr": 2, "/dev//stderr": 2,
		"/dev/fd/0": 0, "/dev/fd/3": 3, "/proc/self/fd/12": 12, "/dev/fd/1/": 1,
		"/dev/fd/01": -1, "/dev/fd/+1": -1, "/dev/fd/-1": -1, "/dev/fd/": -1, "/dev/fd/1x": -1,
		"/dev/null": -1, "out.csv": -1, "/proc/1/fd/3": -1,
	} {
		if got := descriptorOf(path); got != want {
			t.Errorf("descriptorOf(%q) = %d, want %d", path, got, want)
		}
	}
}

// TestFileSinkAbortAfterDirectoryRemoved: when the output's directory is
// removed while the job runs, the temporary file went with it; discarding
// it is then done, not a second failure to report with a name that means
// nothing to the user.
func TestFileSinkAbortAfterDirectoryRemoved(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	s, err := newFileSink(filepath.Join(dir, "out.csv"), filepath.Join(dir, "out.csv"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := s.Abort(); err != nil {
		t.Errorf("Abort: %v; want nil, as nothing is left to discard", err)
	}
}
