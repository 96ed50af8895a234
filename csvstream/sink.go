package csvstream

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// sink is where one job output goes. Write receives whole records; Close
// publishes what was written and Abort discards it, so a failed job never
// leaves a partial output behind. Streams are the exception: what a
// streamSink has written cannot be taken back.
//
// sendAll writes out what the sink holds, short of publishing it, and no
// Write may follow: Run calls it on the destination before publishing the
// rejects, so that a failure to write the end of the destination (a part,
// a full disk) stops the job with nothing published.
type sink interface {
	io.Writer
	sendAll() error
	Close() error
	Abort() error
}

// openSink opens the output at loc. Standard output, named "-" or by its
// descriptor, is stdout.
func openSink(ctx context.Context, api UploadAPI, loc Location, stdout io.Writer, opt WriterOptions, contentType string) (sink, error) {
	switch {
	case loc.IsS3():
		if api == nil {
			return nil, fmt.Errorf("write %s: no S3 client configured", loc)
		}
		opt.ContentType = contentType
		w, err := NewObjectWriter(ctx, api, loc.Bucket, loc.Key, opt)
		if err != nil {
			return nil, err
		}
		return w, nil
	case loc.IsStdio() || namesStdout(loc, stdout):
		if stdout == nil {
			return nil, errors.New("write to standard output: no writer configured")
		}
		return newStreamSink(ctx, stdout, nil), nil
	default:
		return openLocalSink(ctx, loc.Path)
	}
}

// openLocalSink opens the local output at path. A regular file, or a path
// that does not exist yet, is written through a fileSink, following
// symbolic links; a character device, named pipe or socket is written
// directly, through a streamSink; opening a named pipe waits for a reader,
// as a shell redirection does, until ctx ends. A path naming a descriptor
// open on a regular file or a socket is written through the descriptor.
func openLocalSink(ctx context.Context, path string) (sink, error) {
	fi, err := statOutput(path)
	switch {
	case err != nil:
		return nil, err
	case fi == nil:
		return newFileSink(path, path, nil)
	case fi.Mode()&os.ModeSocket != 0:
		// A connected socket's descriptor (/dev/stderr under systemd's
		// journal) cannot be connected to again: write through it.
		if f := dupOf(path); f != nil {
			return newStreamSink(ctx, f, f), nil
		}
		var d net.Dialer
		c, err := d.DialContext(ctx, "unix", path)
		if err != nil {
			return nil, err
		}
		return newStreamSink(ctx, c, c), nil
	case fi.Mode()&os.ModeNamedPipe != 0:
		f, err := openPipe(ctx, path)
		if err != nil {
			return nil, err
		}
		return newStreamSink(ctx, f, f), nil
	case fi.Mode()&os.ModeCharDevice != 0:
		// No O_TRUNC: a device has nothing to truncate.
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			return nil, err
		}
		return newStreamSink(ctx, f, f), nil
	}
	if f := dupOf(path); f != nil {
		// /dev/stderr, /dev/fd/N on a file: written through the
		// descriptor, as the shell opened it (>> appends), as "-" is
		// through standard output. Replacing the file would lose what it
		// held and every later write to the descriptor.
		return newStreamSink(ctx, f, f), nil
	}
	target, err := filepath.EvalSymlinks(path)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	return newFileSink(path, target, fi)
}

// dupOf returns a File on a duplicate of the descriptor path names, or nil
// when it names none or the system cannot duplicate it. A pipe or device
// a descriptor is open on is opened anew instead, so that the runtime's
// poller can end a write to it that waits for a stalled reader; a dup
// shares its descriptor's blocking mode, which must not change under the
// shell.
func dupOf(path string) *os.File {
	fd := descriptorOf(path)
	if fd < 0 {
		return nil
	}
	f, err := dupDescriptor(fd, path)
	if err != nil {
		return nil
	}
	return f
}

