package handler

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/csvstream/csvstream/csvstream"
	"github.com/csvstream/csvstream/internal/faultproxy"
	"github.com/csvstream/csvstream/internal/gen"
	"github.com/csvstream/csvstream/internal/s3test"
)

// orders returns a generated orders CSV with invalid rows mixed in.
func orders(t testing.TB, rows int, seed int64) ([]byte, gen.Counts) {
	t.Helper()
	var b bytes.Buffer
	c, err := gen.Orders(&b, gen.Options{Rows: rows, InvalidEvery: 20, Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	return b.Bytes(), c
}

// reference runs the same job through csvstream.Run on local files and
// returns its outputs: what the handler must have written to S3.
func reference(t testing.TB, data []byte, schema string, format string) (out, rej []byte, sum csvstream.Summary) {
	t.Helper()
	dir := t.TempDir()
	job := csvstream.Job{
		Source:      csvstream.Stdio,
		Stdin:       bytes.NewReader(data),
		Destination: csvstream.Location{Path: filepath.Join(dir, "out")},
		Format:      format,
	}
	if schema != "" {
		s, err := csvstream.ParseSchema([]byte(schema))
		if err != nil {
			t.Fatal(err)
		}
		job.Schema = s
	}
	sum, err := csvstream.Run(context.Background(), nil, job)
	if err != nil {
		t.Fatalf("reference run: %v", err)
	}
	out, err = os.ReadFile(job.Destination.Path)
	if err != nil {
		t.Fatal(err)
	}
	rej, err = os.ReadFile(job.Destination.Path + csvstream.RejectsSuffix)
	if err != nil {
		t.Fatal(err)
	}
	return out, rej, sum
}

// syncBuffer collects log lines written by concurrent invocations.
type syncBuffer struct{ s3test.SyncBuffer }

func (s *syncBuffer) lines(t testing.TB) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(s.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line is not JSON: %q: %v", l, err)
		}
		out = append(out, m)
	}
	return out
}

var requestSeq atomic.Int64

// invoke calls h.Invoke as the Lambda runtime does: with a deadline and
// the Lambda context carrying a request id.
func invoke(h *Handler, event []byte, timeout time.Duration) (any, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	id := fmt.Sprintf("req-%d", requestSeq.Add(1))
	ctx = lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{
		AwsRequestID:       id,
		InvokedFunctionArn: "arn:aws:lambda:us-east-1:123456789012:function:csvstream-test",
	})
	res, err := h.Invoke(ctx, event)
	return res, id, err
}

func s3Event(bucket string, keys ...string) []byte {
	var recs []string
	for _, k := range keys {
		recs = append(recs, s3Record(bucket, "ObjectCreated:Put", k))
	}
	return s3Records(recs...)
}

// s3Record is one record of an S3 event notification: eventName (such as
// ObjectCreated:Put or ObjectRemoved:Delete) of the object key, URL-encoded
// as S3 sends keys.
func s3Record(bucket, eventName, key string) string {
	return fmt.Sprintf(`{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"us-east-1",`+
		`"eventName":%q,"s3":{"s3SchemaVersion":"1.0","bucket":{"name":%q,"arn":"arn:aws:s3:::%s"},`+
		`"object":{"key":%q,"size":1}}}`, eventName, bucket, bucket, url.QueryEscape(key))
}

// s3Records is an S3 event notification of the records s3Record makes.
func s3Records(recs ...string) []byte {
	return []byte(`{"Records":[` + strings.Join(recs, ",") + `]}`)
}

func sqsEvent(bodies map[string]string) []byte {
	var e events.SQSEvent
	ids := make([]string, 0, len(bodies))
	for id := range bodies {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		e.Records = append(e.Records, events.SQSMessage{MessageId: id, Body: bodies[id], EventSource: "aws:sqs"})
	}
	b, _ := json.Marshal(e)
	return b
}

func checkNoUploads(t testing.TB, srv *s3test.Server, buckets ...string) {
	t.Helper()
	for _, b := range buckets {
		if ups := srv.Uploads(t, b); len(ups) != 0 {
			t.Errorf("%d multipart uploads left in %s", len(ups), b)
		}
	}
}

// checkSummary checks a job's result against the reference run's summary
// and outputs.
func checkSummary(t testing.TB, srv *s3test.Server, res any, ref csvstream.Summary, wantOut, wantRej []byte) csvstream.Summary {
	t.Helper()
	sum, ok := res.(csvstream.Summary)
	if !ok {
		t.Fatalf("result is a %T (%+v), want a csvstream.Summary", res, res)
	}
	if sum.Rows != ref.Rows || sum.Valid != ref.Valid || sum.Rejected != ref.Rejected || sum.Rejected == 0 {
		t.Errorf("summary rows %d valid %d rejected %d; want %d %d %d (some rejected)", sum.Rows, sum.Valid, sum.Rejected, ref.Rows, ref.Valid, ref.Rejected)
	}
	dst, err := csvstream.ParseLocation(sum.Destination)
	if err != nil {
		t.Fatal(err)
	}
	rej, err := csvstream.ParseLocation(sum.Rejects)
	if err != nil {
		t.Fatal(err)
	}
	if got := srv.Get(t, dst.Bucket, dst.Key); !bytes.Equal(got, wantOut) {
		t.Errorf("%s: %d bytes differ from the %d expected", sum.Destination, len(got), len(wantOut))
	}
	if got := srv.Get(t, rej.Bucket, rej.Key); !bytes.Equal(got, wantRej) {
		t.Errorf("%s: %d bytes differ from the %d expected", sum.Rejects, len(got), len(wantRej))
	}
	return sum
}

// eventLocations walks an event, SQS bodies included, and returns the
// bucket names it mentions, the source objects it announces (keys decoded
// as S3 notifications require) and the schema objects it names.
func eventLocations(t testing.TB, raw []byte) (buckets map[string]bool, sources, schemas []csvstream.Location) {
	t.Helper()
	buckets = map[string]bool{}
	var walk func(v any)
	str := func(v any) string { s, _ := v.(string); return s }
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if s3, ok := v["s3"].(map[string]any); ok {
				b := str(s3["bucket"].(map[string]any)["name"])
				k, err := url.QueryUnescape(str(s3["object"].(map[string]any)["key"]))
				if err != nil {
					t.Fatal(err)
				}
				buckets[b] = true
				sources = append(sources, csvstream.Location{Bucket: b, Key: k})
			}
			if v["source"] == "aws.s3" {
				d := v["detail"].(map[string]any)
				b := str(d["bucket"].(map[string]any)["name"])
				buckets[b] = true
				sources = append(sources, csvstream.Location{Bucket: b, Key: str(d["object"].(map[string]any)["key"])})
			}
			if b, k := str(v["bucket"]), str(v["key"]); b != "" && k != "" {
				buckets[b] = true
				sources = append(sources, csvstream.Location{Bucket: b, Key: k})
			}
			if b := str(v["Bucket"]); b != "" {
				buckets[b] = true
			}
			for field, x := range v {
				if s := str(x); strings.HasPrefix(s, "s3://") {
					loc, err := csvstream.ParseLocation(s)
					if err != nil {
						t.Fatal(err)
					}
					buckets[loc.Bucket] = true
					if field == "schema" {
						schemas = append(schemas, loc)
					}
				}
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		case string:
			if strings.HasPrefix(v, "{") {
				var inner any
				if json.Unmarshal([]byte(v), &inner) == nil {
					walk(inner)
				}
			}
		}
	}
	var root any
	if err := json.Unmarshal(raw, &root); err != nil {
		t.Fatalf("event: %v", err)
	}
	walk(root)
	return buckets, sources, schemas
}

// TestEventFiles runs the handler on every sample event in events/, with
// each bucket the event names replaced by a fresh one on a real server.
func TestEventFiles(t *testing.T) {
	srv := s3test.Start(t)
	client := srv.Client(csvstream.ClientOptions)
	cfgBucket := srv.Bucket(t, "cfg")
	srv.Put(t, cfgBucket, "schemas/orders.schema.json", []byte(gen.Schema))
	data, counts := orders(t, 400, 1)
	csvOut, csvRej, ref := reference(t, data, gen.Schema, csvstream.FormatCSV)
	jsonOut, jsonRej, _ := reference(t, data, gen.Schema, csvstream.FormatJSONL)
	if ref.Rows != int64(counts.Rows) || ref.Valid != int64(counts.Valid) || ref.Rejected != int64(counts.Invalid) {
		t.Fatalf("reference run %+v does not match the generated counts %+v", ref, counts)
	}

	tests := []struct {
		file  string
		check func(t *testing.T, res any, buckets map[string]string)
	}{
		{"s3-put.json", func(t *testing.T, res any, _ map[string]string) {
			sum := checkSummary(t, srv, res, ref, csvOut, csvRej)
			if want := "s3://" + cfgBucket + "/valid/daily orders café.csv"; sum.Destination != want {
				t.Errorf("destination %s, want %s (the URL-decoded key without the input prefix)", sum.Destination, want)
			}
			if want := "s3://" + cfgBucket + "/rejects/daily orders café.csv.rejects.csv"; sum.Rejects != want {
				t.Errorf("rejects %s, want %s", sum.Rejects, want)
			}
		}},
		{"eventbridge.json", func(t *testing.T, res any, _ map[string]string) {
			sum := checkSummary(t, srv, res, ref, csvOut, csvRej)
			if want := "s3://" + cfgBucket + "/valid/daily orders café.csv"; sum.Destination != want {
				t.Errorf("destination %s, want %s", sum.Destination, want)
			}
		}},
		// A record from the failure queue runs the event that failed.
		{"failure-record.json", func(t *testing.T, res any, _ map[string]string) {
			sum := checkSummary(t, srv, res, ref, csvOut, csvRej)
			if want := "s3://" + cfgBucket + "/valid/daily orders café.csv"; sum.Destination != want {
				t.Errorf("destination %s, want %s", sum.Destination, want)
			}
		}},
		{"manual.json", func(t *testing.T, res any, _ map[string]string) {
			checkSummary(t, srv, res, ref, csvOut, csvRej)
		}},
		{"stepfunctions.json", func(t *testing.T, res any, buckets map[string]string) {
			sum := checkSummary(t, srv, res, ref, jsonOut, jsonRej)
			out := "s3://" + buckets["csvstream-demo-output"]
			if want := out + "/valid/daily-orders-café.jsonl"; sum.Destination != want {
				t.Errorf("destination %s, want the payload's %s", sum.Destination, want)
			}
			if want := out + "/rejects/daily-orders-café.rejects.csv"; sum.Rejects != want {
				t.Errorf("rejects %s, want the payload's %s", sum.Rejects, want)
			}
		}},
		{"sqs.json", func(t *testing.T, res any, _ map[string]string) {
			resp, ok := res.(events.SQSEventResponse)
			if !ok {
				t.Fatalf("result is a %T, want events.SQSEventResponse", res)
			}
			if len(resp.BatchItemFailures) != 0 {
				t.Errorf("batch item failures %+v, want none", resp.BatchItemFailures)
			}
			// README: an SQS event gives {"batchItemFailures": [...]}, a list
			// even when it is empty.
			if b, err := json.Marshal(res); err != nil || string(b) != `{"batchItemFailures":[]}` {
				t.Errorf("the result as Lambda sends it: %s (%v), want {\"batchItemFailures\":[]}", b, err)
			}
			for _, k := range []string{"valid/daily orders café.csv", "valid/returns-2026-11-19.csv"} {
				if got := srv.Get(t, cfgBucket, k); !bytes.Equal(got, csvOut) {
					t.Errorf("s3://%s/%s: %d bytes, want %d", cfgBucket, k, len(got), len(csvOut))
				}
			}
		}},
		{"s3-test-event.json", func(t *testing.T, res any, buckets map[string]string) {
			s, ok := res.(Skipped)
			if !ok || s.Event != "s3:TestEvent" || !strings.Contains(s.Source, buckets["csvstream-demo-input"]) {
				t.Errorf("result %#v, want a Skipped s3:TestEvent naming the bucket", res)
			}
		}},
		{"sweep.json", func(t *testing.T, res any, _ map[string]string) {
			rs, ok := res.([]SweepSummary)
			if !ok || len(rs) != 2 {
				t.Fatalf("result %#v, want two SweepResults", res)
			}
			got := []string{rs[0].Bucket + "/" + rs[0].Prefix, rs[1].Bucket + "/" + rs[1].Prefix}
			if want := []string{cfgBucket + "/valid/", cfgBucket + "/rejects/"}; !slices.Equal(got, want) {
				t.Errorf("swept %v, want %v", got, want)
			}
			if time.Since(rs[0].Cutoff) < 23*time.Hour {
				t.Errorf("cutoff %v: the default age is 24h", rs[0].Cutoff)
			}
			// A scheduled run aborts the stale uploads; it only lists
			// them when a sweep payload asks for a dry run.
			if rs[0].DryRun || rs[1].DryRun {
				t.Errorf("the scheduled sweep was a dry run: %+v", rs)
			}
		}},
	}
	var covered []string
	for _, tt := range tests {
		covered = append(covered, tt.file)
	}
	checkEventFilesCovered(t, covered)
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("..", "events", tt.file))
			if err != nil {
				t.Fatalf("sample event: %v", err)
			}
			names, sources, schemas := eventLocations(t, raw)
			// Replace each bucket name, longest first, with a fresh bucket.
			mapped := map[string]string{}
			var order []string
			for n := range names {
				mapped[n] = srv.Bucket(t, "ev")
				order = append(order, n)
			}
			sort.Slice(order, func(i, j int) bool { return len(order[i]) > len(order[j]) })
			event := string(raw)
			for _, n := range order {
				event = strings.ReplaceAll(event, n, mapped[n])
			}
			for _, src := range sources {
				srv.Put(t, mapped[src.Bucket], src.Key, data)
			}
			for _, s := range schemas {
				srv.Put(t, mapped[s.Bucket], s.Key, []byte(gen.Schema))
			}
			h := New(Config{
				Output:         Prefix{cfgBucket, "valid/"},
				InputPrefix:    "incoming/",
				SchemaLocation: csvstream.Location{Bucket: cfgBucket, Key: "schemas/orders.schema.json"},
				Log:            io.Discard,
			}, client)
			res, _, err := invoke(h, []byte(event), time.Minute)
			if err != nil {
				t.Fatalf("invoke: %s: %v", ErrorType(err), err)
			}
			tt.check(t, res, mapped)
			buckets := []string{cfgBucket}
			for _, b := range mapped {
				buckets = append(buckets, b)
			}
			checkNoUploads(t, srv, buckets...)
		})
	}
}

