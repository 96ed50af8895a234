package handler

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/csvstream/csvstream/csvstream"
)

// recordingAPI is an S3 client that holds no object: every GetObject is
// answered NoSuchKey, and every listing is empty. It records what it was
// asked for.
type recordingAPI struct {
	csvstream.S3API // nil: any other call panics, which the fuzzer reports
	mu              sync.Mutex
	gets            []csvstream.Location
	versions        []string
	lists           []string
}

func (a *recordingAPI) GetObject(_ context.Context, in *s3.GetObjectInput, _ ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.gets = append(a.gets, csvstream.Location{Bucket: *in.Bucket, Key: *in.Key})
	v := ""
	if in.VersionId != nil {
		v = *in.VersionId
	}
	a.versions = append(a.versions, v)
	return nil, errNoSuchKey
}

func (a *recordingAPI) ListMultipartUploads(_ context.Context, in *s3.ListMultipartUploadsInput, _ ...func(*s3.Options)) (*s3.ListMultipartUploadsOutput, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	p := ""
	if in.Prefix != nil {
		p = *in.Prefix
	}
	a.lists = append(a.lists, "s3://"+*in.Bucket+"/"+p)
	return &s3.ListMultipartUploadsOutput{}, nil
}

func (a *recordingAPI) AbortMultipartUpload(context.Context, *s3.AbortMultipartUploadInput, ...func(*s3.Options)) (*s3.AbortMultipartUploadOutput, error) {
	return &s3.AbortMultipartUploadOutput{}, nil
}

