// Command demo shows csvstream's Lambda function at work on this machine,
// with no AWS account: `make demo` runs it.
//
// It starts versitygw (a real S3 server) on loopback over a temporary
// directory, creates the input and output buckets, uploads a generated
// orders CSV with some invalid rows and its Table Schema, and runs the
// function's bootstrap binary against a local Lambda Runtime API
// (internal/lambdaemu) with the S3 event from events/s3-put.json. It prints
// the function's result, checks the counts reconcile with what was
// generated, and prints the first lines of the valid rows and of the
// rejects. With -cli it also runs the same object through the command-line
// twin and compares the counts.
//
// Every process it starts is stopped before it returns, on success, on
// failure and on an interrupt; the temporary directory is removed.
//
// Usage:
//
//	demo -versitygw bin/versitygw -bootstrap bin/bootstrap [-cli bin/csvstream] [-event events/s3-put.json]
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/csvstream/csvstream/csvstream"
	"github.com/csvstream/csvstream/internal/gen"
	"github.com/csvstream/csvstream/internal/lambdaemu"
	"github.com/csvstream/csvstream/internal/s3test"
)

// The demo's fixed names. The input bucket and key come from the event.
const (
	outputBucket = "csvstream-demo-output"
	inputPrefix  = "incoming/"
	schemaKey    = "schemas/orders.schema.json"
	functionName = "csvstream"
)

// options are the command-line settings.
type options struct {
	versitygw string // S3 server binary
	bootstrap string // the function, built for this machine
	cli       string // the command-line twin; empty skips that step
	event     string // the S3 event to invoke the function with
	rows      int    // data rows to generate
	invalid   int    // every invalid-th row is invalid
	seed      int64
	lines     int           // lines shown of each output
	timeout   time.Duration // limit for the whole demo
}

