package handler

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/csvstream/csvstream/csvstream"
)

// TestWriteMetrics checks a job's EMF line field by field against the
// README: namespace csvstream, the eight metrics with their units and
// values, the dimensions FunctionName and outcome, and a timestamp in
// milliseconds, which CloudWatch needs to file the values.
func TestWriteMetrics(t *testing.T) {
	sum := csvstream.Summary{Source: "s3://in/incoming/x.csv", Rows: 10, Valid: 7, Rejected: 3,
		BytesIn: 1000, BytesOut: 700, Parts: 2, Retries: 4, DurationMS: 1234}
	arn := "arn:aws:lambda:us-east-1:123456789012:function:orders-fn"
	tests := []struct {
		name    string
		lc      *lambdacontext.LambdaContext
		err     error
		fn      string
		outcome string
		request any // nil: no requestId key
	}{
		{"ok", &lambdacontext.LambdaContext{AwsRequestID: "req-1", InvokedFunctionArn: arn}, nil, "orders-fn", "ok", "req-1"},
		{"failed", &lambdacontext.LambdaContext{AwsRequestID: "req-2", InvokedFunctionArn: arn + ":live"},
			classify(fmt.Errorf("%w: over 0.1", csvstream.ErrTooManyRejects), sum.Source, false), "orders-fn", "TooManyRejects", "req-2"},
		{"no Lambda context", nil, nil, "csvstream", "ok", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			h := New(Config{Output: Prefix{"out", "valid/"}, Log: &buf}, nil)
			ctx := context.Background()
			if tt.lc != nil {
				ctx = lambdacontext.NewContext(ctx, tt.lc)
			}
			before := time.Now().UnixMilli()
			h.writeMetrics(ctx, sum, tt.err)
			after := time.Now().UnixMilli()
			if !strings.HasSuffix(buf.String(), "}\n") || strings.Count(buf.String(), "\n") != 1 {
				t.Fatalf("want one line: %q", buf.String())
			}
			var line map[string]any
			if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
				t.Fatal(err)
			}
			aws, _ := line["_aws"].(map[string]any)
			if ts, _ := aws["Timestamp"].(float64); ts < float64(before) || ts > float64(after) {
				t.Errorf("timestamp %v, want Unix milliseconds in [%d, %d]", aws["Timestamp"], before, after)
			}
			want := []any{map[string]any{
				"Namespace":  "csvstream",
				"Dimensions": []any{[]any{"FunctionName", "outcome"}},
				"Metrics": []any{
					map[string]any{"Name": "rows", "Unit": "Count"}, map[string]any{"Name": "valid", "Unit": "Count"},
					map[string]any{"Name": "rejected", "Unit": "Count"}, map[string]any{"Name": "bytes_in", "Unit": "Bytes"},
					map[string]any{"Name": "bytes_out", "Unit": "Bytes"}, map[string]any{"Name": "parts", "Unit": "Count"},
					map[string]any{"Name": "retries", "Unit": "Count"}, map[string]any{"Name": "duration_ms", "Unit": "Milliseconds"},
				},
			}}
			if !reflect.DeepEqual(aws["CloudWatchMetrics"], want) {
				t.Errorf("directive %v\nwant %v", aws["CloudWatchMetrics"], want)
			}
			delete(line, "_aws")
			wantLine := map[string]any{
				"FunctionName": tt.fn, "source": sum.Source, "outcome": tt.outcome,
				"rows": 10.0, "valid": 7.0, "rejected": 3.0, "bytes_in": 1000.0, "bytes_out": 700.0,
				"parts": 2.0, "retries": 4.0, "duration_ms": 1234.0,
			}
			if tt.request != nil {
				wantLine["requestId"] = tt.request
			}
			if !reflect.DeepEqual(line, wantLine) {
				t.Errorf("line %v\nwant %v", line, wantLine)
			}
		})
	}
}

