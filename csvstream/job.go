package csvstream

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// S3API is the part of the S3 client a job uses.
type S3API interface {
	GetObjectAPI
	UploadAPI
}

// Output formats for valid rows.
const (
	FormatCSV   = "csv"   // the source bytes, unchanged
	FormatJSONL = "jsonl" // one JSON object per row, keyed by header name
)

// CheckFormat reports whether format is one Job.Format takes: FormatCSV,
// FormatJSONL, or empty for CSV. Callers that take a format from users
// check it with this before other work, as Run does.
func CheckFormat(format string) error {
	switch format {
	case "", FormatCSV, FormatJSONL:
		return nil
	}
	return fmt.Errorf("format %q: want %q or %q", format, FormatCSV, FormatJSONL)
}

// RejectsSuffix is appended to the destination's name to make the default
// rejects location.
const RejectsSuffix = ".rejects.csv"

// rejectsConcurrency bounds the parts of the rejects output in flight.
const rejectsConcurrency = 2

// maxRejectLines and maxRejectBytes bound the lines one rejected row takes
// in the rejects output: at most maxRejectLines, and as many as keep the
// copies of its raw bytes within maxRejectBytes (but at least one). Each
// line repeats the raw row, so a long row with a problem in every cell would
// otherwise write a quantity that grows with the square of its length. The
// last line listed says how many more problems there were.
const (
	maxRejectLines = 20
	maxRejectBytes = 1 << 20
)

// rejectsHeader is the first line of every rejects output.
const rejectsHeader = "line,record,error,field,message,raw\n"

// Job describes one run: where to read, how to validate, and where the valid
// and rejected rows go. The zero values of the option fields work.
type Job struct {
	Source      Location
	Destination Location
	Rejects     Location // zero: Destination with RejectsSuffix appended
	Schema      *Schema  // nil: check well-formedness only
	Format      string   // FormatCSV (default) or FormatJSONL

	// SchemaLocation is where Schema was loaded from, if it was; the job
	// refuses outputs that would overwrite it.
	SchemaLocation Location

	// MaxRejects fails the job once more rows than this are rejected;
	// nil sets no limit.
	MaxRejects *int64
	// MaxRejectRatio fails the job when, at the end, rejected/rows exceeds
	// it; nil sets no limit.
	MaxRejectRatio *float64

	// Scan, Reader and Writer configure the scanner, the S3 source and the
	// S3 outputs. Run checks all three (see their Check methods) before
	// reading anything, whether or not the source or an output is in S3.
	// Writer.ContentType, when set, is the destination's Content-Type;
	// otherwise Run sets it from Format. The rejects are text/csv.
	Scan   ScanOptions
	Reader ReaderOptions
	Writer WriterOptions

	// Stdin and Stdout stand for the "-" locations.
	Stdin  io.Reader
	Stdout io.Writer
}

// Summary reports what a job did. Rows always equals Valid + Rejected, and
// RejectsByCode counts each error code once per rejected row that had it.
// Run returns it with an error too, counting the work of the failed job,
// whose outputs were discarded.
type Summary struct {
	Source        string `json:"source"`
	SourceVersion string `json:"source_version,omitempty"` // the version read, when one was named
	Destination   string `json:"destination"`
	Rejects       string `json:"rejects"`
	// Rows counts data records, not the header; a line longer than
	// ScanOptions.MaxRecordSize counts once per piece it is rejected in.
	Rows          int64            `json:"rows"`
	Valid         int64            `json:"valid"`
	Rejected      int64            `json:"rejected"`
	RejectsByCode map[string]int64 `json:"rejects_by_code"`
	BytesIn       int64            `json:"bytes_in"`  // read from the source
	BytesOut      int64            `json:"bytes_out"` // written to the destination, not the rejects
	// Parts is the number of parts of the destination's multipart upload:
	// 0 when it went in one PutObject, or is not in S3.
	Parts int `json:"parts"`
	// ETag is the destination's ETag; empty when it is not in S3.
	ETag string `json:"etag"`
	// Retries counts upload requests re-sent for the destination and the
	// rejects; Resumes counts source reads, of the object or of one of
	// its ranges, reopened after a break or stall.
	Retries    int   `json:"retries"`
	Resumes    int   `json:"resumes"`
	DurationMS int64 `json:"duration_ms"`
}

