// Command csvstream validates a CSV stream against a schema and writes the
// valid rows and the rejects to S3, local files or standard output.
//
// Usage:
//
//	csvstream run [flags] SRC DST
//	csvstream infer [--rows N] [--delimiter D] [--max-record-size S] SRC
//	csvstream sweep [--older-than 24h] [--dry-run] s3://bucket/prefix...
//	csvstream invoke [--timeout 15m] EVENT.json|-
//
// SRC and DST are each s3://bucket/key, a local path, or - for standard
// input or output. Run prints a JSON summary on standard output (on standard
// error when DST or --rejects is standard output). Exit status: 0 on
// success, 1 on failure, 2 on a usage error. -h or --help prints a command's usage on standard output.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"unicode/utf8"

	"github.com/csvstream/csvstream/csvstream"
)

// Exit statuses.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

func main() {
	// The first interrupt stops the job, which then aborts its uploads; a
	// second one ends the process at once. A hangup, as when the terminal
	// closes, stops the job too, so that it cleans up after itself; later
	// hangups are ignored, as a closing terminal sends two (the shell's and
	// the kernel's), and the second must not end the cleanup.
	ctx, stop := notifyContext(os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	// A reader that goes away (csvstream run … - | head) makes writes to
	// standard output fail with EPIPE, so that the job fails, removes its
	// temporary files and aborts its uploads, instead of the process being
	// killed by SIGPIPE halfway.
	signal.Ignore(syscall.SIGPIPE)
	go func() {
		<-ctx.Done()
		signal.Ignore(syscall.SIGHUP)
		stop()
	}()
	stdin, restore := interruptibleStdin(ctx)
	stdout := pollableStdout()
	code := Main(ctx, os.Args[1:], stdin, stdout, os.Stderr)
	restore()
	stop()
	// stdout may be a second File on descriptor 1: it is kept to the end,
	// so that its finalizer cannot close the descriptor under os.Stdout.
	runtime.KeepAlive(stdout)
	os.Exit(code)
}

// notifyContext is signal.NotifyContext for those of sigs that were not
// ignored when the process started (Go tells so for SIGINT and SIGHUP). A
// signal ignored then, as a shell ignores SIGINT for a command a script
// runs with &, stays ignored, as it does for other commands: were it
// taken, stop would put SIG_IGN back after the first, and the second
// would not end the process.
func notifyContext(sigs ...os.Signal) (context.Context, context.CancelFunc) {
	var taken []os.Signal
	for _, s := range sigs {
		if !signal.Ignored(s) {
			taken = append(taken, s)
		}
	}
	if len(taken) == 0 {
		// NotifyContext with no signals would take every signal.
		return context.WithCancel(context.Background())
	}
	return signal.NotifyContext(context.Background(), taken...)
}

// usageError is a mistake in the command line; it exits with status 2.
// Main prints it with the usage of cmd, the command whose line it is in,
// or with the list of commands when cmd is nil.
type usageError struct {
	msg string
	cmd *command
}

func (e usageError) Error() string { return e.msg }

// helpRequest is an explicit -h or --help: Main prints cmd's usage on
// standard output and exits with status 0.
type helpRequest struct{ cmd *command }

func (helpRequest) Error() string { return "help requested" }
func (helpRequest) Unwrap() error { return flag.ErrHelp }

func usagef(format string, args ...any) error {
	return usageError{msg: fmt.Sprintf(format, args...)}
}

const usage = `usage:
  csvstream run [flags] SRC DST     validate SRC and write valid rows to DST
  csvstream infer [flags] SRC       draft a Table Schema from a sample of SRC
  csvstream invoke [flags] EVENT    run the Lambda handler locally on an event file (- for stdin)
  csvstream sweep [flags] PREFIX... abort abandoned multipart uploads under s3://bucket/prefix/

SRC and DST are s3://bucket/key, a local path, or - (standard input/output).
Run "csvstream COMMAND -h" for the flags of a command.
`

// Main runs the command line and returns the exit status.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	cmd := ""
	if len(args) > 0 {
		cmd = args[0]
	}
	var err error
	switch cmd {
	case "":
		err = usagef("no command given")
	case "run":
		err = runCmd(ctx, args[1:], stdin, stdout, stderr)
	case "infer":
		err = inferCmd(ctx, args[1:], stdin, stdout, stderr)
	case "invoke":
		err = invokeCmd(ctx, args[1:], stdin, stdout, stderr)
	case "sweep":
		err = sweepCmd(ctx, args[1:], stdin, stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return exitOK
	default:
		err = usagef("unknown command %q", cmd)
	}
	var (
		ue   usageError
		help helpRequest
	)
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &help):
		help.cmd.printUsage(stdout)
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "csvstream: %s\n", errorLine(err))
		if ue.cmd != nil {
			ue.cmd.printUsage(stderr)
		} else {
			fmt.Fprint(stderr, usage)
		}
		return exitUsage
	default:
		fmt.Fprintf(stderr, "csvstream: %s\n", errorLine(err))
		return exitFailure
	}
}