// TestFunctionName checks where the metrics' FunctionName comes from: the
// name Lambda sets in the environment, else the invoked ARN, else
// "csvstream".
func TestFunctionName(t *testing.T) {
	tests := []struct {
		env, arn string
		want     string
	}{
		{"", "arn:aws:lambda:eu-west-1:123456789012:function:fn", "fn"},
		{"", "arn:aws:lambda:eu-west-1:123456789012:function:fn:prod", "fn"},
		{"", "arn:aws:lambda:eu-west-1:123456789012:layer:fn", "csvstream"},
		{"", "arn:aws:lambda:eu-west-1:123456789012:function", "csvstream"},
		{"", "", "csvstream"},
		{"from-env", "arn:aws:lambda:eu-west-1:123456789012:function:fn", "from-env"},
	}
	saved := lambdacontext.FunctionName
	defer func() { lambdacontext.FunctionName = saved }()
	for _, tt := range tests {
		lambdacontext.FunctionName = tt.env
		ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{InvokedFunctionArn: tt.arn})
		if got := functionName(ctx); got != tt.want {
			t.Errorf("env %q, ARN %q: %q, want %q", tt.env, tt.arn, got, tt.want)
		}
	}
}

// TestLogSummaryLines checks the invocation's summary against the README:
// up to 50 jobs on the "invocation" line, the rest 50 to an "invocation
// jobs" line with the same outcome and level, jobs_total only when lines
// follow, and duration_ms in milliseconds.
func TestLogSummaryLines(t *testing.T) {
	failed := &InvalidEvent{failure{Err: errors.New("bad record")}}
	tests := []struct {
		jobs   int
		err    error
		counts []int // jobs on each line
		total  bool
	}{
		{0, nil, []int{0}, false},
		{50, nil, []int{50}, false},
		{51, nil, []int{50, 1}, true},
		{150, nil, []int{50, 50, 50}, true},
		{151, nil, []int{50, 50, 50, 1}, true},
		{101, failed, []int{50, 50, 1}, true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.jobs, tt.err), func(t *testing.T) {
			outcome, level := "ok", "INFO"
			if tt.err != nil {
				outcome, level = ErrorType(tt.err), "ERROR"
			}
			var buf bytes.Buffer
			h := New(Config{Output: Prefix{"out", "valid/"}, Log: &buf}, nil)
			inv := h.newInvocation(context.Background())
			inv.start = time.Now().Add(-1500 * time.Millisecond)
			inv.shape = shapeSQS
			for i := range tt.jobs {
				inv.jobs = append(inv.jobs, jobLog{Source: fmt.Sprintf("s3://in/%d.csv", i)})
			}
			inv.logSummary(tt.err)
			var counts []int
			next := 0
			for i, l := range strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n") {
				var m map[string]any
				if err := json.Unmarshal([]byte(l), &m); err != nil {
					t.Fatal(err)
				}
				jobs, _ := m["jobs"].([]any)
				counts = append(counts, len(jobs))
				if len(jobs) > 0 && jobs[0].(map[string]any)["source"] != fmt.Sprintf("s3://in/%d.csv", next) {
					t.Errorf("line %d starts with %v, want job %d", i, jobs[0], next)
				}
				next += len(jobs)
				if m["outcome"] != outcome || m["level"] != level {
					t.Errorf("line %d: outcome %v at %v, want %s at %s", i, m["outcome"], m["level"], outcome, level)
				}
				if i == 0 {
					if m["message"] != "invocation" {
						t.Errorf("first line %v", m)
					}
					if d, _ := m["duration_ms"].(float64); d < 1500 || d > 60000 {
						t.Errorf("duration_ms %v, want the 1.5s in milliseconds", m["duration_ms"])
					}
					if _, ok := m["jobs_total"]; ok != tt.total {
						t.Errorf("jobs_total present %v, want %v: %v", ok, tt.total, m["jobs_total"])
					}
					continue
				}
				if m["message"] != "invocation jobs" || m["first_job"] != float64(50*i+1) {
					t.Errorf("line %d: %v", i, m)
				}
			}
			if !reflect.DeepEqual(counts, tt.counts) {
				t.Errorf("jobs per line %v, want %v", counts, tt.counts)
			}
		})
	}
}