// validate checks the job's options and fills in the defaults it can derive.
func (j *Job) validate() error {
	if j.Source.IsZero() {
		return fmt.Errorf("%w: no source", ErrInvalidJob)
	}
	if j.Destination.IsZero() {
		return fmt.Errorf("%w: no destination", ErrInvalidJob)
	}
	for _, l := range []struct {
		name string
		loc  Location
	}{{"source", j.Source}, {"destination", j.Destination}, {"rejects", j.Rejects}, {"schema", j.SchemaLocation}} {
		if err := l.loc.check(); err != nil {
			return fmt.Errorf("%w: %s: %w", ErrInvalidJob, l.name, err)
		}
	}
	if err := j.Scan.Check(); err != nil {
		return fmt.Errorf("%w: scan options: %w", ErrInvalidJob, err)
	}
	if err := j.Writer.Check(); err != nil {
		return fmt.Errorf("%w: writer options: %w", ErrInvalidJob, err)
	}
	if err := j.Reader.Check(); err != nil {
		return fmt.Errorf("%w: reader options: %w", ErrInvalidJob, err)
	}
	if err := CheckFormat(j.Format); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidJob, err)
	}
	if j.Format == "" {
		j.Format = FormatCSV
	}
	if j.Rejects.IsZero() {
		if namesStdout(j.Destination, j.Stdout) {
			return fmt.Errorf("%w: destination %s is standard output, so the rejects have no place next to it: name one", ErrInvalidJob, j.Destination)
		}
		if local := !j.Destination.IsS3() && !j.Destination.IsStdio(); local {
			if j.Destination.NamesDescriptor() {
				return fmt.Errorf("%w: destination %s names a descriptor, so the rejects have no place next to it: name one", ErrInvalidJob, j.Destination)
			}
			// A device or pipe has no directory entry to put rejects beside.
			if fi, err := statOutput(j.Destination.Path); err == nil && fi != nil && !fi.Mode().IsRegular() {
				return fmt.Errorf("%w: destination %s is not a regular file, so the rejects have no place next to it: name one", ErrInvalidJob, j.Destination)
			}
		}
		r, err := j.Destination.WithSuffix(RejectsSuffix)
		if err != nil {
			return fmt.Errorf("%w: rejects location: %v", ErrInvalidJob, err)
		}
		j.Rejects = r
	}
	if WritesToStdout(j.Destination, j.Stdout) && WritesToStdout(j.Rejects, j.Stdout) {
		if j.Rejects.IsStdio() && j.Destination.IsStdio() {
			return fmt.Errorf("%w: rejects and destination cannot both be standard output", ErrInvalidJob)
		}
		return fmt.Errorf("%w: destination %s and rejects %s are both standard output", ErrInvalidJob, j.Destination, j.Rejects)
	}
	for _, pair := range []struct {
		a, b   Location
		aN, bN string
	}{
		{j.Source, j.Destination, "source", "destination"},
		{j.Source, j.Rejects, "source", "rejects"},
		{j.Destination, j.Rejects, "destination", "rejects"},
		{j.SchemaLocation, j.Destination, "schema", "destination"},
		{j.SchemaLocation, j.Rejects, "schema", "rejects"},
	} {
		if !pair.a.IsZero() && sameLocation(pair.a, pair.b) {
			return fmt.Errorf("%w: %s and %s are both %s", ErrInvalidJob, pair.aN, pair.bN, pair.a)
		}
	}
	for _, out := range []struct {
		name string
		loc  Location
	}{{"destination", j.Destination}, {"rejects", j.Rejects}} {
		if err := checkOutput(out.loc); err != nil {
			return fmt.Errorf("%w: %s: %w", ErrInvalidJob, out.name, err)
		}
		if j.Source.IsStdio() && namesFileOf(out.loc, j.Stdin) {
			return fmt.Errorf("%w: standard input and %s are both %s", ErrInvalidJob, out.name, out.loc)
		}
	}
	// Standard output appending to the source's file (run in.csv - >>
	// in.csv) would feed the job's output back into its input, without end;
	// appending to the schema's would spoil it for the next job.
	if WritesToStdout(j.Destination, j.Stdout) || WritesToStdout(j.Rejects, j.Stdout) {
		switch {
		case namesFileOf(j.Source, j.Stdout):
			return fmt.Errorf("%w: source %s is the file standard output writes to", ErrInvalidJob, j.Source)
		case namesFileOf(j.SchemaLocation, j.Stdout):
			return fmt.Errorf("%w: schema %s is the file standard output writes to", ErrInvalidJob, j.SchemaLocation)
		case j.Source.IsStdio() && sameRegularFile(j.Stdin, j.Stdout):
			return fmt.Errorf("%w: standard input and standard output are one file", ErrInvalidJob)
		}
	}
	if local := !j.Source.IsS3() && !j.Source.IsStdio(); local {
		// Found here, a directory fails as one does as an output, before
		// anything is opened, rather than as a read error.
		if fi, err := os.Stat(j.Source.Path); err == nil && fi.IsDir() {
			return fmt.Errorf("%w: source: %s is a directory", ErrInvalidJob, j.Source)
		}
	}
	if j.Reader.VersionID != "" && !j.Source.IsS3() {
		return fmt.Errorf("%w: source %s: only an S3 object has versions", ErrInvalidJob, j.Source)
	}
	if j.MaxRejects != nil && *j.MaxRejects < 0 {
		return fmt.Errorf("%w: max rejects %d is negative", ErrInvalidJob, *j.MaxRejects)
	}
	if r := j.MaxRejectRatio; r != nil && (*r < 0 || *r > 1 || *r != *r) {
		return fmt.Errorf("%w: max reject ratio %v: want a number from 0 to 1", ErrInvalidJob, *r)
	}
	if j.Source.IsStdio() && j.Stdin == nil {
		return fmt.Errorf("%w: the source is standard input, but the job has no Stdin", ErrInvalidJob)
	}
	for _, out := range []struct {
		name string
		loc  Location
	}{{"destination", j.Destination}, {"rejects", j.Rejects}} {
		if out.loc.IsStdio() && j.Stdout == nil {
			return fmt.Errorf("%w: the %s is standard output, but the job has no Stdout", ErrInvalidJob, out.name)
		}
	}
	if j.Schema != nil {
		// A schema built in Go gets ParseSchema's checks here, before the
		// source is opened, not once its header is read.
		if _, err := j.Schema.compile(); err != nil {
			return fmt.Errorf("%w: %w", ErrSchema, withoutSchemaPrefix(err))
		}
	}
	return nil
}