func TestSeveralRecordsAndSkips(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.Bucket(t, "multi")
	data, _ := orders(t, 120, 2)
	out, rej, ref := reference(t, data, "", "")
	srv.Put(t, bucket, "incoming/a+b.csv", data)
	srv.Put(t, bucket, "incoming/c d.csv", data)
	h := New(Config{Output: Prefix{bucket, "valid/"}, InputPrefix: "incoming/", Log: io.Discard}, srv.Client(csvstream.ClientOptions))

	res, _, err := invoke(h, s3Event(bucket, "incoming/a+b.csv", "incoming/c d.csv", "incoming/"), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	list, ok := res.([]any)
	if !ok || len(list) != 3 {
		t.Fatalf("result %#v, want a list of 3", res)
	}
	if sum := checkSummary(t, srv, list[0], ref, out, rej); sum.Destination != "s3://"+bucket+"/valid/a+b.csv" {
		t.Errorf("destination %s: a %%2B in the event is a plus sign", sum.Destination)
	}
	if sum := checkSummary(t, srv, list[1], ref, out, rej); sum.Destination != "s3://"+bucket+"/valid/c d.csv" {
		t.Errorf("destination %s: a + in the event is a space", sum.Destination)
	}
	if s, ok := list[2].(Skipped); !ok || s.Reason != "folder marker" {
		t.Errorf("folder marker: %#v", list[2])
	}

	// An object deleted before its job reads it is skipped too, and the
	// other records still run.
	res, _, err = invoke(h, s3Event(bucket, "incoming/gone.csv", "incoming/c d.csv"), time.Minute)
	if list, ok := res.([]any); err != nil || !ok || len(list) != 2 {
		t.Errorf("deleted object: %#v, %v; want a list of 2", res, err)
	} else {
		if s, ok := list[0].(Skipped); !ok || s.Reason != skippedGone || s.Source != "s3://"+bucket+"/incoming/gone.csv" {
			t.Errorf("deleted object: %#v, want it skipped", list[0])
		}
		checkSummary(t, srv, list[1], ref, out, rej)
	}

	// Two failures around a good object: the good one still runs, and the
	// invocation fails with the first failure.
	utf16 := []byte("\xff\xfei\x00d\x00\n\x00")
	srv.Put(t, bucket, "incoming/bad1.csv", utf16)
	srv.Put(t, bucket, "incoming/bad2.csv", utf16)
	srv.Put(t, bucket, "incoming/e.csv", data)
	_, _, err = invoke(h, s3Event(bucket, "incoming/bad1.csv", "incoming/e.csv", "incoming/bad2.csv"), time.Minute)
	if err == nil || !strings.Contains(err.Error(), "bad1.csv") || strings.Contains(err.Error(), "bad2.csv") {
		t.Errorf("two failures: err %v, want the first, naming bad1.csv", err)
	}
	if got := srv.Get(t, bucket, "valid/e.csv"); !bytes.Equal(got, out) {
		t.Errorf("the object between two failures: %d bytes written, want %d", len(got), len(out))
	}

	del := bytes.Replace(s3Event(bucket, "incoming/a+b.csv"), []byte("ObjectCreated:Put"), []byte("ObjectRemoved:Delete"), 1)
	res, _, err = invoke(h, del, time.Minute)
	if s, ok := res.(Skipped); err != nil || !ok || s.Event != "ObjectRemoved:Delete" {
		t.Errorf("deletion: %#v, %v; want it skipped", res, err)
	}
}

// TestSQSPartialBatchFailure checks that only the messages that failed
// are reported for redelivery, and that the invocation succeeds.
func TestSQSPartialBatchFailure(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.Bucket(t, "sqs")
	data, _ := orders(t, 30, 3)
	want, _, _ := reference(t, data, "", "")
	// Each message that should run names an object of its own, so that
	// each output shows that its message ran.
	ran := []string{"good.csv", "bridge.csv", "sns.csv"}
	for _, name := range ran {
		srv.Put(t, bucket, "incoming/"+name, data)
	}
	var logs syncBuffer
	h := New(Config{Output: Prefix{bucket, "valid/"}, InputPrefix: "incoming/", Log: &logs}, srv.Client(csvstream.ClientOptions))

	eb := fmt.Sprintf(`{"source":"aws.s3","detail-type":"Object Created","detail":{"bucket":{"name":%q},"object":{"key":"incoming/bridge.csv"}}}`, bucket)
	sns, _ := json.Marshal(map[string]string{"Type": "Notification", "Message": string(s3Event(bucket, "incoming/sns.csv"))})
	event := sqsEvent(map[string]string{
		"m1-good":      string(s3Event(bucket, "incoming/good.csv")),
		"m2-missing":   string(s3Event(bucket, "incoming/missing.csv")),
		"m3-garbage":   "not json",
		"m4-test":      `{"Service":"Amazon S3","Event":"s3:TestEvent","Bucket":"` + bucket + `"}`,
		"m5-bridge":    eb,
		"m6-sns":       string(sns),
		"m7-wrongkind": `{"bucket":"` + bucket + `","key":"incoming/good.csv"}`,
	})
	res, _, err := invoke(h, event, time.Minute)
	if err != nil {
		t.Fatalf("invocation failed: %v; an SQS batch reports failures per message", err)
	}
	resp, ok := res.(events.SQSEventResponse)
	if !ok {
		t.Fatalf("result %T", res)
	}
	var failed []string
	for _, f := range resp.BatchItemFailures {
		failed = append(failed, f.ItemIdentifier)
	}
	// m2's object was deleted before its job read it: skipped, not failed,
	// since redelivering it could only fail again.
	if want := []string{"m3-garbage", "m7-wrongkind"}; !slices.Equal(failed, want) {
		t.Errorf("batch item failures %v, want %v", failed, want)
	}
	for _, name := range ran {
		if got := srv.Get(t, bucket, "valid/"+name); !bytes.Equal(got, want) {
			t.Errorf("output of %s: %d bytes, want %d", name, len(got), len(want))
		}
	}
	if !strings.Contains(logs.String(), `"error_type":"SourceNotFound"`) || !strings.Contains(logs.String(), `"skipped":"`+skippedGone+`"`) {
		t.Errorf("the log does not report the missing object as skipped, with its error type:\n%s", logs.String())
	}
	// m3's body is no event and m7's is not one SQS carries: both are the
	// event's fault, not the function's.
	if n := strings.Count(logs.String(), `"error_type":"InvalidEvent"`); n != 2 {
		t.Errorf("%d messages logged as InvalidEvent, want 2 (m3, m7):\n%s", n, logs.String())
	}
	checkNoUploads(t, srv, bucket)
}

// TestSQSBatchPastDeadline stalls the first message's read until the
// jobs' deadline: the messages after it are not started, and are reported
// for redelivery with it.
func TestSQSBatchPastDeadline(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.Bucket(t, "sqs-late")
	data, _ := orders(t, 30, 3)
	srv.Put(t, bucket, "incoming/a.csv", data)
	srv.Put(t, bucket, "incoming/b.csv", data)
	p := faultproxy.New(t, srv.Endpoint)
	p.Inject(faultproxy.Fault{Kind: faultproxy.StallResponse, Match: faultproxy.IsGet("incoming/a.csv")})
	var logs syncBuffer
	h := New(Config{Output: Prefix{bucket, "valid/"}, InputPrefix: "incoming/", Log: &logs}, s3test.ClientFor(p.URL, csvstream.ClientOptions))
	event := sqsEvent(map[string]string{
		"m1": string(s3Event(bucket, "incoming/a.csv")),
		"m2": string(s3Event(bucket, "incoming/b.csv")),
	})
	// Jobs stop a quarter of the time before the deadline: at 1.5s.
	res, _, err := invoke(h, event, 2*time.Second)
	if err != nil {
		t.Fatalf("invocation failed: %v; an SQS batch reports failures per message", err)
	}
	resp, ok := res.(events.SQSEventResponse)
	var failed []string
	for _, f := range resp.BatchItemFailures {
		failed = append(failed, f.ItemIdentifier)
	}
	if want := []string{"m1", "m2"}; !ok || !slices.Equal(failed, want) {
		t.Fatalf("result %#v, want failures %v", res, want)
	}
	for _, r := range p.Requests() {
		if strings.Contains(r, "b.csv") {
			t.Errorf("m2 was started after the deadline: %s", r)
		}
	}
	// m2 is reported as not started: its job log names no source.
	if strings.Contains(logs.String(), "incoming/b.csv") || !strings.Contains(logs.String(), `"error":"SQS message m2: `) {
		t.Errorf("the log should report m2 as not started:\n%s", logs.String())
	}
	if n := strings.Count(logs.String(), `"error_type":"Timeout"`); n != 2 {
		t.Errorf("%d jobs logged as Timeout, want 2:\n%s", n, logs.String())
	}
	checkNoUploads(t, srv, bucket)
}

// TestSchemaReadFailureNotKept checks that a schema that could not be read
// for a passing reason (a server error, or the schema replaced while being
// read) is read again for the invocation's next job, rather than failing
// the whole batch.
func TestSchemaReadFailureNotKept(t *testing.T) {
	srv := s3test.Start(t)
	data, _ := orders(t, 30, 0)
	want, _, _ := reference(t, data, gen.Schema, "")
	tests := []struct {
		name string
		api  func() csvstream.S3API // fails the first read of schemas/orders.json
	}{
		{"server error", func() csvstream.S3API {
			p := faultproxy.New(t, srv.Endpoint)
			p.Inject(faultproxy.Fault{Kind: faultproxy.Status, Status: 500, Code: "InternalError", Match: faultproxy.IsGet("schemas/orders.json")})
			return s3test.ClientFor(p.URL, csvstream.ClientOptions, func(o *s3.Options) { o.RetryMaxAttempts = 1 })
		}},
		{"replaced while read", func() csvstream.S3API {
			return &changingSchemaAPI{Client: srv.Client(csvstream.ClientOptions), key: "schemas/orders.json"}
		}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bucket := srv.Bucket(t, fmt.Sprintf("schemaretry%d", i))
			srv.Put(t, bucket, "incoming/a.csv", data)
			srv.Put(t, bucket, "incoming/b.csv", data)
			srv.Put(t, bucket, "schemas/orders.json", []byte(gen.Schema))
			h := New(Config{Output: Prefix{bucket, "valid/"}, InputPrefix: "incoming/", Log: io.Discard,
				SchemaLocation: csvstream.Location{Bucket: bucket, Key: "schemas/orders.json"}}, tt.api())
			event := sqsEvent(map[string]string{
				"m1": string(s3Event(bucket, "incoming/a.csv")),
				"m2": string(s3Event(bucket, "incoming/b.csv")),
			})
			res, _, err := invoke(h, event, time.Minute)
			if err != nil {
				t.Fatalf("invocation failed: %v", err)
			}
			resp, ok := res.(events.SQSEventResponse)
			if !ok || len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != "m1" {
				t.Fatalf("result %#v; want only m1, whose schema read failed, to be redelivered", res)
			}
			if got := srv.Get(t, bucket, "valid/b.csv"); !bytes.Equal(got, want) {
				t.Errorf("output of m2: %d bytes, want %d", len(got), len(want))
			}
			checkNoUploads(t, srv, bucket)
		})
	}
}

// TestConfiguredSchemaReadOncePerInvocation checks the package's promise
// that the configured S3 schema is read once per invocation: an event of
// two records reads it once, whether it loads or is missing, and the next
// invocation reads it again (README: "read on each invocation").
func TestConfiguredSchemaReadOncePerInvocation(t *testing.T) {
	srv := s3test.Start(t)
	data, _ := orders(t, 30, 0)
	for i, present := range []bool{true, false} {
		bucket := srv.Bucket(t, fmt.Sprintf("schemaonce%d", i))
		srv.Put(t, bucket, "incoming/a.csv", data)
		srv.Put(t, bucket, "incoming/b.csv", data)
		if present {
			srv.Put(t, bucket, "schemas/orders.json", []byte(gen.Schema))
		}
		p := faultproxy.New(t, srv.Endpoint)
		h := New(Config{Output: Prefix{bucket, "valid/"}, InputPrefix: "incoming/", Log: io.Discard,
			SchemaLocation: csvstream.Location{Bucket: bucket, Key: "schemas/orders.json"}},
			s3test.ClientFor(p.URL, csvstream.ClientOptions))
		schemaGets := func() (n int) {
			for _, r := range p.Requests() {
				if strings.HasPrefix(r, "GET /"+bucket+"/schemas/orders.json") {
					n++
				}
			}
			return n
		}
		for inv := 1; inv <= 2; inv++ {
			_, _, err := invoke(h, s3Event(bucket, "incoming/a.csv", "incoming/b.csv"), time.Minute)
			var se *SchemaError
			if present && err != nil || !present && !errors.As(err, &se) {
				t.Fatalf("schema present %v, invocation %d: error %v (%s)", present, inv, err, ErrorType(err))
			}
			if got := schemaGets(); got != inv {
				t.Errorf("schema present %v: %d GETs of the schema after %d invocations of two records each, want %d", present, got, inv, inv)
			}
		}
	}
}

// TestInvokeRequests pins the S3 requests of an invocation for small
// objects with the configured schema on S3, in order: the schema is read
// once per invocation, however many jobs share it, and each job then makes
// the requests TestRunRequests pins for csvstream.Run. Each is billed: a
// change that adds one must show here.
func TestInvokeRequests(t *testing.T) {
	srv := s3test.Start(t)
	small, _ := orders(t, 10, 1)
	job := func(name string) []string {
		return []string{
			"GetObject incoming/" + name,
			"CreateMultipartUpload valid/" + name, "AbortMultipartUpload valid/" + name,
			"CreateMultipartUpload rejects/" + name + ".rejects.csv", "AbortMultipartUpload rejects/" + name + ".rejects.csv",
			"GetObject incoming/" + name + " bytes=0-0",
			"PutObject rejects/" + name + ".rejects.csv", "PutObject valid/" + name,
		}
	}
	tests := []struct {
		name    string
		event   func(bucket string) []byte
		errType string // the invocation's error, if it fails
		want    []string
	}{
		{"S3 event", func(b string) []byte { return s3Event(b, "incoming/a.csv") }, "",
			slices.Concat([]string{"GetObject schemas/orders.json"}, job("a.csv"))},
		{"SQS batch", func(b string) []byte {
			return sqsEvent(map[string]string{"m1": string(s3Event(b, "incoming/a.csv")), "m2": string(s3Event(b, "incoming/b.csv"))})
		}, "", slices.Concat([]string{"GetObject schemas/orders.json"}, job("a.csv"), job("b.csv"))},
		{"header not the schema's", func(b string) []byte { return s3Event(b, "incoming/bad.csv") }, "HeaderMismatch",
			[]string{"GetObject schemas/orders.json", "GetObject incoming/bad.csv"}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bucket := srv.Bucket(t, fmt.Sprintf("requests%d", i))
			srv.Put(t, bucket, "incoming/a.csv", small)
			srv.Put(t, bucket, "incoming/b.csv", small)
			srv.Put(t, bucket, "incoming/bad.csv", []byte("id,name\n1,x\n"))
			srv.Put(t, bucket, "schemas/orders.json", []byte(gen.Schema))
			p := faultproxy.New(t, srv.Endpoint)
			h := New(Config{Output: Prefix{bucket, "valid/"}, InputPrefix: "incoming/", Log: io.Discard,
				SchemaLocation: csvstream.Location{Bucket: bucket, Key: "schemas/orders.json"}},
				s3test.ClientFor(p.URL, csvstream.ClientOptions))
			if _, _, err := invoke(h, tt.event(bucket), time.Minute); ErrorType(err) != tt.errType {
				t.Fatalf("error %v (%s), want %q", err, ErrorType(err), tt.errType)
			}
			if got := p.Calls(bucket); !slices.Equal(got, tt.want) {
				t.Errorf("requests:\n\t%s\nwant:\n\t%s", strings.Join(got, "\n\t"), strings.Join(tt.want, "\n\t"))
			}
		})
	}
}

