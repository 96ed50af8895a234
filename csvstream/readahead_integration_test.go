package csvstream_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/csvstream/csvstream/csvstream"
	"github.com/csvstream/csvstream/internal/faultproxy"
	"github.com/csvstream/csvstream/internal/s3test"
)

// chunkSize is the ChunkSize of the read-ahead tests: small, so that a
// 2 MiB object takes nine ranges.
const chunkSize = 256 << 10

// chunkRange returns the Range header of chunk i of an object of size
// bytes, from byte from of the chunk on.
func chunkRange(i int, from, size int64) string {
	start := int64(i)*chunkSize + from
	end := min(int64(i+1)*chunkSize, size) - 1
	return fmt.Sprintf("bytes=%d-%d", start, end)
}

// isFirstGet matches the reader's first, whole GET of key.
func isFirstGet(key string) func(*http.Request) bool {
	return func(r *http.Request) bool { return faultproxy.IsGet(key)(r) && r.Header.Get("Range") == "" }
}

// endsAt matches ranged GETs of key that end with the object's last byte.
func endsAt(key string, size int64) func(*http.Request) bool {
	return func(r *http.Request) bool {
		return faultproxy.IsRangedGet(r) && faultproxy.IsGet(key)(r) && strings.HasSuffix(r.Header.Get("Range"), fmt.Sprintf("-%d", size-1))
	}
}

// putCRC32 puts data at s3://bucket/key with a full-object CRC32, which
// the reader checks the chunks against once they are read.
func putCRC32(t *testing.T, srv *s3test.Server, bucket, key string, data []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := srv.Client().PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(data),
		ChecksumAlgorithm: types.ChecksumAlgorithmCrc32,
	})
	if err != nil {
		t.Fatalf("put s3://%s/%s: %v", bucket, key, err)
	}
}

// quickRetryClient is proxiedClient with the S3 client's waits between
// attempts cut to a millisecond, so that faults that outlast its retries
// cost no time.
func quickRetryClient(t *testing.T, srv *s3test.Server) (*s3.Client, *faultproxy.Proxy) {
	p := faultproxy.New(t, srv.Endpoint)
	return s3test.ClientFor(p.URL, csvstream.ClientOptions, func(o *s3.Options) {
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenSupported
		o.Retryer = retry.AddWithMaxBackoffDelay(o.Retryer, time.Millisecond)
	}), p
}