// TestLogAbortedLines checks that a failed sweep's aborted uploads from the
// from-th on are logged 100 to a line, as the README says, each line
// naming its first upload.
func TestLogAbortedLines(t *testing.T) {
	tests := []struct {
		n, from int
		counts  []int
		firsts  []float64
	}{
		{100, 100, nil, nil},
		{101, 100, []int{1}, []float64{101}},
		{250, 50, []int{100, 100}, []float64{51, 151}},
		{301, 0, []int{100, 100, 100, 1}, []float64{1, 101, 201, 301}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.n, "from", tt.from), func(t *testing.T) {
			var buf bytes.Buffer
			h := New(Config{Output: Prefix{"out", "valid/"}, Log: &buf}, nil)
			inv := h.newInvocation(context.Background())
			aborted := make([]csvstream.SweptUpload, tt.n)
			for i := range aborted {
				aborted[i] = csvstream.SweptUpload{Key: fmt.Sprintf("valid/%d.csv", i), UploadID: fmt.Sprint(i)}
			}
			inv.logAborted(slog.LevelError, "s3://out/valid/", aborted, tt.from)
			var counts []int
			var firsts []float64
			for _, l := range strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n") {
				if l == "" {
					continue
				}
				var m struct {
					Message string                  `json:"message"`
					Source  string                  `json:"source"`
					First   float64                 `json:"first_upload"`
					Aborted []csvstream.SweptUpload `json:"aborted"`
				}
				if err := json.Unmarshal([]byte(l), &m); err != nil {
					t.Fatal(err)
				}
				if m.Message != "sweep aborted" || m.Source != "s3://out/valid/" {
					t.Errorf("line %s", l)
				}
				if len(m.Aborted) > 0 && m.Aborted[0].UploadID != fmt.Sprint(int(m.First)-1) {
					t.Errorf("first_upload %v, but the line starts with upload %s", m.First, m.Aborted[0].UploadID)
				}
				counts, firsts = append(counts, len(m.Aborted)), append(firsts, m.First)
			}
			if !reflect.DeepEqual(counts, tt.counts) || !reflect.DeepEqual(firsts, tt.firsts) {
				t.Errorf("lines of %v uploads from %v; want %v from %v", counts, firsts, tt.counts, tt.firsts)
			}
		})
	}
}

// TestLogSweepError checks what the summary keeps of a failed sweep's
// error: a one-line error whole, with no line of its own; else its first
// line, and the whole error on a "sweep failed" line naming the place.
func TestLogSweepError(t *testing.T) {
	tests := []struct {
		err     string
		summary string
		line    bool
	}{
		{"abort u1: AccessDenied", "abort u1: AccessDenied", false},
		{"2 aborts failed:\nabort u1: AccessDenied\nabort u2: AccessDenied", `2 aborts failed: (and more: see the "sweep failed" line)`, true},
	}
	for _, tt := range tests {
		var buf bytes.Buffer
		h := New(Config{Output: Prefix{"out", "valid/"}, Log: &buf}, nil)
		inv := h.newInvocation(context.Background())
		if got := inv.logSweepError("s3://out/valid/", errors.New(tt.err)); got != tt.summary {
			t.Errorf("%q: summary says %q, want %q", tt.err, got, tt.summary)
		}
		if !tt.line {
			if buf.Len() != 0 {
				t.Errorf("%q: logged %s", tt.err, buf.String())
			}
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
			t.Fatal(err)
		}
		if m["message"] != "sweep failed" || m["level"] != "ERROR" || m["source"] != "s3://out/valid/" || m["error"] != tt.err {
			t.Errorf("%q: line %v", tt.err, m)
		}
	}
}

// overlapWriter records whether two Writes ever overlapped.
type overlapWriter struct {
	inFlight, overlaps atomic.Int32
	lines              atomic.Int32
}

func (w *overlapWriter) Write(p []byte) (int, error) {
	if w.inFlight.Add(1) > 1 {
		w.overlaps.Add(1)
	}
	time.Sleep(100 * time.Microsecond)
	w.inFlight.Add(-1)
	w.lines.Add(int32(bytes.Count(p, []byte("\n"))))
	return len(p), nil
}

// TestLogWritesSerialised checks that the log and metric lines of
// concurrent invocations reach the writer one Write at a time, so that
// lines longer than a pipe's atomic write never interleave on stdout.
func TestLogWritesSerialised(t *testing.T) {
	w := &overlapWriter{}
	h := New(Config{Output: Prefix{"out", "valid/"}, Log: w}, nil)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: fmt.Sprint("req-", i)})
			for range 20 {
				h.writeMetrics(ctx, csvstream.Summary{Source: "s3://in/x.csv"}, nil)
				inv := h.newInvocation(ctx)
				inv.logSummary(nil)
			}
		}()
	}
	wg.Wait()
	if n := w.overlaps.Load(); n != 0 {
		t.Errorf("%d writes overlapped another", n)
	}
	if n := w.lines.Load(); n != 8*20*2 {
		t.Errorf("%d lines, want %d, one per Write", n, 8*20*2)
	}
}
