package csvstream_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/csvstream/csvstream/csvstream"
	"github.com/csvstream/csvstream/internal/faultproxy"
	"github.com/csvstream/csvstream/internal/s3test"
)

// writerInput generates CSV-like records of varying lengths, the same for
// the same seed. Each record starts with its own number, so no two are
// alike and misplaced bytes cannot go unnoticed.
type writerInput struct {
	tails [][]byte
	n     int
	buf   []byte
}

func newWriterInput(seed uint64) *writerInput {
	rng := rand.New(rand.NewPCG(seed, 42))
	g := &writerInput{tails: make([][]byte, 997)}
	for i := range g.tails {
		g.tails[i] = fmt.Appendf(nil, ",customer-%d,%s,%d.%02d\n",
			rng.IntN(1e6), strings.Repeat("z", rng.IntN(80)), rng.IntN(1e5), rng.IntN(100))
	}
	return g
}

// next returns the next record; it is valid until the following call.
func (g *writerInput) next() []byte {
	g.n++
	g.buf = strconv.AppendInt(g.buf[:0], int64(g.n), 10)
	g.buf = append(g.buf, g.tails[g.n%len(g.tails)]...)
	return g.buf
}

// writerStream writes records until at least size bytes are written and
// returns the sha256 and length of what was written.
func writerStream(t testing.TB, w *csvstream.ObjectWriter, seed uint64, size int64) ([32]byte, int64, error) {
	t.Helper()
	g := newWriterInput(seed)
	h := sha256.New()
	var n int64
	for n < size {
		rec := g.next()
		if _, err := w.Write(rec); err != nil {
			return [32]byte{}, n, err
		}
		h.Write(rec)
		n += int64(len(rec))
	}
	return [32]byte(h.Sum(nil)), n, nil
}

// writerObjectSum reads an object and returns its sha256 and length.
func writerObjectSum(t testing.TB, client *s3.Client, bucket, key string) ([32]byte, int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("get s3://%s/%s: %v", bucket, key, err)
	}
	defer out.Body.Close()
	h := sha256.New()
	n, err := io.Copy(h, out.Body)
	if err != nil {
		t.Fatalf("read s3://%s/%s: %v", bucket, key, err)
	}
	return [32]byte(h.Sum(nil)), n
}

// checkWrittenObject checks that the object holds what was written, that S3
// stored the full-object CRC64NVME the writer computed, and that no
// multipart upload is left.
func checkWrittenObject(t *testing.T, srv *s3test.Server, w *csvstream.ObjectWriter, bucket, key string, want [32]byte, size int64) {
	t.Helper()
	got, n := writerObjectSum(t, srv.Client(), bucket, key)
	if got != want || n != size {
		t.Fatalf("s3://%s/%s has %d bytes with sha256 %x, want %d bytes with %x", bucket, key, n, got, size, want)
	}
	st := w.State()
	if st.Bytes != size {
		t.Errorf("State().Bytes = %d, want %d", st.Bytes, size)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	head, err := srv.Client().HeadObject(ctx, &s3.HeadObjectInput{
		Bucket: aws.String(bucket), Key: aws.String(key), ChecksumMode: types.ChecksumModeEnabled,
	})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(head.ChecksumCRC64NVME) != st.ChecksumCRC64NVME || st.ChecksumCRC64NVME == "" {
		t.Errorf("S3 has CRC64NVME %q, the writer computed %q", aws.ToString(head.ChecksumCRC64NVME), st.ChecksumCRC64NVME)
	}
	if head.ChecksumType != types.ChecksumTypeFullObject {
		t.Errorf("checksum type %q, want FULL_OBJECT", head.ChecksumType)
	}
	if aws.ToString(head.ETag) != st.ETag {
		t.Errorf("S3 has ETag %s, State().ETag = %s", aws.ToString(head.ETag), st.ETag)
	}
	if ups := srv.Uploads(t, bucket); len(ups) != 0 {
		t.Errorf("%d multipart uploads left", len(ups))
	}
}

// checkWriterParts checks that parts are numbered 1..n and that each but the
// last reaches the scheduled part size.
func checkWriterParts(t *testing.T, st csvstream.UploadState, first int64) {
	t.Helper()
	for i, p := range st.Parts {
		if p.Number != int32(i+1) || p.ETag == "" || p.ChecksumCRC64NVME == "" {
			t.Fatalf("part at %d: %+v", i, p)
		}
		if want := csvstream.PartSizeAt(first, p.Number); i < len(st.Parts)-1 && p.Size < want {
			t.Errorf("part %d has %d bytes, below the part size %d", p.Number, p.Size, want)
		}
	}
}

// writerPartSends counts the UploadPart requests for part n in a proxy's log.
func writerPartSends(p *faultproxy.Proxy, n int) int {
	return writerSends(p, "PUT", fmt.Sprint(n))
}

// writerCompleteSends counts the CompleteMultipartUpload requests in a
// proxy's log.
func writerCompleteSends(p *faultproxy.Proxy) int {
	return writerSends(p, "POST", "")
}

// writerCreateSends counts the CreateMultipartUpload requests in a
// proxy's log.
func writerCreateSends(p *faultproxy.Proxy) int {
	count := 0
	for _, r := range p.Requests() {
		m, uri, _ := strings.Cut(r, " ")
		if u, err := url.Parse(uri); err == nil && m == "POST" && u.Query().Has("uploads") {
			count++
		}
	}
	return count
}

// writerSends counts the requests in a proxy's log on a multipart upload
// with the method and partNumber.
func writerSends(p *faultproxy.Proxy, method, part string) int {
	count := 0
	for _, r := range p.Requests() {
		m, uri, _ := strings.Cut(r, " ")
		u, err := url.Parse(uri)
		if err == nil && m == method && u.Query().Get("uploadId") != "" && u.Query().Get("partNumber") == part {
			count++
		}
	}
	return count
}

// writerFastBackoff keeps the S3 client's retries but caps its waits, so tests
// that exhaust them stay quick.
func writerFastBackoff(o *s3.Options) {
	o.Retryer = retry.AddWithMaxBackoffDelay(o.Retryer, 20*time.Millisecond)
}

func TestObjectWriterS3Large(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.Bucket(t, "writer-large")
	ctx := context.Background()
	w, err := csvstream.NewObjectWriter(ctx, srv.Client(csvstream.ClientOptions), bucket, "out/large.csv",
		csvstream.WriterOptions{PartSize: csvstream.MinPartSize, ContentType: "text/csv"})
	if err != nil {
		t.Fatal(err)
	}
	want, size, err := writerStream(t, w, 1, 100<<20)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	st := w.State()
	if !st.Multipart || len(st.Parts) < 19 {
		t.Fatalf("want a multipart upload of about 20 parts, got %d parts (multipart %v)", len(st.Parts), st.Multipart)
	}
	checkWriterParts(t, st, csvstream.MinPartSize)
	checkWrittenObject(t, srv, w, bucket, "out/large.csv", want, size)
}

func TestObjectWriterS3Small(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.Bucket(t, "writer-small")
	for _, size := range []int64{0, 1, 100 << 10, csvstream.MinPartSize - 200} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			key := fmt.Sprintf("small-%d.csv", size)
			w, err := csvstream.NewObjectWriter(context.Background(), srv.Client(csvstream.ClientOptions), bucket, key,
				csvstream.WriterOptions{PartSize: csvstream.MinPartSize})
			if err != nil {
				t.Fatal(err)
			}
			want, n, err := writerStream(t, w, 2, size)
			if err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if st := w.State(); st.Multipart || st.UploadID != "" || len(st.Parts) != 0 {
				t.Fatalf("want one PutObject, got %+v", st)
			}
			checkWrittenObject(t, srv, w, bucket, key, want, n)
		})
	}
}