// TestObjectReaderChunksS3 reads an object larger than ChunkSize, which
// the reader fetches in ranges at once, through faults hitting single
// ranges: each is retried or resumed alone, and the bytes come out whole
// and in order.
func TestObjectReaderChunksS3(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.Bucket(t, "chunks")
	data := csvData(2<<20 + 12345) // eight whole chunks and a short one
	size := int64(len(data))
	const key = "in/data.csv"
	putCRC32(t, srv, bucket, key, data)

	// Every range a clean read asks for: the first chunk comes from the
	// first, whole GET.
	var clean []string
	for i := 1; int64(i)*chunkSize < size; i++ {
		clean = append(clean, chunkRange(i, 0, size))
	}
	tests := []struct {
		name        string
		faults      []faultproxy.Fault
		resumes     int
		extraRanges []string // asked for beyond the clean ones
	}{
		{name: "no fault"},
		{
			name:        "first body cut inside the first chunk",
			faults:      []faultproxy.Fault{{Kind: faultproxy.CutResponse, After: 1000, Match: isFirstGet(key)}},
			resumes:     1,
			extraRanges: []string{chunkRange(0, 1000, size)},
		},
		{
			name:        "a middle chunk cut",
			faults:      []faultproxy.Fault{{Kind: faultproxy.CutResponse, After: 5000, Match: faultproxy.IsGetRange(key, chunkRange(3, 0, size))}},
			resumes:     1,
			extraRanges: []string{chunkRange(3, 5000, size)},
		},
		{
			// More breaks than ReaderOptions.Attempts, each after progress,
			// which starts the count again.
			name:        "the last chunk cut six times",
			faults:      []faultproxy.Fault{{Kind: faultproxy.CutResponse, After: 100, Times: 6, Match: endsAt(key, size)}},
			resumes:     6,
			extraRanges: []string{chunkRange(8, 100, size), chunkRange(8, 200, size), chunkRange(8, 300, size), chunkRange(8, 400, size), chunkRange(8, 500, size), chunkRange(8, 600, size)},
		},
		{
			name: "a chunk failing past the client's retries",
			faults: []faultproxy.Fault{{
				Kind: faultproxy.Status, Status: http.StatusInternalServerError, Code: "InternalError",
				Times: csvstream.MaxAttempts, Match: faultproxy.IsGetRange(key, chunkRange(5, 0, size)),
			}},
			resumes:     0, // no body broke: the range's GET was sent again
			extraRanges: slices.Repeat([]string{chunkRange(5, 0, size)}, csvstream.MaxAttempts),
		},
		{
			// S3 sends RequestTimeout with status 400, not 408: a timeout
			// all the same, not a client error to give up on.
			name: "a chunk timing out past the client's retries",
			faults: []faultproxy.Fault{{
				Kind: faultproxy.Status, Status: http.StatusBadRequest, Code: "RequestTimeout",
				Times: csvstream.MaxAttempts, Match: faultproxy.IsGetRange(key, chunkRange(2, 0, size)),
			}},
			extraRanges: slices.Repeat([]string{chunkRange(2, 0, size)}, csvstream.MaxAttempts),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			client, p := quickRetryClient(t, srv)
			for _, f := range tt.faults {
				p.Inject(f)
			}
			api := &watchedAPI{GetObjectAPI: client}
			r, err := csvstream.NewObjectReader(ctx, api, bucket, key, csvstream.ReaderOptions{
				Concurrency: 4, ChunkSize: chunkSize, Backoff: time.Millisecond,
			})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			got, err := io.ReadAll(r)
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			if !bytes.Equal(got, data) {
				t.Fatalf("read %d bytes that differ from the %d put", len(got), len(data))
			}
			if r.Resumes() != tt.resumes {
				t.Errorf("Resumes() = %d; want %d", r.Resumes(), tt.resumes)
			}
			// Every range is pinned to the object first read.
			for _, m := range api.rangesIfMatch() {
				if m != r.ETag() {
					t.Errorf("a ranged GET had If-Match %q; want the first ETag %q", m, r.ETag())
				}
			}
			want := countStrings(append(append([]string(nil), clean...), tt.extraRanges...))
			if got := countStrings(p.Ranges()); !maps.Equal(got, want) {
				t.Errorf("ranges asked for %v; want %v", got, want)
			}
		})
	}
}

// TestObjectReaderChunkFailuresS3 gives single ranges faults that no retry
// mends: the read fails with the cause, naming the object and where.
func TestObjectReaderChunkFailuresS3(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.Bucket(t, "chunkfail")
	data := csvData(2 << 20)
	size := int64(len(data))
	const key = "in/data.csv"
	putCRC32(t, srv, bucket, key, data)
	tests := []struct {
		name    string
		fault   faultproxy.Fault
		inErr   []string
		rng     string // the faulty range
		times   int    // how many times it is asked for
		resumes int
	}{
		{
			name:  "a byte flipped in a chunk",
			fault: faultproxy.Fault{Kind: faultproxy.FlipResponseByte, After: 77},
			inErr: []string{"CRC32 checksum mismatch", fmt.Sprintf("offset %d", size)},
			rng:   chunkRange(2, 0, size), times: 1,
		},
		{
			name:  "a chunk denied",
			fault: faultproxy.Fault{Kind: faultproxy.Status, Status: http.StatusForbidden, Code: "AccessDenied"},
			inErr: []string{"AccessDenied", chunkRange(4, 0, size)},
			rng:   chunkRange(4, 0, size), times: 1,
		},
		{
			name:  "a chunk cut on every attempt",
			fault: faultproxy.Fault{Kind: faultproxy.CutResponse, After: 0, Times: 100},
			inErr: []string{"gave up after 5 attempts", strings.TrimPrefix(chunkRange(6, 0, size), "bytes=")},
			rng:   chunkRange(6, 0, size), times: 6, resumes: 5,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			client, p := quickRetryClient(t, srv)
			tt.fault.Match = faultproxy.IsGetRange(key, tt.rng)
			p.Inject(tt.fault)
			r, err := csvstream.NewObjectReader(ctx, client, bucket, key, csvstream.ReaderOptions{
				Concurrency: 3, ChunkSize: chunkSize, Backoff: time.Millisecond,
			})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			_, err = io.Copy(io.Discard, r)
			if err == nil {
				t.Fatal("read succeeded; want an error")
			}
			for _, want := range append(tt.inErr, "s3://"+bucket+"/"+key) {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
			if _, err2 := r.Read(make([]byte, 1)); err2 == nil || err2.Error() != err.Error() {
				t.Errorf("Read after the failure: %v; want the same error again", err2)
			}
			if n := countStrings(p.Ranges())[tt.rng]; n != tt.times {
				t.Errorf("range %s was asked for %d times; want %d", tt.rng, n, tt.times)
			}
			if r.Resumes() != tt.resumes {
				t.Errorf("Resumes() = %d; want %d, the failed range's included", r.Resumes(), tt.resumes)
			}
		})
	}
}