// localSchemaJob starts a server with a bucket holding incoming/a.csv, one
// row valid and one not an integer, and writes a local schema for it,
// whose path it returns.
func localSchemaJob(t *testing.T, name string) (srv *s3test.Server, bucket, path string) {
	t.Helper()
	srv = s3test.Start(t)
	bucket = srv.Bucket(t, name)
	srv.Put(t, bucket, "incoming/a.csv", []byte("id\n1\nnot-a-number\n"))
	path = filepath.Join(t.TempDir(), "schema.json")
	if err := os.WriteFile(path, []byte(`{"fields":[{"name":"id","type":"integer"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	return srv, bucket, path
}

// TestConfiguredLocalSchema: a Config built in Go may name a local schema
// without loading it into Schema; its jobs are checked against it, and a
// missing file is a SchemaError, not a job run with no schema.
func TestConfiguredLocalSchema(t *testing.T) {
	srv, bucket, path := localSchemaJob(t, "localschema")
	for _, tt := range []struct {
		path      string
		wantError string // the error type, or "" for a job that ran with the schema
	}{{path, ""}, {path + ".missing", "SchemaError"}} {
		h := New(Config{Output: Prefix{bucket, "valid/"}, InputPrefix: "incoming/", Log: io.Discard,
			SchemaLocation: csvstream.Location{Path: tt.path}}, srv.Client(csvstream.ClientOptions))
		res, _, err := invoke(h, s3Event(bucket, "incoming/a.csv"), time.Minute)
		if tt.wantError != "" {
			if ErrorType(err) != tt.wantError {
				t.Errorf("schema %s: %s (%v), want %s", tt.path, ErrorType(err), err, tt.wantError)
			}
			continue
		}
		if sum, ok := res.(csvstream.Summary); err != nil || !ok || sum.Valid != 1 || sum.Rejected != 1 {
			t.Errorf("schema %s: result %+v, error %v; want 1 valid row and 1 rejected", tt.path, res, err)
		}
	}
}

// TestErrorTypesS3 provokes each kind of failure against a real server and
// checks the type Lambda would report and that nothing is left behind.
func TestErrorTypesS3(t *testing.T) {
	srv := s3test.Start(t)
	client := srv.Client(csvstream.ClientOptions)
	in := srv.Bucket(t, "in")
	out := srv.Bucket(t, "out")
	data, _ := orders(t, 200, 4)
	srv.Put(t, in, "incoming/orders.csv", data)
	srv.Put(t, in, "incoming/wrong-header.csv", []byte("id,when\n1,2\n"))
	srv.Put(t, out, "schemas/orders.json", []byte(gen.Schema))
	srv.Put(t, out, "schemas/bad.json", []byte(`{"fields": "nope"}`))
	zero := 0.0
	base := Config{Output: Prefix{out, "valid/"}, InputPrefix: "incoming/", Log: io.Discard}
	withSchema := base
	withSchema.SchemaLocation = csvstream.Location{Bucket: out, Key: "schemas/orders.json"}
	direct := func(key string, extra string) []byte {
		return []byte(fmt.Sprintf(`{"bucket":%q,"key":%q%s}`, in, key, extra))
	}
	// outputWrite matches every request writing to the output bucket.
	outputWrite := func(r *http.Request) bool {
		return r.Method != http.MethodGet && strings.HasPrefix(r.URL.Path, "/"+out+"/")
	}

	tests := []struct {
		name    string
		cfg     func() Config
		event   []byte
		want    string
		object  string            // the message must name it
		rejects bool              // the rejects are published despite the failure
		fault   *faultproxy.Fault // injected between the function and S3, which then tries each request once
	}{
		{name: "missing source", event: direct("incoming/missing.csv", ""),
			want: "SourceNotFound", object: "s3://" + in + "/incoming/missing.csv"},
		{name: "missing bucket", event: []byte(`{"bucket":"no-such-bucket","key":"incoming/x.csv"}`),
			want: "SourceNotFound", object: "s3://no-such-bucket/incoming/x.csv"},
		{name: "bad schema", cfg: func() Config {
			c := base
			c.SchemaLocation = csvstream.Location{Bucket: out, Key: "schemas/bad.json"}
			return c
		}, event: direct("incoming/orders.csv", ""), want: "SchemaError", object: "schemas/bad.json"},
		{name: "schema names a folder", event: direct("incoming/orders.csv", fmt.Sprintf(`,"schema":"s3://%s/schemas/"`, out)),
			want: "InvalidEvent", object: "s3://" + out + "/schemas/"},
		{name: "missing schema", event: direct("incoming/orders.csv", fmt.Sprintf(`,"schema":"s3://%s/schemas/none.json"`, out)),
			want: "SchemaError", object: "schemas/none.json"},
		// Reading the schema may fail as reading a source does: that is
		// no fault of the schema, and another try may succeed.
		{name: "schema server error", cfg: func() Config { return withSchema }, fault: &faultproxy.Fault{Kind: faultproxy.Status, Status: 500, Code: "InternalError",
			Match: faultproxy.IsGet("schemas/orders.json"), Times: 100},
			event: direct("incoming/orders.csv", ""), want: "SourceReadFailed", object: "schemas/orders.json"},
		{name: "schema access denied", cfg: func() Config { return withSchema }, fault: &faultproxy.Fault{Kind: faultproxy.Status, Status: 403, Code: "AccessDenied",
			Match: faultproxy.IsGet("schemas/orders.json"), Times: 100},
			event: direct("incoming/orders.csv", ""), want: "AccessDenied", object: "schemas/orders.json"},
		{name: "header mismatch", cfg: func() Config { return withSchema }, event: direct("incoming/wrong-header.csv", ""),
			want: "HeaderMismatch", object: "s3://" + in + "/incoming/wrong-header.csv"},
		{name: "too many rejects", cfg: func() Config {
			c := withSchema
			c.MaxRejectRatio = &zero
			return c
		}, event: direct("incoming/orders.csv", ""), want: "TooManyRejects", object: "incoming/orders.csv", rejects: true},
		{name: "output bucket missing", cfg: func() Config {
			c := base
			c.Output = Prefix{"no-such-bucket", "valid/"}
			return c
		}, event: direct("incoming/orders.csv", ""), want: "InvalidEvent", object: "no-such-bucket"},
		// A Config built in Go with options out of range is not the
		// event's fault.
		{name: "Config out of range", cfg: func() Config {
			c := base
			c.Concurrency = csvstream.MaxConcurrency + 1
			return c
		}, event: direct("incoming/orders.csv", ""), want: "InternalError", object: "incoming/orders.csv"},
		{name: "Config read concurrency out of range", cfg: func() Config {
			c := base
			c.ReadConcurrency = -1
			return c
		}, event: direct("incoming/orders.csv", ""), want: "InternalError", object: "incoming/orders.csv"},
		{name: "Config reject ratio out of range", cfg: func() Config {
			c := base
			c.MaxRejectRatio = ptr(1.5)
			return c
		}, event: direct("incoming/orders.csv", ""), want: "InternalError", object: "incoming/orders.csv"},
		{name: "Config reject ratio NaN", cfg: func() Config {
			c := base
			c.MaxRejectRatio = ptr(math.NaN())
			return c
		}, event: direct("incoming/orders.csv", ""), want: "InternalError", object: "incoming/orders.csv"},
		{name: "unknown event", event: []byte(`{"hello":"world"}`), want: "InvalidEvent"},
		{name: "misspelt option", event: direct("incoming/orders.csv", `,"destinaton":"s3://x/y"`), want: "InvalidEvent"},
		{name: "bad format", event: direct("incoming/orders.csv", `,"format":"xml"`), want: "InvalidEvent", object: "incoming/orders.csv"},
		// The format is refused before the schema is read: S3 trouble with
		// the schema must not make a retryable error of this event.
		{name: "bad format, schema unreadable", cfg: func() Config { return withSchema }, fault: &faultproxy.Fault{Kind: faultproxy.Status, Status: 500, Code: "InternalError",
			Match: faultproxy.IsGet("schemas/orders.json"), Times: 100},
			event: direct("incoming/orders.csv", `,"format":"JSONL"`), want: "InvalidEvent", object: "incoming/orders.csv"},
		{name: "output into the input prefix", event: direct("incoming/orders.csv", fmt.Sprintf(`,"destination":"s3://%s/incoming/out/"`, in)),
			want: "RecursionRisk", object: "s3://" + in + "/incoming/orders.csv"},
		{name: "source is an output", event: []byte(fmt.Sprintf(`{"bucket":%q,"key":"valid/orders.csv"}`, out)),
			want: "RecursionRisk", object: "valid/orders.csv"},
		{name: "source unreachable", fault: &faultproxy.Fault{Kind: faultproxy.CutRequest, Match: faultproxy.IsGet("incoming/orders.csv"), Times: 100},
			event: direct("incoming/orders.csv", ""), want: "SourceReadFailed", object: "incoming/orders.csv"},
		{name: "source server error", fault: &faultproxy.Fault{Kind: faultproxy.Status, Status: 500, Code: "InternalError",
			Match: faultproxy.IsGet("incoming/orders.csv"), Times: 100},
			event: direct("incoming/orders.csv", ""), want: "SourceReadFailed", object: "incoming/orders.csv"},
		{name: "source access denied", fault: &faultproxy.Fault{Kind: faultproxy.Status, Status: 403, Code: "AccessDenied",
			Match: faultproxy.IsGet("incoming/orders.csv"), Times: 100},
			event: direct("incoming/orders.csv", ""), want: "AccessDenied", object: "incoming/orders.csv"},
		{name: "source archived", fault: &faultproxy.Fault{Kind: faultproxy.Status, Status: 403, Code: "InvalidObjectState",
			Match: faultproxy.IsGet("incoming/orders.csv"), Times: 100},
			event: direct("incoming/orders.csv", ""), want: "InvalidEvent", object: "incoming/orders.csv"},
		// S3's answer to a GET, without the key, of an object stored
		// with a customer-provided key (SSE-C): no retry will change it.
		{name: "source encrypted with a customer key", fault: &faultproxy.Fault{Kind: faultproxy.Status, Status: 400, Code: "InvalidRequest",
			Match: faultproxy.IsGet("incoming/orders.csv"), Times: 100},
			event: direct("incoming/orders.csv", ""), want: "InvalidEvent", object: "incoming/orders.csv"},
		{name: "schema encrypted with a customer key", cfg: func() Config { return withSchema }, fault: &faultproxy.Fault{Kind: faultproxy.Status, Status: 400, Code: "InvalidRequest",
			Match: faultproxy.IsGet("schemas/orders.json"), Times: 100},
			event: direct("incoming/orders.csv", ""), want: "SchemaError", object: "schemas/orders.json"},
		// A bucket in another region than the client's is answered so,
		// whatever the request, and the SDK does not follow.
		{name: "source bucket in another region", fault: &faultproxy.Fault{Kind: faultproxy.Status, Status: 301, Code: "PermanentRedirect",
			Match: faultproxy.IsGet("incoming/orders.csv"), Times: 100},
			event: direct("incoming/orders.csv", ""), want: "InvalidEvent", object: "incoming/orders.csv"},
		{name: "schema bucket in another region", cfg: func() Config { return withSchema }, fault: &faultproxy.Fault{Kind: faultproxy.Status, Status: 301, Code: "PermanentRedirect",
			Match: faultproxy.IsGet("schemas/orders.json"), Times: 100},
			event: direct("incoming/orders.csv", ""), want: "SchemaError", object: "schemas/orders.json"},
		{name: "output bucket in another region", fault: &faultproxy.Fault{Kind: faultproxy.Status, Status: 301, Code: "PermanentRedirect",
			Match: outputWrite, Times: 100},
			event: direct("incoming/orders.csv", ""), want: "InvalidEvent", object: "s3://" + out + "/"},
		// Stopped by the limit, but the rejects that would say why could
		// not be written: a retry may get them through.
		{name: "too many rejects, rejects not written", cfg: func() Config {
			c := withSchema
			c.MaxRejectRatio = &zero
			return c
		}, fault: &faultproxy.Fault{Kind: faultproxy.Status, Status: 500, Code: "InternalError",
			Match: faultproxy.IsPutObject("rejects/orders.csv.rejects.csv"), Times: 100},
			event: direct("incoming/orders.csv", ""), want: "UploadFailed", object: "rejects/orders.csv.rejects.csv"},
		// Stopped by the limit, but the check that the source is unchanged,
		// made before the rejects are published, went unanswered: the
		// rejects are kept back, and a retry may get them through.
		{name: "too many rejects, source check failed", cfg: func() Config {
			c := withSchema
			c.MaxRejectRatio = &zero
			return c
		}, fault: &faultproxy.Fault{Kind: faultproxy.Status, Status: 500, Code: "InternalError",
			Match: faultproxy.IsGetRange("incoming/orders.csv", "bytes=0-0"), Times: 100},
			event: direct("incoming/orders.csv", ""), want: "SourceReadFailed", object: "incoming/orders.csv"},
		{name: "output access denied", fault: &faultproxy.Fault{Kind: faultproxy.Status, Status: 403, Code: "AccessDenied",
			Match: outputWrite, Times: 100},
			event: direct("incoming/orders.csv", ""), want: "AccessDenied", object: "s3://" + out + "/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := base
			if tt.cfg != nil {
				cfg = tt.cfg()
			}
			api := csvstream.S3API(client)
			if tt.fault != nil {
				p := faultproxy.New(t, srv.Endpoint)
				p.Inject(*tt.fault)
				api = s3test.ClientFor(p.URL, csvstream.ClientOptions, func(o *s3.Options) { o.RetryMaxAttempts = 1 })
			}
			res, _, err := invoke(New(cfg, api), tt.event, time.Minute)
			if err == nil {
				t.Fatalf("no error; result %+v", res)
			}
			// The runtime client reports the error's Go type name.
			if got := reflect.TypeOf(err).Elem().Name(); got != tt.want {
				t.Fatalf("error type %s (%v), want %s", got, err, tt.want)
			}
			if tt.object != "" && !strings.Contains(err.Error(), tt.object) {
				t.Errorf("message %q does not name %s", err, tt.object)
			}
			if errors.Unwrap(err) == nil {
				t.Errorf("%s wraps no cause", tt.want)
			}
			if _, err := client.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: &out, Key: ptr("valid/orders.csv")}); err == nil {
				t.Errorf("a destination was published despite the failure")
			}
			rejKey := ptr("rejects/orders.csv.rejects.csv")
			_, herr := client.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: &out, Key: rejKey})
			if tt.rejects != (herr == nil) {
				t.Errorf("rejects published: %v, want %v", herr == nil, tt.rejects)
			}
			if herr == nil {
				if _, err := client.DeleteObject(context.Background(), &s3.DeleteObjectInput{Bucket: &out, Key: rejKey}); err != nil {
					t.Fatal(err)
				}
			}
			checkNoUploads(t, srv, in, out)
		})
	}
}

// TestNoClientIsInternalError invokes a Handler built with no S3 client,
// for a job and for a sweep: that is the handler's own fault, as a Config
// out of range is, not the event's.
func TestNoClientIsInternalError(t *testing.T) {
	h := New(Config{Output: Prefix{"out", "valid/"}, Log: io.Discard}, nil)
	_, _, err := invoke(h, []byte(`{"bucket":"b","key":"incoming/x.csv"}`), time.Minute)
	if ErrorType(err) != "InternalError" || !strings.Contains(err.Error(), "no S3 client") {
		t.Errorf("%s: %v; want an InternalError saying there is no S3 client", ErrorType(err), err)
	}
	// A sweep needs a client that can list multipart uploads.
	_, _, err = invoke(h, []byte(`{"sweep":{}}`), time.Minute)
	if ErrorType(err) != "InternalError" || !strings.Contains(err.Error(), "cannot list multipart uploads") {
		t.Errorf("sweep: %s: %v; want an InternalError saying the client cannot list multipart uploads", ErrorType(err), err)
	}
}

func ptr[T any](v T) *T { return &v }

// slowBodies slows the bodies of GET responses after their first bytes,
// like a source that stalls part way.
type slowBodies struct {
	base  http.RoundTripper
	after int64
	delay time.Duration
}

func (s slowBodies) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := s.base.RoundTrip(r)
	if err != nil || r.Method != http.MethodGet || resp.StatusCode != http.StatusOK {
		return resp, err
	}
	resp.Body = &slowBody{ReadCloser: resp.Body, left: s.after, delay: s.delay, ctx: r.Context()}
	return resp, nil
}

type slowBody struct {
	io.ReadCloser
	left  int64
	delay time.Duration
	ctx   context.Context
}

func (b *slowBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		select {
		case <-time.After(b.delay):
		case <-b.ctx.Done():
			return 0, b.ctx.Err()
		}
		p = p[:min(len(p), 4096)]
	} else if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.ReadCloser.Read(p)
	b.left -= int64(n)
	return n, err
}

// countingAPI counts the multipart uploads a job starts and aborts.
type countingAPI struct {
	*s3.Client
	creates, aborts atomic.Int32
}

func (c *countingAPI) CreateMultipartUpload(ctx context.Context, in *s3.CreateMultipartUploadInput, optFns ...func(*s3.Options)) (*s3.CreateMultipartUploadOutput, error) {
	out, err := c.Client.CreateMultipartUpload(ctx, in, optFns...)
	if err == nil {
		c.creates.Add(1)
	}
	return out, err
}

func (c *countingAPI) AbortMultipartUpload(ctx context.Context, in *s3.AbortMultipartUploadInput, optFns ...func(*s3.Options)) (*s3.AbortMultipartUploadOutput, error) {
	out, err := c.Client.AbortMultipartUpload(ctx, in, optFns...)
	if err == nil {
		c.aborts.Add(1)
	}
	return out, err
}

// TestDeadlineAbortsUploads runs a job whose source stalls after its first
// part has gone up, with an invocation deadline it cannot meet: the job
// must stop before the deadline, abort its upload, and report Timeout.
func TestDeadlineAbortsUploads(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.Bucket(t, "deadline")
	row := []byte("1,some text for the row,2025-01-01,12.50\n")
	data := append([]byte("id,text,date,amount\n"), bytes.Repeat(row, (8<<20)/len(row))...)
	srv.Put(t, bucket, "incoming/big.csv", data)

	api := &countingAPI{Client: srv.Client(csvstream.ClientOptions, func(o *s3.Options) {
		o.HTTPClient = &http.Client{Transport: slowBodies{base: http.DefaultTransport, after: 6 << 20, delay: 100 * time.Millisecond}}
	})}
	h := New(Config{Output: Prefix{bucket, "valid/"}, InputPrefix: "incoming/", PartSize: csvstream.MinPartSize, Log: io.Discard}, api)

	const timeout = 6 * time.Second
	start := time.Now()
	_, _, err := invoke(h, []byte(fmt.Sprintf(`{"bucket":%q,"key":"incoming/big.csv"}`, bucket)), timeout)
	took := time.Since(start)
	var to *Timeout
	if !errors.As(err, &to) {
		t.Fatalf("error %v (%s), want Timeout", err, ErrorType(err))
	}
	if !strings.Contains(err.Error(), "incoming/big.csv") {
		t.Errorf("message %q does not name the source", err)
	}
	if took >= timeout {
		t.Errorf("the job returned after %v, not before the %v deadline", took, timeout)
	}
	if api.creates.Load() == 0 {
		t.Fatal("no multipart upload was started: the test did not exercise the abort")
	}
	if api.aborts.Load() != api.creates.Load() {
		t.Errorf("%d uploads started, %d aborted", api.creates.Load(), api.aborts.Load())
	}
	checkNoUploads(t, srv, bucket)
	if _, err := api.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: &bucket, Key: ptr("valid/big.csv")}); err == nil {
		t.Error("a partial destination was published")
	}
}

// TestDeadlineMarginOnce stalls every part upload of a job: the job, its
// upload included, runs until DeadlineMargin before the invocation's
// deadline, and the writer takes no second margin of its own before that.
func TestDeadlineMarginOnce(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.Bucket(t, "margin")
	data, _ := orders(t, 70_000, 0) // over one 5 MiB part
	srv.Put(t, bucket, "incoming/a.csv", data)
	p := faultproxy.New(t, srv.Endpoint)
	p.Inject(faultproxy.Fault{Kind: faultproxy.Stall, Times: 1000, Match: func(r *http.Request) bool {
		return r.Method == http.MethodPut && r.URL.Query().Get("partNumber") != ""
	}})
	const timeout, margin = 8 * time.Second, time.Second
	h := New(Config{Output: Prefix{bucket, "valid/"}, InputPrefix: "incoming/", DeadlineMargin: margin,
		PartSize: csvstream.MinPartSize, Log: io.Discard}, s3test.ClientFor(p.URL, csvstream.ClientOptions))
	start := time.Now()
	_, _, err := invoke(h, []byte(fmt.Sprintf(`{"bucket":%q,"key":"incoming/a.csv"}`, bucket)), timeout)
	took := time.Since(start)
	var to *Timeout
	if !errors.As(err, &to) {
		t.Fatalf("error %v (%s), want Timeout", err, ErrorType(err))
	}
	if !strings.Contains(err.Error(), "upload part ") || !strings.Contains(err.Error(), "stopped 1s before the invocation's deadline to leave time for cleanup") {
		t.Errorf("error %q does not say that the stalled part was stopped before the deadline", err)
	}
	// A second margin, a quarter of the time left, would stop it by 6s.
	if took < timeout-margin-300*time.Millisecond || took >= timeout {
		t.Errorf("the job returned after %v; want it to stop %v before the %v deadline", took, margin, timeout)
	}
	checkNoUploads(t, srv, bucket)
}

// TestLogsAndMetrics checks the invocation's log line and the job's EMF
// metrics line, and that neither carries row contents.
func TestLogsAndMetrics(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.Bucket(t, "logs")
	data := []byte("id,email\n1,secret-person@example.com\n2,\"unclosed\n")
	srv.Put(t, bucket, "incoming/x.csv", data)
	var logs syncBuffer
	h := New(Config{Output: Prefix{bucket, "valid/"}, InputPrefix: "incoming/", Log: &logs}, srv.Client(csvstream.ClientOptions))
	_, id, err := invoke(h, s3Event(bucket, "incoming/x.csv"), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(logs.String(), "secret-person") || strings.Contains(logs.String(), "unclosed") {
		t.Errorf("row contents in the logs:\n%s", logs.String())
	}
	lines := logs.lines(t)
	if len(lines) != 2 {
		t.Fatalf("%d lines, want a metrics line and a log line:\n%s", len(lines), logs.String())
	}
	metrics, log := lines[0], lines[1]

	aws, _ := metrics["_aws"].(map[string]any)
	directives, _ := aws["CloudWatchMetrics"].([]any)
	if len(directives) != 1 {
		t.Fatalf("metrics line %v has no CloudWatchMetrics directive", metrics)
	}
	d := directives[0].(map[string]any)
	if d["Namespace"] != MetricsNamespace {
		t.Errorf("namespace %v", d["Namespace"])
	}
	if _, ok := aws["Timestamp"].(float64); !ok {
		t.Errorf("no timestamp in %v", aws)
	}
	var names []string
	ms, _ := d["Metrics"].([]any)
	job, _ := log["jobs"].([]any)[0].(map[string]any)
	units := map[string]string{"rows": "Count", "valid": "Count", "rejected": "Count", "bytes_in": "Bytes",
		"bytes_out": "Bytes", "parts": "Count", "retries": "Count", "duration_ms": "Milliseconds"}
	for _, m := range ms {
		name, _ := m.(map[string]any)["Name"].(string)
		names = append(names, name)
		if _, ok := metrics[name].(float64); !ok {
			t.Errorf("metric %s has no numeric value in the line", name)
		}
		if unit := m.(map[string]any)["Unit"]; unit != units[name] {
			t.Errorf("metric %s has unit %v, want %s", name, unit, units[name])
		}
		if v, ok := job[name]; ok && metrics[name] != v {
			t.Errorf("metric %s = %v, but the job's log entry says %v", name, metrics[name], v)
		}
	}
	if in, out := float64(len(data)), float64(len("id,email\n1,secret-person@example.com\n")); metrics["bytes_in"] != in || metrics["bytes_out"] != out {
		t.Errorf("bytes_in %v, bytes_out %v; want %v and %v", metrics["bytes_in"], metrics["bytes_out"], in, out)
	}
	// The README lists these.
	if want := []string{"rows", "valid", "rejected", "bytes_in", "bytes_out", "parts", "retries", "duration_ms"}; !slices.Equal(names, want) {
		t.Errorf("metrics %v, want %v", names, want)
	}
	for _, dims := range d["Dimensions"].([]any) {
		for _, dim := range dims.([]any) {
			if _, ok := metrics[dim.(string)].(string); !ok {
				t.Errorf("dimension %s has no value in the line", dim)
			}
		}
	}
	// The counts of failed jobs, whose output was discarded, are kept
	// apart from the published ones.
	if got := fmt.Sprint(d["Dimensions"]); got != "[[FunctionName outcome]]" {
		t.Errorf("dimensions %s, want [[FunctionName outcome]]", got)
	}
	if metrics["FunctionName"] != "csvstream-test" || metrics["outcome"] != "ok" || metrics["rows"] != 2.0 || metrics["valid"] != 1.0 || metrics["rejected"] != 1.0 {
		t.Errorf("metrics %v", metrics)
	}
	if log["requestId"] != id || log["message"] != "invocation" || log["outcome"] != "ok" || log["shape"] != shapeS3 {
		t.Errorf("log line %v", log)
	}
	if _, ok := log["timestamp"]; !ok {
		t.Errorf("log line has no timestamp: %v", log)
	}
	jobs, _ := log["jobs"].([]any)
	if len(jobs) != 1 || jobs[0].(map[string]any)["rows"] != 2.0 {
		t.Errorf("log jobs %v", log["jobs"])
	}

	// A failed invocation logs at error level with its error type.
	_, _, err = invoke(h, []byte(fmt.Sprintf(`{"bucket":%q,"key":"incoming/none.csv"}`, bucket)), time.Minute)
	if ErrorType(err) != "SourceNotFound" {
		t.Fatalf("error %v", err)
	}
	lines = logs.lines(t)
	last := lines[len(lines)-1]
	if last["level"] != "ERROR" || last["outcome"] != "SourceNotFound" {
		t.Errorf("failure log line %v", last)
	}

	// An invocation no job comes from: its line's error is all that says why.
	_, _, err = invoke(h, []byte(`{"bukket":"b"}`), time.Minute)
	if ErrorType(err) != "InvalidEvent" {
		t.Fatalf("error %v, want an InvalidEvent", err)
	}
	lines = logs.lines(t)
	if last := lines[len(lines)-1]; last["message"] != "invocation" || last["error"] != err.Error() {
		t.Errorf("failed invocation's line %v: want its error %q", last, err)
	}
}

// backlogAPI lists n stale uploads under valid/ and refuses the abort of
// the last one.
type backlogAPI struct {
	csvstream.S3API
	n    int
	deny bool // refuse every abort, as S3 does a role that may not abort
}

func (a *backlogAPI) id(i int) string { return fmt.Sprintf("%04d-%s", i, strings.Repeat("x", 120)) }

func (a *backlogAPI) ListMultipartUploads(_ context.Context, in *s3.ListMultipartUploadsInput, _ ...func(*s3.Options)) (*s3.ListMultipartUploadsOutput, error) {
	old := time.Now().Add(-48 * time.Hour)
	out := &s3.ListMultipartUploadsOutput{IsTruncated: aws.Bool(false)}
	for i := range a.n {
		out.Uploads = append(out.Uploads, types.MultipartUpload{
			Key: aws.String(fmt.Sprintf("valid/orders-%04d.csv", i)), UploadId: aws.String(a.id(i)), Initiated: aws.Time(old),
		})
	}
	return out, nil
}

func (a *backlogAPI) AbortMultipartUpload(_ context.Context, in *s3.AbortMultipartUploadInput, _ ...func(*s3.Options)) (*s3.AbortMultipartUploadOutput, error) {
	if a.deny {
		return nil, errors.New("operation error S3: AbortMultipartUpload, https response error StatusCode: 403, api error AccessDenied: User: arn:aws:sts::123456789012:assumed-role/" +
			strings.Repeat("r", 100) + " is not authorized to perform: s3:AbortMultipartUpload on resource: \"arn:aws:s3:::out/" + aws.ToString(in.Key) +
			"\" because no identity-based policy allows the s3:AbortMultipartUpload action")
	}
	if aws.ToString(in.UploadId) == a.id(a.n-1) {
		return nil, errors.New("connection reset by peer")
	}
	return &s3.AbortMultipartUploadOutput{}, nil
}

// TestLogLinesOfFailedSweep checks that a sweep failing after many aborts
// logs every upload it aborted, over several error lines, each kept short.
func TestLogLinesOfFailedSweep(t *testing.T) {
	var logs syncBuffer
	const n = 2*maxAbortedPerLine + 50
	h := New(Config{Output: Prefix{"out", "valid/"}, Log: &logs}, &backlogAPI{n: n})
	if _, _, err := invoke(h, []byte(`{"sweep":{"prefixes":["s3://out/valid/"]}}`), time.Minute); err == nil {
		t.Fatal("the sweep did not fail")
	}
	var ids []string
	var firsts []any
	for _, l := range logs.lines(t) {
		var aborted []any
		switch l["message"] {
		case "invocation":
			jobs := l["jobs"].([]any)
			aborted, _ = jobs[0].(map[string]any)["aborted"].([]any)
		case "sweep aborted":
			if l["source"] != "s3://out/valid/" || l["requestId"] == nil {
				t.Errorf("log line without the sweep's place and request id: %v", l)
			}
			// Part of a failure's record, unlike the info lines of a
			// sweep that succeeded.
			if l["level"] != "ERROR" {
				t.Errorf("log line of a failed sweep at level %v, want ERROR", l["level"])
			}
			firsts = append(firsts, l["first_upload"])
			aborted, _ = l["aborted"].([]any)
		default:
			continue
		}
		if len(aborted) > maxAbortedPerLine {
			t.Errorf("a line lists %d uploads, more than %d", len(aborted), maxAbortedPerLine)
		}
		for _, u := range aborted {
			ids = append(ids, u.(map[string]any)["upload_id"].(string))
		}
	}
	if want := []any{float64(maxAbortedPerLine + 1), float64(2*maxAbortedPerLine + 1)}; !slices.Equal(firsts, want) {
		t.Errorf("continuation lines start at uploads %v, want %v", firsts, want)
	}
	slices.Sort(ids)
	failed := (&backlogAPI{n: n}).id(n - 1)
	if len(ids) != n-1 || len(slices.Compact(ids)) != n-1 || slices.Contains(ids, failed) {
		t.Errorf("the lines list %d uploads, want each of the %d aborted once", len(ids), n-1)
	}
}

// sweepOfPrefixes is a sweep payload naming n prefixes under s3://out/valid/.
func sweepOfPrefixes(n int) []byte {
	prefixes := make([]string, n)
	for i := range prefixes {
		prefixes[i] = fmt.Sprintf(`"s3://out/valid/p%d/"`, i)
	}
	return []byte(`{"sweep":{"prefixes":[` + strings.Join(prefixes, ",") + `]}}`)
}

// checkLineLengths fails the test for any log line of more than 128 KiB,
// half of what CloudWatch keeps of one event.
func checkLineLengths(t *testing.T, logs *syncBuffer) {
	t.Helper()
	for _, l := range strings.Split(logs.String(), "\n") {
		if len(l) > 128<<10 {
			t.Errorf("a log line of %d bytes: %.200s", len(l), l)
		}
	}
}

// TestLogLinesOfSweepOfManyPrefixes fails a sweep over many prefixes, each
// aborting many uploads: the invocation's line lists no more uploads than
// one line of its own would, and its error spells out only the first
// failed prefixes, so that no line nears CloudWatch's limit.
func TestLogLinesOfSweepOfManyPrefixes(t *testing.T) {
	var logs syncBuffer
	const n = 2*maxAbortedPerLine + 50
	h := New(Config{Output: Prefix{"out", "valid/"}, Log: &logs}, &backlogAPI{n: n})
	_, _, err := invoke(h, sweepOfPrefixes(12), time.Minute)
	if err == nil {
		t.Fatal("the sweep did not fail")
	}
	if msg := err.Error(); strings.Count(msg, "sweep: abort upload") != 3 || !strings.HasSuffix(msg, "(and 9 more places failed: see the log)") {
		t.Errorf("error %q: want the first three failed prefixes and a count of the rest", msg)
	}
	listed, aborted := 0, 0
	for _, l := range logs.lines(t) {
		switch l["message"] {
		case "invocation":
			for _, j := range l["jobs"].([]any) {
				a, _ := j.(map[string]any)["aborted"].([]any)
				listed += len(a)
			}
		case "sweep aborted":
			a, _ := l["aborted"].([]any)
			aborted += len(a)
		}
	}
	if listed != maxAbortedPerLine || listed+aborted != 12*(n-1) {
		t.Errorf("the invocation line lists %d uploads and the others %d; want %d and %d", listed, aborted, maxAbortedPerLine, 12*(n-1)-maxAbortedPerLine)
	}
	checkLineLengths(t, &logs)
}

// TestLogLinesOfDeniedSweepOfManyPrefixes sweeps fifty prefixes with a
// role that may not abort: each prefix's error, which names ten failed
// aborts, goes on a line of its own, and the summary keeps its first.
func TestLogLinesOfDeniedSweepOfManyPrefixes(t *testing.T) {
	var logs syncBuffer
	h := New(Config{Output: Prefix{"out", "valid/"}, Log: &logs}, &backlogAPI{n: 20, deny: true})
	if _, _, err := invoke(h, sweepOfPrefixes(50), time.Minute); err == nil {
		t.Fatal("the sweep did not fail")
	}
	failed := 0
	for _, l := range logs.lines(t) {
		switch l["message"] {
		case "invocation":
			for _, j := range l["jobs"].([]any) {
				if msg, _ := j.(map[string]any)["error"].(string); strings.Contains(msg, "\n") || !strings.HasSuffix(msg, `(and more: see the "sweep failed" line)`) {
					t.Errorf("the summary says of a failed prefix %q", msg)
				}
			}
		case "sweep failed":
			failed++
			if msg, _ := l["error"].(string); strings.Count(msg, "AccessDenied") != 10 || !strings.HasSuffix(msg, "10 more aborts failed") {
				t.Errorf("sweep failed line for %v: %q", l["source"], msg)
			}
		}
	}
	if failed != 50 {
		t.Errorf("%d sweep failed lines, want one for each of the 50 prefixes", failed)
	}
	checkLineLengths(t, &logs)
}

// TestLogLinesOfLargeBatch checks that an SQS batch of more jobs than one
// log line lists is logged in full over several lines, each kept short.
func TestLogLinesOfLargeBatch(t *testing.T) {
	var logs syncBuffer
	h := New(Config{Output: Prefix{"out", "valid/"}, Log: &logs}, nil)
	const n = 2*maxJobsPerLine + 3
	bodies := map[string]string{}
	for i := range n {
		bodies[fmt.Sprintf("m%03d", i)] = "not json"
	}
	res, _, err := invoke(h, sqsEvent(bodies), time.Minute)
	if resp, ok := res.(events.SQSEventResponse); err != nil || !ok || len(resp.BatchItemFailures) != n {
		t.Fatalf("result %#v, error %v; want %d failures", res, err, n)
	}
	var ids []string
	var firsts []any
	for _, l := range logs.lines(t) {
		if l["message"] != "invocation" && l["message"] != "invocation jobs" {
			continue
		}
		if l["outcome"] != "ok" || l["requestId"] == nil {
			t.Errorf("log line without the invocation's outcome and request id: %v", l)
		}
		switch l["message"] {
		case "invocation":
			if l["jobs_total"] != float64(n) {
				t.Errorf("jobs_total %v, want %d", l["jobs_total"], n)
			}
		default:
			firsts = append(firsts, l["first_job"])
		}
		jobs, _ := l["jobs"].([]any)
		if len(jobs) > maxJobsPerLine {
			t.Errorf("a line lists %d jobs, more than %d", len(jobs), maxJobsPerLine)
		}
		for _, j := range jobs {
			ids = append(ids, j.(map[string]any)["message_id"].(string))
		}
	}
	if want := []any{float64(maxJobsPerLine + 1), float64(2*maxJobsPerLine + 1)}; !slices.Equal(firsts, want) {
		t.Errorf("continuation lines start at jobs %v, want %v", firsts, want)
	}
	want := slices.Sorted(maps.Keys(bodies))
	if !slices.Equal(ids, want) {
		t.Errorf("the lines list messages %v, want each of the %d once, in order", ids, n)
	}
}

// TestConcurrentInvokes runs invocations on one Handler at once, as
// AWS_LAMBDA_MAX_CONCURRENCY allows: each must write exactly its own output.
func TestConcurrentInvokes(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.Bucket(t, "conc")
	h := New(Config{Output: Prefix{bucket, "valid/"}, InputPrefix: "incoming/", Log: io.Discard}, srv.Client(csvstream.ClientOptions))
	const n = 8
	wants := make([][]byte, n)
	for i := range n {
		data, _ := orders(t, 100+50*i, int64(10+i))
		wants[i], _, _ = reference(t, data, "", "")
		srv.Put(t, bucket, fmt.Sprintf("incoming/f%d.csv", i), data)
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, errs[i] = invoke(h, s3Event(bucket, fmt.Sprintf("incoming/f%d.csv", i)), time.Minute)
		}()
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Errorf("invocation %d: %v", i, errs[i])
			continue
		}
		if got := srv.Get(t, bucket, fmt.Sprintf("valid/f%d.csv", i)); !bytes.Equal(got, wants[i]) {
			t.Errorf("output %d: %d bytes, want its own %d", i, len(got), len(wants[i]))
		}
	}
	checkNoUploads(t, srv, bucket)
}

// TestSweepInvocation runs a direct sweep: an upload older than the age is
// aborted, and a dry run only lists it.
func TestSweepInvocation(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.Bucket(t, "sweeph")
	client := srv.Client(csvstream.ClientOptions)
	if _, err := client.CreateMultipartUpload(context.Background(), &s3.CreateMultipartUploadInput{Bucket: &bucket, Key: ptr("valid/stale.csv")}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2200 * time.Millisecond) // past the age, with the server's whole-second times
	h := New(Config{Output: Prefix{bucket, "valid/"}, Log: io.Discard, minSweepAge: time.Second}, client)

	res, _, err := invoke(h, []byte(`{"sweep":{"older_than":"1s","dry_run":true}}`), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	rs := res.([]SweepSummary)
	if len(rs) != 2 || len(rs[0].Aborted) != 1 || !rs[0].DryRun || len(srv.Uploads(t, bucket)) != 1 {
		t.Fatalf("dry run %+v", rs)
	}
	res, _, err = invoke(h, []byte(fmt.Sprintf(`{"sweep":{"prefixes":["s3://%s/valid/"],"older_than":"1s"}}`, bucket)), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if rs := res.([]SweepSummary); len(rs) != 1 || len(rs[0].Aborted) != 1 || rs[0].Aborted[0].Key != "valid/stale.csv" {
		t.Fatalf("sweep %+v", rs)
	}
	checkNoUploads(t, srv, bucket)

	for _, bad := range []string{`{"sweep":{"older_than":"soon"}}`, `{"sweep":{"older_than":"0.5s"}}`, `{"sweep":{"prefixes":["bucket/x"]}}`, `{"sweep":{"typo":1}}`} {
		if _, _, err := invoke(h, []byte(bad), time.Minute); ErrorType(err) != "InvalidEvent" {
			t.Errorf("%s: %v, want InvalidEvent", bad, err)
		}
	}

	// A Config built in Go is held to the same minimum age as the
	// environment's.
	young := New(Config{Output: Prefix{bucket, "valid/"}, Log: io.Discard, SweepOlderThan: time.Minute}, client)
	if _, _, err := invoke(young, []byte(`{"sweep":{}}`), time.Minute); ErrorType(err) != "InternalError" || !strings.Contains(err.Error(), "SweepOlderThan") {
		t.Errorf("sweep with Config.SweepOlderThan 1m: %v, want an InternalError naming it", err)
	}
	if _, _, err := invoke(young, []byte(`{"sweep":{"older_than":"1h"}}`), time.Minute); err != nil {
		t.Errorf("sweep with its own age: %v; the configured one is not used", err)
	}
}

// TestSweepPartialFailure fails one abort of two: the invocation fails, and
// its log line still lists the upload that was aborted.
func TestSweepPartialFailure(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.Bucket(t, "sweepp")
	client := srv.Client(csvstream.ClientOptions)
	for _, key := range []string{"valid/a.csv", "valid/b.csv"} {
		if _, err := client.CreateMultipartUpload(context.Background(), &s3.CreateMultipartUploadInput{Bucket: &bucket, Key: &key}); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(2200 * time.Millisecond) // past the age, with the server's whole-second times
	var logs bytes.Buffer
	// The connection drops on every try of one of the two aborts.
	p := faultproxy.New(t, srv.Endpoint)
	p.Inject(faultproxy.Fault{Kind: faultproxy.CutRequest, Times: 100, Match: func(r *http.Request) bool {
		return faultproxy.IsAbortUpload(r) && strings.HasSuffix(r.URL.Path, "/valid/b.csv")
	}})
	h := New(Config{Output: Prefix{bucket, "valid/"}, Log: &logs, minSweepAge: time.Second}, s3test.ClientFor(p.URL, csvstream.ClientOptions))
	_, _, err := invoke(h, []byte(fmt.Sprintf(`{"sweep":{"prefixes":["s3://%s/valid/"],"older_than":"1s"}}`, bucket)), time.Minute)
	if err == nil || !strings.Contains(err.Error(), "valid/b.csv") {
		t.Fatalf("err %v, want one naming the upload that could not be aborted", err)
	}
	if !strings.Contains(logs.String(), `"skipped":"sweep failed: 1 of 2 uploads seen aborted"`) {
		t.Errorf("the log does not say the sweep failed:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), `"aborted":[{"key":"valid/a.csv"`) {
		t.Errorf("the log does not list the upload aborted:\n%s", logs.String())
	}
	if ups := srv.Uploads(t, bucket); len(ups) != 1 || aws.ToString(ups[0].Key) != "valid/b.csv" {
		t.Errorf("uploads left %v, want valid/b.csv alone", ups)
	}
}

// TestDelimiter reads semicolon- and tab-separated sources: the configured
// delimiter applies to every job, and a direct payload may name another.
func TestDelimiter(t *testing.T) {
	srv := s3test.Start(t)
	client := srv.Client(csvstream.ClientOptions)
	in := srv.Bucket(t, "in")
	out := srv.Bucket(t, "out")
	var counts gen.Counts
	for _, f := range []struct {
		key   string
		comma byte
	}{{"incoming/semi.csv", ';'}, {"incoming/tabs.csv", '\t'}} {
		var b bytes.Buffer
		c, err := gen.Orders(&b, gen.Options{Rows: 300, InvalidEvery: 20, Seed: 4, Comma: f.comma})
		if err != nil {
			t.Fatal(err)
		}
		counts = c // the same seed gives the same rows and counts
		srv.Put(t, in, f.key, b.Bytes())
	}
	schema, err := csvstream.ParseSchema([]byte(gen.Schema))
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Output: Prefix{out, "valid/"}, InputPrefix: "incoming/", Schema: schema, Log: io.Discard,
		Scan: csvstream.ScanOptions{Comma: ';'}}
	h := New(cfg, client)
	tests := []struct {
		name, event string
		want        string // error type, or "" for success
	}{
		{"configured", `{"bucket":%q,"key":"incoming/semi.csv"}`, ""},
		{"payload", `{"bucket":%q,"key":"incoming/tabs.csv","delimiter":"tab"}`, ""},
		{"configured, wrong for the file", `{"bucket":%q,"key":"incoming/tabs.csv"}`, "HeaderMismatch"},
		{"payload, invalid", `{"bucket":%q,"key":"incoming/tabs.csv","delimiter":"ab"}`, "InvalidEvent"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, _, err := invoke(h, []byte(fmt.Sprintf(tt.event, in)), time.Minute)
			if tt.want != "" {
				if got := ErrorType(err); got != tt.want {
					t.Fatalf("error %v (%s), want %s", err, got, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			sum := res.(csvstream.Summary)
			if sum.Rows != int64(counts.Rows) || sum.Valid != int64(counts.Valid) || sum.Rejected != int64(counts.Invalid) {
				t.Errorf("summary %+v, want the generated counts %+v", sum, counts)
			}
		})
	}
}

// TestVersionedSource overwrites an object in a versioned bucket. The
// event of its first version, delivered late, reads the latest version, so
// that the output, named after the key, ends up matching the object as it
// is; a direct payload can still ask for the first version.
func TestVersionedSource(t *testing.T) {
	srv := s3test.Start(t)
	client := srv.Client(csvstream.ClientOptions)
	in := srv.Bucket(t, "in")
	out := srv.Bucket(t, "out")
	ctx := context.Background()
	if _, err := client.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{
		Bucket:                  &in,
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled},
	}); err != nil {
		t.Fatal(err)
	}
	put := func(body string) string {
		o, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: &in, Key: ptr("incoming/v.csv"), Body: strings.NewReader(body)})
		if err != nil || aws.ToString(o.VersionId) == "" {
			t.Fatalf("put: version %q, err %v", aws.ToString(o.VersionId), err)
		}
		return *o.VersionId
	}
	const v1, v2 = "id,name\n1,a\n2,b\n", "id,name\n3,c\n"
	first := put(v1)
	put(v2)
	cfg := Config{Output: Prefix{out, "valid/"}, InputPrefix: "incoming/", Log: io.Discard}
	h := New(cfg, client)

	tests := []struct {
		name, event string
		version     string // the summary's source_version
		rows        int64
		output      string
	}{
		{"late event of the first version",
			fmt.Sprintf(`{"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":%q},"object":{"key":"incoming/v.csv","versionId":%q}}}]}`, in, first),
			"", 1, v2},
		{"payload naming the first version",
			fmt.Sprintf(`{"bucket":%q,"key":"incoming/v.csv","version_id":%q}`, in, first),
			first, 2, v1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, _, err := invoke(h, []byte(tt.event), time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			if sum := res.(csvstream.Summary); sum.Rows != tt.rows || sum.SourceVersion != tt.version {
				t.Errorf("summary %+v; want %d rows, source_version %q", sum, tt.rows, tt.version)
			}
			if got := string(srv.Get(t, out, "valid/v.csv")); got != tt.output {
				t.Errorf("output %q, want %q", got, tt.output)
			}
		})
	}

	// A version deleted since is a missing source, and so is a delete
	// marker, which S3 answers with 405; a malformed version, a bad event.
	if _, err := client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &in, Key: ptr("incoming/v.csv"), VersionId: &first}); err != nil {
		t.Fatal(err)
	}
	del, err := client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &in, Key: ptr("incoming/v.csv")})
	if err != nil || aws.ToString(del.VersionId) == "" || !aws.ToBool(del.DeleteMarker) {
		t.Fatalf("delete: %+v, err %v; want a delete marker", del, err)
	}
	for _, tt := range []struct{ version, want string }{
		{first, "SourceNotFound"},
		{*del.VersionId, "SourceNotFound"},
		{"no such version", "InvalidEvent"},
	} {
		event := fmt.Sprintf(`{"bucket":%q,"key":"incoming/v.csv","version_id":%q}`, in, tt.version)
		if _, _, err := invoke(h, []byte(event), time.Minute); ErrorType(err) != tt.want {
			t.Errorf("version %q: %v (%s), want %s", tt.version, err, ErrorType(err), tt.want)
		}
	}
}

// TestEventBridgeOtherDetailTypesSkipped checks that an EventBridge S3
// event other than "Object Created" (a deletion, a restore, a tag change)
// is skipped, not run as a job. So is an "AWS API Call via CloudTrail"
// event, which a rule matching on the source alone delivers and which
// names no object: failing it would have Lambda retry it and then send it
// to the failure queue, as if a file had failed.
func TestEventBridgeOtherDetailTypesSkipped(t *testing.T) {
	for _, dt := range []string{"Object Deleted", "Object Restore Completed", "Object Tags Added"} {
		ev := `{"version":"0","detail-type":"` + dt + `","source":"aws.s3","detail":{"bucket":{"name":"b"},"object":{"key":"incoming/x.csv"}}}`
		o, err := parseEventBridge([]byte(ev))
		if err != nil || o.Skip == "" {
			t.Errorf("%s: %+v, %v; want it skipped", dt, o, err)
		}
	}
	const cloudTrail = `{"version":"0","id":"36eb8523-97d0-4518-b33d-ee3579ff19f0","detail-type":"AWS API Call via CloudTrail",` +
		`"source":"aws.s3","account":"123456789012","time":"2026-11-20T06:00:12Z","region":"us-east-1","resources":[],` +
		`"detail":{"eventVersion":"1.09","eventSource":"s3.amazonaws.com","eventName":"PutBucketPolicy",` +
		`"awsRegion":"us-east-1","requestParameters":{"bucketName":"csvstream-demo-input","policy":""},` +
		`"eventType":"AwsApiCall","managementEvent":true,"eventCategory":"Management"}}`
	h := New(Config{Output: Prefix{"out", "valid/"}, InputPrefix: "incoming/", Log: io.Discard}, nil)
	res, _, err := invoke(h, []byte(cloudTrail), time.Minute)
	if s, ok := res.(Skipped); err != nil || !ok || s.Event != "AWS API Call via CloudTrail" || s.Reason != "not an object creation" {
		t.Errorf("CloudTrail event: result %#v, err %v; want it skipped as not an object creation", res, err)
	}
}

// TestDeadlineMarginCappedAtQuarter checks DefaultDeadlineMargin's doc:
// the margin is capped at a quarter of the time the invocation has.
func TestDeadlineMarginCappedAtQuarter(t *testing.T) {
	h := New(Config{Output: Prefix{"o", "valid/"}, Log: io.Discard}, nil)
	d := time.Now().Add(8 * time.Second)
	ctx, cancel := context.WithDeadline(context.Background(), d)
	defer cancel()
	inv := h.newInvocation(ctx)
	defer inv.cancel()
	dl, _ := inv.jobCtx.Deadline()
	// A margin of 2s: jobs' cleanup ends 1s before the deadline.
	if gap := d.Sub(dl); gap < 900*time.Millisecond || gap > 1100*time.Millisecond {
		t.Errorf("jobs' deadline %v before the invocation's, want about 1s (a 2s margin)", gap)
	}
	if inv.writerMargin < 450*time.Millisecond || inv.writerMargin > 550*time.Millisecond {
		t.Errorf("writer margin %v, want about 500ms", inv.writerMargin)
	}
}

// TestGoneSourceLoggedAsSkipped checks that the log entry of a job whose
// announced object no longer exists says it was skipped.
func TestGoneSourceLoggedAsSkipped(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.Bucket(t, "gonelog")
	h := New(Config{Output: Prefix{bucket, "valid/"}, InputPrefix: "incoming/", Log: io.Discard}, srv.Client(csvstream.ClientOptions))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	inv := h.newInvocation(ctx)
	defer inv.cancel()
	res, err := inv.dispatch(s3Event(bucket, "incoming/gone.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if s, ok := res.(Skipped); !ok || s.Reason != skippedGone {
		t.Fatalf("result %#v", res)
	}
	if len(inv.jobs) != 1 || inv.jobs[0].Skipped != skippedGone {
		t.Errorf("log entries %+v; want one saying %q", inv.jobs, skippedGone)
	}
}

// TestSweepRejectsUnderOutputOnce checks that the rejects prefix is not
// swept on its own when it lies under the output prefix, which the sweep
// of the output covers.
func TestSweepRejectsUnderOutputOnce(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.Bucket(t, "sweeponce")
	h := New(Config{Output: Prefix{bucket, "out/"}, Rejects: Prefix{bucket, "out/rejects/"}, Log: io.Discard, minSweepAge: time.Second}, srv.Client(csvstream.ClientOptions))
	res, _, err := invoke(h, []byte(`{"sweep":{"older_than":"1s","dry_run":true}}`), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if rs := res.([]SweepSummary); len(rs) != 1 || rs[0].Prefix != "out/" {
		t.Fatalf("swept %+v; want only s3://%s/out/", rs, bucket)
	}
}

// changingSchemaAPI makes the first read of one key fail as a schema
// replaced while being read does: its body breaks, and the resumed GET,
// pinned to the first ETag, is refused.
type changingSchemaAPI struct {
	*s3.Client
	key   string
	calls int
}

func (a *changingSchemaAPI) GetObject(ctx context.Context, in *s3.GetObjectInput, opts ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	if *in.Key != a.key || a.calls >= 2 {
		return a.Client.GetObject(ctx, in, opts...)
	}
	a.calls++
	if a.calls == 2 {
		return nil, &smithy.GenericAPIError{Code: "PreconditionFailed", Message: "replaced"}
	}
	out, err := a.Client.GetObject(ctx, in, opts...)
	if err == nil {
		out.Body = brokenBody{io.LimitReader(out.Body, 10), out.Body}
	}
	return out, err
}

// brokenBody gives r's bytes, then a connection reset.
type brokenBody struct {
	r io.Reader
	c io.Closer
}

func (b brokenBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err == io.EOF {
		err = errors.New("connection reset by peer")
	}
	return n, err
}

func (b brokenBody) Close() error { return b.c.Close() }

// TestSweepAtExactlyMinAge checks that a Config's SweepOlderThan equal to
// the minimum age is accepted, as CSVSTREAM_SWEEP_OLDER_THAN is.
func TestSweepAtExactlyMinAge(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.Bucket(t, "sweepmin")
	h := New(Config{Output: Prefix{bucket, "out/"}, Log: io.Discard, minSweepAge: time.Second, SweepOlderThan: time.Second}, srv.Client(csvstream.ClientOptions))
	if _, _, err := invoke(h, []byte(`{"sweep":{"dry_run":true}}`), time.Minute); err != nil {
		t.Fatalf("sweep with SweepOlderThan at the minimum: %v", err)
	}
}

// placesAPI lists one stale upload under every place it is asked to sweep,
// and notes the places.
type placesAPI struct {
	csvstream.S3API
	deny  bool // refuse every abort with 403 AccessDenied
	stall bool // a listing waits for its context to end, 5 s at most
	// denyUnder, when set, refuses so only the aborts of keys under it.
	denyUnder string
	// uploads is how many stale uploads a listing returns (1 when 0), each
	// under a key of 1,024 bytes of control characters, the longest JSON
	// a key can take, when there are more than one.
	uploads int
	mu      sync.Mutex
	swept   []string
}

// s3Error is an error answer from S3, such as AccessDenied for a request
// the role may not make.
type s3Error struct {
	code, message string
	status        int
}

func (e s3Error) Error() string       { return "api error " + e.code + ": " + e.message }
func (e s3Error) ErrorCode() string   { return e.code }
func (e s3Error) HTTPStatusCode() int { return e.status }

var (
	errAccessDenied = s3Error{"AccessDenied", "Access Denied", http.StatusForbidden}
	errNoSuchKey    = s3Error{"NoSuchKey", "The specified key does not exist.", http.StatusNotFound}
)

func (a *placesAPI) ListMultipartUploads(ctx context.Context, in *s3.ListMultipartUploadsInput, _ ...func(*s3.Options)) (*s3.ListMultipartUploadsOutput, error) {
	a.mu.Lock()
	a.swept = append(a.swept, "s3://"+aws.ToString(in.Bucket)+"/"+aws.ToString(in.Prefix))
	a.mu.Unlock()
	if a.stall {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("operation error S3: ListMultipartUploads: %w", ctx.Err())
		case <-time.After(5 * time.Second):
			return nil, errors.New("operation error S3: ListMultipartUploads: stalled for 5 s")
		}
	}
	if a.uploads <= 1 {
		return &s3.ListMultipartUploadsOutput{Uploads: []types.MultipartUpload{{
			Key: aws.String(aws.ToString(in.Prefix) + "stale.csv"), UploadId: aws.String("u1"), Initiated: aws.Time(time.Now().Add(-48 * time.Hour)),
		}}}, nil
	}
	out := &s3.ListMultipartUploadsOutput{}
	for i := range a.uploads {
		n := fmt.Sprintf("%06d.csv", i)
		key := aws.ToString(in.Prefix) + strings.Repeat("\x01", 1024-len(aws.ToString(in.Prefix))-len(n)) + n
		out.Uploads = append(out.Uploads, types.MultipartUpload{
			Key: &key, UploadId: aws.String(strings.Repeat("u", 120) + n), Initiated: aws.Time(time.Now().Add(-48 * time.Hour)),
		})
	}
	return out, nil
}

func (a *placesAPI) AbortMultipartUpload(_ context.Context, in *s3.AbortMultipartUploadInput, _ ...func(*s3.Options)) (*s3.AbortMultipartUploadOutput, error) {
	if a.deny || a.denyUnder != "" && strings.HasPrefix(aws.ToString(in.Key), a.denyUnder) {
		return nil, errAccessDenied
	}
	return &s3.AbortMultipartUploadOutput{}, nil
}

// TestSweepDefaultPlaces checks which places a sweep that names none
// sweeps: the output prefix, and the rejects prefix unless it lies under
// the output prefix in the same bucket; and that each place's summary
// entry says what was done, or, in a dry run, what would be.
func TestSweepDefaultPlaces(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		dryRun  bool
		swept   []string
		skipped string
	}{
		{"rejects beside the output", Config{Output: Prefix{"b", "valid/"}}, false,
			[]string{"s3://b/valid/", "s3://b/rejects/"}, "sweep: 1 of 1 uploads seen aborted"},
		{"rejects under the output", Config{Output: Prefix{"b", "data/"}, Rejects: Prefix{"b", "data/rejects/"}}, true,
			[]string{"s3://b/data/"}, "sweep (dry run): 1 of 1 uploads seen would be aborted"},
		{"the whole output bucket", Config{Output: Prefix{"b", ""}}, false,
			[]string{"s3://b/"}, "sweep: 1 of 1 uploads seen aborted"},
		{"output under the rejects", Config{Output: Prefix{"b", "data/valid/"}, Rejects: Prefix{"b", "data/"}}, true,
			[]string{"s3://b/data/"}, "sweep (dry run): 1 of 1 uploads seen would be aborted"},
		{"rejects under the same prefix of another bucket", Config{Output: Prefix{"out", "data/"}, Rejects: Prefix{"rej", "data/rejects/"}}, true,
			[]string{"s3://out/data/", "s3://rej/data/rejects/"}, "sweep (dry run): 1 of 1 uploads seen would be aborted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs syncBuffer
			tt.cfg.Log = &logs
			api := &placesAPI{}
			res, _, err := invoke(New(tt.cfg, api), []byte(fmt.Sprintf(`{"sweep":{"dry_run":%v}}`, tt.dryRun)), time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(api.swept, tt.swept) {
				t.Errorf("swept %v, want %v", api.swept, tt.swept)
			}
			var places []string
			for _, r := range res.([]SweepSummary) {
				places = append(places, "s3://"+r.Bucket+"/"+r.Prefix)
				if r.DryRun != tt.dryRun || len(r.Aborted) != 1 {
					t.Errorf("result %+v, want one upload aborted, dry run %v", r, tt.dryRun)
				}
			}
			if !slices.Equal(places, tt.swept) {
				t.Errorf("results for %v, want %v", places, tt.swept)
			}
			for _, l := range logs.lines(t) {
				if l["message"] != "invocation" {
					continue
				}
				jobs, _ := l["jobs"].([]any)
				if len(jobs) != len(tt.swept) {
					t.Fatalf("the summary lists %d places, want %d: %v", len(jobs), len(tt.swept), l)
				}
				for _, j := range jobs {
					if got := j.(map[string]any)["skipped"]; got != tt.skipped {
						t.Errorf("the summary says %q of %v, want %q", got, j.(map[string]any)["source"], tt.skipped)
					}
				}
			}
		})
	}
}

// TestSweepResponseSize checks that a sweep of a large backlog answers
// within Lambda's 6 MB limit on a response, which listing every upload
// would pass: it lists the first maxAbortedListed uploads aborted over all
// its places, counts every one, and logs the rest.
func TestSweepResponseSize(t *testing.T) {
	const each = 600
	var logs syncBuffer
	api := &placesAPI{uploads: each}
	h := New(Config{Output: Prefix{"out", "valid/"}, Rejects: Prefix{"rej", "rejects/"}, Log: &logs}, api)
	res, _, err := invoke(h, []byte(`{"sweep":{}}`), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	rs, ok := res.([]SweepSummary)
	if !ok || len(rs) != 2 {
		t.Fatalf("result %T %+v, want two places", res, res)
	}
	for i, want := range []int{500, 0} { // README: "at most 500 over the whole response"
		r := rs[i]
		if r.AbortedCount != each || len(r.Aborted) != want || r.Seen != r.AbortedCount+r.Kept+r.Failed {
			t.Errorf("place %d: aborted_count %d, %d listed, seen %d, want %d, %d listed and seen = aborted_count + kept + failed", i, r.AbortedCount, len(r.Aborted), r.Seen, each, want)
		}
	}
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > 6<<20 || !bytes.Contains(b, []byte(fmt.Sprintf(`"aborted_count":%d`, each))) {
		t.Errorf("the response as Lambda sends it is %d bytes (limit %d), with aborted_count: %v", len(b), 6<<20, bytes.Contains(b, []byte(`"aborted_count"`)))
	}
	// The uploads left out of the response are on info lines of the log,
	// in order from the first one left out.
	logged := map[string][]string{}
	for _, l := range logs.lines(t) {
		if l["message"] != "sweep aborted" {
			continue
		}
		if l["level"] != "INFO" {
			t.Errorf("log line %v, want level INFO", l)
		}
		src := l["source"].(string)
		for _, u := range l["aborted"].([]any) {
			logged[src] = append(logged[src], u.(map[string]any)["key"].(string))
		}
	}
	for _, r := range rs {
		src := "s3://" + r.Bucket + "/" + r.Prefix
		keys := logged[src]
		if len(r.Aborted)+len(keys) != each {
			t.Errorf("%s: %d uploads in the response and %d in the log, want %d in all", src, len(r.Aborted), len(keys), each)
			continue
		}
		for i, k := range keys {
			if want := fmt.Sprintf("%06d.csv", len(r.Aborted)+i); !strings.HasSuffix(k, want) {
				t.Fatalf("%s: the log's upload %d is %q, want the one ending %q", src, i, k, want)
			}
		}
	}
}

// TestLogLinesOfPartlyFailedSweep fails a sweep in one of its two places,
// after the other has aborted more uploads than a response lists: the
// error returned loses the results, so the log lists every upload the
// sweep did abort, over all its places (README: "a failed sweep lists the
// uploads it did abort 100 to a line, over all its prefixes"), each once,
// on error lines.
func TestLogLinesOfPartlyFailedSweep(t *testing.T) {
	const each = 600
	var logs syncBuffer
	api := &placesAPI{uploads: each, denyUnder: "rejects/"}
	h := New(Config{Output: Prefix{"out", "valid/"}, Rejects: Prefix{"rej", "rejects/"}, Log: &logs}, api)
	if _, _, err := invoke(h, []byte(`{"sweep":{}}`), time.Minute); ErrorType(err) != "AccessDenied" {
		t.Fatalf("sweep: %v, want AccessDenied, the rejects' place failing", err)
	}
	logged := map[string]int{}
	note := func(aborted []any) {
		for _, u := range aborted {
			logged[u.(map[string]any)["key"].(string)]++
		}
	}
	for _, l := range logs.lines(t) {
		switch l["message"] {
		case "invocation":
			for _, j := range l["jobs"].([]any) {
				a, _ := j.(map[string]any)["aborted"].([]any)
				note(a)
			}
		case "sweep aborted":
			if l["level"] != "ERROR" {
				t.Errorf("log line of a failed sweep at level %v, want ERROR", l["level"])
			}
			a, _ := l["aborted"].([]any)
			note(a)
		}
	}
	for i := range each {
		n := fmt.Sprintf("%06d.csv", i)
		key := "valid/" + strings.Repeat("\x01", 1024-len("valid/")-len(n)) + n
		if logged[key] != 1 {
			t.Fatalf("the upload of valid/…%s, aborted, is on %d log lines, want 1 (%d uploads logged in all)", n, logged[key], len(logged))
		}
	}
	if len(logged) != each {
		t.Errorf("the log lists %d uploads, want the %d aborted", len(logged), each)
	}
}

// TestSweepErrorTypes checks the error type a failed sweep reports: an
// abort S3 refuses is AccessDenied, and a listing that does not answer
// before the invocation's time is up is a Timeout, reported before the
// deadline, not when the request gives up.
func TestSweepErrorTypes(t *testing.T) {
	tests := []struct {
		name    string
		api     *placesAPI
		timeout time.Duration
		want    string
	}{
		{"aborts refused", &placesAPI{deny: true}, time.Minute, "AccessDenied"},
		{"a listing unanswered", &placesAPI{stall: true}, 2 * time.Second, "Timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := New(Config{Output: Prefix{"b", "valid/"}, Log: io.Discard}, tt.api)
			start := time.Now()
			_, _, err := invoke(h, []byte(`{"sweep":{"prefixes":["s3://b/valid/"]}}`), tt.timeout)
			if ErrorType(err) != tt.want {
				t.Errorf("error %v (%s), want %s", err, ErrorType(err), tt.want)
			}
			if took := time.Since(start); took >= tt.timeout {
				t.Errorf("the sweep returned after %v, past the invocation's %v", took, tt.timeout)
			}
		})
	}
}

// TestSweepErrorsCountPlaces checks that a sweep's error spells out the
// first three failed places and counts any more, however few.
func TestSweepErrorsCountPlaces(t *testing.T) {
	for _, tt := range []struct {
		places int
		want   string
	}{
		{1, "p1 failed"},
		{3, "p1 failed\np2 failed\np3 failed"},
		{4, "p1 failed\np2 failed\np3 failed\n(and 1 more places failed: see the log)"},
		{12, "p1 failed\np2 failed\np3 failed\n(and 9 more places failed: see the log)"},
	} {
		var errs sweepErrors
		for i := range tt.places {
			errs = append(errs, fmt.Errorf("p%d failed", i+1))
		}
		if got := errs.Error(); got != tt.want {
			t.Errorf("%d failed places: error %q, want %q", tt.places, got, tt.want)
		}
	}
}

// TestFailureNamesObjectOnce checks that a handler error whose cause
// already names the object does not name it twice.
func TestFailureNamesObjectOnce(t *testing.T) {
	err := classify(errors.New("get s3://b/k: source read failed: boom"), "s3://b/k", false)
	if got := err.Error(); strings.Count(got, "s3://b/k") != 1 {
		t.Errorf("message %q names the object more than once", got)
	}
}

// listDeniedAPI refuses every listing with a one-line error.
type listDeniedAPI struct{ csvstream.S3API }

func (listDeniedAPI) ListMultipartUploads(context.Context, *s3.ListMultipartUploadsInput, ...func(*s3.Options)) (*s3.ListMultipartUploadsOutput, error) {
	return nil, errors.New("api error AccessDenied: not allowed to list")
}

// TestOneLineSweepErrorKeptWhole checks that a failed sweep whose error is
// one line is logged on the summary alone, whole, with no "sweep failed"
// line and no pointer to one.
func TestOneLineSweepErrorKeptWhole(t *testing.T) {
	var logs syncBuffer
	h := New(Config{Output: Prefix{"out", "valid/"}, Log: &logs}, listDeniedAPI{})
	if _, _, err := invoke(h, []byte(`{"sweep":{"prefixes":["s3://out/valid/"]}}`), time.Minute); err == nil {
		t.Fatal("the sweep did not fail")
	}
	for _, l := range logs.lines(t) {
		if l["message"] == "sweep failed" {
			t.Errorf("a sweep failed line for a one-line error: %v", l)
		}
		if l["message"] != "invocation" {
			continue
		}
		msg, _ := l["jobs"].([]any)[0].(map[string]any)["error"].(string)
		if !strings.Contains(msg, "not allowed to list") || strings.Contains(msg, "and more") {
			t.Errorf("summary's error %q: want the one line whole, with no pointer to more", msg)
		}
	}
}

// TestSeveralRecordsOfEveryCreation runs a real-shaped S3 event whose
// records are a multipart upload, a copy, a browser POST and a deletion:
// every ObjectCreated record is a job, whatever request created the
// object, and its key is URL-decoded ("+" a space, %2B a plus sign,
// UTF-8 escapes), while the deletion is skipped.
func TestSeveralRecordsOfEveryCreation(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.Bucket(t, "creations")
	data, _ := orders(t, 60, 5)
	out, rej, ref := reference(t, data, "", "")
	keys := []string{"big export 2026+01.csv", "café 日本.csv", "a&b=c (final).csv"}
	for _, k := range keys {
		srv.Put(t, bucket, "incoming/"+k, data)
	}
	raw, err := os.ReadFile(filepath.Join("testdata", "s3-several-records.json"))
	if err != nil {
		t.Fatal(err)
	}
	event := bytes.ReplaceAll(raw, []byte("BUCKET"), []byte(bucket))
	h := New(Config{Output: Prefix{bucket, "valid/"}, InputPrefix: "incoming/", Log: io.Discard}, srv.Client(csvstream.ClientOptions))
	res, _, err := invoke(h, event, time.Minute)
	if err != nil {
		t.Fatalf("invoke: %s: %v", ErrorType(err), err)
	}
	list, ok := res.([]any)
	if !ok || len(list) != 4 {
		t.Fatalf("result %#v, want a list of 4", res)
	}
	for i, k := range keys {
		sum := checkSummary(t, srv, list[i], ref, out, rej)
		if want := "s3://" + bucket + "/valid/" + k; sum.Destination != want {
			t.Errorf("record %d: destination %s, want %s", i, sum.Destination, want)
		}
	}
	if s, ok := list[3].(Skipped); !ok || s.Event != "ObjectRemoved:DeleteMarkerCreated" || s.Source != "s3://"+bucket+"/incoming/old.csv" {
		t.Errorf("deletion: %#v, want it skipped", list[3])
	}
	checkNoUploads(t, srv, bucket)
}

// TestEventsMissingBucketOrKey checks that an event naming no bucket or no
// key is refused, saying what is missing, rather than run as a job on an
// empty name.
func TestEventsMissingBucketOrKey(t *testing.T) {
	tests := []struct{ event, want string }{
		{`{"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"size":1}}}]}`, "s3.object.key"},
		{`{"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{},"object":{"key":"incoming/x.csv"}}}]}`, "s3.bucket.name"},
		{`{"source":"aws.s3","detail-type":"Object Created","detail":{"bucket":{"name":"b"},"object":{}}}`, "detail.object.key"},
		{`{"source":"aws.s3","detail-type":"Object Created","detail":{"bucket":{},"object":{"key":"incoming/x.csv"}}}`, "detail.bucket.name"},
		{`{"key":"incoming/x.csv"}`, `"bucket" and "key" are both required`},
		{`{"bucket":"b"}`, `"bucket" and "key" are both required`},
	}
	parse := map[string]func([]byte) error{
		shapeS3:          probeS3,
		shapeEventBridge: func(b []byte) error { _, err := parseEventBridge(b); return err },
		shapeDirect:      probeDirect,
	}
	for _, tt := range tests {
		shape, body, err := shapeOf([]byte(tt.event))
		if err != nil {
			t.Fatalf("%s: %v", tt.event, err)
		}
		if err := parse[shape](body); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want an error naming %s", tt.event, err, tt.want)
		}
	}
}