// WritesToStdout reports whether an output at loc lands in stdout: loc is
// "-", or a path naming standard output's descriptor (/dev/stdout,
// /dev/fd/1), or, when stdout is an *os.File that is a regular file, a
// path naming that file. A terminal or pipe that standard error shares
// with standard output is not counted: writing rejects to /dev/stderr
// there mixes the streams as asked.
func WritesToStdout(loc Location, stdout io.Writer) bool {
	return loc.IsStdio() || namesStdout(loc, stdout) || namesFileOf(loc, stdout)
}

// namesFileOf reports whether loc is a local path naming the regular file
// that std, standard input or output, is open on. An output there read by
// standard input, as in `csvstream run - in.csv < in.csv`, would replace
// the file while it is read.
func namesFileOf(loc Location, std any) bool {
	open := regularFileOf(std)
	if open == nil || loc.IsS3() || loc.IsZero() || loc.IsStdio() {
		return false
	}
	fi, err := os.Stat(loc.Path)
	return err == nil && os.SameFile(fi, open)
}

// sameRegularFile reports whether a and b, standard streams, are open on
// one regular file.
func sameRegularFile(a, b any) bool {
	fa, fb := regularFileOf(a), regularFileOf(b)
	return fa != nil && fb != nil && os.SameFile(fa, fb)
}

// regularFileOf returns the file std is open on, when std is an *os.File
// open on a regular file, or nil.
func regularFileOf(std any) os.FileInfo {
	f, ok := std.(*os.File)
	if !ok {
		return nil
	}
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return nil
	}
	return fi
}

// namesStdout reports whether loc is a local path naming standard output's
// descriptor (/dev/stdout, /dev/fd/1) while stdout is open on it. Such an
// output is written as "-" is, through stdout, whatever the descriptor
// refers to: a file that the shell opened to append to is appended to,
// not replaced.
func namesStdout(loc Location, stdout io.Writer) bool {
	f, ok := stdout.(*os.File)
	if !ok || loc.IsS3() || loc.IsZero() || loc.IsStdio() {
		return false
	}
	return descriptorOf(loc.Path) == 1 && onDescriptor(f, 1)
}

// onDescriptor reports whether f is open on descriptor fd. It does not
// call f.Fd, which would take a file out of the runtime's poller and so
// end its write deadlines.
func onDescriptor(f *os.File, fd uintptr) bool {
	rc, err := f.SyscallConn()
	if err != nil {
		return false
	}
	is := false
	err = rc.Control(func(d uintptr) { is = d == fd })
	return err == nil && is
}

// sameLocation reports whether a and b name the same object or file, so
// that writing one would overwrite the other. Standard input and output are
// different streams.
func sameLocation(a, b Location) bool {
	switch {
	case a.IsStdio() || b.IsStdio():
		return false
	case a.IsS3() || b.IsS3():
		return a == b
	}
	if a.Path == b.Path {
		return true
	}
	// The paths as the system resolves them: a link followed by ".." leads
	// elsewhere than the cleaned path says.
	ia, errA := os.Stat(a.Path)
	ib, errB := os.Stat(b.Path)
	goneA, goneB := errors.Is(errA, fs.ErrNotExist), errors.Is(errB, fs.ErrNotExist)
	switch {
	case errA == nil && errB == nil:
		return os.SameFile(ia, ib)
	case errA == nil && goneB || goneA && errB == nil:
		return false
	case goneA && goneB:
		// A file not there yet is created under its name in its
		// directory, which the other path may reach through a link.
		dirA, baseA := filepath.Split(a.Path)
		dirB, baseB := filepath.Split(b.Path)
		if baseA == "" || baseB == "" {
			break
		}
		if baseA != baseB {
			return false
		}
		da, errA := os.Stat(dirA + ".")
		db, errB := os.Stat(dirB + ".")
		if errA == nil && errB == nil {
			return os.SameFile(da, db)
		}
	}
	// The system cannot tell: the cleaned paths decide.
	pa, errA := filepath.Abs(a.Path)
	pb, errB := filepath.Abs(b.Path)
	return errA == nil && errB == nil && pa == pb
}