// TestObjectReaderChunkStallsS3 stalls the first body part way, a range's
// body part way and another range's GET before it answers: each is given
// up on after StallTimeout and read again from where it stopped, so the
// read ends whole and long before the job's deadline.
func TestObjectReaderChunkStallsS3(t *testing.T) {
	src := newChunkSource(t, "chunkstall", 2<<20)
	src.proxy.Inject(faultproxy.Fault{Kind: faultproxy.StallResponse, After: 1000, Match: isFirstGet(chunkKey)})
	src.proxy.Inject(faultproxy.Fault{Kind: faultproxy.StallResponse, After: 10, Match: faultproxy.IsGetRange(chunkKey, chunkRange(1, 0, src.size))})
	src.proxy.Inject(faultproxy.Fault{Kind: faultproxy.Stall, Match: faultproxy.IsGetRange(chunkKey, chunkRange(2, 0, src.size))})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r, err := csvstream.NewObjectReader(ctx, src.client, src.bucket, chunkKey, csvstream.ReaderOptions{
		Concurrency: 4, ChunkSize: chunkSize, StallTimeout: 300 * time.Millisecond, Backoff: time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(got, src.data) {
		t.Fatalf("read %d bytes, err %v; want the %d bytes of the object", len(got), err, len(src.data))
	}
	// The two bodies that stalled were reopened; the GET that never
	// answered was asked again, which is a retry, not a resume.
	if r.Resumes() != 2 {
		t.Errorf("Resumes() = %d; want 2", r.Resumes())
	}
	// Each stall happened: the range whose GET got no answer was asked for
	// twice, the second time whole.
	if n := countStrings(src.proxy.Ranges())[chunkRange(2, 0, src.size)]; n != 2 || src.proxy.Fired(faultproxy.Stall) != 1 || src.proxy.Fired(faultproxy.StallResponse) != 2 {
		t.Errorf("range 2 asked for %d times, %d stalls and %d stalled bodies; want 2, 1 and 2",
			n, src.proxy.Fired(faultproxy.Stall), src.proxy.Fired(faultproxy.StallResponse))
	}
}

// TestObjectReaderChunksSourceChangedS3 replaces the object while its
// chunks are being read: the ranges still to fetch are pinned to the
// first ETag, so the read fails with ErrSourceChanged instead of mixing
// two objects.
func TestObjectReaderChunksSourceChangedS3(t *testing.T) {
	src := newChunkSource(t, "chunkchanged", 2<<20)
	bucket, key, data := src.bucket, chunkKey, src.data
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r, err := csvstream.NewObjectReader(ctx, src.client, bucket, key, csvstream.ReaderOptions{Concurrency: 2, ChunkSize: chunkSize})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	// The first two chunks are under way; the third starts only once the
	// first is read.
	head := make([]byte, chunkSize)
	if _, err := io.ReadFull(r, head); err != nil || !bytes.Equal(head, data[:chunkSize]) {
		t.Fatalf("first chunk: %v, or its bytes differ", err)
	}
	src.srv.Put(t, bucket, key, csvData(2<<20+1))
	_, err = io.Copy(io.Discard, r)
	if !errors.Is(err, csvstream.ErrSourceChanged) {
		t.Fatalf("read after replacement: %v; want ErrSourceChanged", err)
	}
	for _, want := range []string{"s3://" + bucket + "/" + key, r.ETag()} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
}

// TestObjectReaderChunksStopS3 stops a read whose next chunks stall after
// their first bytes: those bytes are read, then Read returns the
// cancellation at once.
func TestObjectReaderChunksStopS3(t *testing.T) {
	src := newChunkSource(t, "chunkstop", 2<<20)
	client, p, data := src.client, src.proxy, src.data
	for i := 1; i < 4; i++ {
		p.Inject(faultproxy.Fault{Kind: faultproxy.StallResponse, After: 10, Match: faultproxy.IsGetRange(chunkKey, chunkRange(i, 0, src.size))})
	}
	stop := errors.New("interrupt signal received")
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	r, err := csvstream.NewObjectReader(ctx, client, src.bucket, chunkKey, csvstream.ReaderOptions{Concurrency: 4, ChunkSize: chunkSize})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(r, make([]byte, chunkSize)); err != nil {
		t.Fatal(err)
	}
	// The bytes that did arrive are read at once, without waiting for the
	// rest of their chunk.
	head := make([]byte, 10)
	if _, err := io.ReadFull(r, head); err != nil || !bytes.Equal(head, data[chunkSize:chunkSize+10]) {
		t.Fatalf("the stalled chunk's first bytes: %q, %v; want %q", head, err, data[chunkSize:chunkSize+10])
	}
	// Cancel once every stalled chunk has begun its answer, while the read
	// waits for the rest of the first.
	cancelled := make(chan time.Time, 1)
	go func() {
		start := time.Now()
		for p.Fired(faultproxy.StallResponse) < 3 && time.Since(start) < 20*time.Second {
			time.Sleep(5 * time.Millisecond)
		}
		cancel(stop)
		cancelled <- time.Now()
	}()
	if _, err = r.Read(make([]byte, 1)); !errors.Is(err, stop) || !strings.Contains(err.Error(), "stopped: "+stop.Error()) {
		t.Errorf("read of a stalled chunk: %v; want it stopped by %q", err, stop)
	}
	if err := r.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if d := time.Since(<-cancelled); d > 5*time.Second {
		t.Errorf("took %v to stop; the stall lasts 30s", d)
	}
	if n := p.Fired(faultproxy.StallResponse); n != 3 {
		t.Errorf("%d chunks stalled; want 3", n)
	}
}

// TestObjectReaderOneStreamS3 reads a large object with Concurrency 1:
// one GET, no ranges.
func TestObjectReaderOneStreamS3(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.Bucket(t, "onestream")
	data := csvData(1 << 20)
	srv.Put(t, bucket, "data.csv", data)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	client, p := proxiedClient(t, srv)
	_, got := readObject(t, ctx, client, bucket, "data.csv", csvstream.ReaderOptions{Concurrency: 1, ChunkSize: 64 << 10})
	if !bytes.Equal(got, data) {
		t.Fatal("the bytes read differ from the object")
	}
	if reqs := p.Requests(); len(reqs) != 1 || len(p.Ranges()) != 0 {
		t.Errorf("requests %q with ranges %q; want one whole GET", reqs, p.Ranges())
	}
}

func countStrings(ss []string) map[string]int {
	m := make(map[string]int)
	for _, s := range ss {
		m[s]++
	}
	return m
}

// TestObjectReaderChunksCloseS3 closes a reader, its context still live,
// while its ranges stall: Close ends every fetch and returns once they
// have, leaving no GET in flight and no body open.
func TestObjectReaderChunksCloseS3(t *testing.T) {
	src := newChunkSource(t, "chunkclose", 2<<20)
	p := src.proxy
	for i := 1; i < 4; i++ {
		p.Inject(faultproxy.Fault{Kind: faultproxy.StallResponse, After: 0, Match: faultproxy.IsGetRange(chunkKey, chunkRange(i, 0, src.size))})
	}
	api := &watchedAPI{GetObjectAPI: src.client}
	r, err := csvstream.NewObjectReader(context.Background(), api, src.bucket, chunkKey, csvstream.ReaderOptions{Concurrency: 4, ChunkSize: chunkSize})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(r, make([]byte, chunkSize)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return p.Fired(faultproxy.StallResponse) == 3 }, "the three stalled ranges to be asked for")
	start := time.Now()
	if err := r.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Close took %v; the stalls last 30s", d)
	}
	if n, open := api.inFlight.Load(), api.open.Load(); n != 0 || open != 0 {
		t.Errorf("after Close: %d GETs in flight, %d bodies open; want none", n, open)
	}
	if _, err := r.Read(make([]byte, 1)); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("Read after Close: %v; want an error saying the reader is closed", err)
	}
}