// descriptorOf returns the descriptor that path names (/dev/stdin,
// /dev/stdout, /dev/stderr, /dev/fd/N or /proc/self/fd/N, N written as
// the system lists it, without a sign or leading zeros), or -1.
func descriptorOf(path string) int {
	switch p := filepath.Clean(path); p {
	case "/dev/stdin":
		return 0
	case "/dev/stdout":
		return 1
	case "/dev/stderr":
		return 2
	default:
		for _, dir := range []string{"/dev/fd/", "/proc/self/fd/"} {
			n, ok := strings.CutPrefix(p, dir)
			if !ok || n == "" || n[0] == '0' && n != "0" || strings.Trim(n, "0123456789") != "" {
				continue
			}
			if fd, err := strconv.Atoi(n); err == nil {
				return fd
			}
		}
	}
	return -1
}

// statOutput describes what the local output path names, following
// symbolic links: nil when nothing is there yet, or a regular file,
// character device, named pipe or socket. Anything else cannot be written
// as an output, and is reported before the job starts, as is a regular
// file that is a mount point, which a fileSink cannot replace.
func statOutput(path string) (fs.FileInfo, error) {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if _, err := os.Lstat(path); err == nil {
			return nil, fmt.Errorf("%s is a symbolic link to a file that does not exist", path)
		}
		// The file would be made in its directory, as the system
		// resolves it (not Join, which would clean "link/.." away).
		dir, _ := filepath.Split(path)
		if _, err := os.Stat(dir + "."); errors.Is(err, fs.ErrNotExist) {
			// Named as given: Dir would clean "link/.." away too.
			return nil, fmt.Errorf("%s: directory %s does not exist", path, strings.TrimSuffix(dir, string(filepath.Separator)))
		}
		return nil, nil
	case err != nil:
		return nil, err
	case fi.IsDir():
		return nil, fmt.Errorf("%s is a directory", path)
	case !fi.Mode().IsRegular() && fi.Mode()&(os.ModeCharDevice|os.ModeNamedPipe|os.ModeSocket) == 0:
		return nil, fmt.Errorf("%s is neither a regular file nor a character device, named pipe or socket", path)
	case fi.Mode().IsRegular() && descriptorOf(path) < 0 && mountRoot(path):
		// Written through a new file renamed over it at the end, which
		// the system refuses for a mount point: say so before any input
		// is read, not after it all was.
		return nil, fmt.Errorf("%s is a mount point (a file mounted on its own, as docker run -v mounts one), which cannot be replaced: mount its directory instead", path)
	}
	return fi, nil
}

// checkOutput reports an output that cannot be written at all, such as a
// directory, so that the job fails before it reads any input.
func checkOutput(loc Location) error {
	if loc.IsS3() {
		if n := len(loc.Key); n > maxKeyLen {
			return fmt.Errorf("%s: the key is %d bytes long, and S3 takes at most %d", loc, n, maxKeyLen)
		}
		return nil
	}
	if loc.IsStdio() {
		return nil
	}
	if fd := descriptorOf(loc.Path); fd >= 0 {
		if err := checkDescriptor(fd); err != nil {
			return fmt.Errorf("%s: %w", loc.Path, err)
		}
	}
	_, err := statOutput(loc.Path)
	return err
}

// streamBufferSize is how much a streamSink holds before it writes.
const streamBufferSize = 256 << 10

// streamSink writes to an output that cannot be taken back: standard
// output, or a character device, named pipe or socket named by a local
// path. The stream only ever receives whole Write payloads, which are
// whole records. A write that fails part way (a full disk) is taken back
// from a regular file, standard output redirected to one, so that the file
// ends with a whole record even when the job fails; a pipe, socket or
// device keeps the part it took. Abort drops what is still buffered, but
// what was already written stays.
//
// A write waits for the stream's reader. When the writer takes write
// deadlines (a socket, or a pipe or terminal in the runtime's poller), the
// end of the job's context ends that wait, so that a reader that stops
// reading without closing cannot hold a stopped job, and its uploads,
// open. The deadline is cleared again when the sink closes.
type streamSink struct {
	w   io.Writer
	c   io.Closer // closed by Close and Abort; nil for standard output
	buf []byte

	deadline *streamDeadline // nil when w takes no write deadline
}