// Run executes one job: it streams the source through the scanner and the
// validator into the destination and rejects outputs, and returns the
// summary. On error, the destination is discarded (an S3 upload is
// aborted, a local file's temporary copy is removed), so no partial output
// is published; only a stream (standard output, a pipe, a socket or a
// device) keeps what was already written to it, since that cannot be taken
// back. When the job stops because of its reject limits, the rejects seen
// so far are still published to help find the cause, and the error (which
// wraps ErrTooManyRejects) says where. The rejects are completed before
// the destination, so if the destination alone then fails to complete,
// the rejects stay published.
// Before publishing anything, a job reading from S3 asks whether the source
// is still the object it read: if it was replaced or deleted meanwhile,
// both outputs are discarded (ErrSourceChanged), so that the outputs of an
// older version, named like those of the newer one, never overwrite them.
// A source that is a pipe (a named pipe, or standard input open on one)
// and ends waits PipeEndGrace for ctx to end before the job takes the end
// as the input's.
// Errors wrap the kinds in errors.go; a request S3 refused with 403
// Forbidden, for the source or an output, wraps ErrAccessDenied. api may be
// nil when no location is in S3.
func Run(ctx context.Context, api S3API, job Job) (Summary, error) {
	start := time.Now()
	if err := job.validate(); err != nil {
		return Summary{}, err
	}
	if api == nil {
		for _, l := range []Location{job.Source, job.Destination, job.Rejects} {
			if l.IsS3() {
				return Summary{}, fmt.Errorf("%w: %s is in S3, but no S3 client was given", ErrInvalidJob, l)
			}
		}
	}
	sum := Summary{
		Source:        job.Source.String(),
		SourceVersion: job.Reader.VersionID,
		Destination:   job.Destination.String(),
		Rejects:       job.Rejects.String(),
		RejectsByCode: map[string]int64{},
	}

	src, err := OpenSource(ctx, api, job.Source, job.Stdin, job.Reader)
	if err != nil {
		return sum, err
	}
	defer src.Close()

	sc, err := NewScanner(src, job.Scan)
	if err != nil {
		return sum, fmt.Errorf("%w: %s: %w", ErrInvalidJob, job.Source, err)
	}
	r := &run{job: &job, sum: &sum, sc: sc}
	r.src, _ = src.(*ObjectReader)
	err = r.stream(ctx, api)
	r.uploadFacts()
	if r.src != nil {
		sum.Resumes = r.src.Resumes()
	}
	sum.BytesIn = sc.BytesRead()
	sum.DurationMS = time.Since(start).Milliseconds()
	return sum, markRefused(err) // S3 may have refused to write an output
}

// OpenSource opens loc for reading: an S3 object through an ObjectReader,
// a local file, or stdin for "-". A missing object or file is reported with
// ErrSourceNotFound, and one the caller may not read with ErrAccessDenied;
// a local directory is an error that says so. api may be nil when loc is
// not in S3.
func OpenSource(ctx context.Context, api GetObjectAPI, loc Location, stdin io.Reader, opt ReaderOptions) (io.ReadCloser, error) {
	switch {
	case loc.IsS3():
		if api == nil {
			return nil, fmt.Errorf("read %s: no S3 client configured", loc)
		}
		return NewObjectReader(ctx, api, loc.Bucket, loc.Key, opt)
	case loc.IsStdio():
		if stdin == nil {
			return nil, errors.New("read standard input: not available here")
		}
		if f, ok := stdin.(*os.File); ok && pipeFile(f) {
			return io.NopCloser(pipeStdin{f: f, ctx: ctx}), nil
		}
		if f, ok := stdin.(*os.File); ok {
			if r := cutChecked(f, "standard input"); r != nil {
				return io.NopCloser(r), nil
			}
		}
		return io.NopCloser(stdin), nil
	case loc.IsZero():
		return nil, errors.New("no source location")
	}
	f, err := os.Open(loc.Path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("%w: %w", ErrSourceNotFound, err)
	case errors.Is(err, os.ErrPermission):
		return nil, fmt.Errorf("%w: %w", ErrAccessDenied, err)
	case errors.Is(err, syscall.ENOTDIR), errors.Is(err, syscall.ELOOP):
		// A path through a file, or a link to itself, names nothing.
		return nil, fmt.Errorf("%w: %w", ErrSourceNotFound, err)
	case err != nil:
		return nil, fmt.Errorf("%w: open source: %w", ErrSourceRead, err)
	}
	// A directory opens, but its first read fails with a message that
	// names it twice; say what is wrong instead.
	fi, err := f.Stat()
	if err == nil && fi.IsDir() {
		f.Close()
		return nil, fmt.Errorf("%s is a directory", loc)
	}
	// A named pipe, as <(zcat in.gz) gives, waits for its producer: its
	// reads end when ctx does, so that an interrupt is not kept waiting
	// and the job can still abort its uploads. (Where the runtime cannot
	// poll the file, SetReadDeadline fails and reads wait as before.)
	if err == nil && !fi.Mode().IsRegular() && f.SetReadDeadline(time.Time{}) == nil {
		return &stoppableFile{File: f, ctx: ctx, stop: context.AfterFunc(ctx, func() { f.SetReadDeadline(time.Now()) })}, nil
	}
	if r := cutChecked(f, loc.Path); r != nil {
		return r, nil
	}
	return f, nil
}