// TestObjectWriterS3Faults injects faults into part 2 of a three-part
// upload and checks that the part is sent again and the object still
// arrives byte for byte.
func TestObjectWriterS3Faults(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.Bucket(t, "writer-faults")
	tests := []struct {
		name    string
		fault   faultproxy.Fault
		then    *faultproxy.Fault // for the next sends of the part, once fault is spent
		timeout time.Duration     // of a request attempt; 0 for the default
	}{
		// The S3 client retries these itself.
		{"503 SlowDown", faultproxy.Fault{Kind: faultproxy.Status, Status: 503, Code: "SlowDown"}, nil, 0},
		{"500 InternalError", faultproxy.Fault{Kind: faultproxy.Status, Status: 500, Code: "InternalError"}, nil, 0},
		{"connection cut mid-part", faultproxy.Fault{Kind: faultproxy.CutRequest, After: 1 << 20}, nil, 0},
		// The writer sends the part again after the client gives up.
		{"connection cut past the client's retries", faultproxy.Fault{Kind: faultproxy.CutRequest, After: 1 << 20, Times: csvstream.MaxAttempts}, nil, 0},
		// S3 refuses corrupted bytes, the client does not retry, the writer does.
		{"flipped byte", faultproxy.Fault{Kind: faultproxy.FlipByte, After: 12345}, nil, 0},
		{"flipped byte twice", faultproxy.Fault{Kind: faultproxy.FlipByte, After: 3 << 20, Times: 2}, nil, 0},
		// The client's own retry counts, though it ends in an error the
		// client does not retry.
		{"503 SlowDown, then a flipped byte", faultproxy.Fault{Kind: faultproxy.Status, Status: 503, Code: "SlowDown"},
			&faultproxy.Fault{Kind: faultproxy.FlipByte, After: 12345}, 0},
		// The writer gives up waiting for an answer and sends the part again.
		// The timeout applies to every part, so it leaves room for a slow
		// machine (or an emulated arm64 run) to send a whole part.
		{"no answer", faultproxy.Fault{Kind: faultproxy.Stall}, nil, 5 * time.Second},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := faultproxy.New(t, srv.Endpoint)
			f := tt.fault
			f.Match = faultproxy.IsPartUpload(2)
			p.Inject(f)
			times := max(f.Times, 1)
			if tt.then != nil {
				then := *tt.then
				then.Match = f.Match
				p.Inject(then)
				times += max(then.Times, 1)
			}
			client := s3test.ClientFor(p.URL, csvstream.ClientOptions, writerFastBackoff)
			key := fmt.Sprintf("fault-%d.csv", i)
			start := time.Now()
			w, err := csvstream.NewObjectWriterWithLimits(context.Background(), client, bucket, key,
				csvstream.WriterOptions{PartSize: csvstream.MinPartSize, Concurrency: 2},
				csvstream.WriterLimits{MinPartSize: csvstream.MinPartSize, RetryBackoff: 10 * time.Millisecond, AttemptTimeout: tt.timeout})
			if err != nil {
				t.Fatal(err)
			}
			want, size, err := writerStream(t, w, 3, 2*csvstream.MinPartSize+1<<20)
			if err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if d := time.Since(start); tt.timeout > 0 && d > tt.timeout+4*time.Second {
				t.Errorf("took %v with an attempt timeout of %v", d, tt.timeout)
			}
			if got := p.Fired(f.Kind); got != max(f.Times, 1) {
				t.Fatalf("fault fired %d times, want %d", got, max(f.Times, 1))
			}
			if tt.then != nil && p.Fired(tt.then.Kind) != max(tt.then.Times, 1) {
				t.Fatalf("second fault fired %d times, want %d", p.Fired(tt.then.Kind), max(tt.then.Times, 1))
			}
			if got := writerPartSends(p, 2); got != times+1 {
				t.Errorf("part 2 sent %d times, want %d", got, times+1)
			}
			st := w.State()
			if st.Retries != times {
				t.Errorf("State().Retries = %d, want %d", st.Retries, times)
			}
			if len(st.Parts) != 3 {
				t.Errorf("%d parts, want 3", len(st.Parts))
			}
			checkWriterParts(t, st, csvstream.MinPartSize)
			checkWrittenObject(t, srv, w, bucket, key, want, size)
		})
	}
}

