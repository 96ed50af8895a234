package csvstream_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptrace"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/csvstream/csvstream/csvstream"
	"github.com/csvstream/csvstream/internal/faultproxy"
	"github.com/csvstream/csvstream/internal/s3test"
)

// dialLog is an HTTP transport that counts the requests that opened a
// connection instead of reusing an idle one.
type dialLog struct {
	base  http.RoundTripper
	dials atomic.Int32
}

func (l *dialLog) RoundTrip(r *http.Request) (*http.Response, error) {
	trace := &httptrace.ClientTrace{GotConn: func(c httptrace.GotConnInfo) {
		if !c.Reused {
			l.dials.Add(1)
		}
	}}
	return l.base.RoundTrip(r.WithContext(httptrace.WithClientTrace(r.Context(), trace)))
}

// TestRunRequests pins the S3 requests a job makes, in order, for the
// small objects most triggers bring, so that a change that adds one (each
// is billed) is seen.
func TestRunRequests(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.Bucket(t, "requests")
	srv.Put(t, bucket, "in/empty.csv", nil)
	// About 1 KB, two rows rejected.
	small := "id,name,age\n" + strings.Repeat("1,Ann,30\n2,Bob,-1\n3,Cy,x\n4,Di,44\n", 20)
	srv.Put(t, bucket, "in/small.csv", []byte(small))
	dir := t.TempDir()
	local := filepath.Join(dir, "small.csv")
	if err := os.WriteFile(local, []byte(small), 0o644); err != nil {
		t.Fatal(err)
	}

	// What a job with both outputs in S3 sends once the source's header
	// is read, up to the check of the source: each output is tried by
	// creating an upload and aborting it.
	probes := []string{
		"CreateMultipartUpload out/x.csv", "AbortMultipartUpload out/x.csv",
		"CreateMultipartUpload out/x.csv.rejects.csv", "AbortMultipartUpload out/x.csv.rejects.csv",
	}
	// The outputs of a small job: each a single PutObject, the rejects
	// first, even when there are none (they replace an earlier run's).
	puts := []string{"PutObject out/x.csv.rejects.csv", "PutObject out/x.csv"}
	tests := []struct {
		name   string
		src    csvstream.Location
		dst    csvstream.Location
		schema string
		header bool // the job fails: its header lacks the schema's fields
		want   []string
	}{
		{"empty object", csvstream.Location{Bucket: bucket, Key: "in/empty.csv"}, csvstream.Location{Bucket: bucket, Key: "out/x.csv"}, "", false,
			slices.Concat([]string{"GetObject in/empty.csv"}, probes, []string{"GetObject in/empty.csv"}, puts)},
		{"empty object with a schema", csvstream.Location{Bucket: bucket, Key: "in/empty.csv"}, csvstream.Location{Bucket: bucket, Key: "out/x.csv"}, peopleSchema, true,
			[]string{"GetObject in/empty.csv"}},
		{"small object", csvstream.Location{Bucket: bucket, Key: "in/small.csv"}, csvstream.Location{Bucket: bucket, Key: "out/x.csv"}, "", false,
			slices.Concat([]string{"GetObject in/small.csv"}, probes, []string{"GetObject in/small.csv bytes=0-0"}, puts)},
		{"small object with a schema", csvstream.Location{Bucket: bucket, Key: "in/small.csv"}, csvstream.Location{Bucket: bucket, Key: "out/x.csv"}, peopleSchema, false,
			slices.Concat([]string{"GetObject in/small.csv"}, probes, []string{"GetObject in/small.csv bytes=0-0"}, puts)},
		{"local source", csvstream.Location{Path: local}, csvstream.Location{Bucket: bucket, Key: "out/x.csv"}, peopleSchema, false,
			slices.Concat(probes, puts)},
		{"local outputs", csvstream.Location{Bucket: bucket, Key: "in/small.csv"}, csvstream.Location{Path: filepath.Join(dir, "out.csv")}, peopleSchema, false,
			[]string{"GetObject in/small.csv", "GetObject in/small.csv bytes=0-0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := faultproxy.New(t, srv.Endpoint)
			client := s3test.ClientFor(p.URL, csvstream.ClientOptions)
			job := csvstream.Job{Source: tt.src, Destination: tt.dst}
			if tt.schema != "" {
				job.Schema = mustSchema(t, tt.schema)
			}
			_, err := csvstream.Run(context.Background(), client, job)
			var he *csvstream.HeaderError
			if tt.header != errors.As(err, &he) || !tt.header && err != nil {
				t.Fatalf("err %v, want a header error %v", err, tt.header)
			}
			if calls := p.Calls(bucket); !slices.Equal(calls, tt.want) {
				t.Errorf("requests:\n\t%s\nwant:\n\t%s", strings.Join(calls, "\n\t"), strings.Join(tt.want, "\n\t"))
			}
		})
	}
}