// errorLine returns err's message on one line, even for joined errors (a
// failure and a failed abort), so that logs keep it together, and
// printable.
func errorLine(err error) string { return printable(strings.ReplaceAll(err.Error(), "\n", "; ")) }

// notef writes a note on stderr, printable.
func notef(stderr io.Writer, format string, args ...any) {
	fmt.Fprintf(stderr, "csvstream: note: %s\n", printable(fmt.Sprintf(format, args...)))
}

// printable returns s with its control characters other than tab, and its
// bytes that are not UTF-8, which an S3 key or a file name may hold,
// escaped as Go writes them, so that a name cannot move the cursor or
// recolour the terminal a message is shown on.
func printable(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r != '\t' && (r < 0x20 || r >= 0x7f && r < 0xa0):
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// command is a command's flags and the synopsis its usage starts with.
type command struct {
	*flag.FlagSet
	synopsis string
}

// newCommand returns a command whose flag set prints nothing itself: its
// parse errors become usage errors, and Main prints each error once,
// followed by this command's usage, or prints the usage alone on -h.
func newCommand(name, synopsis string) *command {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return &command{FlagSet: fs, synopsis: synopsis}
}

// printUsage writes the command's synopsis and flags to w.
func (c *command) printUsage(w io.Writer) {
	fmt.Fprintf(w, "usage: %s\n\nflags:\n", c.synopsis)
	c.SetOutput(w)
	c.PrintDefaults()
	c.SetOutput(io.Discard)
}

// withUsage ties a usage error from the command's line to the command, so
// that Main prints the command's usage with it rather than the list of
// commands. Other errors are returned as they are.
func (c *command) withUsage(err error) error {
	var ue usageError
	if errors.As(err, &ue) && ue.cmd == nil {
		ue.cmd = c
		return ue
	}
	return err
}

// decimal is an integer flag's value read in base 10 only: the flag
// package's Int reads 010 as 8 and 0x10 as 16, where a user, and the
// function's environment variables, mean ten and an error.
type decimal int64

func (d *decimal) String() string { return strconv.FormatInt(int64(*d), 10) }

func (d *decimal) Set(s string) error {
	n, err := strconv.ParseInt(s, 10, 64)
	switch {
	case errors.Is(err, strconv.ErrRange):
		return errors.New("out of range")
	case err != nil:
		return errors.New("want a whole number in decimal")
	}
	*d = decimal(n)
	return nil
}

// Decimal defines an integer flag read in base 10. Its usage names the
// value N, as the README's synopses do.
func (c *command) Decimal(name string, value int64, usage string) *int64 {
	p := new(int64)
	*p = value
	c.Var((*decimal)(p), name, usage)
	return p
}

// flagSet reports whether the command line set the flag called name.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// parseFlags parses the command's flags: -h and --help, before or after the
// arguments, give a helpRequest, and every other mistake a usageError tied
// to the command.
func parseFlags(fs *command, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return helpRequest{fs}
		}
		return usageError{msg: err.Error(), cmd: fs}
	}
	// The flag package stops at the first argument, so a flag after it
	// would be taken for an argument; after "--", every word is one.
	if n := len(args) - fs.NArg(); n > 0 && args[n-1] == "--" {
		return nil
	}
	for _, a := range fs.Args() {
		switch a {
		case "-h", "-help", "--help":
			// Help asked for after the arguments, as in a command line
			// recalled and extended, is still help.
			return helpRequest{fs}
		}
		if a == "--" {
			return usagef("-- comes after an argument: put it before the first, where it ends the flags")
		}
		if len(a) > 1 && a[0] == '-' {
			return usagef("%s comes after the arguments: put flags first (a file whose name starts with - can be given as ./%s)", a, a)
		}
	}
	return nil
}