// TestObjectWriterS3CancelDuringStall cancels the writer's context while
// part 2 has no answer: the writer must fail within seconds, not when the
// attempt times out, and abort the upload. As part 2 may still land, the
// writer then looks for the upload with ListParts; a look that gets no
// answer gives way to the next after lookTimeout, rather than holding the
// writer for the abort's whole 30 s.
func TestObjectWriterS3CancelDuringStall(t *testing.T) {
	srv := s3test.Start(t)
	tests := []struct {
		name  string
		look  []faultproxy.Fault
		limit time.Duration // to fail after the cancel
		lists int           // ListParts sent: one look after each settle delay, and any sent again
	}{
		// The abort and its looks over the settle delays take about 1.9s;
		// the stalled attempt alone would take a minute.
		{"looks answered", nil, 5 * time.Second, 5},
		{"first look not answered", []faultproxy.Fault{{Kind: faultproxy.Stall, Match: faultproxy.IsListParts}}, 7 * time.Second, 5},
		// The S3 client sends the look again. The answer cut is a 404,
		// which says the upload is gone even cut, so only the count of
		// looks shows it.
		{"first look's answer cut", []faultproxy.Fault{{Kind: faultproxy.CutResponse, After: 20, Match: faultproxy.IsListParts}}, 5 * time.Second, 6},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bucket := srv.Bucket(t, fmt.Sprintf("writer-stall-cancel-%d", i))
			p := faultproxy.New(t, srv.Endpoint)
			part2 := faultproxy.Fault{Kind: faultproxy.Stall, Match: faultproxy.IsPartUpload(2)}
			for _, f := range append([]faultproxy.Fault{part2}, tt.look...) {
				p.Inject(f)
			}
			client := s3test.ClientFor(p.URL, csvstream.ClientOptions)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			w, err := csvstream.NewObjectWriter(ctx, client, bucket, "cancelled.csv",
				csvstream.WriterOptions{PartSize: csvstream.MinPartSize, Concurrency: 2})
			if err != nil {
				t.Fatal(err)
			}
			errc := make(chan error, 1)
			go func() {
				_, _, err := writerStream(t, w, 11, 4*csvstream.MinPartSize)
				if err == nil {
					err = w.Close()
				}
				errc <- err
			}()
			for start := time.Now(); p.Fired(faultproxy.Stall) == 0; time.Sleep(10 * time.Millisecond) {
				if time.Since(start) > 30*time.Second {
					t.Fatal("part 2 was never sent")
				}
			}
			cancel()
			cancelled := time.Now()
			select {
			case err = <-errc:
			case <-time.After(40 * time.Second):
				t.Fatal("the writer did not stop after its context was cancelled")
			}
			if d := time.Since(cancelled); d > tt.limit {
				t.Errorf("the writer took %v to fail after its context was cancelled, want at most %v", d, tt.limit)
			}
			if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), w.State().UploadID) {
				t.Fatalf("err = %v, want context.Canceled naming the upload", err)
			}
			want := map[faultproxy.Kind]int{}
			for _, f := range append([]faultproxy.Fault{part2}, tt.look...) {
				want[f.Kind]++
			}
			for k, n := range want {
				if got := p.Fired(k); got != n {
					t.Errorf("faults of kind %v fired %d times, want %d", k, got, n)
				}
			}
			if got := writerSends(p, "GET", ""); got != tt.lists {
				t.Errorf("ListParts sent %d times, want %d", got, tt.lists)
			}
			if ups := srv.Uploads(t, bucket); len(ups) != 0 {
				t.Fatalf("%d multipart uploads left", len(ups))
			}
		})
	}
}

// TestObjectWriterS3CompleteAnswerLost cuts off the answer to Complete after
// the server has completed the upload. The S3 client does not retry once
// the response headers have come, so the writer sends Complete again.
// versitygw answers that for the completed upload; S3 may instead say
// NoSuchUpload, which the other cases inject, and then the writer checks
// the object at the key; a look that gets no answer gives way to the next.
func TestObjectWriterS3CompleteAnswerLost(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.Bucket(t, "writer-complete-lost")
	cut := faultproxy.Fault{Kind: faultproxy.CutResponse, After: 20, Match: faultproxy.IsCompleteUpload}
	gone := faultproxy.Fault{Kind: faultproxy.Status, Status: 404, Code: "NoSuchUpload", Match: faultproxy.IsCompleteUpload}
	// The first look is not answered: the next, after lookTimeout, is.
	headStall := faultproxy.Fault{Kind: faultproxy.Stall, Match: faultproxy.IsHead}
	tests := []struct {
		name       string
		faults     []faultproxy.Fault
		wantHead   bool
		wantStalls int
	}{
		{"server answers the Complete sent again", []faultproxy.Fault{cut}, false, 0},
		{"server says the upload is gone", []faultproxy.Fault{cut, gone}, true, 0},
		{"server says the upload is gone, and the first look gets no answer", []faultproxy.Fault{cut, gone, headStall}, true, 1},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := faultproxy.New(t, srv.Endpoint)
			for _, f := range tt.faults {
				p.Inject(f)
			}
			client := s3test.ClientFor(p.URL, csvstream.ClientOptions)
			key := fmt.Sprintf("lost-%d.csv", i)
			w, err := csvstream.NewObjectWriter(context.Background(), client, bucket, key,
				csvstream.WriterOptions{PartSize: csvstream.MinPartSize, Concurrency: 2})
			if err != nil {
				t.Fatal(err)
			}
			want, size, err := writerStream(t, w, 12, 2*csvstream.MinPartSize+1<<20)
			if err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if p.Fired(faultproxy.CutResponse) != 1 || writerCompleteSends(p) != 2 {
				t.Fatalf("%d answers cut, %d Completes sent; want 1 and 2", p.Fired(faultproxy.CutResponse), writerCompleteSends(p))
			}
			if got := slices.Contains(p.Requests(), "HEAD /"+bucket+"/"+key); got != tt.wantHead {
				t.Errorf("HeadObject sent: %v, want %v", got, tt.wantHead)
			}
			if got := p.Fired(faultproxy.Stall); got != tt.wantStalls {
				t.Errorf("%d looks stalled, want %d", got, tt.wantStalls)
			}
			if st := w.State(); st.Retries != 1 {
				t.Errorf("State().Retries = %d, want 1", st.Retries)
			}
			checkWrittenObject(t, srv, w, bucket, key, want, size)
		})
	}
}