// TestMalformedEventsAreInvalidEvents checks that an event of a known
// shape that cannot be decoded, or names no object, fails as an
// InvalidEvent, which Step Functions rules and alarms tell from the
// function's own failures, and says what is wrong.
func TestMalformedEventsAreInvalidEvents(t *testing.T) {
	tests := []struct{ name, event, want string }{
		{"S3 record without a key", `{"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"size":1}}}]}`,
			"S3 event notification: record 0 has no s3.bucket.name or s3.object.key"},
		{"S3 key with a bad escape", `{"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":"bad%zz"}}}]}`,
			`S3 event notification: record 0: s3.object.key "bad%zz" is not URL-encoded as S3 sends keys (%25 for %, %2B for +, + for a space): invalid URL escape "%zz"`},
		{"EventBridge object without a key", `{"source":"aws.s3","detail-type":"Object Created","detail":{"bucket":{"name":"b"},"object":{}}}`,
			"EventBridge event: no detail.bucket.name or detail.object.key"},
		{"EventBridge detail not an object", `{"source":"aws.s3","detail-type":"Object Created","detail":[]}`,
			"EventBridge event detail: the event is a JSON array, want an object"},
		{"SQS body not a string", `{"Records":[{"eventSource":"aws:sqs","messageId":"m1","body":5}]}`,
			`SQS event: "Records.body" is a JSON number, want a string`},
	}
	h := New(Config{Output: Prefix{"out", "valid/"}, InputPrefix: "incoming/", Log: io.Discard}, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, _, err := invoke(h, []byte(tt.event), time.Minute)
			if ErrorType(err) != "InvalidEvent" || err.Error() != tt.want {
				t.Errorf("result %#v, err %v (%s); want an InvalidEvent saying %s", res, err, ErrorType(err), tt.want)
			}
		})
	}
}