func newStreamSink(ctx context.Context, w io.Writer, c io.Closer) *streamSink {
	s := &streamSink{w: w, c: c, buf: make([]byte, 0, streamBufferSize)}
	if d, ok := w.(writeDeadliner); ok && d.SetWriteDeadline(time.Time{}) == nil {
		s.deadline = &streamDeadline{ctx: ctx, w: d}
		s.deadline.stop = context.AfterFunc(ctx, s.deadline.expire)
	}
	return s
}

// writeDeadliner is an output whose pending writes a deadline can end.
type writeDeadliner interface {
	SetWriteDeadline(time.Time) error
}

// streamDeadline ends a stream's pending write when ctx, its job's
// context, ends.
type streamDeadline struct {
	ctx  context.Context
	w    writeDeadliner
	stop func() bool // stops the call to expire
	mu   sync.Mutex
	done bool // the sink closed: expire must leave w alone
	set  bool // expire set a deadline, which clear removes
}

// expire sets a deadline in the past, which ends the pending write and
// any later one.
func (d *streamDeadline) expire() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.done {
		d.w.SetWriteDeadline(time.Unix(1, 0))
		d.set = true
	}
}

// clear stops expire and removes a deadline it set, so that the writer
// can be used again.
func (d *streamDeadline) clear() {
	d.stop()
	d.mu.Lock()
	defer d.mu.Unlock()
	d.done = true
	if d.set {
		d.w.SetWriteDeadline(time.Time{})
	}
}

func (s *streamSink) Write(p []byte) (int, error) {
	if len(p) > cap(s.buf)-len(s.buf) {
		if err := s.flush(); err != nil {
			return 0, err
		}
		if len(p) > cap(s.buf) {
			return s.send(p)
		}
	}
	s.buf = append(s.buf, p...)
	return len(p), nil
}

// flush writes what is buffered in one call.
func (s *streamSink) flush() error {
	if len(s.buf) == 0 {
		return nil
	}
	_, err := s.send(s.buf)
	s.buf = s.buf[:0]
	return err
}

// send writes p to the stream. A write that the job's end cut short
// reports that end's cause rather than a timeout.
func (s *streamSink) send(p []byte) (int, error) {
	n, err := s.w.Write(p)
	if err != nil && n > 0 && s.unwrite(n) {
		n = 0
	}
	if d := s.deadline; err != nil && d != nil && d.ctx.Err() != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		err = fmt.Errorf("stopped waiting for the reader after writing %d of %d bytes: %w", n, len(p), context.Cause(d.ctx))
	}
	return n, err
}

// unwrite takes back the last n bytes written when the stream is a
// regular file that they end, and reports whether it did.
func (s *streamSink) unwrite(n int) bool {
	f, ok := s.w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return false
	}
	// Only a write that ended the file is taken back: bytes past it (a
	// file opened without truncating it, or appended to by another
	// process) are not the job's.
	end, err := f.Seek(0, io.SeekCurrent)
	if err != nil || end < int64(n) || end != fi.Size() {
		return false
	}
	if f.Truncate(end-int64(n)) != nil {
		return false
	}
	_, err = f.Seek(end-int64(n), io.SeekStart)
	return err == nil
}

// sendAll writes what is buffered. What a stream is sent cannot be taken
// back, but a stream that fails to take its last records (a reader gone,
// a full disk) then fails the job before the other output is published.
func (s *streamSink) sendAll() error { return s.flush() }

func (s *streamSink) Close() error {
	return errors.Join(s.flush(), s.close())
}

func (s *streamSink) Abort() error {
	s.buf = s.buf[:0]
	return s.close()
}