// TestObjectWriterS3CreateAnswerLost loses the answer to
// CreateMultipartUpload: cut off after its headers, never sent, or stalled
// after its headers. The S3 client sends the request again (at once, or
// once the request's time, a third of AbortTimeout, runs out) and the
// write goes on with the second upload. An upload S3 created for the
// request whose answer was lost is left for a sweep: failing the job would
// have left it just the same.
func TestObjectWriterS3CreateAnswerLost(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.Bucket(t, "writer-create-lost")
	tests := []struct {
		name    string
		fault   faultproxy.Fault
		created bool          // S3 created an upload for the request whose answer was lost
		least   time.Duration // before the write ends: the request's time waited out
	}{
		{"answer cut after the headers", faultproxy.Fault{Kind: faultproxy.CutResponse, After: 20}, true, 0},
		{"no answer", faultproxy.Fault{Kind: faultproxy.Stall}, false, 2500 * time.Millisecond},
		{"answer stalled after the headers", faultproxy.Fault{Kind: faultproxy.StallResponse, After: 0}, true, 2500 * time.Millisecond},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := faultproxy.New(t, srv.Endpoint)
			tt.fault.Match = faultproxy.IsCreateUpload
			p.Inject(tt.fault)
			client := s3test.ClientFor(p.URL, csvstream.ClientOptions, writerFastBackoff)
			key := fmt.Sprintf("lost-create-%d.csv", i)
			w, err := csvstream.NewObjectWriter(context.Background(), client, bucket, key,
				csvstream.WriterOptions{PartSize: csvstream.MinPartSize, Concurrency: 2, AbortTimeout: 7500 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			want, size, err := writerStream(t, w, 41, 2*csvstream.MinPartSize+1<<20)
			if err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if took := time.Since(start); took < tt.least {
				t.Errorf("the write took %v; want at least the request's %v waited out", took, tt.least)
			}
			if got := p.Fired(tt.fault.Kind); got != 1 {
				t.Fatalf("the fault fired %d times, want 1", got)
			}
			if got := writerCreateSends(p); got != 2 {
				t.Errorf("CreateMultipartUpload sent %d times, want 2", got)
			}
			if st := w.State(); st.Retries != 1 {
				t.Errorf("State().Retries = %d, want 1", st.Retries)
			}
			var lost []types.MultipartUpload
			for _, u := range srv.Uploads(t, bucket) {
				if aws.ToString(u.Key) == key {
					lost = append(lost, u)
				}
			}
			if len(lost) != btoi(tt.created) || len(lost) == 1 && aws.ToString(lost[0].UploadId) == w.State().UploadID {
				t.Fatalf("uploads left: %v; want %d, not the writer's own", uploadIDs(lost), btoi(tt.created))
			}
			for _, u := range lost {
				if _, err := srv.Client().AbortMultipartUpload(context.Background(), &s3.AbortMultipartUploadInput{
					Bucket: aws.String(bucket), Key: aws.String(key), UploadId: u.UploadId,
				}); err != nil {
					t.Fatal(err)
				}
			}
			checkWrittenObject(t, srv, w, bucket, key, want, size)
		})
	}
}

// TestObjectWriterS3CreateNeverAnswered: a CreateMultipartUpload that
// never gets an answer is sent again while a second is left for the
// answer, then fails the write with an error that says so, not one that
// reads as the job running out of time. A writer stopped meanwhile does
// not send it again: that would only create an upload to abort. The S3
// client's waits between requests are kept short.
func TestObjectWriterS3CreateNeverAnswered(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.Bucket(t, "writer-create-stall")
	stopped := errors.New("stopped by the test")
	tests := []struct {
		name    string
		stop    bool     // cancel the writer's context once the first Create stalls
		sends   int      // CreateMultipartUpload requests
		wantErr []string // in the error, besides the object
		least   time.Duration
	}{
		// Requests given 2 s each: the second ends with half a second
		// left of the 4.5 s.
		{"never answered", false, 2, []string{"no answer within 2s", "not sent again with", "too little time"}, 4 * time.Second},
		{"stopped meanwhile", true, 1, []string{"no answer within 2s", "not sent again: stopped: " + stopped.Error()}, 2 * time.Second},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := faultproxy.New(t, srv.Endpoint)
			p.Inject(faultproxy.Fault{Kind: faultproxy.Stall, Times: 10, Match: faultproxy.IsCreateUpload})
			client := s3test.ClientFor(p.URL, csvstream.ClientOptions, writerFastBackoff)
			key := fmt.Sprintf("stalled-%d.csv", i)
			ctx, cancel := context.WithCancelCause(context.Background())
			defer cancel(nil)
			w, err := csvstream.NewObjectWriter(ctx, client, bucket, key,
				csvstream.WriterOptions{PartSize: csvstream.MinPartSize, AbortTimeout: 4500 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			if tt.stop {
				go func() {
					for p.Fired(faultproxy.Stall) == 0 && ctx.Err() == nil {
						time.Sleep(time.Millisecond)
					}
					cancel(stopped)
				}()
			}
			start := time.Now()
			_, _, err = writerStream(t, w, 43, csvstream.MinPartSize+1<<20)
			took := time.Since(start)
			_ = w.Abort()
			if err == nil {
				t.Fatal("the write succeeded with every CreateMultipartUpload stalled")
			}
			for _, want := range append(tt.wantErr, "s3://"+bucket+"/"+key) {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
			if errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("error %q wraps DeadlineExceeded", err)
			}
			if tt.stop && !errors.Is(err, stopped) {
				t.Errorf("error %q does not wrap the stop's cause", err)
			}
			if got := writerCreateSends(p); got != tt.sends || p.Fired(faultproxy.Stall) != tt.sends {
				t.Errorf("CreateMultipartUpload sent %d times, %d stalled; want %d", got, p.Fired(faultproxy.Stall), tt.sends)
			}
			if took < tt.least {
				t.Errorf("the write failed after %v, before its requests' 2s ran out", took)
			}
		})
	}
}

