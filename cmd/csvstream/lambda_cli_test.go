package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/csvstream/csvstream/csvstream"
	"github.com/csvstream/csvstream/handler"
	"github.com/csvstream/csvstream/internal/s3test"
)

// TestInvokeEventFile runs the Lambda handler through `csvstream invoke` on
// an event file against a real server, and on a failing event. The result
// names the keys as written, & included, not as \u0026.
func TestInvokeEventFile(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.Bucket(t, "invoke")
	input := "id,name\n1,a\n2,b,extra\n3,c\n"
	srv.Put(t, bucket, "incoming/R&D orders café.csv", []byte(input))
	env := append(srv.Env(), "CSVSTREAM_OUTPUT=s3://"+bucket+"/valid/", "CSVSTREAM_INPUT_PREFIX=incoming/")
	dir := t.TempDir()
	event := filepath.Join(dir, "s3-put.json")
	body := fmt.Sprintf(`{"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":%q},"object":{"key":"incoming/R%%26D+orders+caf%%C3%%A9.csv"}}}]}`, bucket)
	if err := os.WriteFile(event, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}

	code, stdout, stderr := cli(t, env, "", "invoke", event)
	if code != exitOK {
		t.Fatalf("exit %d, stderr %s", code, stderr)
	}
	var sum csvstream.Summary
	if err := json.Unmarshal([]byte(stdout), &sum); err != nil {
		t.Fatalf("stdout %q: %v", stdout, err)
	}
	if sum.Rows != 3 || sum.Valid != 2 || sum.Rejected != 1 || sum.Destination != "s3://"+bucket+"/valid/R&D orders café.csv" {
		t.Errorf("summary %+v", sum)
	}
	if want := `"destination": "s3://` + bucket + `/valid/R&D orders café.csv"`; !strings.Contains(stdout, want) {
		t.Errorf("stdout %s\nwant it to hold %s", stdout, want)
	}
	if got := string(srv.Get(t, bucket, "valid/R&D orders café.csv")); got != "id,name\n1,a\n3,c\n" {
		t.Errorf("output %q", got)
	}
	if !strings.Contains(stderr, `"message":"invocation"`) || !strings.Contains(stderr, `"requestId":"local-invoke"`) {
		t.Errorf("the handler's log line, with its request id, is not on stderr: %q", stderr)
	}

	// The last line names the error type Lambda would give the failure.
	code, _, stderr = cli(t, env, `{"bucket":"`+bucket+`","key":"incoming/none.csv"}`, "invoke", "-")
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	if last := lines[len(lines)-1]; code != exitFailure || !strings.HasPrefix(last, "csvstream: SourceNotFound: ") || !strings.Contains(last, "incoming/none.csv") {
		t.Errorf("missing source: exit %d, last line %q; want 1 and a SourceNotFound naming the key", code, last)
	}
	// --timeout is the invocation's time limit: one too short for the job
	// fails it as Timeout, which is no interrupt.
	code, _, stderr = cli(t, env, "", "invoke", "--timeout", "1ms", event)
	lines = strings.Split(strings.TrimSpace(stderr), "\n")
	if last := lines[len(lines)-1]; code != exitFailure || !strings.HasPrefix(last, "csvstream: Timeout: ") {
		t.Errorf("--timeout 1ms: exit %d, last line %q; want 1 and a Timeout", code, last)
	}
	// An interrupt is no fault of the job: it is not reported under the
	// error type Lambda would give the failure it causes.
	interrupted, stop := context.WithCancelCause(context.Background())
	stop(errors.New("interrupt signal received"))
	code, _, stderr = cliContext(t, interrupted, env, "", "invoke", event)
	lines = strings.Split(strings.TrimSpace(stderr), "\n")
	if last := lines[len(lines)-1]; code != exitFailure || !strings.HasPrefix(last, "csvstream: interrupt signal received: ") || strings.Contains(last, "SourceReadFailed") {
		t.Errorf("interrupted: exit %d, last line %q; want 1 and the interrupt named first", code, last)
	}
	for _, args := range [][]string{{"invoke"}, {"invoke", "a.json", "b.json"}, {"invoke", "--timeout", "0s", "a.json"}} {
		if code, _, _ := cli(t, env, "", args...); code != exitUsage {
			t.Errorf("%v: exit %d, want %d", args, code, exitUsage)
		}
	}
	if code, _, stderr := cli(t, []string{"CSVSTREAM_OUTPUT="}, "{}", "invoke", "-"); code != exitFailure || !strings.Contains(stderr, "CSVSTREAM_OUTPUT") {
		t.Errorf("no configuration: exit %d, stderr %q", code, stderr)
	}
}