// cutChecked returns f, a regular file with a size (files of /proc and
// /sys say 0), as a regularFile, or nil for any other file.
func cutChecked(f *os.File, name string) *regularFile {
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() || fi.Size() == 0 {
		return nil
	}
	// Standard input may be open at an offset: what is read counts from it.
	start, err := f.Seek(0, io.SeekCurrent)
	if err != nil {
		start = 0
	}
	return &regularFile{File: f, name: name, size: fi.Size(), start: start}
}

// regularFile is a local regular file read to its end. A file shorter at
// its end than it was at the start, or than where it was read to, was cut
// while it was read (truncated, as logrotate's copytruncate does to a
// log): the read fails, rather than the input ending early, maybe inside
// a record.
type regularFile struct {
	*os.File
	name              string
	size, start, read int64
}

func (f *regularFile) Read(p []byte) (int, error) {
	n, err := f.File.Read(p)
	f.read += int64(n)
	if err == io.EOF {
		if fi, serr := f.File.Stat(); serr == nil && fi.Size() < max(f.size, f.start+f.read) {
			return n, fmt.Errorf("read %s: %w: it was cut to %d bytes (it had %d at the start, and was read to byte %d)", f.name, ErrSourceChanged, fi.Size(), f.size, f.start+f.read)
		}
	}
	return n, err
}

// PipeEndGrace is how long a read of a pipe source (a named pipe, or
// standard input open on a pipe) waits at the pipe's end for a stop already
// on its way. Ctrl-C, a SIGTERM sent to a process group, or a closing
// terminal's SIGHUP reaches the pipe's producer too (zcat in.gz |
// csvstream run - ...), and the producer's exit can close the pipe before
// this process has acted on its own signal: input cut short that way must
// not be taken as whole.
const PipeEndGrace = 50 * time.Millisecond

// pipeReadEnd returns what a read of the pipe named name that ended with
// err reports. At the pipe's end it first waits PipeEndGrace for ctx to
// end; once ctx has ended, a read that failed or ended says it was
// stopped, and why, rather than an end of input or a timeout.
func pipeReadEnd(ctx context.Context, name string, err error) error {
	if err == io.EOF {
		wait(ctx, PipeEndGrace)
	}
	if err != nil && ctx.Err() != nil {
		return fmt.Errorf("read %s: stopped: %w", name, context.Cause(ctx))
	}
	return err
}

// pipeFile reports whether f is open on something other than a regular
// file or a directory: a pipe, socket or terminal.
func pipeFile(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && !fi.Mode().IsRegular() && !fi.IsDir()
}

// pipeStdin is standard input open on a pipe.
type pipeStdin struct {
	f   *os.File
	ctx context.Context
}

func (s pipeStdin) Read(p []byte) (int, error) {
	n, err := s.f.Read(p)
	return n, pipeReadEnd(s.ctx, "standard input", err)
}

// stoppableFile is a source file whose reads a context ends.
type stoppableFile struct {
	*os.File
	ctx  context.Context
	stop func() bool
}

func (f *stoppableFile) Read(p []byte) (int, error) {
	n, err := f.File.Read(p)
	return n, pipeReadEnd(f.ctx, f.Name(), err)
}

func (f *stoppableFile) Close() error {
	f.stop()
	return f.File.Close()
}

