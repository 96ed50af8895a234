package handler

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	"github.com/csvstream/csvstream/csvstream"
	"github.com/csvstream/csvstream/internal/faultproxy"
	"github.com/csvstream/csvstream/internal/gen"
	"github.com/csvstream/csvstream/internal/leakcheck"
	"github.com/csvstream/csvstream/internal/s3test"
)

// TestWarmAfterFailedUpload invokes one Handler twice, as a warm container
// does: first a job whose multipart upload fails with parts sent, then the
// same job with S3 well again. Nothing of the first may reach the second
// (the field failure this project was started over: a list of parts kept
// across invocations made the next Complete fail with InvalidPart). The
// second job's summary and outputs must be those a fresh Handler gives,
// and no goroutine of the first may outlive it.
func TestWarmAfterFailedUpload(t *testing.T) {
	srv := s3test.Start(t)
	data, _ := orders(t, 100_000, 7) // two parts at the smallest part size
	failing := func(kind faultproxy.Kind, match func(*http.Request) bool) faultproxy.Fault {
		return faultproxy.Fault{Kind: kind, Status: 500, Code: "InternalError", Match: match, Times: 1 << 20}
	}
	tests := []struct {
		name    string
		fault   faultproxy.Fault
		timeout time.Duration // the first invocation's
		want    string        // its error type
	}{
		{"a part fails past its retries", failing(faultproxy.Status, faultproxy.IsPartUpload(2)), time.Minute, "UploadFailed"},
		{"a part in flight at the deadline", failing(faultproxy.Stall, faultproxy.IsPartUpload(2)), 5 * time.Second, "Timeout"},
		{"Complete fails", failing(faultproxy.Status, faultproxy.IsCompleteUpload), time.Minute, "UploadFailed"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bucket := srv.Bucket(t, fmt.Sprintf("warm%d", i))
			srv.Put(t, bucket, "incoming/a.csv", data)
			srv.Put(t, bucket, "schemas/orders.json", []byte(gen.Schema))
			p := faultproxy.New(t, srv.Endpoint)
			var first atomic.Bool // the fault strikes only the first invocation
			fault := tt.fault
			fault.Match = func(r *http.Request) bool { return first.Load() && tt.fault.Match(r) }
			p.Inject(fault)
			cfg := Config{Output: Prefix{bucket, "valid/"}, InputPrefix: "incoming/", PartSize: csvstream.MinPartSize,
				SchemaLocation: csvstream.Location{Bucket: bucket, Key: "schemas/orders.json"},
				DeadlineMargin: time.Second, Log: io.Discard}
			event := []byte(fmt.Sprintf(`{"bucket":%q,"key":"incoming/a.csv"}`, bucket))

			warm := New(cfg, s3test.ClientFor(p.URL, csvstream.ClientOptions))
			first.Store(true)
			_, _, err := invoke(warm, event, tt.timeout)
			first.Store(false)
			if ErrorType(err) != tt.want {
				t.Fatalf("first invocation: %s (%v), want %s", ErrorType(err), err, tt.want)
			}
			leakcheck.Ended(t, "github.com/csvstream/csvstream/handler", "github.com/csvstream/csvstream/csvstream")
			checkNoUploads(t, srv, bucket)

			// run invokes h with S3 well, and returns the summary, without
			// its duration, and the two outputs.
			run := func(h *Handler) (csvstream.Summary, [2][]byte) {
				res, _, err := invoke(h, event, time.Minute)
				if err != nil {
					t.Fatal(err)
				}
				sum := res.(csvstream.Summary)
				sum.DurationMS = 0
				var out [2][]byte
				for i, s := range []string{sum.Destination, sum.Rejects} {
					loc, err := csvstream.ParseLocation(s)
					if err != nil {
						t.Fatal(err)
					}
					out[i] = srv.Get(t, loc.Bucket, loc.Key)
				}
				return sum, out
			}
			warmSum, warmOut := run(warm)
			freshSum, freshOut := run(New(cfg, s3test.ClientFor(p.URL, csvstream.ClientOptions)))
			if !reflect.DeepEqual(warmSum, freshSum) || warmSum.Parts != 2 {
				t.Errorf("the warm Handler's second job %+v\nwant a fresh Handler's %+v, in two parts", warmSum, freshSum)
			}
			for i := range warmOut {
				if !bytes.Equal(warmOut[i], freshOut[i]) {
					t.Errorf("output %d: %d bytes from the warm Handler, %d from a fresh one", i, len(warmOut[i]), len(freshOut[i]))
				}
			}
			checkNoUploads(t, srv, bucket)
		})
	}
}