// parseObject parses a location given as what on the command line. An S3
// key ending in "/" names a folder, not an object, and is refused rather
// than written as an object of that name.
func parseObject(what, s string) (csvstream.Location, error) {
	loc, err := csvstream.ParseLocation(s)
	if err != nil {
		return loc, usagef("%s: %v", what, err)
	}
	if loc.IsS3() && strings.HasSuffix(loc.Key, "/") {
		example := "data.csv"
		if what == "--schema" {
			example = "schema.json"
		}
		return loc, usagef("%s %s ends with /: name the object, such as %s%s", what, s, s, example)
	}
	return loc, nil
}

func runCmd(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) (err error) {
	fs := newCommand("run", "csvstream run [flags] SRC DST\n\nSRC and DST are s3://bucket/key, a local path, or - (standard input/output).")
	defer func() { err = fs.withUsage(err) }()
	schema := fs.String("schema", "", "Table Schema JSON: a local path or s3://bucket/key (default: check well-formedness only)")
	rejects := fs.String("rejects", "", "where rejected rows go (default: DST with "+csvstream.RejectsSuffix+" appended)")
	format := fs.String("format", csvstream.FormatCSV, "output format for valid rows: csv or jsonl")
	delim := fs.String("delimiter", ",", `field delimiter: one character such as , ; | or \t (or "tab")`)
	maxRecord := fs.String("max-record-size", "1MiB", "largest record accepted; a larger one is rejected as record-too-large")
	maxRejects := fs.Decimal("max-rejects", -1, "fail once more than `N` rows are rejected (-1: no limit)")
	maxRatio := fs.Float64("max-reject-ratio", -1, "fail when the share of rejected rows exceeds this, 0 to 1 (-1: no limit)")
	partSize := fs.String("part-size", "8MiB", "first multipart part size, 5MiB to 5GiB; it grows with the part count")
	concurrency := fs.Decimal("concurrency", 4, "`N` parts uploaded at once, 1 to 64")
	readConcurrency := fs.Decimal("read-concurrency", 4, "`N` 8 MiB ranges of an S3 source read at once, 1 to 64 (1: one stream)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		return usagef("run needs SRC and DST, got %d arguments", fs.NArg())
	}
	if *schema == "" && flagSet(fs.FlagSet, "schema") {
		return usagef("--schema is empty: give a path or s3:// URL, or leave the flag out to check well-formedness only")
	}
	if *schema == "-" {
		return usagef("--schema -: a schema cannot be read from standard input: give a path or s3:// URL")
	}
	if *rejects == "" && flagSet(fs.FlagSet, "rejects") {
		// The job puts no default rejects next to - or a descriptor's
		// name, and - cannot take them when DST is standard output,
		// under whichever name.
		if dst, err := csvstream.ParseLocation(fs.Arg(1)); err == nil {
			switch {
			case dst.IsStdio() || dst.NamesDescriptor():
				return usagef("--rejects is empty: DST is %s, so give a path or s3:// URL for the rejects", fs.Arg(1))
			case csvstream.WritesToStdout(dst, stdout):
				// The file standard output is redirected to, by this
				// name or through a link: the default has a place next
				// to it.
				return usagef("--rejects is empty: DST %s is standard output's file, so give a path or s3:// URL, or leave the flag out to write DST%s", fs.Arg(1), csvstream.RejectsSuffix)
			}
		}
		return usagef("--rejects is empty: give a path, s3:// URL or -, or leave the flag out to write DST%s", csvstream.RejectsSuffix)
	}
	job := csvstream.Job{Format: *format, Stdin: stdin, Stdout: stdout}
	if job.Source, err = parseObject("SRC", fs.Arg(0)); err != nil {
		return err
	}
	if job.Destination, err = parseObject("DST", fs.Arg(1)); err != nil {
		return err
	}
	if *rejects != "" {
		if job.Rejects, err = parseObject("--rejects", *rejects); err != nil {
			return err
		}
	} else if job.Destination.IsStdio() {
		return usagef("--rejects is required when DST is -")
	}
	if job.Scan.Comma, err = parseDelimiter(*delim); err != nil {
		return err
	}
	if job.Scan.MaxRecordSize, err = parseRecordSize(*maxRecord); err != nil {
		return err
	}
	if job.Writer.PartSize, err = csvstream.ParseSize(*partSize); err != nil {
		return usagef("--part-size: %v", err)
	}
	if job.Writer.PartSize < csvstream.MinPartSize {
		return usagef("--part-size %s is below S3's minimum part size of 5MiB", *partSize)
	}
	if job.Writer.PartSize > csvstream.MaxPartSize {
		return usagef("--part-size %s is above S3's maximum part size of 5GiB", *partSize)
	}
	if *concurrency < 1 || *concurrency > csvstream.MaxConcurrency {
		return usagef("--concurrency %d: want 1 to %d", *concurrency, csvstream.MaxConcurrency)
	}
	job.Writer.Concurrency = int(*concurrency)
	if *readConcurrency < 1 || *readConcurrency > csvstream.MaxConcurrency {
		return usagef("--read-concurrency %d: want 1 to %d", *readConcurrency, csvstream.MaxConcurrency)
	}
	job.Reader.Concurrency = int(*readConcurrency)
	switch {
	case *maxRejects >= 0:
		job.MaxRejects = maxRejects
	case *maxRejects != -1:
		return usagef("--max-rejects %d: want a count, or -1 for no limit", *maxRejects)
	}
	switch {
	case *maxRatio >= 0 && *maxRatio <= 1:
		job.MaxRejectRatio = maxRatio
	case *maxRatio != -1:
		return usagef("--max-reject-ratio %v: want 0 to 1, or -1 for no limit", *maxRatio)
	}
	if job.Format == "" || csvstream.CheckFormat(job.Format) != nil {
		return usagef("--format %q: want csv or jsonl", job.Format)
	}
	if job.Destination.IsStdio() && job.Rejects.IsStdio() {
		return usagef("--rejects cannot be - when DST is -")
	}

	if *schema != "" {
		if job.SchemaLocation, err = parseObject("--schema", *schema); err != nil {
			return err
		}
	}
	// The default rejects are in S3 when the destination is.
	client, err := s3Client(ctx, job.Source, job.Destination, job.Rejects, job.SchemaLocation)
	if err != nil {
		return err
	}
	if *schema != "" {
		if job.Schema, err = csvstream.LoadSchema(ctx, client, job.SchemaLocation); err != nil {
			return err
		}
	}
	// Decided before the job replaces any output file.
	out := stdout
	rej := job.Rejects
	if rej.IsZero() {
		// The default rejects, as Run names them; none for "-".
		rej, _ = job.Destination.WithSuffix(csvstream.RejectsSuffix)
	}
	if csvstream.WritesToStdout(job.Destination, stdout) || csvstream.WritesToStdout(rej, stdout) {
		out = stderr
	}
	sum, err := csvstream.Run(ctx, client, job)
	if err != nil {
		return err
	}
	if err := writeJSON(out, sum); err != nil {
		// The exit status is still 1, but a rerun is not needed.
		return fmt.Errorf("the job succeeded and its outputs are written, but its summary could not be printed: %w", err)
	}
	return nil
}