// LoadSchema reads and parses a Table Schema from a local file or an S3
// object. Errors wrap ErrSchema.
func LoadSchema(ctx context.Context, api GetObjectAPI, loc Location) (*Schema, error) {
	if loc.IsStdio() {
		return nil, fmt.Errorf("%w: a schema cannot be read from standard input: give a path or s3:// URL", ErrSchema)
	}
	// One stream: only the first MaxSchemaSize+1 bytes are read.
	rc, err := OpenSource(ctx, api, loc, nil, ReaderOptions{Concurrency: 1})
	if errors.Is(err, ErrSourceNotFound) {
		// A missing schema is a schema error, not a missing source.
		return nil, fmt.Errorf("%w: %s does not exist", ErrSchema, loc)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSchema, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, MaxSchemaSize+1))
	if err != nil {
		// The reader's errors name loc already.
		return nil, fmt.Errorf("%w: %w", ErrSchema, err)
	}
	if len(data) > MaxSchemaSize {
		return nil, fmt.Errorf("%w: %s is larger than %d bytes", ErrSchema, loc, MaxSchemaSize)
	}
	if len(bytes.TrimSpace(bytes.TrimPrefix(data, []byte(utf8BOM)))) == 0 {
		return nil, fmt.Errorf("%w: %s is empty: it holds no JSON", ErrSchema, loc)
	}
	s, err := ParseSchema(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrSchema, loc, withoutSchemaPrefix(err))
	}
	return s, nil
}

// withoutSchemaPrefix returns err, from ParseSchema's checks, without the
// "schema: " its message starts with, which the ErrSchema wrapping it
// ("schema error: ") says already.
func withoutSchemaPrefix(err error) error {
	return trimmedError{err, strings.TrimPrefix(err.Error(), "schema: ")}
}

// trimmedError is err with a shorter message.
type trimmedError struct {
	err error
	msg string
}

func (e trimmedError) Error() string { return e.msg }
func (e trimmedError) Unwrap() error { return e.err }

// MaxSchemaSize bounds a schema document that LoadSchema reads; real ones
// are a few kilobytes, and one written compactly for 100,000 columns with
// short names fits.
const MaxSchemaSize = 8 << 20

// run is the state of one job in progress.
type run struct {
	job *Job
	sum *Summary
	sc  *Scanner
	src *ObjectReader // the source, when it is in S3

	dst, rej sink
	errs     []FieldError
	buf      []byte // scratch for JSON lines and reject lines

	// pending holds valid records not yet written to dst: consecutive
	// bytes of the Scanner's buffer, written in one call when a record
	// not next to them is valid, before the Scanner reuses its buffer,
	// and at the end. pendingErr is the error of a write the Scanner
	// started that way.
	pending    []byte
	pendingErr error
}

func (r *run) stream(ctx context.Context, api S3API) (err error) {
	job := r.job
	var v *Validator
	if r.sc.Scan() {
		v, err = NewValidator(job.Schema, r.sc.Record())
		if err != nil {
			return fmt.Errorf("%s: %w", job.Source, err)
		}
	} else if err := r.inputEnded(ctx); err != nil {
		return err
	} else if job.Schema != nil {
		names := make([]string, len(job.Schema.Fields))
		for i, f := range job.Schema.Fields {
			names[i] = f.Name
		}
		return fmt.Errorf("%s: the source is empty: %w", job.Source, &HeaderError{Missing: names})
	}

	r.dst, err = openSink(ctx, api, job.Destination, job.Stdout, job.Writer, cmp.Or(job.Writer.ContentType, contentType(job.Format)))
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUploadFailed, err)
	}
	// Rejects are usually few: two parts in flight keep their memory small
	// next to the destination's.
	rejOpt := job.Writer
	rejOpt.Concurrency = min(job.Writer.Concurrency, rejectsConcurrency)
	if rejOpt.Concurrency == 0 {
		rejOpt.Concurrency = rejectsConcurrency
	}
	r.rej, err = openSink(ctx, api, job.Rejects, job.Stdout, rejOpt, "text/csv")
	if err != nil {
		return errors.Join(fmt.Errorf("%w: %w", ErrUploadFailed, err), r.dst.Abort())
	}
	if err := checkOutputs(ctx, api, job.Destination, job.Writer, job.Rejects, rejOpt); err != nil {
		return errors.Join(err, r.dst.Abort(), r.rej.Abort())
	}

	err = r.copy(ctx, v)
	switch {
	case err == nil:
	case errors.Is(err, ErrTooManyRejects):
		// Publish the rejects so far: they say why the job stopped. But not
		// over a newer version's, should the source have been replaced.
		if cerr := r.sourceUnchanged(ctx); cerr != nil {
			return errors.Join(err, cerr, r.dst.Abort(), r.rej.Abort())
		}
		aerr := r.dst.Abort()
		if cerr := r.close(r.rej, job.Rejects); cerr != nil {
			return errors.Join(err, aerr, cerr)
		}
		// The message says where to look for the rows that stopped the
		// job, now that they are there.
		return errors.Join(fmt.Errorf("%w (the rejects so far are in %s)", err, rejectsPlace(job.Rejects)), aerr)
	default:
		return errors.Join(err, r.dst.Abort(), r.rej.Abort())
	}
	// The end of the destination is written first, so that a failure
	// there stops the job before the rejects are published.
	if err := r.dst.sendAll(); err != nil {
		return errors.Join(fmt.Errorf("%w: %s: %w", ErrUploadFailed, job.Destination, err), r.dst.Abort(), r.rej.Abort())
	}
	if err := r.sourceUnchanged(ctx); err != nil {
		return errors.Join(err, r.dst.Abort(), r.rej.Abort())
	}
	if err := r.close(r.rej, job.Rejects); err != nil {
		return errors.Join(err, r.dst.Abort())
	}
	return r.close(r.dst, job.Destination)
}