// TestLongEventValuesKeepMessagesShort sends events whose names are far
// longer than any S3 name: each fails as an InvalidEvent whose message
// quotes the value cut short, so that neither the error (a Step Functions
// error's cause) nor a log line grows with it.
func TestLongEventValuesKeepMessagesShort(t *testing.T) {
	big := strings.Repeat("k", 300<<10)
	s3Record := func(source, key string) string {
		return `{"Records":[{"eventSource":"` + source + `","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":"` + key + `"}}}]}`
	}
	tests := []struct{ name, event, want string }{
		{"direct key", `{"bucket":"b","key":"incoming/` + big + `"}`, `direct payload: "key" is 307209 bytes long ("incoming/kkk`},
		{"direct folder key", `{"bucket":"b","key":"incoming/` + big + `/"}`, `direct payload: "key" is 307210 bytes long`},
		{"direct destination", `{"bucket":"b","key":"incoming/x.csv","destination":"s3://o/` + big + `"}`, `direct payload: "destination" is 307207 bytes long`},
		{"direct format", `{"bucket":"b","key":"incoming/x.csv","format":"` + big + `"}`, `direct payload: "format" is 307200 bytes long`},
		{"direct version", `{"bucket":"b","key":"incoming/x.csv","version_id":"` + big + `"}`, `direct payload: "version_id" is 307200 bytes long`},
		{"unknown field", `{"bucket":"b","key":"incoming/x.csv","` + big + `":1}`, `direct payload: unknown field "kkk`},
		{"S3 key", s3Record("aws:s3", "incoming/"+big), `S3 event notification: record 0: s3.object.key is 307209 bytes long ("incoming/kkk`},
		{"S3 key with a bad escape", s3Record("aws:s3", "%zz"+big), `S3 event notification: record 0: s3.object.key "%zz`},
		{"event source", s3Record(big, "incoming/x.csv"), `records with eventSource "kkk`},
		{"EventBridge key", `{"source":"aws.s3","detail-type":"Object Created","detail":{"bucket":{"name":"b"},"object":{"key":"` + big + `"}}}`,
			`EventBridge event: detail.object.key is 307200 bytes long`},
		{"sweep prefix", `{"sweep":{"prefixes":["s3://b/` + big + `"]}}`, `sweep payload: "prefixes"[0] is 307207 bytes long`},
		{"sweep age", `{"sweep":{"older_than":"` + big + `"}}`, `older than "kkk`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			h := New(Config{Output: Prefix{"out", "valid/"}, InputPrefix: "incoming/", Log: &logs}, listDeniedAPI{})
			_, _, err := invoke(h, []byte(tt.event), time.Minute)
			if ErrorType(err) != "InvalidEvent" || !strings.Contains(err.Error(), tt.want) || len(err.Error()) > 1<<10 {
				t.Errorf("%s error of %d bytes: %.300s; want an InvalidEvent under 1 KiB saying %s", ErrorType(err), len(err.Error()), err, tt.want)
			}
			for _, l := range bytes.Split(logs.Bytes(), []byte("\n")) {
				if len(l) > 2<<10 {
					t.Errorf("a log line of %d bytes: %.300s", len(l), l)
				}
			}
		})
	}
}