func main() {
	var opt options
	flag.StringVar(&opt.versitygw, "versitygw", "bin/versitygw", "versitygw binary (make tools installs it)")
	flag.StringVar(&opt.bootstrap, "bootstrap", "bin/bootstrap", "the function's bootstrap binary, built for this machine")
	flag.StringVar(&opt.cli, "cli", "", "csvstream command-line binary; when set, the same object is also run through it")
	flag.StringVar(&opt.event, "event", "events/s3-put.json", "S3 event notification to invoke the function with")
	flag.IntVar(&opt.rows, "rows", 60000, "data rows in the generated CSV")
	flag.IntVar(&opt.invalid, "invalid-every", 40, "make every Nth row invalid")
	flag.Int64Var(&opt.seed, "seed", 1, "seed of the generated data")
	flag.IntVar(&opt.lines, "lines", 5, "lines shown of the valid rows and of the rejects")
	flag.DurationVar(&opt.timeout, "timeout", 3*time.Minute, "time limit for the whole demo")
	flag.Parse()
	if flag.NArg() != 0 || opt.rows < 1 || opt.invalid < 0 || opt.lines < 0 || opt.timeout <= 0 {
		flag.Usage()
		os.Exit(2)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	ctx, cancel := context.WithTimeout(ctx, opt.timeout)
	err := run(ctx, opt, os.Stdout)
	interrupted := ctx.Err() == context.Canceled
	cancel()
	stop()
	switch {
	case err != nil && interrupted:
		fmt.Fprintln(os.Stderr, "demo: interrupted; everything it started is stopped")
		os.Exit(1)
	case err != nil:
		fmt.Fprintf(os.Stderr, "demo: %v\n", err)
		os.Exit(1)
	}
}

// run is the whole demo. Everything it starts is stopped before it returns.
func run(ctx context.Context, opt options, out io.Writer) error {
	out = &syncWriter{w: out} // the function's log lines arrive from another goroutine
	event, err := os.ReadFile(opt.event)
	if err != nil {
		return fmt.Errorf("read the event: %w", err)
	}
	inBucket, inKey, err := eventObject(event)
	if err != nil {
		return fmt.Errorf("%s: %w", opt.event, err)
	}
	for _, bin := range []string{opt.versitygw, opt.bootstrap} {
		if _, err := os.Stat(bin); err != nil {
			return fmt.Errorf("%w (run `make demo`, which builds it)", err)
		}
	}

	tmp, err := os.MkdirTemp("", "csvstream-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	step(out, "Starting the S3 server (versitygw) on loopback")
	data := filepath.Join(tmp, "s3")
	if err := os.Mkdir(data, 0o700); err != nil {
		return err
	}
	s3srv, err := s3test.Launch(ctx, opt.versitygw, data)
	if err != nil {
		return err
	}
	defer s3srv.Stop()
	fmt.Fprintf(out, "  endpoint %s\n", s3srv.Endpoint)
	client := s3srv.Client()

	step(out, "Creating the buckets and uploading a generated CSV and its schema")
	for _, b := range []string{inBucket, outputBucket} {
		if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b)}); err != nil {
			return fmt.Errorf("create bucket %s: %w", b, err)
		}
	}
	var csv bytes.Buffer
	counts, err := gen.Orders(&csv, gen.Options{Rows: opt.rows, InvalidEvery: opt.invalid, Seed: opt.seed})
	if err != nil {
		return err
	}
	if err := put(ctx, client, inBucket, inKey, csv.Bytes(), "text/csv"); err != nil {
		return err
	}
	if err := put(ctx, client, inBucket, schemaKey, []byte(gen.Schema), "application/json"); err != nil {
		return err
	}
	fmt.Fprintf(out, "  s3://%s/%s: %d rows (%d valid, %d invalid), %d bytes\n",
		inBucket, inKey, counts.Rows, counts.Valid, counts.Invalid, csv.Len())
	fmt.Fprintf(out, "  s3://%s/%s\n", inBucket, schemaKey)

	step(out, "Invoking the function through the Lambda Runtime API with "+opt.event)
	emu, err := lambdaemu.Start(lambdaemu.Options{})
	if err != nil {
		return err
	}
	defer emu.Close()
	env := append(s3env(s3srv, tmp),
		"AWS_LAMBDA_RUNTIME_API="+emu.Addr,
		"AWS_LAMBDA_FUNCTION_NAME="+functionName,
		"AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=1024",
		"AWS_LAMBDA_LOG_FORMAT=JSON",
		"CSVSTREAM_OUTPUT=s3://"+outputBucket+"/valid/",
		"CSVSTREAM_REJECTS=s3://"+outputBucket+"/rejects/",
		"CSVSTREAM_SCHEMA=s3://"+inBucket+"/"+schemaKey,
		"CSVSTREAM_INPUT_PREFIX="+inputPrefix,
		"CSVSTREAM_PART_SIZE=5MiB",
		"CSVSTREAM_CONCURRENCY=4",
		"CSVSTREAM_MAX_REJECT_RATIO=0.1",
	)
	fn, err := s3test.StartProcess(opt.bootstrap, nil, env, prefixWriter(out, "  function | "))
	if err != nil {
		return err
	}
	defer fn.Stop()
	res, err := invoke(ctx, emu, fn, event)
	if err != nil {
		return err
	}
	fn.Stop() // Lambda stops an idle function the same way: SIGTERM.
	if res.Err != nil {
		return fmt.Errorf("the function failed: %s: %s", res.Err.Type, res.Err.Message)
	}
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, res.Response, "  ", "  "); err != nil {
		return fmt.Errorf("the function's result is not JSON: %w: %s", err, res.Response)
	}
	step(out, "Result (request "+res.RequestID+")")
	fmt.Fprintf(out, "  %s\n", pretty.Bytes())

	var sum csvstream.Summary
	if err := json.Unmarshal(res.Response, &sum); err != nil {
		return fmt.Errorf("the result is not one job summary: %w", err)
	}
	if err := reconcile(sum, counts); err != nil {
		return err
	}
	fmt.Fprintf(out, "  counts reconcile: %d rows = %d valid + %d rejected, as generated\n", sum.Rows, sum.Valid, sum.Rejected)

	for _, o := range []struct{ title, loc string }{
		{"Valid rows", sum.Destination},
		{"Rejects", sum.Rejects},
	} {
		step(out, fmt.Sprintf("%s: %s (first %d lines)", o.title, o.loc, opt.lines))
		lines, err := head(ctx, client, o.loc, opt.lines)
		if err != nil {
			return err
		}
		for _, l := range lines {
			fmt.Fprintf(out, "  %s\n", l)
		}
	}

	uploads, err := client.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(outputBucket)})
	if err != nil {
		return fmt.Errorf("list multipart uploads in %s: %w", outputBucket, err)
	}
	if n := len(uploads.Uploads); n != 0 {
		return fmt.Errorf("%d multipart uploads left in progress in %s", n, outputBucket)
	}
	fmt.Fprintf(out, "\n  no multipart uploads left in progress in s3://%s\n", outputBucket)

	if opt.cli != "" {
		if err := runCLI(ctx, opt.cli, s3env(s3srv, tmp), inBucket, inKey, sum, out); err != nil {
			return err
		}
	}

	step(out, "Stopping the S3 server")
	return nil
}