func inferCmd(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) (err error) {
	fs := newCommand("infer", "csvstream infer [flags] SRC\n\nSRC is s3://bucket/key, a local path, or - (standard input).")
	defer func() { err = fs.withUsage(err) }()
	rows := fs.Decimal("rows", 1000, "sample the first `N` data rows")
	delim := fs.String("delimiter", ",", `field delimiter: one character such as , ; | or \t (or "tab")`)
	maxRecord := fs.String("max-record-size", "1MiB", "largest record read; a larger one is left out of the sample")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("infer needs SRC, got %d arguments", fs.NArg())
	}
	if *rows < 1 {
		return usagef("--rows %d: want at least 1", *rows)
	}
	comma, err := parseDelimiter(*delim)
	if err != nil {
		return err
	}
	maxSize, err := parseRecordSize(*maxRecord)
	if err != nil {
		return err
	}
	loc, err := parseObject("SRC", fs.Arg(0))
	if err != nil {
		return err
	}
	client, err := s3Client(ctx, loc)
	if err != nil {
		return err
	}
	// One stream: a sample is read from the start, and ranges fetched
	// ahead would mostly go unread.
	src, err := csvstream.OpenSource(ctx, client, loc, stdin, csvstream.ReaderOptions{Concurrency: 1})
	if err != nil {
		return err
	}
	defer src.Close()
	s, err := csvstream.InferSchema(src, csvstream.InferOptions{Rows: int(min(*rows, math.MaxInt)), Comma: comma, MaxRecordSize: maxSize,
		Warn: func(msg string) { notef(stderr, "%s: %s", loc, msg) }})
	if ctx.Err() != nil {
		// An interrupt stops infer as a failure, as it does run: the sample
		// may have been cut short (a pipeline's producer gets Ctrl-C too).
		return fmt.Errorf("%s: infer: stopped: %w", loc, context.Cause(ctx))
	}
	if err != nil {
		// InferSchema's errors start with "infer:" already.
		return fmt.Errorf("%s: %w", loc, err)
	}
	draft, err := draftJSON(s, csvstream.MaxSchemaSize)
	if err != nil {
		return err
	}
	if len(draft) > csvstream.MaxSchemaSize {
		notef(stderr, "%s: the schema drafted for its %d columns is %d bytes, over the %d a schema may be: run cannot load it",
			loc, len(s.Fields), len(draft), csvstream.MaxSchemaSize)
	}
	_, err = stdout.Write(draft)
	return err
}

