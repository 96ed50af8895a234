package csvstream_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go/logging"

	"github.com/csvstream/csvstream/csvstream"
	"github.com/csvstream/csvstream/internal/faultproxy"
	"github.com/csvstream/csvstream/internal/s3test"
)

// csvData returns n bytes of CSV-like lines that vary, so a byte read from
// the wrong offset shows.
func csvData(n int) []byte {
	rng := rand.New(rand.NewPCG(1, 2))
	var b bytes.Buffer
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "%d,%x,%d.%02d\n", i, rng.Uint64(), rng.IntN(100000), rng.IntN(100))
	}
	return b.Bytes()[:n]
}

// proxiedClient returns a client that reaches srv through a new fault proxy,
// with the SDK's default response checksum validation (as a client from
// the default configuration has) and csvstream's options.
func proxiedClient(t *testing.T, srv *s3test.Server) (*s3.Client, *faultproxy.Proxy) {
	p := faultproxy.New(t, srv.Endpoint)
	return s3test.ClientFor(p.URL, csvstream.ClientOptions, func(o *s3.Options) {
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenSupported
	}), p
}

func TestObjectReaderResumesS3(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.Bucket(t, "reader")
	data := csvData(5 << 20)
	tests := []struct {
		name string
		alg  types.ChecksumAlgorithm
	}{
		{"default checksum", ""},
		{"CRC32", types.ChecksumAlgorithmCrc32},
		{"CRC32C", types.ChecksumAlgorithmCrc32c},
		{"CRC64NVME", types.ChecksumAlgorithmCrc64nvme},
		{"SHA1", types.ChecksumAlgorithmSha1},
		{"SHA256", types.ChecksumAlgorithmSha256},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			key := "in/" + strings.ReplaceAll(strings.ToLower(tt.name), " ", "-") + ".csv"
			_, err := srv.Client().PutObject(ctx, &s3.PutObjectInput{
				Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(data),
				ChecksumAlgorithm: tt.alg,
			})
			if err != nil {
				t.Fatalf("put s3://%s/%s: %v", bucket, key, err)
			}
			if tt.alg != "" {
				// The first response must carry the full-object checksum the
				// reader checks the resumed bytes against.
				head, err := srv.Client().HeadObject(ctx, &s3.HeadObjectInput{
					Bucket: aws.String(bucket), Key: aws.String(key), ChecksumMode: types.ChecksumModeEnabled,
				})
				if err != nil {
					t.Fatalf("head: %v", err)
				}
				if head.ChecksumType != types.ChecksumTypeFullObject {
					t.Fatalf("stored checksum type %q; want %q", head.ChecksumType, types.ChecksumTypeFullObject)
				}
			}

			client, p := proxiedClient(t, srv)
			p.Inject(faultproxy.Fault{Kind: faultproxy.CutResponse, After: 1 << 20, Times: 2, Match: faultproxy.IsGet(key)})
			r, err := csvstream.NewObjectReader(ctx, client, bucket, key, csvstream.ReaderOptions{Backoff: 10 * time.Millisecond})
			if err != nil {
				t.Fatalf("NewObjectReader: %v", err)
			}
			defer r.Close()
			if r.Size() != int64(len(data)) || r.ETag() == "" {
				t.Errorf("Size, ETag = %d, %q; want %d and an ETag", r.Size(), r.ETag(), len(data))
			}
			got, err := io.ReadAll(r)
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			if !bytes.Equal(got, data) {
				t.Fatalf("read %d bytes that differ from the %d put", len(got), len(data))
			}
			if r.Resumes() != 2 {
				t.Errorf("Resumes() = %d; want 2", r.Resumes())
			}
			if n := p.Fired(faultproxy.CutResponse); n != 2 {
				t.Errorf("%d responses cut; want 2", n)
			}
			if reqs := p.Requests(); len(reqs) != 3 {
				t.Errorf("requests %q; want 3 GETs", reqs)
			}
		})
	}
}