// checkOutputs tries an upload to each output in S3 (see probeUpload)
// before any row is read. A job stopped meanwhile reports the stop.
func checkOutputs(ctx context.Context, api UploadAPI, dst Location, dstOpt WriterOptions, rej Location, rejOpt WriterOptions) error {
	for _, out := range []struct {
		loc Location
		opt WriterOptions
	}{{dst, dstOpt}, {rej, rejOpt}} {
		if !out.loc.IsS3() {
			continue
		}
		err := ctx.Err()
		if err == nil {
			err = probeUpload(ctx, api, out.loc.Bucket, out.loc.Key, out.opt)
		}
		switch {
		case ctx.Err() != nil:
			return fmt.Errorf("%s: stopped before writing: %w", out.loc, context.Cause(ctx))
		case err != nil:
			return fmt.Errorf("%w: %w", ErrUploadFailed, err)
		}
	}
	return nil
}

// inputEnded is called when the Scanner has no more records: it returns
// why the input ended, if not at its end, or nil. A read that failed
// because the job was stopped is a stop, not a source failure; and input
// that ended while the job was being stopped (an interrupted producer, say,
// closes its output early) must not be published as if whole.
func (r *run) inputEnded(ctx context.Context) error {
	err := r.sc.Err()
	switch {
	case ctx.Err() != nil && err != nil:
		return fmt.Errorf("%s: stopped after byte %d: %w", r.job.Source, r.sc.BytesRead(), context.Cause(ctx))
	case ctx.Err() != nil:
		return fmt.Errorf("%s: stopped at the end of the input: %w", r.job.Source, context.Cause(ctx))
	case err != nil:
		return fmt.Errorf("%w: %s: %w", ErrSourceRead, r.job.Source, err)
	}
	return nil
}

// rejectsPlace names the rejects output for a message.
func rejectsPlace(loc Location) string {
	if loc.IsStdio() {
		return "standard output"
	}
	return loc.String()
}

// sourceUnchanged reports ErrSourceChanged when the S3 source is no longer
// the object read (see ObjectReader.Unchanged); other sources cannot tell.
func (r *run) sourceUnchanged(ctx context.Context) error {
	if r.src == nil {
		return nil
	}
	return r.src.Unchanged(ctx)
}

// copy moves every record to the destination or the rejects output.
func (r *run) copy(ctx context.Context, v *Validator) error {
	job, sum := r.job, r.sum
	if _, err := r.rej.Write([]byte(rejectsHeader)); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrUploadFailed, job.Rejects, err)
	}
	if v == nil { // empty source
		return nil
	}
	jsonl := job.Format == FormatJSONL
	if !jsonl {
		if err := r.write(r.sc.Record().Raw); err != nil {
			return err
		}
		r.sc.release = r.releasePending
		defer func() { r.sc.release = nil }()
	}
	for r.sc.Scan() {
		rec := r.sc.Record()
		if sum.Rows&1023 == 1023 {
			if ctx.Err() != nil {
				return fmt.Errorf("%s: stopped at line %d: %w", job.Source, rec.Line, context.Cause(ctx))
			}
		}
		if r.pendingErr != nil {
			return r.pendingErr
		}
		sum.Rows++
		r.errs = v.Check(rec, r.errs[:0])
		if len(r.errs) == 0 {
			sum.Valid++
			if jsonl {
				r.buf = append(v.AppendJSON(r.buf[:0], rec), '\n')
				if err := r.write(r.buf); err != nil {
					return err
				}
			} else if err := r.keep(rec.raw); err != nil { // raw: keep extends it over the records after it
				return err
			}
			continue
		}
		if err := r.reject(rec); err != nil {
			return err
		}
	}
	if r.pendingErr != nil {
		return r.pendingErr
	}
	if err := r.writePending(); err != nil {
		return err
	}
	if err := r.inputEnded(ctx); err != nil {
		return err
	}
	if lim := job.MaxRejectRatio; lim != nil && sum.Rows > 0 {
		if ratio := float64(sum.Rejected) / float64(sum.Rows); ratio > *lim {
			return fmt.Errorf("%w: %s: %d of %d rows rejected (%v), above the limit %v", ErrTooManyRejects, job.Source, sum.Rejected, sum.Rows, ratio, *lim)
		}
	}
	return nil
}