// draftJSON returns the schema infer drafted as JSON: indented for people
// to read, unless that takes it past limit, the size run loads, as it may
// for a file of tens of thousands of columns; then on one line.
func draftJSON(s *csvstream.Schema, limit int) ([]byte, error) {
	var b bytes.Buffer
	if err := writeJSON(&b, s); err != nil || b.Len() <= limit {
		return b.Bytes(), err
	}
	b.Reset()
	err := encodeJSON(&b, s, "")
	return b.Bytes(), err
}

// writeJSON writes v as indented JSON for people to read.
func writeJSON(w io.Writer, v any) error { return encodeJSON(w, v, "  ") }

// encodeJSON writes v as JSON indented by indent (on one line when it is
// empty), with &, < and > left as they are, so that a label or key such as
// "R&D" reads as written.
func encodeJSON(w io.Writer, v any, indent string) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", indent)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// parseRecordSize reads --max-record-size.
func parseRecordSize(s string) (int, error) {
	size, err := csvstream.ParseSize(s)
	if err != nil {
		return 0, usagef("--max-record-size: %v", err)
	}
	if size <= 0 || size > csvstream.MaxRecordSizeLimit {
		return 0, usagef("--max-record-size %q: want a size from 1B to %dMiB", s, csvstream.MaxRecordSizeLimit>>20)
	}
	return int(size), nil
}

// parseDelimiter accepts one ASCII character, or \t and "tab" for a tab.
func parseDelimiter(s string) (byte, error) {
	c, err := csvstream.ParseDelimiter(s)
	if err != nil {
		return 0, usagef("--%v", err)
	}
	return c, nil
}

// s3Client returns an S3 client when one of locs is in S3, and nil for a
// job of local files and streams, which then needs no AWS configuration.
func s3Client(ctx context.Context, locs ...csvstream.Location) (csvstream.S3API, error) {
	for _, l := range locs {
		if l.IsS3() {
			return csvstream.NewS3Client(ctx)
		}
	}
	return nil, nil
}