// step prints a section heading.
func step(out io.Writer, s string) {
	fmt.Fprintf(out, "\n== %s\n", s)
}

// eventObject returns the bucket and the decoded key of the first record of
// an S3 event notification. S3 encodes keys as in a query string.
func eventObject(event []byte) (bucket, key string, err error) {
	var e struct {
		Records []struct {
			S3 struct {
				Bucket struct {
					Name string `json:"name"`
				} `json:"bucket"`
				Object struct {
					Key string `json:"key"`
				} `json:"object"`
			} `json:"s3"`
		} `json:"Records"`
	}
	if err := json.Unmarshal(event, &e); err != nil {
		return "", "", fmt.Errorf("not an S3 event notification: %w", err)
	}
	if len(e.Records) == 0 || e.Records[0].S3.Bucket.Name == "" || e.Records[0].S3.Object.Key == "" {
		return "", "", errors.New("not an S3 event notification: no Records[0].s3.bucket.name and .object.key")
	}
	key, err = url.QueryUnescape(e.Records[0].S3.Object.Key)
	if err != nil {
		return "", "", fmt.Errorf("key %q: %w", e.Records[0].S3.Object.Key, err)
	}
	return e.Records[0].S3.Bucket.Name, key, nil
}

func put(ctx context.Context, client *s3.Client, bucket, key string, body []byte, contentType string) error {
	_, err := client.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String(key),
		Body: bytes.NewReader(body), ContentType: aws.String(contentType),
	})
	if err != nil {
		return fmt.Errorf("put s3://%s/%s: %w", bucket, key, err)
	}
	return nil
}

// invoke sends event to the function and waits for its answer, or for the
// function to exit first.
func invoke(ctx context.Context, emu *lambdaemu.Server, fn *s3test.Process, event []byte) (lambdaemu.Result, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-fn.Exited():
			cancel()
		case <-ctx.Done():
		}
	}()
	res, err := emu.Invoke(ctx, event, 2*time.Minute)
	if err == nil {
		return res, nil
	}
	if fe := emu.InitError(); fe != nil {
		return res, fmt.Errorf("the function failed to start: %s: %s", fe.Type, fe.Message)
	}
	select {
	case <-fn.Exited():
		return res, fmt.Errorf("the function exited before answering: %v", fn.Err())
	default:
	}
	return res, err
}

// reconcile checks the job accounted for every generated row.
func reconcile(sum csvstream.Summary, c gen.Counts) error {
	if sum.Rows != sum.Valid+sum.Rejected {
		return fmt.Errorf("counts do not reconcile: %d rows but %d valid + %d rejected", sum.Rows, sum.Valid, sum.Rejected)
	}
	if sum.Rows != int64(c.Rows) || sum.Valid != int64(c.Valid) || sum.Rejected != int64(c.Invalid) {
		return fmt.Errorf("the function counted %d rows (%d valid, %d rejected); %d were generated (%d valid, %d invalid)",
			sum.Rows, sum.Valid, sum.Rejected, c.Rows, c.Valid, c.Invalid)
	}
	return nil
}