// btoi is 1 for true and 0 for false.
func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestObjectWriterS3CreateRetryTooLate checks that the S3 client does not
// send CreateMultipartUpload again when too little time is left for its
// answer: S3 could create an upload whose id the writer, its context over,
// never learns, and that upload would be left behind. A retry with time to
// spare is still sent, and so is the first attempt, however little time is
// left. The Create's context is AbortTimeout long here.
func TestObjectWriterS3CreateRetryTooLate(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.Bucket(t, "writer-create-late")
	throttle := faultproxy.Fault{Kind: faultproxy.Status, Status: http.StatusServiceUnavailable, Code: "SlowDown", Match: faultproxy.IsCreateUpload}
	// Were the late retry sent, S3 would create the upload and its answer
	// would never come.
	stall := faultproxy.Fault{Kind: faultproxy.StallResponse, Match: faultproxy.IsCreateUpload}
	// The retry's answer comes slowly, in about 0.7 s.
	slow := faultproxy.Fault{Kind: faultproxy.SlowResponse, Rate: 400, Match: faultproxy.IsCreateUpload}
	tests := []struct {
		name         string
		backoff      time.Duration // the S3 client's wait before its retry
		abortTimeout time.Duration
		retry        faultproxy.Fault // what befalls the retry
		wantCreates  int
		wantErr      []string // nil: the write succeeds
	}{
		{"retry due with time to spare", 50 * time.Millisecond, 3 * time.Second, faultproxy.Fault{}, 2, nil},
		{"retry due too late", 400 * time.Millisecond, 1200 * time.Millisecond, stall, 1, []string{"SlowDown", "not sent again"}},
		{"first attempt with under a second left", 50 * time.Millisecond, 500 * time.Millisecond, stall, 1, []string{"SlowDown", "not sent again"}},
		// Each request gets 2 s for its answer, counted from its sending,
		// not from the call's start: the retry sent 1.8 s in still gets its
		// slow answer, and no upload is left behind.
		{"retry late in the first request's time", 1800 * time.Millisecond, 5 * time.Second, slow, 2, nil},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := faultproxy.New(t, srv.Endpoint)
			p.Inject(throttle)
			if tt.retry.Match != nil {
				p.Inject(tt.retry)
			}
			client := s3test.ClientFor(p.URL, csvstream.ClientOptions, func(o *s3.Options) {
				o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
					so.RateLimiter = ratelimit.None
					so.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return tt.backoff, nil })
				})
			})
			key := fmt.Sprintf("late-%d.csv", i)
			w, err := csvstream.NewObjectWriter(context.Background(), client, bucket, key,
				csvstream.WriterOptions{PartSize: csvstream.MinPartSize, AbortTimeout: tt.abortTimeout})
			if err != nil {
				t.Fatal(err)
			}
			want, size, err := writerStream(t, w, 31, 2*csvstream.MinPartSize+1<<20)
			if err == nil {
				err = w.Close()
			} else {
				_ = w.Abort()
			}
			if creates := writerCreateSends(p); creates != tt.wantCreates {
				t.Errorf("CreateMultipartUpload sent %d times, want %d", creates, tt.wantCreates)
			}
			if tt.wantErr == nil {
				if err != nil {
					t.Fatal(err)
				}
				checkWrittenObject(t, srv, w, bucket, key, want, size)
				return
			}
			if err == nil {
				t.Fatal("no error")
			}
			t.Log(err)
			for _, s := range append(tt.wantErr, "s3://"+bucket+"/"+key) {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not say %q", err, s)
				}
			}
			// The error keeps S3's answer to the last attempt sent, and the
			// S3 client takes the refusal as final: it does not wait to
			// try again, only to be refused again, and then blame the
			// attempts it did not send.
			var apiErr smithy.APIError
			if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "SlowDown" {
				t.Errorf("error %q does not hold S3's SlowDown", err)
			}
			if strings.Contains(err.Error(), "maximum number of attempts") {
				t.Errorf("error %q counts attempts that were not sent", err)
			}
			if ups := srv.Uploads(t, bucket); len(ups) != 0 {
				t.Errorf("%d multipart uploads left", len(ups))
			}
		})
	}
}

// actFirstThenReset sends the first request match selects straight to the
// server, past the proxy and its faults, lets the server act on it, and
// then reports a connection reset before the headers, which the S3 client
// sends again, through the proxy.
type actFirstThenReset struct {
	next     s3.HTTPClient
	endpoint string
	match    func(*http.Request) bool
	sent     *atomic.Int32
}

