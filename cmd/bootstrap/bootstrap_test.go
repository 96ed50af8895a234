package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/csvstream/csvstream/csvstream"
	"github.com/csvstream/csvstream/internal/faultproxy"
	"github.com/csvstream/csvstream/internal/gen"
	"github.com/csvstream/csvstream/internal/lambdaemu"
	"github.com/csvstream/csvstream/internal/s3test"
)

// These tests build the real function binary and run it against a Lambda
// Runtime API emulator and a real S3 server, as Lambda runs it: one
// process serving invocation after invocation, or several at once.

// bootstrapPath is the function binary TestMain builds for the tests.
var bootstrapPath string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "bootstrap-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bootstrapPath = filepath.Join(dir, "bootstrap")
	args := []string{"build", "-tags", "lambda.norpc", "-o", bootstrapPath}
	if raceEnabled {
		args = append(args, "-race")
	}
	cmd := exec.Command("go", append(args, ".")...)
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build the function: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// function is a running function process.
type function struct {
	cmd    *exec.Cmd
	stdout *s3test.SyncBuffer
	stderr *s3test.SyncBuffer
	exited chan struct{}
	err    error // set when exited is closed
}

// startFunction runs the binary against the emulator with env added to a
// minimal environment, and stops it when the test ends.
func startFunction(t *testing.T, emu *lambdaemu.Server, env ...string) *function {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command(bootstrapPath)
	cmd.Dir = dir
	cmd.Env = append([]string{
		"AWS_LAMBDA_RUNTIME_API=" + emu.Addr,
		"AWS_LAMBDA_FUNCTION_NAME=csvstream-test",
		"AWS_CONFIG_FILE=" + filepath.Join(dir, "no-config"),
		"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(dir, "no-credentials"),
		"HOME=" + dir,
	}, env...)
	f := &function{cmd: cmd, stdout: &s3test.SyncBuffer{}, stderr: &s3test.SyncBuffer{}, exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = f.stdout, f.stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start the function: %v", err)
	}
	go func() {
		f.err = cmd.Wait()
		close(f.exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-f.exited
		if t.Failed() {
			t.Logf("function stderr:\n%s", f.stderr.String())
		}
	})
	return f
}

// running fails the test if the process has exited.
func (f *function) running(t *testing.T) {
	t.Helper()
	select {
	case <-f.exited:
		t.Fatalf("the function process exited (%v); stderr:\n%s", f.err, f.stderr.String())
	default:
	}
}