// TestObjectReaderChunkFailsFastS3 denies one range and stalls another,
// before or behind it: either way the read fails with the denial at once,
// ending the stalled fetch rather than waiting for it to be given up on.
// A denial that comes from a resume after a backoff arrives while the read
// is surely waiting for the stalled range, and ends that wait too.
func TestObjectReaderChunkFailsFastS3(t *testing.T) {
	tests := []struct {
		name            string
		denied, stalled int  // chunk numbers
		resumed         bool // the denied range is cut first, and denied when resumed
	}{
		{"the next range stalls", 1, 2, false},
		{"an earlier range stalls", 2, 1, false},
		{"an earlier range stalls, denied on resume", 2, 1, true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := newChunkSource(t, fmt.Sprintf("chunkfast%d", i), 2<<20)
			denied := chunkRange(tt.denied, 0, src.size)
			if tt.resumed {
				src.proxy.Inject(faultproxy.Fault{Kind: faultproxy.CutResponse, After: 10, Match: faultproxy.IsGetRange(chunkKey, denied)})
				denied = chunkRange(tt.denied, 10, src.size)
			}
			src.proxy.Inject(faultproxy.Fault{Kind: faultproxy.Status, Status: http.StatusForbidden, Code: "AccessDenied", Match: faultproxy.IsGetRange(chunkKey, denied)})
			src.proxy.Inject(faultproxy.Fault{Kind: faultproxy.StallResponse, After: 0, Match: faultproxy.IsGetRange(chunkKey, chunkRange(tt.stalled, 0, src.size))})
			api := &watchedAPI{GetObjectAPI: src.client}
			r, err := csvstream.NewObjectReader(context.Background(), api, src.bucket, chunkKey, csvstream.ReaderOptions{
				Concurrency: 3, ChunkSize: chunkSize, Backoff: 300 * time.Millisecond,
			})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			start := time.Now()
			n, err := io.Copy(io.Discard, r)
			if err == nil || !strings.Contains(err.Error(), "AccessDenied") || !strings.Contains(err.Error(), denied) || n > chunkSize {
				t.Errorf("read %d bytes, then %v; want at most the first range's %d, then AccessDenied for %s", n, err, chunkSize, denied)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("the read took %v to fail; the stall lasts 30s", d)
			}
			if n, open := api.inFlight.Load(), api.open.Load(); n != 0 || open != 0 {
				t.Errorf("after the failure: %d GETs in flight, %d bodies open; want none", n, open)
			}
		})
	}
}