func (d actFirstThenReset) Do(r *http.Request) (*http.Response, error) {
	if !d.match(r) || d.sent.Add(1) != 1 {
		return d.next.Do(r)
	}
	direct := r.Clone(r.Context())
	direct.Host = r.URL.Host // as signed, for the proxy's address
	direct.URL.Host = strings.TrimPrefix(d.endpoint, "http://")
	resp, err := http.DefaultTransport.RoundTrip(direct)
	if err != nil {
		return nil, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return nil, errors.New("read: connection reset by peer")
}

// TestObjectWriterS3AnswerLostThenThrottled lets S3 carry out the first
// Complete, or the PutObject of a small object, and loses the answer; the
// S3 client sends the request again and gets SlowDown until it gives up.
// The object is published all the same, so the write succeeds: the last
// attempt's error does not undo what the first did.
func TestObjectWriterS3AnswerLostThenThrottled(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.Bucket(t, "writer-lost-throttled")
	for _, tc := range []struct {
		name  string
		key   string
		size  int64
		match func(*http.Request) bool
	}{
		{"complete", "multipart.csv", 2*csvstream.MinPartSize + 1<<20, faultproxy.IsCompleteUpload},
		{"put", "small.csv", 100 << 10, faultproxy.IsPutObject("small.csv")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := faultproxy.New(t, srv.Endpoint)
			p.Inject(faultproxy.Fault{Kind: faultproxy.Status, Status: http.StatusServiceUnavailable, Code: "SlowDown", Match: tc.match, Times: 100})
			var sent atomic.Int32
			client := s3test.ClientFor(p.URL, csvstream.ClientOptions, writerFastBackoff, func(o *s3.Options) {
				o.HTTPClient = actFirstThenReset{next: o.HTTPClient, endpoint: srv.Endpoint, match: tc.match, sent: &sent}
			})
			w, err := csvstream.NewObjectWriter(context.Background(), client, bucket, tc.key,
				csvstream.WriterOptions{PartSize: csvstream.MinPartSize, Concurrency: 2})
			if err != nil {
				t.Fatal(err)
			}
			want, size, err := writerStream(t, w, 21, tc.size)
			if err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatalf("Close: %v; the object was published", err)
			}
			if sent.Load() < 2 || p.Fired(faultproxy.Status) == 0 {
				t.Fatalf("%d requests sent, %d throttled: the fault did not happen", sent.Load(), p.Fired(faultproxy.Status))
			}
			checkWrittenObject(t, srv, w, bucket, tc.key, want, size)
			if ups := srv.Uploads(t, bucket); len(ups) != 0 {
				t.Errorf("%d multipart uploads left", len(ups))
			}
		})
	}
}

// TestObjectWriterS3Failures checks that an upload that cannot succeed
// ends in an error naming the part and upload, with nothing left in S3.
func TestObjectWriterS3Failures(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.Bucket(t, "writer-fail")
	tests := []struct {
		name      string
		fault     faultproxy.Fault
		wantSends int // of part 2
		wantErr   []string
		unsigned  bool // the payload is not signed, as over HTTPS
	}{
		// Over plain HTTP the S3 client signs the payload's SHA-256, and S3
		// finds the flipped byte by it before the CRC64NVME checksum.
		{"part corrupted every time", faultproxy.Fault{Kind: faultproxy.FlipByte, After: 100, Times: 100, Match: faultproxy.IsPartUpload(2)},
			3, []string{"part 2", "XAmzContentSHA256Mismatch", "attempt 3 of 3"}, false},
		// Unsigned, as over HTTPS, only the part's checksum finds it.
		{"part corrupted every time, payload unsigned", faultproxy.Fault{Kind: faultproxy.FlipByte, After: 100, Times: 100, Match: faultproxy.IsPartUpload(2)},
			3, []string{"part 2", "BadDigest", "attempt 3 of 3"}, true},
		{"part refused", faultproxy.Fault{Kind: faultproxy.Status, Status: 403, Code: "AccessDenied", Match: faultproxy.IsPartUpload(2)},
			1, []string{"part 2", "AccessDenied", "attempt 1 of 3"}, false},
		{"complete refused", faultproxy.Fault{Kind: faultproxy.Status, Status: 400, Code: "InvalidPart", Match: faultproxy.IsCompleteUpload},
			1, []string{"complete", "InvalidPart"}, false},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := faultproxy.New(t, srv.Endpoint)
			p.Inject(tt.fault)
			client := s3test.ClientFor(p.URL, csvstream.ClientOptions, writerFastBackoff, func(o *s3.Options) {
				if tt.unsigned {
					o.APIOptions = append(o.APIOptions, v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware)
				}
			})
			key := fmt.Sprintf("fail-%d.csv", i)
			w, err := csvstream.NewObjectWriterWithLimits(context.Background(), client, bucket, key,
				csvstream.WriterOptions{PartSize: csvstream.MinPartSize, Concurrency: 2, PartAttempts: 3},
				csvstream.WriterLimits{MinPartSize: csvstream.MinPartSize, RetryBackoff: 10 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			_, _, err = writerStream(t, w, 4, 2*csvstream.MinPartSize+1<<20)
			if err == nil {
				err = w.Close()
			}
			if err == nil {
				t.Fatal("no error")
			}
			t.Log(err)
			id := w.State().UploadID
			for _, s := range append(tt.wantErr, "upload id "+id, "s3://"+bucket+"/"+key) {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not say %q", err, s)
				}
			}
			if got := writerPartSends(p, 2); got != tt.wantSends {
				t.Errorf("part 2 sent %d times, want %d", got, tt.wantSends)
			}
			if ups := srv.Uploads(t, bucket); len(ups) != 0 {
				t.Fatalf("%d multipart uploads left", len(ups))
			}
			if err := w.Close(); err == nil {
				t.Error("Close after the failure succeeded")
			}
		})
	}
}