// TestInvokeSQSBatch runs an SQS batch with one message whose object is
// not CSV: the result lists it, as Lambda would get it, and the command
// fails naming it; an interrupted batch fails naming the interrupt.
func TestInvokeSQSBatch(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.Bucket(t, "invokesqs")
	srv.Put(t, bucket, "incoming/a.csv", []byte("id,name\n1,a\n"))
	srv.Put(t, bucket, "incoming/b.csv", []byte("\x1f\x8b\x08\x00 gzip, not CSV"))
	env := append(srv.Env(), "CSVSTREAM_OUTPUT=s3://"+bucket+"/valid/", "CSVSTREAM_INPUT_PREFIX=incoming/")
	message := func(id, key string) string {
		body := fmt.Sprintf(`{"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":%q},"object":{"key":%q}}}]}`, bucket, key)
		return fmt.Sprintf(`{"messageId":%q,"eventSource":"aws:sqs","body":%q}`, id, body)
	}
	event := `{"Records":[` + message("m1", "incoming/a.csv") + "," + message("m2", "incoming/b.csv") + `]}`

	code, stdout, stderr := cli(t, env, event, "invoke", "-")
	var resp struct {
		BatchItemFailures []struct{ ItemIdentifier string } `json:"batchItemFailures"`
	}
	if err := json.Unmarshal([]byte(stdout), &resp); err != nil || len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != "m2" {
		t.Errorf("stdout %q (%v); want the batch's result listing m2 alone", stdout, err)
	}
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	if last := lines[len(lines)-1]; code != exitFailure || last != "csvstream: SQS message m2 failed (the log above says why)" {
		t.Errorf("exit %d, last line %q; want 1 and the failed message named", code, last)
	}

	interrupted, stop := context.WithCancelCause(context.Background())
	stop(errors.New("interrupt signal received"))
	code, stdout, stderr = cliContext(t, interrupted, env, event, "invoke", "-")
	lines = strings.Split(strings.TrimSpace(stderr), "\n")
	if last := lines[len(lines)-1]; code != exitFailure || !strings.HasPrefix(last, "csvstream: interrupt signal received: ") || !strings.Contains(stdout, "m1") {
		t.Errorf("interrupted: exit %d, stdout %q, last line %q; want 1, both messages failed and the interrupt named", code, stdout, last)
	}
}

// TestSweepCommand aborts an old upload and keeps a fresh one, and one
// beside the prefix: s3://b/valid names the folder valid/, as it does for
// the function.
func TestSweepCommand(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.Bucket(t, "sweepcli")
	client := srv.Client()
	create := func(key string) string {
		out, err := client.CreateMultipartUpload(context.Background(), &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key)})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.UploadId)
	}
	old := create("valid/R&D old.csv")
	create("validation.csv")
	time.Sleep(2200 * time.Millisecond)
	create("valid/fresh.csv")

	code, stdout, stderr := cli(t, srv.Env(), "", "sweep", "--older-than", "2s", "--dry-run", "s3://"+bucket+"/valid")
	if code != exitOK {
		t.Fatalf("dry run: exit %d, stderr %s", code, stderr)
	}
	var res []handler.SweepSummary
	if err := json.Unmarshal([]byte(stdout), &res); err != nil || len(res) != 1 || len(res[0].Aborted) != 1 || res[0].AbortedCount != 1 || res[0].Aborted[0].UploadID != old {
		t.Fatalf("dry run output %s (%v)", stdout, err)
	}
	// The key as written, not as R\u0026D.
	if want := `"key": "valid/R&D old.csv"`; !strings.Contains(stdout, want) {
		t.Errorf("dry run output %s\nwant it to hold %s", stdout, want)
	}
	if n := len(srv.Uploads(t, bucket)); n != 3 {
		t.Fatalf("%d uploads after a dry run, want 3", n)
	}
	code, stdout, stderr = cli(t, srv.Env(), "", "sweep", "--older-than", "2s", "s3://"+bucket+"/valid/", "s3://"+bucket+"/rejects/")
	if code != exitOK {
		t.Fatalf("sweep: exit %d, stderr %s", code, stderr)
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil || len(res) != 2 || len(res[0].Aborted) != 1 {
		t.Fatalf("sweep output %s (%v)", stdout, err)
	}
	if ups := srv.Uploads(t, bucket); len(ups) != 2 {
		t.Errorf("uploads left %+v, want the fresh one and the one beside the prefix", ups)
	}
	// An object's own name finds none of its uploads: the note says where
	// they are.
	create("runs/day1/out.csv")
	// A folder whose name reads as an object's, and that holds uploads,
	// gets no note.
	create("v1.2/out.csv")
	code, stdout, stderr = cli(t, srv.Env(), "", "sweep", "--older-than", "2s", "--dry-run", "s3://"+bucket+"/v1.2")
	if err := json.Unmarshal([]byte(stdout), &res); code != exitOK || err != nil || len(res) != 1 || res[0].Seen != 1 || stderr != "" {
		t.Errorf("sweep v1.2: exit %d, stdout %s (%v), stderr %q; want 0, one upload seen and no note", code, stdout, err, stderr)
	}
	for _, tt := range []struct{ arg, folder string }{
		{"s3://" + bucket + "/validation.csv", "s3://" + bucket + "/"},
		{"s3://" + bucket + "/runs/day1/out.csv", "s3://" + bucket + "/runs/day1/"},
	} {
		code, _, stderr = cli(t, srv.Env(), "", "sweep", "--older-than", "2s", "--dry-run", tt.arg)
		if want := "its uploads are under " + tt.folder + "\n"; code != exitOK || !strings.Contains(stderr, want) {
			t.Errorf("sweep %s: exit %d, stderr %q; want 0 and a note ending %q", tt.arg, code, stderr, want)
		}
	}
	// A folder that holds no upload is the usual case, not a mistake.
	for _, arg := range []string{"s3://" + bucket + "/empty", "s3://" + bucket + "/empty/", "s3://" + bucket} {
		if _, _, stderr = cli(t, srv.Env(), "", "sweep", "--older-than", "2s", "--dry-run", arg); stderr != "" {
			t.Errorf("sweep %s: stderr %q, want nothing", arg, stderr)
		}
	}
	for _, args := range [][]string{{"sweep"}, {"sweep", "bucket/prefix"}, {"sweep", "--older-than", "-1h", "s3://b/"}} {
		if code, _, _ := cli(t, srv.Env(), "", args...); code != exitUsage {
			t.Errorf("%v: exit %d, want %d", args, code, exitUsage)
		}
	}
}