func TestObjectReaderStoredGzipS3(t *testing.T) {
	// An object stored gzip-encoded is read as its stored bytes, so the
	// offsets of resumed ranges match the bytes already returned.
	srv := s3test.Start(t)
	bucket := srv.Bucket(t, "reader")
	var zipped bytes.Buffer
	zw := gzip.NewWriter(&zipped)
	zw.Write(csvData(4 << 20))
	zw.Close()
	data := zipped.Bytes()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := srv.Client().PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String("in.csv.gz"), Body: bytes.NewReader(data),
		ContentEncoding: aws.String("gzip"), ContentType: aws.String("text/csv"),
	})
	if err != nil {
		t.Fatal(err)
	}
	client, p := proxiedClient(t, srv)
	p.Inject(faultproxy.Fault{Kind: faultproxy.CutResponse, After: int64(len(data) / 3), Match: faultproxy.IsGet("in.csv.gz")})
	r, got := readObject(t, ctx, client, bucket, "in.csv.gz", csvstream.ReaderOptions{Backoff: 10 * time.Millisecond})
	if !bytes.Equal(got, data) || r.Size() != int64(len(data)) {
		t.Fatalf("read %d bytes (Size %d); want the %d stored bytes", len(got), r.Size(), len(data))
	}
	if r.Resumes() != 1 || p.Fired(faultproxy.CutResponse) != 1 {
		t.Errorf("Resumes() = %d, cuts = %d; want 1, 1", r.Resumes(), p.Fired(faultproxy.CutResponse))
	}
}