// TestLongSQSMessageIDKeepsLogLinesShort: a hand-built SQS batch whose
// message id is 300 KB long is named cut short in the invocation's log
// line, and echoed whole in batchItemFailures, which SQS matches exactly.
func TestLongSQSMessageIDKeepsLogLinesShort(t *testing.T) {
	id := strings.Repeat("m", 300<<10)
	tests := []struct {
		name, body string
		timeout    time.Duration
		failed     bool
	}{
		{"bad body", `not json`, time.Minute, true},
		{"test event", `{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2026-11-20T06:00:12.500Z","Bucket":"b"}`, time.Minute, false},
		{"object gone", string(s3Event("b", "incoming/x.csv")), time.Minute, false},
		// The deadline has passed: the message is not started.
		{"out of time", string(s3Event("b", "incoming/x.csv")), -1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			event, err := json.Marshal(events.SQSEvent{Records: []events.SQSMessage{{MessageId: id, EventSource: "aws:sqs", Body: tt.body}}})
			if err != nil {
				t.Fatal(err)
			}
			var logs bytes.Buffer
			h := New(Config{Output: Prefix{"out", "valid/"}, InputPrefix: "incoming/", Log: &logs}, &recordingAPI{})
			res, _, err := invoke(h, event, tt.timeout)
			if err != nil {
				t.Fatalf("invoke: %v", err)
			}
			if !bytes.Contains(logs.Bytes(), []byte(`"message_id":"mmm`)) {
				t.Errorf("no log line names the message: %.300s", logs.Bytes())
			}
			for _, l := range bytes.Split(logs.Bytes(), []byte("\n")) {
				if len(l) > 2<<10 {
					t.Errorf("a log line of %d bytes: %.300s", len(l), l)
				}
			}
			resp := res.(events.SQSEventResponse)
			if tt.failed && (len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != id) {
				t.Errorf("batchItemFailures hold %d items; want the one message, named whole", len(resp.BatchItemFailures))
			}
		})
	}
}