// head returns the first n lines of the object at loc (s3://bucket/key),
// reading only its first bytes.
func head(ctx context.Context, client *s3.Client, loc string, n int) ([]string, error) {
	// Keys are raw text in a location, as csvstream prints them: not a URL.
	l, err := csvstream.ParseLocation(loc)
	if err != nil || !l.IsS3() || l.Key == "" {
		return nil, fmt.Errorf("%q is not an s3://bucket/key location", loc)
	}
	obj, err := client.GetObject(ctx, &s3.GetObjectInput{
		Bucket: aws.String(l.Bucket), Key: aws.String(l.Key), Range: aws.String("bytes=0-65535"),
	})
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", loc, err)
	}
	defer obj.Body.Close()
	var lines []string
	sc := bufio.NewScanner(obj.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 64<<10)
	for len(lines) < n && sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", loc, err)
	}
	return lines, nil
}

// runCLI runs the same object through the command-line twin and checks it
// counts the same rows as the function did.
func runCLI(ctx context.Context, cli string, env []string, bucket, key string, lambda csvstream.Summary, out io.Writer) error {
	dst := "s3://" + outputBucket + "/cli/" + strings.TrimPrefix(key, inputPrefix)
	src := "s3://" + bucket + "/" + key
	step(out, "The same object through the command line: csvstream run")
	// The function's part size, so that both outputs have the same ETag.
	args := []string{"run", "--schema", "s3://" + bucket + "/" + schemaKey,
		"--max-reject-ratio", "0.1", "--part-size", "5MiB", src, dst}
	fmt.Fprintf(out, "  csvstream %s\n", strings.Join(args, " "))
	cmd := exec.CommandContext(ctx, cli, args...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	s3test.KillWithParent(cmd)
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("csvstream run: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	var sum csvstream.Summary
	if err := json.Unmarshal(stdout.Bytes(), &sum); err != nil {
		return fmt.Errorf("csvstream run printed no summary: %w: %s", err, stdout.String())
	}
	if sum.Rows != lambda.Rows || sum.Valid != lambda.Valid || sum.Rejected != lambda.Rejected {
		return fmt.Errorf("csvstream run counted %d rows (%d valid, %d rejected), the function %d (%d valid, %d rejected)",
			sum.Rows, sum.Valid, sum.Rejected, lambda.Rows, lambda.Valid, lambda.Rejected)
	}
	fmt.Fprintf(out, "  %s: %d rows, %d valid, %d rejected, %d parts: the same counts as the function\n",
		sum.Destination, sum.Rows, sum.Valid, sum.Rejected, sum.Parts)
	if sum.ETag != "" && sum.ETag == lambda.ETag {
		fmt.Fprintf(out, "  and the same bytes: both outputs have ETag %s\n", sum.ETag)
	}
	return nil
}

// s3env returns a clean environment for a process that should reach the
// server, and nothing else. Shared AWS configuration files are pointed at
// paths that do not exist under tmp, so no profile of the user's leaks in.
func s3env(srv *s3test.Server, tmp string) []string {
	env := append(srv.Env(),
		"AWS_CONFIG_FILE="+filepath.Join(tmp, "no-aws-config"),
		"AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(tmp, "no-aws-credentials"),
		"TZ=UTC",
	)
	if p := os.Getenv("PATH"); p != "" {
		env = append(env, "PATH="+p)
	}
	return env
}

// syncWriter serializes writes from a process's stdout and stderr.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// prefixWriter returns a writer that copies whole lines to out, each
// preceded by prefix.
func prefixWriter(out io.Writer, prefix string) io.Writer {
	return &linePrefixer{out: out, prefix: prefix}
}

type linePrefixer struct {
	mu     sync.Mutex
	out    io.Writer
	prefix string
	buf    []byte
}

func (l *linePrefixer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			break
		}
		if _, err := fmt.Fprintf(l.out, "%s%s\n", l.prefix, l.buf[:i]); err != nil {
			return 0, err
		}
		l.buf = l.buf[i+1:]
	}
	return len(p), nil
}