// seedEvents adds the sample events and the handler's test data.
func seedEvents(f *testing.F) {
	for _, glob := range []string{"../events/*.json", "testdata/*.json"} {
		files, _ := filepath.Glob(glob)
		for _, name := range files {
			b, err := os.ReadFile(name)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	for _, s := range []string{
		`{"bucket": "csvstream-demo-input", "key": "incoming/orders.csv"}`,
		`{"bucket":"b","key":"incoming/x.csv","destination":"s3://o/d/","rejects":"s3://o/r.csv","schema":"s3://s/s.json","format":"jsonl","delimiter":"tab","version_id":"v1"}`,
		`{"sweep": {"prefixes": ["s3://o/valid/"], "older_than": "24h", "dry_run": true}}`,
		`{"source":"aws.events","detail-type":"Scheduled Event"}`,
		`{"Type":"Notification","Message":"{\"bucket\":\"b\",\"key\":\"k\"}"}`,
		`{"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":"incoming/a+b%2Bc%25.csv"}}}]}`,
		`{"Records":[{"eventSource":"aws:sqs","messageId":"m1","body":"{\"Type\":\"Notification\",\"Message\":\"{\\\"source\\\":\\\"aws.s3\\\",\\\"detail-type\\\":\\\"Object Created\\\",\\\"detail\\\":{\\\"bucket\\\":{\\\"name\\\":\\\"b\\\"},\\\"object\\\":{\\\"key\\\":\\\"incoming/x.csv\\\"}}}\"}"}]}`,
	} {
		f.Add([]byte(s))
	}
}

// checkMessage reports a message that is not valid UTF-8 or is too long
// for a log line or a Step Functions error's cause.
func checkMessage(t *testing.T, what, msg string) {
	t.Helper()
	if len(msg) > 16<<10 {
		t.Errorf("%s is %d bytes long: %.200q...", what, len(msg), msg)
	}
	if !utf8.ValidString(msg) {
		t.Errorf("%s is not valid UTF-8: %.300q", what, msg)
	}
}

// FuzzInvoke sends arbitrary event bytes through the Handler, with an S3
// that holds nothing. It checks that no event panics, that every failure
// is one of the handler's types and not an InternalError, that an event
// whose shape is unknown is an InvalidEvent, that messages quote the
// event's bytes safely, and that an S3 notification's keys reach S3
// URL-decoded, "+" as a space.
func FuzzInvoke(f *testing.F) {
	seedEvents(f)
	f.Fuzz(func(t *testing.T, event []byte) {
		api := &recordingAPI{}
		var logs bytes.Buffer
		cfg := Config{
			Output: Prefix{"out", "valid/"}, Rejects: Prefix{"out", "rejects/"}, InputPrefix: "incoming/",
			Log: &logs, minSweepAge: time.Nanosecond,
		}
		h := New(cfg, api)
		var (
			res  any
			err  error
			done = make(chan struct{})
		)
		go func() {
			defer close(done)
			res, _, err = invoke(h, event, time.Minute)
		}()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Fatalf("event %q: Invoke has not returned in 5 s\n%s", event, buf)
		}
		if err != nil {
			if !isHandlerError(err) {
				t.Fatalf("error %T %v is none of the handler's types", err, err)
			}
			if ErrorType(err) == "InternalError" {
				t.Errorf("InternalError for a valid config and client: %v", err)
			}
			checkMessage(t, "the error", err.Error())
		}
		if _, _, serr := shapeOf(event); serr != nil && ErrorType(err) != "InvalidEvent" {
			t.Errorf("shapeOf refused the event (%v), but Invoke gave %v (%s)", serr, err, ErrorType(err))
		}
		if res != nil {
			if _, jerr := json.Marshal(res); jerr != nil {
				t.Errorf("result %#v cannot be marshalled: %v", res, jerr)
			}
		}
		for _, line := range bytes.Split(logs.Bytes(), []byte("\n")) {
			if len(line) > 256<<10 {
				t.Errorf("a log line of %d bytes", len(line))
			}
			if len(line) > 0 && !json.Valid(line) {
				t.Errorf("log line is not JSON: %.300q", line)
			}
		}
		// Round trip: the keys of an S3 notification reach S3 decoded.
		shape, inner, serr := shapeOf(event)
		if serr != nil || shape != shapeS3 {
			return
		}
		var raw struct {
			Records []struct {
				EventName string   `json:"eventName"`
				S3        s3Detail `json:"s3"` // the same bucket.name and object.key
			} `json:"Records"`
		}
		if json.Unmarshal(inner, &raw) != nil || err != nil {
			return
		}
		var want []csvstream.Location
		for _, r := range raw.Records {
			k, kerr := url.QueryUnescape(r.S3.Object.Key)
			if kerr != nil {
				t.Fatalf("key %q is not URL-encoded, yet the event was accepted", r.S3.Object.Key)
			}
			if !strings.HasPrefix(r.EventName, "ObjectCreated:") || strings.HasSuffix(k, "/") {
				continue
			}
			want = append(want, csvstream.Location{Bucket: r.S3.Bucket.Name, Key: k})
		}
		api.mu.Lock()
		defer api.mu.Unlock()
		gets := api.gets
		// A job refused before it read (recursion guard) makes no GET.
		j := 0
		for _, g := range gets {
			for j < len(want) && want[j] != g {
				j++
			}
			if j == len(want) {
				t.Errorf("GET %v is none of the event's objects %v", g, want)
				break
			}
			j++
		}
	})
}

// s3Escape encodes a key as S3 does in an event notification: as in a
// query string ("+" for a space), but with "/" left as it is.
func s3Escape(k string) string {
	return strings.ReplaceAll(url.QueryEscape(k), "%2F", "/")
}

// wrapEvent builds an event of one of the shapes that name one object.
func wrapEvent(bucket, key string, via uint8) (event []byte, shape string) {
	js := func(v any) string { b, _ := json.Marshal(v); return string(b) }
	s3ev := fmt.Sprintf(`{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"us-east-1","eventName":"ObjectCreated:Put","s3":{"s3SchemaVersion":"1.0","bucket":{"name":%s},"object":{"key":%s,"size":1}}}]}`,
		js(bucket), js(s3Escape(key)))
	eb := fmt.Sprintf(`{"version":"0","detail-type":"Object Created","source":"aws.s3","detail":{"bucket":{"name":%s},"object":{"key":%s}}}`,
		js(bucket), js(key))
	sns := func(inner string) string {
		return fmt.Sprintf(`{"Type":"Notification","MessageId":"m","TopicArn":"arn:aws:sns:us-east-1:1:t","Message":%s}`, js(inner))
	}
	sqs := func(body string) string {
		return fmt.Sprintf(`{"Records":[{"messageId":"m1","eventSource":"aws:sqs","body":%s}]}`, js(body))
	}
	switch via % 8 {
	case 0:
		return []byte(s3ev), "s3"
	case 1:
		return []byte(eb), "eventbridge"
	case 2:
		return []byte(fmt.Sprintf(`{"bucket":%s,"key":%s}`, js(bucket), js(key))), "direct"
	case 3:
		return []byte(sqs(s3ev)), "sqs"
	case 4:
		return []byte(sqs(sns(s3ev))), "sqs"
	case 5:
		return []byte(sqs(sns(eb))), "sqs"
	case 6:
		return []byte(fmt.Sprintf(`{"version":"1.0","requestContext":{"condition":"RetriesExhausted"},"requestPayload":%s}`, s3ev)), "s3"
	default:
		return []byte(sqs(eb)), "sqs"
	}
}

// FuzzEventObject builds each event shape that names one object from a
// fuzzed bucket and key, and checks that the object the job reads is that
// one, byte for byte: an S3 notification's URL-encoded key decodes to the
// key, wrapped or not.
func FuzzEventObject(f *testing.F) {
	for i, k := range []string{"incoming/orders.csv", "incoming/daily orders café.csv", "incoming/a+b%2B.csv", "incoming/dir/", "x.csv", "incoming/", "valid/x.csv", "incoming/\x00\n.csv"} {
		f.Add("csvstream-demo-input", k, uint8(i))
	}
	f.Fuzz(func(t *testing.T, bucket, key string, via uint8) {
		if !utf8.ValidString(bucket) || !utf8.ValidString(key) {
			return // JSON cannot carry these bytes
		}
		event, shape := wrapEvent(bucket, key, via)
		api := &recordingAPI{}
		var logs bytes.Buffer
		h := New(Config{Output: Prefix{"out", "valid/"}, Rejects: Prefix{"out", "rejects/"}, InputPrefix: "incoming/", Log: &logs}, api)
		res, _, err := invoke(h, event, time.Minute)
		if err != nil {
			checkMessage(t, "the error", err.Error())
			if !isHandlerError(err) || ErrorType(err) == "InternalError" {
				t.Errorf("%s: %v (%s)", event, err, ErrorType(err))
			}
		}
		api.mu.Lock()
		gets := api.gets
		api.mu.Unlock()
		for _, g := range gets {
			if g.Bucket != bucket || g.Key != key {
				t.Errorf("%s event for s3://%s/%q read s3://%s/%q", shape, bucket, key, g.Bucket, g.Key)
			}
		}
		if len(gets) > 0 || err != nil {
			return
		}
		// No read and no error: skipped, and for a reason.
		switch r := res.(type) {
		case Skipped:
			if !strings.HasSuffix(key, "/") {
				t.Errorf("%s event for %q skipped: %+v", shape, key, r)
			}
		case events.SQSEventResponse:
			var found bool
			for _, l := range bytes.Split(logs.Bytes(), []byte("\n")) {
				found = found || bytes.Contains(l, []byte(`"skipped"`)) || bytes.Contains(l, []byte(`"error"`))
			}
			if !found {
				t.Errorf("%s event for %q: no read, no failure, no skip: %s", shape, key, logs.Bytes())
			}
		default:
			t.Errorf("%s event for %q: no read and no error, result %#v", shape, key, res)
		}
	})
}