// TestObjectReaderChunksCancelledS3 ends the context of a reader whose
// ranges have all arrived: like one stream, it returns no more bytes.
func TestObjectReaderChunksCancelledS3(t *testing.T) {
	src := newChunkSource(t, "chunkcancel", 1<<20)
	api := &watchedAPI{GetObjectAPI: src.client}
	stop := errors.New("interrupt signal received")
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	r, err := csvstream.NewObjectReader(ctx, api, src.bucket, chunkKey, csvstream.ReaderOptions{Concurrency: 4, ChunkSize: chunkSize})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := io.ReadFull(r, make([]byte, 100)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return api.inFlight.Load() == 0 && api.open.Load() == 0 }, "every range to arrive")
	cancel(stop)
	if n, err := r.Read(make([]byte, 4096)); n != 0 || !errors.Is(err, stop) || !strings.Contains(err.Error(), "stopped: "+stop.Error()) {
		t.Errorf("Read after cancel: %d bytes, %v; want none, stopped by %q", n, err, stop)
	}
}

// chunkKey is the key of a chunkSource's object.
const chunkKey = "in/data.csv"

// chunkSource is an object of CSV bytes at chunkKey, in a bucket of its
// own, and a client that reaches it through a fault proxy.
type chunkSource struct {
	srv    *s3test.Server
	bucket string
	data   []byte
	size   int64
	client *s3.Client
	proxy  *faultproxy.Proxy
}