// TestRunKeepsConnections runs a small S3-to-S3 job several times on one
// client, as a warm function does one job after another: however many
// jobs run, they open two connections at most between them, and reuse
// them (a new connection to S3 costs a TLS handshake). A small job has at
// most two requests open at once: the source's GET, until its body has
// been read to its end, and an output's. Requests go through a fault
// proxy, which keeps connections open, as S3 does.
func TestRunKeepsConnections(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.Bucket(t, "connections")
	srv.Put(t, bucket, "in/small.csv", []byte("id,name,age\n"+strings.Repeat("1,Ann,30\n2,Bob,-1\n", 30)))
	p := faultproxy.New(t, srv.Endpoint)
	// The transport of the S3 client's default HTTP client.
	tr := awshttp.NewBuildableClient().GetTransport()
	t.Cleanup(tr.CloseIdleConnections)
	log := &dialLog{base: tr}
	client := s3test.ClientFor(p.URL, csvstream.ClientOptions, func(o *s3.Options) { o.HTTPClient = &http.Client{Transport: log} })
	const jobs = 5
	for range jobs {
		if _, err := csvstream.Run(context.Background(), client, csvstream.Job{
			Source:      csvstream.Location{Bucket: bucket, Key: "in/small.csv"},
			Destination: csvstream.Location{Bucket: bucket, Key: "out/small.csv"},
			Schema:      mustSchema(t, peopleSchema),
		}); err != nil {
			t.Fatal(err)
		}
	}
	if dials := log.dials.Load(); dials > 2 {
		t.Errorf("%d jobs opened %d connections for %d requests, want at most 2: a request closed its connection", jobs, dials, len(p.Calls(bucket)))
	}
}

// TestRunCheckBodyStalls stalls the one-byte body of the look a job takes
// before it publishes, after its headers, which carry all the look needs:
// the job publishes at once, as it would had the look closed the body
// unread, instead of waiting on the byte until the reader's stall timeout
// or the job's end.
func TestRunCheckBodyStalls(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.Bucket(t, "checkstall")
	small := "id,name,age\n" + strings.Repeat("1,Ann,30\n2,Bob,-1\n", 20)
	srv.Put(t, bucket, "in/small.csv", []byte(small))
	p := faultproxy.New(t, srv.Endpoint)
	p.Inject(faultproxy.Fault{Kind: faultproxy.StallResponse, After: 0, Match: faultproxy.IsGetRange("in/small.csv", "bytes=0-0")})
	client := s3test.ClientFor(p.URL, csvstream.ClientOptions)
	// Well under the reader's stall timeout (30 s by default), well over
	// what the job takes.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	_, err := csvstream.Run(ctx, client, csvstream.Job{
		Source:      csvstream.Location{Bucket: bucket, Key: "in/small.csv"},
		Destination: csvstream.Location{Bucket: bucket, Key: "out/small.csv"},
		Schema:      mustSchema(t, peopleSchema),
	})
	if err != nil {
		t.Fatalf("after %v: %v", time.Since(start).Round(time.Millisecond), err)
	}
	if p.Fired(faultproxy.StallResponse) != 1 {
		t.Fatal("the look's body never stalled: the test did not exercise it")
	}
}