func (s *streamSink) close() error {
	if s.deadline != nil {
		s.deadline.clear()
		s.deadline = nil
	}
	if s.c == nil {
		return nil
	}
	c := s.c
	s.c = nil
	return c.Close()
}

// fileSink writes to a temporary file next to the target and renames it
// into place on Close, so readers never see a partial file. The target is
// the file the output path names after following symbolic links, so that
// a link stays a link and the file it points to is replaced.
type fileSink struct {
	path   string // the output as named, for messages
	target string // path with symbolic links followed: the file Close replaces
	f      *os.File
	w      *bufio.Writer
}

// newFileSink starts a file that will replace target, the output path
// names. old describes the file target names now, if any: the new file
// gets its permissions. A new file gets the usual 0666 less the umask.
func newFileSink(path, target string, old fs.FileInfo) (*fileSink, error) {
	f, err := createTemp(target)
	if errors.Is(err, fs.ErrNotExist) {
		// Not the temporary file's name, which means nothing to the user.
		return nil, fmt.Errorf("create %s: directory %s: %w", path, filepath.Dir(target), fs.ErrNotExist)
	}
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	if old != nil {
		if err := f.Chmod(old.Mode().Perm()); err != nil {
			f.Close()
			os.Remove(f.Name())
			return nil, fmt.Errorf("create %s: %w", path, err)
		}
	}
	return &fileSink{path: path, target: target, f: f, w: bufio.NewWriterSize(f, 256<<10)}, nil
}

// maxTempBase is the most bytes of the target's name a temporary file's
// name holds: with the dots, up to 13 random characters and ".tmp", the
// name stays within the 255 bytes most file systems allow.
const maxTempBase = 255 - 19

// createTemp creates a new file next to target, named "."+base+".*.tmp"
// with a random middle part, base cut short if need be. Unlike
// os.CreateTemp, which makes the file private, it asks for mode 0666 and
// lets the kernel apply the umask, as for any new file, without reading
// the process-wide umask.
func createTemp(target string) (*os.File, error) {
	dir, base := filepath.Split(target)
	if len(base) > maxTempBase {
		cut := maxTempBase
		for cut > 0 && !utf8.RuneStart(base[cut]) {
			cut-- // not within a character
		}
		base = base[:cut]
	}
	var err error
	for range 10 {
		// Not Join, which would clean "link/.." away: the file goes in
		// the directory the system resolves, where the rename lands.
		name := dir + "." + base + "." + strconv.FormatUint(rand.Uint64(), 36) + ".tmp"
		var f *os.File
		f, err = os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o666)
		if !errors.Is(err, fs.ErrExist) {
			return f, err
		}
	}
	return nil, err
}

func (s *fileSink) Write(p []byte) (int, error) {
	n, err := s.w.Write(p)
	if err != nil {
		return n, fmt.Errorf("write %s: %w", s.path, err)
	}
	return n, nil
}

// sendAll writes the buffered bytes to the temporary file and syncs it.
func (s *fileSink) sendAll() error {
	if s.f == nil {
		return fmt.Errorf("write %s: already closed", s.path)
	}
	err := s.w.Flush()
	if err == nil {
		err = s.f.Sync()
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", s.path, err)
	}
	return nil
}

func (s *fileSink) Close() error {
	if s.f == nil {
		return fmt.Errorf("close %s: already closed", s.path)
	}
	tmp := s.f.Name()
	err := s.w.Flush()
	if err == nil {
		err = s.f.Sync()
	}
	if cerr := s.f.Close(); err == nil {
		err = cerr
	}
	s.f = nil
	if err == nil {
		err = os.Rename(tmp, s.target)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", s.path, err)
	}
	return nil
}

func (s *fileSink) Abort() error {
	if s.f == nil {
		return nil
	}
	tmp := s.f.Name()
	s.f.Close()
	s.f = nil
	// A temporary file already gone (its directory was removed) is
	// discarded.
	if err := os.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("discard %s: %w", tmp, err)
	}
	return nil
}