func startEmu(t *testing.T) *lambdaemu.Server {
	t.Helper()
	emu, err := lambdaemu.Start(lambdaemu.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	return emu
}

func s3Event(bucket, key string) []byte {
	return fmt.Appendf(nil, `{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"us-east-1",`+
		`"eventName":"ObjectCreated:Put","s3":{"s3SchemaVersion":"1.0","bucket":{"name":%q},"object":{"key":%q}}}]}`,
		bucket, url.QueryEscape(key))
}

// ordersOfSize returns a valid orders CSV of at least n bytes; without a
// schema every row passes, so the output must equal it byte for byte.
func ordersOfSize(t *testing.T, n int, seed int64) []byte {
	t.Helper()
	var b bytes.Buffer
	if _, err := gen.Orders(&b, gen.Options{Rows: n/95 + 1, Seed: seed}); err != nil {
		t.Fatal(err)
	}
	if b.Len() < n {
		t.Fatalf("generated %d bytes, want at least %d", b.Len(), n)
	}
	return b.Bytes()
}

func baseEnv(srv *s3test.Server, bucket string) []string {
	return append(srv.Env(),
		"CSVSTREAM_OUTPUT=s3://"+bucket+"/valid/",
		"CSVSTREAM_INPUT_PREFIX=incoming/",
		"CSVSTREAM_PART_SIZE=5MiB",
		"CSVSTREAM_CONCURRENCY=2",
	)
}

// job is one input and the parts its output must have.
type job struct {
	key   string
	data  []byte
	parts int // 0: a single PutObject
}

// checkResult checks one invocation's answer against its job: the summary,
// the output bytes, and the object's part count as S3 reports it.
func checkResult(t *testing.T, srv *s3test.Server, client *s3.Client, bucket string, j job, res lambdaemu.Result) {
	t.Helper()
	if res.Err != nil {
		t.Errorf("%s: function error %s: %s", j.key, res.Err.Type, res.Err.Message)
		return
	}
	var sum csvstream.Summary
	if err := json.Unmarshal(res.Response, &sum); err != nil {
		t.Errorf("%s: response %s: %v", j.key, res.Response, err)
		return
	}
	outKey := "valid/" + strings.TrimPrefix(j.key, "incoming/")
	if sum.Source != "s3://"+bucket+"/"+j.key || sum.Destination != "s3://"+bucket+"/"+outKey {
		t.Errorf("%s: summary names %s → %s", j.key, sum.Source, sum.Destination)
	}
	if sum.Parts != j.parts || sum.BytesIn != int64(len(j.data)) || sum.BytesOut != int64(len(j.data)) || sum.Rejected != 0 {
		t.Errorf("%s: summary parts %d, bytes in %d out %d, rejected %d; want %d parts and %d bytes",
			j.key, sum.Parts, sum.BytesIn, sum.BytesOut, sum.Rejected, j.parts, len(j.data))
	}
	if got := srv.Get(t, bucket, outKey); !bytes.Equal(got, j.data) {
		t.Errorf("%s: output of %d bytes differs from its input of %d", j.key, len(got), len(j.data))
	}
	head, err := client.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(outKey)})
	if err != nil {
		t.Fatalf("head %s: %v", outKey, err)
	}
	etag := strings.Trim(aws.ToString(head.ETag), `"`)
	wantSuffix := ""
	if j.parts > 0 {
		wantSuffix = fmt.Sprintf("-%d", j.parts)
	}
	_, suffix, _ := strings.Cut(etag, "-")
	if suffix != strings.TrimPrefix(wantSuffix, "-") {
		t.Errorf("%s: output ETag %s, want the suffix %q of a %d-part upload", j.key, etag, wantSuffix, j.parts)
	}
	if strings.Trim(sum.ETag, `"`) != etag {
		t.Errorf("%s: summary ETag %s, object ETag %s", j.key, sum.ETag, etag)
	}
}