// TestSNSInvocationRefused checks that an SNS event sent to the function
// directly fails as an InvalidEvent, as documented, rather than being
// taken for an SQS batch and reported as a successful invocation.
func TestSNSInvocationRefused(t *testing.T) {
	const sns = `{"Records":[{"EventSource":"aws:sns","EventVersion":"1.0",` +
		`"EventSubscriptionArn":"arn:aws:sns:us-east-1:123456789012:csvstream:2bcfbf39-05c3-41de-beaa-fcfcc21c8f55",` +
		`"Sns":{"Type":"Notification","MessageId":"95df01b4-ee98-5cb9-9903-4c221d41eb5e",` +
		`"TopicArn":"arn:aws:sns:us-east-1:123456789012:csvstream","Subject":"Amazon S3 Notification",` +
		`"Message":"{\"Records\":[{\"eventSource\":\"aws:s3\",\"eventName\":\"ObjectCreated:Put\",\"s3\":{\"bucket\":{\"name\":\"b\"},\"object\":{\"key\":\"incoming/x.csv\"}}}]}",` +
		`"Timestamp":"2026-11-20T06:00:12.500Z"}}]}`
	h := New(Config{Output: Prefix{"out", "valid/"}, InputPrefix: "incoming/", Log: io.Discard}, nil)
	res, _, err := invoke(h, []byte(sns), time.Minute)
	if ErrorType(err) != "InvalidEvent" || !strings.Contains(err.Error(), "aws:sns") {
		t.Errorf("SNS event: result %#v, err %v; want an InvalidEvent naming aws:sns", res, err)
	}
}