// keep adds the raw bytes of a valid record to pending, writing pending
// first when raw does not follow it in the Scanner's buffer, or would take
// it past partHeadroom: once a long record has grown the Scanner's reads,
// one batch of the short rows behind it would otherwise make every later
// part, and part buffer, larger by up to the record bound.
func (r *run) keep(raw []byte) error {
	if n := len(r.pending); n > 0 && n < cap(r.pending) && len(raw) > 0 && n+len(raw) <= partHeadroom && &r.pending[:n+1][n] == &raw[0] {
		r.pending = r.pending[:n+len(raw)]
		return nil
	}
	if err := r.writePending(); err != nil {
		return err
	}
	r.pending = raw
	return nil
}

// writePending writes and empties pending.
func (r *run) writePending() error {
	if len(r.pending) == 0 {
		return nil
	}
	p := r.pending
	r.pending = nil
	return r.write(p)
}

// releasePending is the Scanner's release hook: it writes pending before
// the Scanner reuses the bytes it points into. Its error stops the Scanner,
// and copy reports it.
func (r *run) releasePending() error {
	if err := r.writePending(); err != nil && r.pendingErr == nil {
		r.pendingErr = err
	}
	return r.pendingErr
}

func (r *run) write(p []byte) error {
	if _, err := r.dst.Write(p); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrUploadFailed, r.job.Destination, err)
	}
	r.sum.BytesOut += int64(len(p))
	return nil
}

// reject writes one line per error of rec to the rejects output.
func (r *run) reject(rec *Record) error {
	sum := r.sum
	sum.Rejected++
	raw := trimEOL(rec.Raw)
	var seen [16]string
	codes := seen[:0] // the codes counted for this row: few, whatever the errors
	for _, e := range r.errs {
		if !slices.Contains(codes, e.Code) {
			codes = append(codes, e.Code)
			sum.RejectsByCode[e.Code]++
		}
	}
	// Each line repeats the raw row: a long row gets fewer lines.
	lines := min(maxRejectLines, max(1, maxRejectBytes/max(len(raw), 1)))
	errs, unlisted := r.errs, 0
	if len(errs) > lines {
		errs, unlisted = errs[:lines], len(errs)-lines
	}
	b := r.buf[:0]
	for i, e := range errs {
		if unlisted > 0 && i == len(errs)-1 {
			more := "problems"
			if unlisted == 1 {
				more = "problem"
			}
			e.Message += fmt.Sprintf(" (and %d more %s in this row, not listed)", unlisted, more)
		}
		b = strconv.AppendInt(b, rec.Line, 10)
		b = append(b, ',')
		b = strconv.AppendInt(b, rec.Num, 10)
		b = append(b, ',')
		b = appendCSVField(b, e.Code)
		b = append(b, ',')
		b = appendCSVField(b, e.Field)
		b = append(b, ',')
		b = appendCSVField(b, e.Message)
		b = append(b, ',')
		b = appendCSVField(b, raw)
		b = append(b, '\n')
	}
	r.buf = b
	if _, err := r.rej.Write(b); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrUploadFailed, r.job.Rejects, err)
	}
	if lim := r.job.MaxRejects; lim != nil && sum.Rejected > *lim {
		return fmt.Errorf("%w: %s: %s rejected by line %d, above the limit %d", ErrTooManyRejects, r.job.Source, plural(sum.Rejected, "row"), rec.Line, *lim)
	}
	return nil
}

// close publishes an output and records its upload facts in the summary.
func (r *run) close(s sink, loc Location) error {
	if err := s.Close(); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrUploadFailed, loc, err)
	}
	if w, ok := s.(*ObjectWriter); ok && s == r.dst {
		r.sum.ETag = w.State().ETag
	}
	return nil
}

// uploadFacts records the S3 outputs' retries and the destination's parts,
// whether the job succeeded or not: a failed job's summary, which the
// function's metrics report, counts the work it did too.
func (r *run) uploadFacts() {
	for _, s := range []sink{r.dst, r.rej} {
		if w, ok := s.(*ObjectWriter); ok {
			st := w.State()
			r.sum.Retries += st.Retries
			if s == r.dst {
				r.sum.Parts = len(st.Parts)
			}
		}
	}
}

func contentType(format string) string {
	if format == FormatJSONL {
		return "application/x-ndjson"
	}
	return "text/csv"
}

// trimEOL removes a trailing LF or CRLF.
func trimEOL(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
		if n := len(b); n > 0 && b[n-1] == '\r' {
			b = b[:n-1]
		}
	}
	return b
}

// appendCSVField appends s as one RFC 4180 field, quoted when it holds a
// comma, a quote, or a line break.
func appendCSVField[T string | []byte](b []byte, s T) []byte {
	needs := false
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == ',' || c == '"' || c == '\n' || c == '\r' {
			needs = true
			break
		}
	}
	if !needs {
		return append(b, s...)
	}
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' {
			b = append(b, '"')
		}
		b = append(b, s[i])
	}
	return append(b, '"')
}

// plural returns n and noun, with an s unless n is 1.
func plural(n int64, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.FormatInt(n, 10) + " " + noun + "s"
}