// TestWarmInvocations sends invocations one after another to one process:
// outputs of different part counts must each get exactly their own parts,
// and failures must not disturb the next invocation.
func TestWarmInvocations(t *testing.T) {
	srv := s3test.Start(t)
	client := srv.Client()
	bucket := srv.Bucket(t, "warm")
	jobs := []job{
		{key: "incoming/three parts.csv", data: ordersOfSize(t, 21<<19, 1), parts: 3},
		{key: "incoming/small.csv", data: ordersOfSize(t, 64<<10, 2), parts: 0},
		{key: "incoming/two-parts.csv", data: ordersOfSize(t, 6<<20, 3), parts: 2},
	}
	for _, j := range jobs {
		srv.Put(t, bucket, j.key, j.data)
	}
	emu := startEmu(t)
	fn := startFunction(t, emu, baseEnv(srv, bucket)...)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	var ids []string
	for _, j := range jobs {
		res, err := emu.Invoke(ctx, s3Event(bucket, j.key), time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		checkResult(t, srv, client, bucket, j, res)
		ids = append(ids, res.RequestID)
		fn.running(t)
		t.Logf("%s: %s", j.key, res.Response)
	}

	// Failures come back with the handler's error type as errorType.
	failures := []struct {
		event, errType, mention string
	}{
		{fmt.Sprintf(`{"bucket": %q, "key": "incoming/missing.csv"}`, bucket), "SourceNotFound", "incoming/missing.csv"},
		{`{"hello": "world"}`, "InvalidEvent", "direct payload"},
		{fmt.Sprintf(`{"bucket": %q, "key": "incoming/small.csv", "destination": "s3://%s/incoming/copy.csv"}`, bucket, bucket), "RecursionRisk", "input prefix"},
	}
	for _, f := range failures {
		res, err := emu.Invoke(ctx, []byte(f.event), time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if res.Err == nil || res.Err.Type != f.errType || !strings.Contains(res.Err.Message, f.mention) {
			t.Errorf("event %s: answer %s, error %+v; want a %s mentioning %q", f.event, res.Response, res.Err, f.errType, f.mention)
		}
		ids = append(ids, res.RequestID)
		fn.running(t)
	}

	// The same process still serves, and rewrites the same output.
	res, err := emu.Invoke(ctx, s3Event(bucket, jobs[0].key), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	checkResult(t, srv, client, bucket, jobs[0], res)
	ids = append(ids, res.RequestID)
	fn.running(t)
	if ups := srv.Uploads(t, bucket); len(ups) != 0 {
		t.Errorf("%d multipart uploads left", len(ups))
	}

	// One log line per invocation, with its request id, and a metrics line
	// per job.
	logged := map[string]int{}
	metrics := 0
	for _, l := range strings.Split(strings.TrimSpace(fn.stdout.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Errorf("stdout line is not JSON: %q", l)
			continue
		}
		if _, ok := m["_aws"]; ok {
			metrics++
			continue
		}
		if m["message"] == "invocation" {
			id, _ := m["requestId"].(string)
			logged[id]++
		}
	}
	for _, id := range ids {
		if logged[id] != 1 {
			t.Errorf("request %s has %d invocation log lines, want 1", id, logged[id])
		}
	}
	// A metrics line for each job started: the jobs, the missing source,
	// the refused one, and the rerun; none for the invalid event.
	if want := len(jobs) + 3; metrics != want {
		t.Errorf("%d metrics lines, want %d", metrics, want)
	}
}

// TestDeadlineThroughRuntime gives invocations little time and an S3 that
// stops answering, through the real runtime client, which takes the
// deadline from the Lambda-Runtime-Deadline-Ms header: the function must
// answer Timeout before the deadline (the emulator reports a late answer
// as Lambda's Sandbox.Timedout), leave no upload behind, and serve the
// next invocation in the same process.
func TestDeadlineThroughRuntime(t *testing.T) {
	srv := s3test.Start(t)
	client := srv.Client()
	bucket := srv.Bucket(t, "deadline")
	big := job{key: "incoming/big.csv", data: ordersOfSize(t, 12<<20, 4), parts: 3}
	srv.Put(t, bucket, big.key, big.data)
	tests := []struct {
		name    string
		fault   faultproxy.Fault
		timeout time.Duration
	}{
		{"parts stall", faultproxy.Fault{Kind: faultproxy.Stall, Match: func(r *http.Request) bool {
			return r.Method == http.MethodPut && r.URL.Query().Has("partNumber")
		}}, 4 * time.Second},
		{"source stalls", faultproxy.Fault{Kind: faultproxy.StallResponse, After: 1 << 20, Match: func(r *http.Request) bool {
			return r.Method == http.MethodGet && r.URL.Path == "/"+bucket+"/"+big.key
		}}, 3 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := faultproxy.New(t, srv.Endpoint)
			var stalling atomic.Bool
			stalling.Store(true)
			fault := tt.fault
			fault.Times = 1 << 20
			fault.Match = func(r *http.Request) bool { return stalling.Load() && tt.fault.Match(r) }
			p.Inject(fault)
			emu := startEmu(t)
			fn := startFunction(t, emu, append(baseEnv(srv, bucket), "AWS_ENDPOINT_URL_S3="+p.URL)...)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()

			res, err := emu.Invoke(ctx, s3Event(bucket, big.key), tt.timeout)
			if err != nil {
				t.Fatal(err)
			}
			if res.Err == nil || res.Err.Type != "Timeout" || !strings.Contains(res.Err.Message, big.key) {
				t.Errorf("answer %s, error %+v; want a Timeout naming %s, before the %v deadline", res.Response, res.Err, big.key, tt.timeout)
			}
			if p.Fired(tt.fault.Kind) == 0 {
				t.Fatal("the fault never struck: the test did not exercise the deadline")
			}
			if ups := srv.Uploads(t, bucket); len(ups) != 0 {
				t.Errorf("%d multipart uploads left", len(ups))
			}
			fn.running(t)

			stalling.Store(false)
			res, err = emu.Invoke(ctx, s3Event(bucket, big.key), time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			checkResult(t, srv, client, bucket, big, res)
			fn.running(t)
		})
	}
}

// TestConcurrentInvocations runs one process with
// AWS_LAMBDA_MAX_CONCURRENCY=4 and sends it eight invocations at once.
func TestConcurrentInvocations(t *testing.T) {
	srv := s3test.Start(t)
	client := srv.Client()
	bucket := srv.Bucket(t, "conc")
	var jobs []job
	for i := range 8 {
		j := job{key: fmt.Sprintf("incoming/small-%d.csv", i), data: ordersOfSize(t, (40+20*i)<<10, int64(100+i))}
		if i%4 == 0 {
			j = job{key: fmt.Sprintf("incoming/large-%d.csv", i), data: ordersOfSize(t, 6<<20, int64(100+i)), parts: 2}
		}
		jobs = append(jobs, j)
		srv.Put(t, bucket, j.key, j.data)
	}
	emu := startEmu(t)
	fn := startFunction(t, emu, append(baseEnv(srv, bucket), "AWS_LAMBDA_MAX_CONCURRENCY=4")...)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	invs := make([]*lambdaemu.Invocation, len(jobs))
	for i, j := range jobs {
		invs[i] = emu.Enqueue(s3Event(bucket, j.key), time.Minute)
	}
	for i, j := range jobs {
		res, err := emu.Wait(ctx, invs[i])
		if err != nil {
			t.Fatal(err)
		}
		checkResult(t, srv, client, bucket, j, res)
	}
	fn.running(t)
	n := emu.MaxInFlight()
	t.Logf("at most %d invocations in flight at once", n)
	if n < 2 || n > 4 {
		t.Errorf("at most %d invocations ran at once; want 2 to 4 with AWS_LAMBDA_MAX_CONCURRENCY=4", n)
	}
	if ups := srv.Uploads(t, bucket); len(ups) != 0 {
		t.Errorf("%d multipart uploads left", len(ups))
	}
}

// TestInitError checks that a bad configuration is reported to the Runtime
// API's init/error endpoint, naming the variable, and that the process
// exits.
func TestInitError(t *testing.T) {
	tests := []struct {
		name    string
		env     []string
		mention string
	}{
		{"no output", nil, "CSVSTREAM_OUTPUT"},
		{"bad part size", []string{"CSVSTREAM_OUTPUT=s3://b/valid/", "CSVSTREAM_PART_SIZE=1MiB"}, "CSVSTREAM_PART_SIZE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			emu := startEmu(t)
			fn := startFunction(t, emu, tt.env...)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			fe, err := emu.WaitInitError(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if fe.Type != "Runtime.ConfigError" || !strings.Contains(fe.Message, tt.mention) {
				t.Errorf("init error %+v, want a Runtime.ConfigError naming %s", fe, tt.mention)
			}
			select {
			case <-fn.exited:
				if fn.err == nil {
					t.Error("the process exited with status 0 after an init error")
				}
				// The Runtime API took the report: nothing says otherwise.
				if msg := fn.stderr.String(); strings.Contains(msg, "report init error") {
					t.Errorf("stderr %q: want no complaint about the report", msg)
				}
			case <-ctx.Done():
				t.Fatal("the process did not exit after its init error")
			}
		})
	}
}