// TestPayloadSchemaMustBeS3 checks the README's "A payload's schema must
// be an s3:// object": a local path would have the function read a file
// of its own file system.
func TestPayloadSchemaMustBeS3(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.Bucket(t, "localschema")
	data, _ := orders(t, 30, 6)
	srv.Put(t, bucket, "incoming/x.csv", data)
	local := filepath.Join(t.TempDir(), "orders.schema.json")
	if err := os.WriteFile(local, []byte(gen.Schema), 0o644); err != nil {
		t.Fatal(err)
	}
	client := srv.Client(csvstream.ClientOptions)
	h := New(Config{Output: Prefix{bucket, "valid/"}, InputPrefix: "incoming/", Log: io.Discard}, client)
	event := fmt.Sprintf(`{"bucket":%q,"key":"incoming/x.csv","schema":%q}`, bucket, local)
	res, _, err := invoke(h, []byte(event), time.Minute)
	if ErrorType(err) != "InvalidEvent" || !strings.Contains(err.Error(), `"schema"`) {
		t.Errorf("schema %s: result %#v, err %v; want an InvalidEvent naming the schema", local, res, err)
	}
	if _, err := client.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: &bucket, Key: ptr("valid/x.csv")}); err == nil {
		t.Errorf("the job ran with a schema read from the function's own file system")
	}
}

// TestEventBridgeSkipsGoneAndFolders checks that an EventBridge "Object
// Created" event is skipped, as an S3 notification's record is, when its
// object was deleted before the job read it or is a folder marker (README:
// "A deleted object is skipped only when an event announced it").
func TestEventBridgeSkipsGoneAndFolders(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.Bucket(t, "ebskip")
	h := New(Config{Output: Prefix{bucket, "valid/"}, InputPrefix: "incoming/", Log: io.Discard}, srv.Client(csvstream.ClientOptions))
	for _, tt := range []struct{ key, reason string }{
		{"incoming/gone.csv", skippedGone},
		{"incoming/sub/", "folder marker"},
	} {
		ev := fmt.Sprintf(`{"version":"0","id":"17793124-05d4-b198-2fde-7ededc63b103","detail-type":"Object Created",`+
			`"source":"aws.s3","account":"123456789012","time":"2026-11-20T06:00:12Z","region":"us-east-1",`+
			`"resources":["arn:aws:s3:::%s"],"detail":{"version":"0","bucket":{"name":%q},`+
			`"object":{"key":%q,"size":0,"etag":"d41d8cd98f00b204e9800998ecf8427e"},"reason":"PutObject"}}`, bucket, bucket, tt.key)
		res, _, err := invoke(h, []byte(ev), time.Minute)
		if s, ok := res.(Skipped); err != nil || !ok || s.Reason != tt.reason || s.Event != "Object Created" || s.Source != "s3://"+bucket+"/"+tt.key {
			t.Errorf("%s: result %#v, err %v; want it skipped: %s", tt.key, res, err, tt.reason)
		}
	}
	checkNoUploads(t, srv, bucket)
}

// TestJobLogEntriesNameTheirObjects checks the invocation's log line: each
// job of an SQS batch carries its message id, a skipped record is listed,
// a job refused before it ran names its source and destination (and its
// metrics line its source), a failed sweep's entry names its prefix, and a
// job that failed before it ran reports the time it took.
func TestJobLogEntriesNameTheirObjects(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.Bucket(t, "joblog")
	data, _ := orders(t, 30, 7)
	srv.Put(t, bucket, "incoming/a.csv", data)
	cfg := Config{Output: Prefix{bucket, "valid/"}, InputPrefix: "incoming/"}
	// run invokes a fresh Handler and returns its metrics lines and the
	// jobs of its invocation line.
	run := func(api csvstream.S3API, event []byte) (metrics, jobs []map[string]any) {
		t.Helper()
		var logs syncBuffer
		c := cfg
		c.Log = &logs
		invoke(New(c, api), event, time.Minute)
		for _, l := range logs.lines(t) {
			if _, ok := l["_aws"]; ok {
				metrics = append(metrics, l)
			}
			if l["message"] == "invocation" {
				for _, j := range l["jobs"].([]any) {
					jobs = append(jobs, j.(map[string]any))
				}
			}
		}
		return metrics, jobs
	}
	client := srv.Client(csvstream.ClientOptions)
	src := "s3://" + bucket + "/incoming/a.csv"

	_, jobs := run(client, sqsEvent(map[string]string{"m1": string(s3Event(bucket, "incoming/a.csv"))}))
	if len(jobs) != 1 || jobs[0]["message_id"] != "m1" || jobs[0]["source"] != src {
		t.Errorf("SQS job log %v; want it to carry message id m1 and its source", jobs)
	}

	del := bytes.Replace(s3Event(bucket, "incoming/a.csv"), []byte("ObjectCreated:Put"), []byte("ObjectRemoved:Delete"), 1)
	if _, jobs := run(client, del); len(jobs) != 1 || jobs[0]["skipped"] != "not an object creation" || jobs[0]["source"] != src {
		t.Errorf("deletion's log %v; want it listed as skipped", jobs)
	}

	risky := fmt.Sprintf(`{"bucket":%q,"key":"incoming/a.csv","destination":"s3://%s/incoming/out/"}`, bucket, bucket)
	metrics, jobs := run(client, []byte(risky))
	if len(jobs) != 1 || jobs[0]["error_type"] != "RecursionRisk" || jobs[0]["source"] != src ||
		jobs[0]["destination"] != "s3://"+bucket+"/incoming/out/a.csv" {
		t.Errorf("refused job's log %v; want its source and destination named", jobs)
	}
	if len(metrics) != 1 || metrics[0]["source"] != src || metrics[0]["outcome"] != "RecursionRisk" {
		t.Errorf("refused job's metrics %v; want its source named", metrics)
	}

	if _, jobs := run(listDeniedAPI{}, []byte(`{"sweep":{"prefixes":["s3://out/valid/"]}}`)); len(jobs) != 1 || jobs[0]["source"] != "s3://out/valid/" ||
		jobs[0]["error_type"] != "InternalError" {
		t.Errorf("failed sweep's log %v; want its prefix named, with its error type", jobs)
	}

	// A job that fails before csvstream.Run, on a schema that is slow to
	// read and invalid, reports the time it took, not 0.
	srv.Put(t, bucket, "schemas/bad.json", append([]byte(`{"fields": 1}`), bytes.Repeat([]byte(" "), 1000)...))
	p := faultproxy.New(t, srv.Endpoint)
	p.Inject(faultproxy.Fault{Kind: faultproxy.SlowResponse, Rate: 2000, Match: faultproxy.IsGet("schemas/bad.json")})
	slow := fmt.Sprintf(`{"bucket":%q,"key":"incoming/a.csv","schema":"s3://%s/schemas/bad.json"}`, bucket, bucket)
	metrics, jobs = run(s3test.ClientFor(p.URL, csvstream.ClientOptions), []byte(slow))
	if len(jobs) != 1 || jobs[0]["error_type"] != "SchemaError" || jobs[0]["duration_ms"].(float64) < 300 {
		t.Errorf("slow schema's job log %v; want a SchemaError taking about 500 ms", jobs)
	}
	// Its outputs were named before the schema was read: the entry says
	// where the rows would have gone.
	if len(jobs) == 1 && jobs[0]["destination"] != "s3://"+bucket+"/valid/a.csv" {
		t.Errorf("slow schema's job log %v; want its destination named", jobs)
	}
	if len(metrics) != 1 || metrics[0]["duration_ms"].(float64) < 300 {
		t.Errorf("slow schema's job metrics %v; want a duration of about 500 ms", metrics)
	}
}

// TestLongUnicodeKeyRuns checks that an S3 notification for an object
// whose key is within S3's 1,024 bytes is run, however long its URL
// encoding in the event: each byte of a non-ASCII character takes three
// there, so a key of Japanese file names passes 1,093 bytes encoded at
// about 365 bytes.
func TestLongUnicodeKeyRuns(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.Bucket(t, "unicodekey")
	dir := strings.Repeat("注文データ", 10) // 150 bytes: a file name the server's disk takes
	key := "incoming/" + dir + "/" + dir + "/" + dir + "/orders.csv"
	srv.Put(t, bucket, key, []byte("id\n1\n"))
	h := New(Config{Output: Prefix{bucket, "valid/"}, InputPrefix: "incoming/", Log: io.Discard}, srv.Client(csvstream.ClientOptions))
	res, _, err := invoke(h, s3Event(bucket, key), time.Minute)
	if sum, ok := res.(csvstream.Summary); err != nil || !ok || sum.Valid != 1 {
		t.Fatalf("key of %d bytes: result %+v, error %v; want its one row validated", len(key), res, err)
	}
	if got := srv.Get(t, bucket, "valid/"+strings.TrimPrefix(key, "incoming/")); string(got) != "id\n1\n" {
		t.Errorf("destination holds %q", got)
	}
}

// TestSweepEventAgeBound checks the README's "at least 30m (here and in a
// sweep event)" with the minimum the function runs with: a sweep event's
// younger older_than is refused before anything is listed, and 30m is
// taken.
func TestSweepEventAgeBound(t *testing.T) {
	for _, tt := range []struct {
		age     string
		refused bool
	}{{"29m59s", true}, {"30m", false}} {
		api := &placesAPI{}
		h := New(Config{Output: Prefix{"out", "valid/"}, Log: io.Discard}, api)
		_, _, err := invoke(h, []byte(`{"sweep":{"older_than":"`+tt.age+`","dry_run":true}}`), time.Minute)
		if tt.refused {
			if ErrorType(err) != "InvalidEvent" || !strings.Contains(err.Error(), "at least 30m0s") || len(api.swept) != 0 {
				t.Errorf("older_than %s: %v (%s), swept %v; want an InvalidEvent naming 30m, nothing listed", tt.age, err, ErrorType(err), api.swept)
			}
			continue
		}
		if err != nil || len(api.swept) != 2 {
			t.Errorf("older_than %s: %v, swept %v; want both places swept", tt.age, err, api.swept)
		}
	}
}

// TestStartUpSchemaUsed checks that a schema given as a local path is the
// one read at start-up (README: "read once at start-up"): a Config's
// Schema takes precedence over its SchemaLocation, so the file is not
// read again for a job.
func TestStartUpSchemaUsed(t *testing.T) {
	srv, bucket, path := localSchemaJob(t, "startupschema")
	cfg, err := ConfigFromEnv(envFunc(map[string]string{EnvOutput: "s3://" + bucket + "/valid/", EnvInputPrefix: "incoming/", EnvSchema: path}))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Log = io.Discard
	// Replaced after start-up by a schema every row fails.
	if err := os.WriteFile(path, []byte(`{"fields":[{"name":"id","type":"date"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	res, _, err := invoke(New(cfg, srv.Client(csvstream.ClientOptions)), s3Event(bucket, "incoming/a.csv"), time.Minute)
	if sum, ok := res.(csvstream.Summary); err != nil || !ok || sum.Valid != 1 || sum.Rejected != 1 {
		t.Errorf("result %+v, error %v; want the start-up schema's 1 valid row and 1 rejected", res, err)
	}
}

// TestSQSTestEventLoggedWithMessageID checks that the s3:TestEvent S3 puts
// on a queue when its notification is set up is listed in the invocation's
// log line with its message id, as every other entry of an SQS batch is.
func TestSQSTestEventLoggedWithMessageID(t *testing.T) {
	var logs syncBuffer
	h := New(Config{Output: Prefix{"out", "valid/"}, Log: &logs}, nil)
	test := `{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2026-11-20T06:00:00.000Z","Bucket":"in","RequestId":"R","HostId":"H"}`
	res, _, err := invoke(h, sqsEvent(map[string]string{"m-test": test}), time.Minute)
	if resp, ok := res.(events.SQSEventResponse); err != nil || !ok || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("result %+v, error %v; want no failures", res, err)
	}
	for _, l := range logs.lines(t) {
		if l["message"] != "invocation" {
			continue
		}
		jobs, _ := l["jobs"].([]any)
		if len(jobs) != 1 || jobs[0].(map[string]any)["message_id"] != "m-test" || jobs[0].(map[string]any)["skipped"] == nil {
			t.Errorf("jobs %v; want the test event skipped under message m-test", l["jobs"])
		}
	}
}