// TestInvokeEventAtSizeLimit reads an event of exactly Lambda's payload
// limit: it is not refused as too large, while one byte more is.
func TestInvokeEventAtSizeLimit(t *testing.T) {
	event := `{"bucket":"b","key":"k"` + strings.Repeat(" ", maxEventSize-len(`{"bucket":"b","key":"k"}`)) + "}"
	env := []string{"CSVSTREAM_OUTPUT="}
	_, _, stderr := cli(t, env, event, "invoke", "-")
	if strings.Contains(stderr, "payload limit") || !strings.Contains(stderr, "CSVSTREAM_OUTPUT") {
		t.Errorf("event of %d bytes: stderr %q; want it read and the missing configuration named", len(event), stderr)
	}
	code, _, stderr := cli(t, env, event+" ", "invoke", "-")
	if code != exitFailure || !strings.Contains(stderr, "larger than Lambda's 6291456-byte payload limit") {
		t.Errorf("event of %d bytes: exit %d, stderr %q; want 1 and the size limit", len(event)+1, code, stderr)
	}
}

// TestFailedMessages names up to five failed messages, with an ellipsis
// only when there are more.
func TestFailedMessages(t *testing.T) {
	ids := func(n int) []events.SQSBatchItemFailure {
		var f []events.SQSBatchItemFailure
		for i := range n {
			f = append(f, events.SQSBatchItemFailure{ItemIdentifier: string(rune('a' + i))})
		}
		return f
	}
	for n, want := range map[int]string{
		1: "SQS message a",
		2: "2 SQS messages (a, b)",
		5: "5 SQS messages (a, b, c, d, e)",
		6: "6 SQS messages (a, b, c, d, e, …)",
	} {
		if got := failedMessages(ids(n)); got != want {
			t.Errorf("%d failures: %q, want %q", n, got, want)
		}
	}
}

// TestSweepFailureHasNoNote sweeps an object-like prefix in a bucket that
// does not exist: the error is reported, without the note that the
// prefix held no uploads, which the failed sweep cannot know.
func TestSweepFailureHasNoNote(t *testing.T) {
	srv := s3test.Start(t)
	code, _, stderr := cli(t, srv.Env(), "", "sweep", "--dry-run", "s3://no-such-bucket-mut/runs/out.csv")
	if code != exitFailure || strings.Contains(stderr, "note:") {
		t.Errorf("exit %d, stderr %q; want 1 and no note", code, stderr)
	}
	// Two failed prefixes: one error line naming both, and still the list
	// on stdout, with one entry per prefix.
	code, stdout, stderr := cli(t, srv.Env(), "", "sweep", "--dry-run", "s3://no-such-bucket-mut1/", "s3://no-such-bucket-mut2/")
	if code != exitFailure || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, "mut1") || !strings.Contains(stderr, "mut2") {
		t.Errorf("exit %d, stderr %q; want 1 and one line naming both buckets", code, stderr)
	}
	var res []handler.SweepSummary
	if err := json.Unmarshal([]byte(stdout), &res); err != nil || len(res) != 2 || res[0].Bucket != "no-such-bucket-mut1" || res[1].Bucket != "no-such-bucket-mut2" {
		t.Errorf("stdout %s (%v); want an entry for each prefix", stdout, err)
	}
}