func TestObjectReaderSourceChangedS3(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.Bucket(t, "reader")
	const key = "in/data.csv"
	data := csvData(2 << 20)
	srv.Put(t, bucket, key, data)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	client, p := proxiedClient(t, srv)
	const cut = 256 << 10
	p.Inject(faultproxy.Fault{Kind: faultproxy.CutResponse, After: cut, Match: faultproxy.IsGet(key)})
	r, err := csvstream.NewObjectReader(ctx, client, bucket, key, csvstream.ReaderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	// Read exactly the bytes before the cut: the reader has not yet seen the
	// break, so it resumes on the next Read, after the object is replaced.
	head := make([]byte, cut)
	if _, err := io.ReadFull(r, head); err != nil {
		t.Fatalf("read the first %d bytes: %v", cut, err)
	}
	if !bytes.Equal(head, data[:cut]) {
		t.Fatal("the first bytes differ from the object")
	}
	srv.Put(t, bucket, key, csvData(2<<20+1))

	_, err = io.Copy(io.Discard, r)
	if !errors.Is(err, csvstream.ErrSourceChanged) {
		t.Fatalf("read after replacement: %v; want ErrSourceChanged", err)
	}
	for _, want := range []string{"s3://" + bucket + "/" + key, fmt.Sprintf("offset %d", cut), r.ETag()} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	if p.Fired(faultproxy.CutResponse) != 1 {
		t.Errorf("cuts = %d; want 1", p.Fired(faultproxy.CutResponse))
	}
}

func TestObjectReaderNotFoundS3(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.Bucket(t, "reader")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	tests := []struct{ bucket, key string }{
		{bucket, "no/such.csv"},
		{bucket + "-missing", "data.csv"},
	}
	for _, tt := range tests {
		_, err := csvstream.NewObjectReader(ctx, srv.Client(csvstream.ClientOptions), tt.bucket, tt.key, csvstream.ReaderOptions{})
		if !errors.Is(err, csvstream.ErrSourceNotFound) {
			t.Errorf("s3://%s/%s: %v; want ErrSourceNotFound", tt.bucket, tt.key, err)
			continue
		}
		if want := "s3://" + tt.bucket + "/" + tt.key; !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
}

func TestObjectReaderCancelS3(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.Bucket(t, "reader")
	data := csvData(4 << 20)
	srv.Put(t, bucket, "data.csv", data)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r, err := csvstream.NewObjectReader(ctx, srv.Client(csvstream.ClientOptions), bucket, "data.csv", csvstream.ReaderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := io.ReadFull(r, make([]byte, 1<<20)); err != nil {
		t.Fatal(err)
	}
	cancel()
	start := time.Now()
	_, err = io.Copy(io.Discard, r)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("read after cancel: %v; want context.Canceled", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("read took %v to end after cancel", d)
	}
	if r.Resumes() != 0 {
		t.Errorf("Resumes() = %d after cancel; want 0", r.Resumes())
	}
}

// TestObjectReaderStoppedBeforeAnswerS3 stops the job while its first GET
// waits for an answer: the error gives the job's cause, not a read
// failure of the source.
func TestObjectReaderStoppedBeforeAnswerS3(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.Bucket(t, "stopped")
	srv.Put(t, bucket, "data.csv", csvData(1<<10))
	client, p := proxiedClient(t, srv)
	p.Inject(faultproxy.Fault{Kind: faultproxy.Stall, Times: 100})
	stop := errors.New("interrupt signal received")
	ctx, cancel := context.WithCancelCause(context.Background())
	time.AfterFunc(200*time.Millisecond, func() { cancel(stop) })
	_, err := csvstream.NewObjectReader(ctx, client, bucket, "data.csv", csvstream.ReaderOptions{})
	if !errors.Is(err, stop) || errors.Is(err, csvstream.ErrSourceRead) || !strings.Contains(err.Error(), "data.csv") {
		t.Errorf("err %v; want the job's cause, naming the object, and not a read failure", err)
	}
}

// readObject opens s3://bucket/key with a reader of opt and reads it whole,
// failing the test on any error.
func readObject(t *testing.T, ctx context.Context, client *s3.Client, bucket, key string, opt csvstream.ReaderOptions) (*csvstream.ObjectReader, []byte) {
	t.Helper()
	r, err := csvstream.NewObjectReader(ctx, client, bucket, key, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	got, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("read s3://%s/%s: %v", bucket, key, err)
	}
	return r, got
}

// TestObjectReaderStallS3 leaves GETs without bytes, their connections
// open, and checks that the reader gives up on each after its StallTimeout
// and reads on, instead of waiting for the job's deadline.
func TestObjectReaderStallS3(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.Bucket(t, "stall")
	data := csvData(4 << 20)
	srv.Put(t, bucket, "in/data.csv", data)
	// Long enough that a GET's answer on a loaded machine, or under
	// emulation, does not pass for a stall.
	const stall = time.Second
	tests := []struct {
		name        string
		faults      []faultproxy.Fault
		wantResumes int
	}{
		{"body stops part way", []faultproxy.Fault{
			{Kind: faultproxy.StallResponse, Match: faultproxy.IsGet("in/data.csv"), After: 1 << 20}}, 1},
		{"no answer to the first GET", []faultproxy.Fault{
			{Kind: faultproxy.Stall, Match: faultproxy.IsGet("in/data.csv")}}, 0},
		{"resumed body stops too", []faultproxy.Fault{
			{Kind: faultproxy.StallResponse, Match: faultproxy.IsGet("in/data.csv"), After: 1 << 20, Times: 2}}, 2},
		{"no answer to a resume", []faultproxy.Fault{
			{Kind: faultproxy.CutResponse, Match: faultproxy.IsGet("in/data.csv"), After: 1 << 20},
			{Kind: faultproxy.Stall, Match: faultproxy.IsRangedGet}}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client, p := proxiedClient(t, srv)
			for _, f := range tt.faults {
				p.Inject(f)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			start := time.Now()
			r, got := readObject(t, ctx, client, bucket, "in/data.csv",
				csvstream.ReaderOptions{StallTimeout: stall, Backoff: time.Millisecond})
			if !bytes.Equal(got, data) {
				t.Fatalf("read %d bytes that differ from the object's %d", len(got), len(data))
			}
			if r.Resumes() != tt.wantResumes {
				t.Errorf("Resumes() = %d, want %d", r.Resumes(), tt.wantResumes)
			}
			// Each fault must have hit a GET and each stall must have been
			// waited out: a stall that never happened proves nothing about
			// giving up on one.
			fired := map[faultproxy.Kind]int{}
			stalls := 0
			for _, f := range tt.faults {
				fired[f.Kind] += max(f.Times, 1)
				if f.Kind == faultproxy.Stall || f.Kind == faultproxy.StallResponse {
					stalls += max(f.Times, 1)
				}
			}
			for k, n := range fired {
				if got := p.Fired(k); got != n {
					t.Errorf("faults of kind %d fired %d times, want %d", k, got, n)
				}
			}
			if d := time.Since(start); d < time.Duration(stalls)*stall {
				t.Errorf("read took %v; %d stalls of %v each must be waited out", d, stalls, stall)
			}
			if d := time.Since(start); d > 30*time.Second {
				t.Errorf("read took %v with a stall timeout of %v", d, stall)
			}
		})
	}

	t.Run("slow reader", func(t *testing.T) {
		// Only the time inside Read counts: a consumer that pauses longer
		// than the timeout between reads is not a stalled connection.
		client, p := proxiedClient(t, srv)
		r, err := csvstream.NewObjectReader(context.Background(), client, bucket, "in/data.csv",
			csvstream.ReaderOptions{StallTimeout: stall})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		buf := make([]byte, 64<<10)
		for range 3 {
			if _, err := io.ReadFull(r, buf); err != nil {
				t.Fatal(err)
			}
			time.Sleep(2 * stall)
		}
		if _, err := io.Copy(io.Discard, r); err != nil {
			t.Fatal(err)
		}
		if r.Resumes() != 0 {
			t.Errorf("Resumes() = %d after pauses between reads; want 0", r.Resumes())
		}
		// The check before publishing is watched too: a stalled attempt
		// is tried again, and one that stalls every time fails.
		p.Inject(faultproxy.Fault{Kind: faultproxy.Stall})
		if err := r.Unchanged(context.Background()); err != nil {
			t.Errorf("Unchanged with no answer once: %v", err)
		}
		p.Inject(faultproxy.Fault{Kind: faultproxy.Stall, Times: 100})
		start := time.Now()
		err = r.Unchanged(context.Background())
		if !errors.Is(err, csvstream.ErrSourceRead) || !strings.Contains(err.Error(), "no bytes arrived") {
			t.Errorf("Unchanged with no answer ever: %v; want a read failure that says it stalled", err)
		}
		if d := time.Since(start); d > 30*stall {
			t.Errorf("Unchanged took %v to give up", d)
		}
	})

	t.Run("every answer stalls", func(t *testing.T) {
		client, p := proxiedClient(t, srv)
		p.Inject(faultproxy.Fault{Kind: faultproxy.Stall, Times: 100})
		_, err := csvstream.NewObjectReader(context.Background(), client, bucket, "in/data.csv",
			csvstream.ReaderOptions{StallTimeout: stall, Backoff: time.Millisecond})
		if !errors.Is(err, csvstream.ErrSourceRead) || errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), fmt.Sprintf("no bytes arrived for %v", stall)) {
			t.Errorf("err %v; want a read failure that says the GET stalled, not that the job was cancelled", err)
		}
	})
}

// TestClientLogsNothing reads an object stored without a checksum and one
// uploaded in parts, whose checksum covers the parts: the SDK skips
// validating both and, unless told not to, says so in plain-text lines that
// would break the function's JSON logs.
func TestClientLogsNothing(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.Bucket(t, "logs")
	data := csvData(6 << 20)
	noSum := srv.Client(func(o *s3.Options) {
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
	})
	ctx := context.Background()
	if _, err := noSum.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: aws.String("plain.csv"), Body: bytes.NewReader(data)}); err != nil {
		t.Fatal(err)
	}
	up, err := srv.Client().CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket: &bucket, Key: aws.String("parts.csv"), ChecksumAlgorithm: types.ChecksumAlgorithmCrc32,
	})
	if err != nil {
		t.Fatal(err)
	}
	var parts []types.CompletedPart
	for i, p := range [][]byte{data[:5<<20], data[5<<20:]} {
		n := int32(i + 1)
		out, err := srv.Client().UploadPart(ctx, &s3.UploadPartInput{
			Bucket: &bucket, Key: aws.String("parts.csv"), UploadId: up.UploadId, PartNumber: &n,
			Body: bytes.NewReader(p), ChecksumAlgorithm: types.ChecksumAlgorithmCrc32,
		})
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, types.CompletedPart{PartNumber: &n, ETag: out.ETag, ChecksumCRC32: out.ChecksumCRC32})
	}
	if _, err := srv.Client().CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: &bucket, Key: aws.String("parts.csv"), UploadId: up.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	}); err != nil {
		t.Fatal(err)
	}

	var logs bytes.Buffer
	client := srv.Client(csvstream.ClientOptions, func(o *s3.Options) {
		o.Logger = logging.NewStandardLogger(&logs)
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenSupported
	})
	for _, key := range []string{"plain.csv", "parts.csv"} {
		r, err := csvstream.NewObjectReader(ctx, client, bucket, key, csvstream.ReaderOptions{})
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(r)
		r.Close()
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%s: read %d bytes, err %v; want the %d bytes written", key, len(got), err, len(data))
		}
	}
	if logs.Len() > 0 {
		t.Errorf("the S3 client logged:\n%s", logs.String())
	}
}