// TestObjectWriterS3AbortRefused checks that a failed abort is reported
// with the failure that caused it, and that Abort tries it again.
func TestObjectWriterS3AbortRefused(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.Bucket(t, "writer-abort")
	p := faultproxy.New(t, srv.Endpoint)
	p.Inject(faultproxy.Fault{Kind: faultproxy.Status, Status: 400, Code: "InvalidPart", Match: faultproxy.IsCompleteUpload})
	p.Inject(faultproxy.Fault{Kind: faultproxy.Status, Status: 403, Code: "AccessDenied", Match: faultproxy.IsAbortUpload})
	client := s3test.ClientFor(p.URL, csvstream.ClientOptions)
	w, err := csvstream.NewObjectWriter(context.Background(), client, bucket, "abort.csv",
		csvstream.WriterOptions{PartSize: csvstream.MinPartSize})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := writerStream(t, w, 9, csvstream.MinPartSize+1000); err != nil {
		t.Fatal(err)
	}
	err = w.Close()
	if err == nil || !strings.Contains(err.Error(), "InvalidPart") || !strings.Contains(err.Error(), "abort multipart upload "+w.State().UploadID) {
		t.Fatalf("err = %v, want the Complete failure joined with the abort failure", err)
	}
	if ups := srv.Uploads(t, bucket); len(ups) != 1 {
		t.Fatalf("%d multipart uploads, want the one whose abort failed", len(ups))
	}
	if err := w.Abort(); err != nil {
		t.Fatal(err)
	}
	if ups := srv.Uploads(t, bucket); len(ups) != 0 {
		t.Fatalf("%d multipart uploads left after Abort", len(ups))
	}
}

func TestObjectWriterS3Cancel(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.Bucket(t, "writer-cancel")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w, err := csvstream.NewObjectWriter(ctx, srv.Client(csvstream.ClientOptions), bucket, "cancelled.csv",
		csvstream.WriterOptions{PartSize: csvstream.MinPartSize, Concurrency: 2})
	if err != nil {
		t.Fatal(err)
	}
	g := newWriterInput(5)
	for len(w.State().Parts) < 2 {
		if _, err := w.Write(g.next()); err != nil {
			t.Fatal(err)
		}
	}
	cancel() // parts 1 and 2 may still be in flight
	for err == nil {
		_, err = w.Write(g.next())
	}
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), w.State().UploadID) {
		t.Fatalf("err = %v, want context.Canceled naming the upload", err)
	}
	if ups := srv.Uploads(t, bucket); len(ups) != 0 {
		t.Fatalf("%d multipart uploads left", len(ups))
	}
}

// writerCorruptingAPI changes checksums on their way to S3, to show that S3
// checks the ones the writer sends. It works in the client, before the
// request is signed: the checksum headers are signed, so a proxy that
// changed one would get SignatureDoesNotMatch, not a checksum error. (The
// fault tests flip body bytes in the proxy for the checksum's other side.)
type writerCorruptingAPI struct {
	*s3.Client
	partsLeft    int   // UploadPart calls whose checksum to corrupt
	fullChecksum bool  // corrupt the full-object checksum on Complete
	partErr      error // what S3 said to the corrupted part
}

func (c *writerCorruptingAPI) UploadPart(ctx context.Context, in *s3.UploadPartInput, optFns ...func(*s3.Options)) (*s3.UploadPartOutput, error) {
	if c.partsLeft > 0 && aws.ToInt32(in.PartNumber) == 1 {
		c.partsLeft--
		bad := *in
		bad.ChecksumCRC64NVME = aws.String(csvstream.ChecksumCRC64NVME([]byte("not the part")))
		out, err := c.Client.UploadPart(ctx, &bad, optFns...)
		c.partErr = err
		return out, err
	}
	return c.Client.UploadPart(ctx, in, optFns...)
}

func (c *writerCorruptingAPI) CompleteMultipartUpload(ctx context.Context, in *s3.CompleteMultipartUploadInput, optFns ...func(*s3.Options)) (*s3.CompleteMultipartUploadOutput, error) {
	if c.fullChecksum {
		bad := *in
		bad.ChecksumCRC64NVME = aws.String(csvstream.ChecksumCRC64NVME([]byte("not the object")))
		return c.Client.CompleteMultipartUpload(ctx, &bad, optFns...)
	}
	return c.Client.CompleteMultipartUpload(ctx, in, optFns...)
}

func TestObjectWriterS3ChecksumsVerified(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.Bucket(t, "writer-checksums")
	opt := csvstream.WriterOptions{PartSize: csvstream.MinPartSize, Concurrency: 1}
	lim := csvstream.WriterLimits{MinPartSize: csvstream.MinPartSize, RetryBackoff: 10 * time.Millisecond}

	// A part whose checksum does not match is refused, and sent again.
	api := &writerCorruptingAPI{Client: srv.Client(csvstream.ClientOptions), partsLeft: 1}
	w, err := csvstream.NewObjectWriterWithLimits(context.Background(), api, bucket, "part.csv", opt, lim)
	if err != nil {
		t.Fatal(err)
	}
	want, size, err := writerStream(t, w, 6, csvstream.MinPartSize+1000)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	var apiErr smithy.APIError
	if !errors.As(api.partErr, &apiErr) || apiErr.ErrorCode() != "BadDigest" {
		t.Fatalf("S3 answered the part with a wrong checksum with %v, want BadDigest", api.partErr)
	}
	if w.State().Retries != 1 {
		t.Errorf("State().Retries = %d, want 1", w.State().Retries)
	}
	checkWrittenObject(t, srv, w, bucket, "part.csv", want, size)

	// A full-object checksum that does not match fails the upload.
	api = &writerCorruptingAPI{Client: srv.Client(csvstream.ClientOptions), fullChecksum: true}
	w, err = csvstream.NewObjectWriterWithLimits(context.Background(), api, bucket, "full.csv", opt, lim)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := writerStream(t, w, 7, csvstream.MinPartSize+1000); err != nil {
		t.Fatal(err)
	}
	err = w.Close()
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "BadDigest" {
		t.Fatalf("err = %v, want BadDigest", err)
	}
	if ups := srv.Uploads(t, bucket); len(ups) != 0 {
		t.Fatalf("%d multipart uploads left", len(ups))
	}
}