// newChunkSource puts n bytes of CSV at chunkKey in a new bucket named
// after prefix.
func newChunkSource(t *testing.T, prefix string, n int) *chunkSource {
	t.Helper()
	srv := s3test.Start(t)
	s := &chunkSource{srv: srv, bucket: srv.Bucket(t, prefix), data: csvData(n)}
	s.size = int64(len(s.data))
	srv.Put(t, s.bucket, chunkKey, s.data)
	s.client, s.proxy = proxiedClient(t, srv)
	return s
}

// watchedAPI counts a reader's GETs still waiting for an answer and the
// bodies it has not closed, and records the If-Match of its ranged GETs.
type watchedAPI struct {
	csvstream.GetObjectAPI
	inFlight, open atomic.Int32

	mu      sync.Mutex
	ifMatch []string
}

func (w *watchedAPI) GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	if in.Range != nil {
		w.mu.Lock()
		w.ifMatch = append(w.ifMatch, aws.ToString(in.IfMatch))
		w.mu.Unlock()
	}
	w.inFlight.Add(1)
	out, err := w.GetObjectAPI.GetObject(ctx, in, optFns...)
	w.inFlight.Add(-1)
	if err == nil && out.Body != nil {
		w.open.Add(1)
		out.Body = &countedBody{ReadCloser: out.Body, open: &w.open}
	}
	return out, err
}

func (w *watchedAPI) rangesIfMatch() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.ifMatch...)
}

// countedBody takes itself off its count of open bodies when closed.
type countedBody struct {
	io.ReadCloser
	open *atomic.Int32
	once sync.Once
}

func (b *countedBody) Close() error {
	b.once.Do(func() { b.open.Add(-1) })
	return b.ReadCloser.Close()
}

// waitFor polls cond for up to ten seconds, failing the test with what
// it waited for if cond never holds.
func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
	}
}

// TestObjectReaderChunkGiveUpNamesBytesS3 cuts a range after some of its
// bytes, then cuts every resume before any: the error names the bytes the
// last body was asked for and how many of them came, not the whole range.
func TestObjectReaderChunkGiveUpNamesBytesS3(t *testing.T) {
	src := newChunkSource(t, "chunkgiveup", 2<<20)
	src.proxy.Inject(faultproxy.Fault{Kind: faultproxy.CutResponse, After: 100, Match: faultproxy.IsGetRange(chunkKey, chunkRange(6, 0, src.size))})
	resumed := chunkRange(6, 100, src.size)
	src.proxy.Inject(faultproxy.Fault{Kind: faultproxy.CutResponse, After: 0, Times: 100, Match: faultproxy.IsGetRange(chunkKey, resumed)})
	r, err := csvstream.NewObjectReader(context.Background(), src.client, src.bucket, chunkKey, csvstream.ReaderOptions{
		Concurrency: 3, ChunkSize: chunkSize, Backoff: time.Millisecond, Attempts: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	_, err = io.Copy(io.Discard, r)
	want := fmt.Sprintf("gave up after 2 attempts to reopen: body for bytes %s broke after 0 of them", strings.TrimPrefix(resumed, "bytes="))
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("read: %v; want it to say %q", err, want)
	}
}