// writerListingAPI lists the upload's parts just before completing it.
type writerListingAPI struct {
	*s3.Client
	parts []types.Part
	err   error
}

func (l *writerListingAPI) CompleteMultipartUpload(ctx context.Context, in *s3.CompleteMultipartUploadInput, optFns ...func(*s3.Options)) (*s3.CompleteMultipartUploadOutput, error) {
	lin := &s3.ListPartsInput{Bucket: in.Bucket, Key: in.Key, UploadId: in.UploadId}
	for {
		out, err := l.Client.ListParts(ctx, lin)
		if err != nil {
			l.err = err
			break
		}
		l.parts = append(l.parts, out.Parts...)
		if !aws.ToBool(out.IsTruncated) {
			break
		}
		lin.PartNumberMarker = out.NextPartNumberMarker
	}
	return l.Client.CompleteMultipartUpload(ctx, in, optFns...)
}

// TestObjectWriterS3TwoThousandParts uploads 2,000 real parts. Parts of
// 5 MiB would make 10 GB, so the test lowers the writer's minimum to 256
// bytes; the server then refuses to complete the upload (it enforces the
// 5 MiB minimum), which also shows that a failed Complete aborts. Before
// that, ListParts shows that the server holds parts 1..2000 with the sizes
// the schedule grows to.
func TestObjectWriterS3TwoThousandParts(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.Bucket(t, "writer-2000")
	api := &writerListingAPI{Client: srv.Client(csvstream.ClientOptions)}
	const first = 256
	w, err := csvstream.NewObjectWriterWithLimits(context.Background(), api, bucket, "parts.csv",
		csvstream.WriterOptions{PartSize: first, Concurrency: 8},
		csvstream.WriterLimits{MinPartSize: first, RetryBackoff: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	rec := []byte("0123456789,abcdefghijklmnopqrst\n") // 32 bytes: parts end exactly at the size
	total := 900*first + 900*2*first + 200*4*first
	for range total / len(rec) {
		if _, err := w.Write(rec); err != nil {
			t.Fatal(err)
		}
	}
	err = w.Close()
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "EntityTooSmall" {
		t.Fatalf("err = %v, want EntityTooSmall from the server", err)
	}
	if api.err != nil {
		t.Fatal(api.err)
	}
	st := w.State()
	if len(api.parts) != 2000 || len(st.Parts) != 2000 {
		t.Fatalf("server lists %d parts, writer sent %d; want 2000", len(api.parts), len(st.Parts))
	}
	for i, p := range api.parts {
		n := int32(i + 1)
		want := csvstream.PartSizeAt(first, n)
		if aws.ToInt32(p.PartNumber) != n || aws.ToInt64(p.Size) != want {
			t.Fatalf("server part %d: number %d, %d bytes; want %d bytes", n, aws.ToInt32(p.PartNumber), aws.ToInt64(p.Size), want)
		}
		if aws.ToString(p.ETag) != st.Parts[i].ETag || aws.ToString(p.ChecksumCRC64NVME) != st.Parts[i].ChecksumCRC64NVME {
			t.Fatalf("server part %d: ETag %s CRC %s; writer has %+v", n, aws.ToString(p.ETag), aws.ToString(p.ChecksumCRC64NVME), st.Parts[i])
		}
	}
	for _, n := range []int32{900, 901, 1800, 1801} {
		t.Logf("part %d: %d bytes", n, st.Parts[n-1].Size)
	}
	if ups := srv.Uploads(t, bucket); len(ups) != 0 {
		t.Fatalf("%d multipart uploads left", len(ups))
	}
	if err := w.Abort(); err != nil {
		t.Fatal(err)
	}
}

// stallPart2 is an HTTP client that never answers UploadPart for part 2,
// like a connection that hangs, until the request's context ends.
type stallPart2 struct{ next s3.HTTPClient }

func (s stallPart2) Do(r *http.Request) (*http.Response, error) {
	if faultproxy.IsPartUpload(2)(r) {
		<-r.Context().Done()
		return nil, r.Context().Err()
	}
	return s.next.Do(r)
}

// TestObjectWriterS3Deadline checks that with part 2 hanging, the writer
// gives up DeadlineMargin before the caller's deadline and aborts in time.
func TestObjectWriterS3Deadline(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.Bucket(t, "writer-deadline")
	client := srv.Client(csvstream.ClientOptions, func(o *s3.Options) { o.HTTPClient = stallPart2{next: o.HTTPClient} })
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
	defer cancel()
	w, err := csvstream.NewObjectWriter(ctx, client, bucket, "deadline.csv",
		csvstream.WriterOptions{PartSize: csvstream.MinPartSize, DeadlineMargin: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	line := bytes.Repeat([]byte("x"), 1<<20)
	line[len(line)-1] = '\n'
	for range 11 { // parts 1 and 2, and a bit of part 3
		if _, err = w.Write(line); err != nil {
			break
		}
	}
	if err == nil {
		err = w.Close()
	}
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "part 2") {
		t.Fatalf("err = %v, want context.DeadlineExceeded on part 2", err)
	}
	if ctx.Err() != nil {
		t.Error("the writer stopped only after the caller's deadline")
	}
	if ups := srv.Uploads(t, bucket); len(ups) != 0 {
		t.Fatalf("%d multipart uploads left", len(ups))
	}
}
