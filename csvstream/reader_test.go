package csvstream

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"hash/crc64"
	"io"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// apiError is an S3 error as the SDK reports it: an error code and the
// HTTP status of the response.
type apiError struct {
	code   string
	status int
}

func (e *apiError) Error() string       { return fmt.Sprintf("api error %s (status %d)", e.code, e.status) }
func (e *apiError) ErrorCode() string   { return e.code }
func (e *apiError) HTTPStatusCode() int { return e.status }

var errReset = errors.New("connection reset by peer")

// step scripts one GetObject call of a fakeS3.
type step struct {
	err   error  // returned instead of a response
	cut   int64  // the body breaks with errReset after this many bytes; -1 never
	short bool   // the body ends with io.EOF at cut instead
	data  []byte // the object's content from this call on, when it was replaced
	etag  string // the object's ETag from this call on
	shift int64  // a ranged answer starts this many bytes past the Range asked for
	total int64  // a ranged answer gives this as the object's size, when not 0
	extra int    // the body holds this many bytes beyond its Content-Length
}

// fakeS3 serves one object from memory, honouring Range (bytes=N- and
// bytes=N-M) and IfMatch, and
// breaks bodies as its steps say. Calls beyond the steps are served whole.
type fakeS3 struct {
	data          []byte
	etag          string
	crc32         string // ChecksumCRC32 to return, if any
	ignoreIfMatch bool   // answer as if the server did not support If-Match
	steps         []step

	calls      []s3.GetObjectInput
	validation []aws.ResponseChecksumValidation // per call, after its optFns
	bodies     []*fakeBody
}

type fakeBody struct {
	io.Reader
	closed bool
}

func (b *fakeBody) Close() error { b.closed = true; return nil }

func (f *fakeS3) GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	i := len(f.calls)
	f.calls = append(f.calls, *in)
	var o s3.Options
	for _, fn := range optFns {
		fn(&o)
	}
	f.validation = append(f.validation, o.ResponseChecksumValidation)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	st := step{cut: -1}
	if i < len(f.steps) {
		st = f.steps[i]
	}
	if st.data != nil {
		f.data = st.data
	}
	if st.etag != "" {
		f.etag = st.etag
	}
	if st.err != nil {
		return nil, st.err
	}
	if in.IfMatch != nil && *in.IfMatch != f.etag && !f.ignoreIfMatch {
		return nil, &apiError{"PreconditionFailed", 412}
	}
	out := &s3.GetObjectOutput{ETag: aws.String(f.etag)}
	start, end := int64(0), int64(len(f.data))
	if in.Range != nil {
		s, ok := strings.CutPrefix(*in.Range, "bytes=")
		s, last, ok2 := strings.Cut(s, "-")
		n, err := strconv.ParseInt(s, 10, 64)
		if !ok || !ok2 || err != nil || n >= int64(len(f.data)) {
			return nil, &apiError{"InvalidRange", 416}
		}
		if last != "" {
			l, err := strconv.ParseInt(last, 10, 64)
			if err != nil || l < n {
				return nil, &apiError{"InvalidRange", 416}
			}
			end = min(end, l+1)
		}
		n = min(n+st.shift, int64(len(f.data))-1)
		start = n
		total := int64(len(f.data))
		if st.total != 0 {
			total = st.total
		}
		out.ContentRange = aws.String(fmt.Sprintf("bytes %d-%d/%d", n, end-1, total))
	} else if f.crc32 != "" {
		out.ChecksumCRC32 = aws.String(f.crc32)
	}
	rest := f.data[start:end]
	out.ContentLength = aws.Int64(int64(len(rest)))
	var r io.Reader = bytes.NewReader(append(rest[:len(rest):len(rest)], make([]byte, st.extra)...))
	if st.cut >= 0 {
		r = io.LimitReader(r, st.cut)
		if !st.short {
			r = io.MultiReader(r, iotest.ErrReader(errReset))
		}
	}
	b := &fakeBody{Reader: r}
	f.bodies = append(f.bodies, b)
	out.Body = b
	return out, nil
}

func testData(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('a' + i%26)
	}
	return b
}

func crc32Of(b []byte) string {
	return base64.StdEncoding.EncodeToString(binary.BigEndian.AppendUint32(nil, crc32.ChecksumIEEE(b)))
}

func TestObjectReader(t *testing.T) {
	data := testData(10000)
	replaced := testData(10000)
	replaced[5000] = 'X'
	const etag = `"v1"`
	tests := []struct {
		name          string
		steps         []step
		attempts      int
		crc32         string
		ignoreIfMatch bool
		wantRanges    []string // Range of every call; "" for none
		wantResumes   int
		wantErr       []string // substrings of the error; nil for success
		wantIs        error
	}{
		{
			name:       "no break",
			wantRanges: []string{""},
		},
		{
			name:        "one break",
			steps:       []step{{cut: 1000}},
			wantRanges:  []string{"", "bytes=1000-"},
			wantResumes: 1,
		},
		{
			name:        "several breaks",
			steps:       []step{{cut: 1000}, {cut: 2500}, {cut: 1}, {cut: 0}, {cut: 6000}},
			wantRanges:  []string{"", "bytes=1000-", "bytes=3500-", "bytes=3501-", "bytes=3501-", "bytes=9501-"},
			wantResumes: 5,
		},
		{
			name:        "short body",
			steps:       []step{{cut: 4096, short: true}},
			wantRanges:  []string{"", "bytes=4096-"},
			wantResumes: 1,
		},
		{
			name:       "break then object replaced",
			steps:      []step{{cut: 1000}, {cut: -1, etag: `"v2"`}},
			wantRanges: []string{"", "bytes=1000-"},
			wantErr:    []string{"s3://b/data.csv", "offset 1000", `"v1"`},
			wantIs:     ErrSourceChanged,
		},
		{
			name:    "body longer than its Content-Length",
			steps:   []step{{cut: -1, extra: 5}},
			wantErr: []string{"s3://b/data.csv", "longer than its Content-Length 10000"},
		},
		{
			// A range that starts elsewhere would drop or repeat bytes.
			name:       "resumed from the wrong byte",
			steps:      []step{{cut: 1000}, {cut: -1, shift: 10}},
			wantRanges: []string{"", "bytes=1000-"},
			wantErr:    []string{"s3://b/data.csv", "offset 1000", `Content-Range "bytes 1010-9999/10000"`},
		},
		{
			// The same ETag, yet another size: the rest is not this object's.
			name:       "resumed from an object of another size",
			steps:      []step{{cut: 1000}, {cut: -1, total: 12000}},
			wantRanges: []string{"", "bytes=1000-"},
			wantErr:    []string{"s3://b/data.csv", "offset 1000", `Content-Range "bytes 1000-9999/12000"`},
		},
		{
			name:       "break then object deleted",
			steps:      []step{{cut: 1000}, {err: &apiError{"NoSuchKey", 404}}},
			wantRanges: []string{"", "bytes=1000-"},
			wantErr:    []string{"s3://b/data.csv", "offset 1000", "deleted"},
			wantIs:     ErrSourceChanged,
		},
		{
			name:          "server ignores If-Match",
			steps:         []step{{cut: 1000}, {cut: -1, etag: `"v2"`}},
			ignoreIfMatch: true,
			wantRanges:    []string{"", "bytes=1000-"},
			wantErr:       []string{"s3://b/data.csv", "offset 1000", `ETag is now "v2"`},
			wantIs:        ErrSourceChanged,
		},
		{
			name:       "break on every attempt",
			steps:      []step{{cut: 700}, {cut: 0}, {cut: 0}, {cut: 0}},
			attempts:   3,
			wantRanges: []string{"", "bytes=700-", "bytes=700-", "bytes=700-"},
			// The three reopened bodies broke before giving a byte.
			wantResumes: 3,
			wantErr:     []string{"s3://b/data.csv", "offset 700", "gave up after 3 attempts", errReset.Error()},
			wantIs:      errReset,
		},
		{
			name:       "reopen fails every attempt",
			steps:      []step{{cut: 700}, {err: &apiError{"SlowDown", 503}}, {err: &apiError{"InternalError", 500}}},
			attempts:   2,
			wantRanges: []string{"", "bytes=700-", "bytes=700-"},
			wantErr:    []string{"s3://b/data.csv", "offset 700", "gave up after 2 attempts", "InternalError"},
		},
		{
			name:        "reopen fails then succeeds",
			steps:       []step{{cut: 700}, {err: &apiError{"SlowDown", 503}}, {err: &apiError{"RequestTimeout", 400}}},
			wantRanges:  []string{"", "bytes=700-", "bytes=700-", "bytes=700-"},
			wantResumes: 1,
		},
		{
			name:       "reopen denied",
			steps:      []step{{cut: 700}, {err: &apiError{"AccessDenied", 403}}},
			wantRanges: []string{"", "bytes=700-"},
			wantErr:    []string{"s3://b/data.csv", "offset 700", "AccessDenied"},
		},
		{
			name: "attempts reset after progress",
			steps: []step{{cut: 100}, {cut: 100}, {cut: 100}, {cut: 0}, {cut: 100},
				{cut: 0}, {cut: 100}},
			attempts: 2,
			wantRanges: []string{"", "bytes=100-", "bytes=200-", "bytes=300-", "bytes=300-", "bytes=400-",
				"bytes=400-", "bytes=500-"},
			wantResumes: 7,
		},
		{
			// All the bytes came but the body still failed, as when the SDK's
			// checksum check fails: nothing is left to re-fetch.
			name:       "error after the last byte",
			steps:      []step{{cut: 10000}},
			wantRanges: []string{""},
			wantErr:    []string{"s3://b/data.csv", "offset 10000", errReset.Error()},
			wantIs:     errReset,
		},
		{
			name:        "checksum verified across resumes",
			steps:       []step{{cut: 1000}, {cut: 3000}},
			crc32:       crc32Of(data),
			wantRanges:  []string{"", "bytes=1000-", "bytes=4000-"},
			wantResumes: 2,
		},
		{
			name: "checksum mismatch across resumes",
			// The resumed bytes differ though the ETag matches.
			steps:       []step{{cut: 1000}, {cut: -1, data: replaced}},
			crc32:       crc32Of(data),
			wantRanges:  []string{"", "bytes=1000-"},
			wantResumes: 1,
			wantErr:     []string{"s3://b/data.csv", "offset 10000", "CRC32 checksum mismatch", crc32Of(data), crc32Of(replaced)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := &fakeS3{data: data, etag: etag, crc32: tt.crc32, steps: tt.steps, ignoreIfMatch: tt.ignoreIfMatch}
			r, err := NewObjectReader(context.Background(), api, "b", "data.csv",
				ReaderOptions{Attempts: tt.attempts, Backoff: time.Microsecond})
			if err != nil {
				t.Fatalf("NewObjectReader: %v", err)
			}
			if r.Size() != int64(len(data)) || r.ETag() != etag {
				t.Errorf("Size, ETag = %d, %s; want %d, %s", r.Size(), r.ETag(), len(data), etag)
			}
			got, err := io.ReadAll(iotest.OneByteReader(r))
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("read: %v", err)
				}
				if !bytes.Equal(got, data) {
					t.Errorf("read %d bytes, not equal to the %d written", len(got), len(data))
				}
			} else {
				if err == nil {
					t.Fatalf("read: no error; want one containing %q", tt.wantErr)
				}
				for _, s := range tt.wantErr {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not contain %q", err, s)
					}
				}
				if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
					t.Errorf("error %q is not %v", err, tt.wantIs)
				}
				// A body too long is found out at its end, after its
				// extra bytes; the job fails then, publishing nothing.
				if n := min(len(got), len(api.data)); !bytes.Equal(got[:n], api.data[:n]) {
					t.Errorf("the %d bytes read before the error differ from the object", len(got))
				}
				if _, again := r.Read(make([]byte, 1)); again != err {
					t.Errorf("Read after the error = %v; want the same error", again)
				}
			}
			if r.Resumes() != tt.wantResumes {
				t.Errorf("Resumes() = %d; want %d", r.Resumes(), tt.wantResumes)
			}
			var ranges []string
			for i, in := range api.calls {
				ranges = append(ranges, aws.ToString(in.Range))
				if i == 0 {
					if in.IfMatch != nil || in.ChecksumMode != "ENABLED" {
						t.Errorf("first GET: IfMatch %v, ChecksumMode %q; want none, ENABLED", aws.ToString(in.IfMatch), in.ChecksumMode)
					}
					continue
				}
				if aws.ToString(in.IfMatch) != etag {
					t.Errorf("GET %d: IfMatch %q; want %q", i, aws.ToString(in.IfMatch), etag)
				}
				if in.ChecksumMode != "" || api.validation[i] != aws.ResponseChecksumValidationWhenRequired {
					t.Errorf("GET %d: ChecksumMode %q, validation %v; want none, WhenRequired", i, in.ChecksumMode, api.validation[i])
				}
			}
			if fmt.Sprint(ranges) != fmt.Sprint(tt.wantRanges) {
				t.Errorf("GET ranges %q; want %q", ranges, tt.wantRanges)
			}
			if err := r.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
			for i, b := range api.bodies {
				if !b.closed {
					t.Errorf("body %d not closed", i)
				}
			}
		})
	}
}

func TestObjectReaderOpenErrors(t *testing.T) {
	tests := []struct {
		name    string
		err     error
		wantIs  error
		wantNot error
	}{
		{"no such key", &apiError{"NoSuchKey", 404}, ErrSourceNotFound, ErrSourceRead},
		{"not found", &apiError{"NotFound", 404}, ErrSourceNotFound, ErrSourceRead},
		{"bare 404", &apiError{"", 404}, ErrSourceNotFound, ErrSourceRead},
		{"access denied", &apiError{"AccessDenied", 403}, ErrAccessDenied, ErrSourceNotFound},
		{"bad signature", &apiError{"SignatureDoesNotMatch", 403}, ErrAccessDenied, ErrSourceRead},
		{"server error", &apiError{"InternalError", 500}, ErrSourceRead, ErrAccessDenied},
		{"invalid argument", &apiError{"InvalidArgument", 400}, ErrInvalidJob, ErrSourceRead},
		{"invalid bucket name", &apiError{"InvalidBucketName", 400}, ErrInvalidJob, ErrSourceRead},
		{"no such bucket", &apiError{"NoSuchBucket", 404}, ErrSourceNotFound, ErrInvalidJob},
		{"bucket in another region", &apiError{"PermanentRedirect", 301}, ErrInvalidJob, ErrSourceRead},
		{"invalid request, as for an SSE-C object", &apiError{"InvalidRequest", 400}, ErrInvalidJob, ErrSourceRead},
		{"archived, a 403 that is no denial", &apiError{"InvalidObjectState", 403}, ErrInvalidJob, ErrAccessDenied},
		{"expired token", &apiError{"ExpiredToken", 400}, ErrSourceRead, ErrInvalidJob},
		{"slow down", &apiError{"SlowDown", 503}, ErrSourceRead, ErrSourceNotFound},
		{"connection lost", errors.New("connection reset by peer"), ErrSourceRead, ErrAccessDenied},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := &fakeS3{data: testData(10), etag: `"e"`, steps: []step{{err: tt.err}}}
			r, err := NewObjectReader(context.Background(), api, "b", "in/x.csv", ReaderOptions{})
			if err == nil {
				r.Close()
				t.Fatal("NewObjectReader: no error")
			}
			if !strings.Contains(err.Error(), "s3://b/in/x.csv") {
				t.Errorf("error %q does not name the object", err)
			}
			if !errors.Is(err, tt.err) {
				t.Errorf("error %q does not wrap %v", err, tt.err)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("error %q is not %v", err, tt.wantIs)
			}
			if tt.wantNot != nil && errors.Is(err, tt.wantNot) {
				t.Errorf("error %q is %v", err, tt.wantNot)
			}
		})
	}
	for _, tt := range []struct{ bucket, key string }{{"", "k"}, {"b", ""}} {
		if _, err := NewObjectReader(context.Background(), &fakeS3{}, tt.bucket, tt.key, ReaderOptions{}); err == nil {
			t.Errorf("NewObjectReader(%q, %q): no error", tt.bucket, tt.key)
		}
	}
	if _, err := NewObjectReader(context.Background(), nil, "b", "k", ReaderOptions{}); err == nil {
		t.Error("NewObjectReader with a nil client: no error")
	}
	// Options out of range are refused before any request.
	for _, opt := range []ReaderOptions{{Concurrency: MaxConcurrency + 1}, {ChunkSize: -1}, {Attempts: -1},
		{ChunkSize: minChunkSize - 1}, {ChunkSize: maxChunkSize + 1}} {
		api := &fakeS3{data: testData(10), etag: `"e"`}
		_, err := NewObjectReader(context.Background(), api, "b", "k", opt)
		if !errors.Is(err, ErrInvalidJob) || !strings.Contains(err.Error(), "s3://b/k") || len(api.calls) != 0 {
			t.Errorf("NewObjectReader with %+v: %v after %d requests; want ErrInvalidJob naming the object, before any", opt, err, len(api.calls))
		}
	}
	// The bounds themselves are taken.
	for _, opt := range []ReaderOptions{{Concurrency: MaxConcurrency}, {ChunkSize: minChunkSize}, {ChunkSize: maxChunkSize}} {
		r, err := NewObjectReader(context.Background(), &fakeS3{data: testData(10), etag: `"e"`}, "b", "k", opt)
		if err != nil {
			t.Errorf("NewObjectReader with %+v: %v; want it taken", opt, err)
			continue
		}
		r.Close()
	}
}

func TestObjectReaderEmpty(t *testing.T) {
	api := &fakeS3{data: []byte{}, etag: `"e"`}
	r, err := NewObjectReader(context.Background(), api, "b", "k", ReaderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	n, err := r.Read(make([]byte, 10))
	if n != 0 || err != io.EOF {
		t.Errorf("Read = %d, %v; want 0, EOF", n, err)
	}
}

// TestObjectReaderVersion reads one version of an object: the first GET
// and every resumed one ask for it, and errors name it.
func TestObjectReaderVersion(t *testing.T) {
	data := testData(5000)
	api := &fakeS3{data: data, etag: `"e"`, steps: []step{{cut: 1000}, {cut: 2500}}}
	r, err := NewObjectReader(context.Background(), api, "b", "k", ReaderOptions{VersionID: "v1", Backoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	r.Close()
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read %d bytes, err %v; want the %d bytes of the object", len(got), err, len(data))
	}
	if len(api.calls) != 3 {
		t.Fatalf("%d GETs, want 3 (two resumes)", len(api.calls))
	}
	for i, c := range api.calls {
		if aws.ToString(c.VersionId) != "v1" {
			t.Errorf("GET %d asks for version %q, want v1", i+1, aws.ToString(c.VersionId))
		}
	}

	api = &fakeS3{data: data, etag: `"e"`, steps: []step{{err: &apiError{"NoSuchVersion", 404}}}}
	_, err = NewObjectReader(context.Background(), api, "b", "k", ReaderOptions{VersionID: "v9"})
	if !errors.Is(err, ErrSourceNotFound) || !strings.Contains(err.Error(), "s3://b/k (version v9)") {
		t.Errorf("missing version: %v; want ErrSourceNotFound naming the version", err)
	}
	if aws.ToString(api.calls[0].VersionId) != "v9" {
		t.Errorf("asked for version %q, want v9", aws.ToString(api.calls[0].VersionId))
	}
}

// TestObjectReaderUnchanged is the look a job takes before it publishes:
// the object must still be the one read, even on a server that ignores
// If-Match, and a job stopped while looking says why it stopped.
func TestObjectReaderUnchanged(t *testing.T) {
	stop := errors.New("interrupt signal received")
	tests := []struct {
		name          string
		then          step // the object's state when the job looks
		ignoreIfMatch bool
		stopped       bool // the job's context is cancelled with stop
		wantErr       []string
		wantIs        error
	}{
		{name: "unchanged"},
		{name: "unchanged, If-Match ignored", ignoreIfMatch: true},
		{
			name:    "replaced",
			then:    step{etag: `"v2"`},
			wantErr: []string{"s3://b/k", "replaced", `"v1"`},
			wantIs:  ErrSourceChanged,
		},
		{
			name:          "replaced, If-Match ignored",
			then:          step{etag: `"v2"`},
			ignoreIfMatch: true,
			wantErr:       []string{"s3://b/k", "replaced", `ETag is now "v2", was "v1"`},
			wantIs:        ErrSourceChanged,
		},
		{
			name:    "deleted",
			then:    step{err: &apiError{"NoSuchKey", 404}},
			wantErr: []string{"s3://b/k", "deleted"},
			wantIs:  ErrSourceChanged,
		},
		{
			name:    "denied",
			then:    step{err: &apiError{"AccessDenied", 403}},
			wantErr: []string{"s3://b/k", "AccessDenied"},
			wantIs:  ErrSourceRead,
		},
		{
			name:    "job stopped",
			stopped: true,
			wantErr: []string{"s3://b/k", "stopped", stop.Error()},
			wantIs:  stop,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := &fakeS3{data: testData(1000), etag: `"v1"`, ignoreIfMatch: tt.ignoreIfMatch,
				steps: []step{{cut: -1}, tt.then}}
			ctx, cancel := context.WithCancelCause(context.Background())
			defer cancel(nil)
			r, err := NewObjectReader(ctx, api, "b", "k", ReaderOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if _, err := io.ReadAll(r); err != nil {
				t.Fatal(err)
			}
			if tt.stopped {
				cancel(stop)
			}
			err = r.Unchanged(ctx)
			if tt.wantIs == nil {
				if err != nil {
					t.Fatalf("Unchanged: %v", err)
				}
				return
			}
			if !errors.Is(err, tt.wantIs) {
				t.Errorf("Unchanged: %v; want %v", err, tt.wantIs)
			}
			if tt.stopped && errors.Is(err, ErrSourceRead) {
				t.Errorf("Unchanged: %v; a stopped job is not a source read failure", err)
			}
			for _, w := range tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("Unchanged: %v; want it to say %q", err, w)
				}
			}
			if n := len(api.calls); n != 2 || aws.ToString(api.calls[1].Range) != "bytes=0-0" {
				t.Errorf("%d GETs, the last for %q; want the look to ask for one byte", n, aws.ToString(api.calls[n-1].Range))
			}
		})
	}
}

func TestObjectReaderContext(t *testing.T) {
	// A read the context's end stopped says so, and why.
	stop := errors.New("interrupt signal received")
	t.Run("cancelled between reads", func(t *testing.T) {
		ctx, cancel := context.WithCancelCause(context.Background())
		api := &fakeS3{data: testData(1000), etag: `"e"`}
		r, err := NewObjectReader(ctx, api, "b", "k", ReaderOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		if _, err := r.Read(make([]byte, 10)); err != nil {
			t.Fatal(err)
		}
		cancel(stop)
		_, err = r.Read(make([]byte, 10))
		if want := "read s3://b/k at offset 10: stopped: " + stop.Error(); !errors.Is(err, stop) || err.Error() != want {
			t.Errorf("Read after cancel: %v; want %s", err, want)
		}
	})
	t.Run("cancelled during backoff", func(t *testing.T) {
		ctx, cancel := context.WithCancelCause(context.Background())
		api := &fakeS3{data: testData(1000), etag: `"e"`, steps: []step{{cut: 0}}}
		r, err := NewObjectReader(ctx, api, "b", "k", ReaderOptions{Backoff: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		time.AfterFunc(10*time.Millisecond, func() { cancel(stop) })
		start := time.Now()
		_, err = r.Read(make([]byte, 10))
		if want := "read s3://b/k at offset 0: stopped: " + stop.Error(); !errors.Is(err, stop) || err.Error() != want {
			t.Errorf("Read: %v; want %s", err, want)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("Read took %v after cancel", d)
		}
	})
}

func TestObjectReaderClose(t *testing.T) {
	api := &fakeS3{data: testData(1000), etag: `"e"`}
	r, err := NewObjectReader(context.Background(), api, "b", "k", ReaderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Read(make([]byte, 10)); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if !api.bodies[0].closed {
		t.Error("Close did not close the body")
	}
	if _, err := r.Read(make([]byte, 10)); err == nil || err == io.EOF {
		t.Errorf("Read after Close: %v; want an error", err)
	}
	if err := r.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestCRC64NVME(t *testing.T) {
	// The CRC-64/NVME check value, from the catalogue of parametrised CRCs.
	const want = 0xae8b14860a799888
	if got := crc64.Checksum([]byte("123456789"), crc64.MakeTable(nvmePoly)); got != want {
		t.Errorf("CRC-64/NVME(123456789) = %#x; want %#x", got, uint64(want))
	}
}

func TestParseContentRange(t *testing.T) {
	tests := []struct {
		in           string
		start, total int64
		ok           bool
	}{
		{"bytes 100-199/200", 100, 200, true},
		{"bytes 0-0/1", 0, 1, true},
		{"bytes 5-9/*", 5, -1, true},
		{"", 0, 0, false},
		{"bytes */200", 0, 0, false},
		{"bytes 100-199", 0, 0, false},
		{"items 1-2/3", 0, 0, false},
		{"bytes -1-2/3", 0, 0, false},
	}
	for _, tt := range tests {
		start, total, ok := parseContentRange(tt.in)
		if start != tt.start || total != tt.total || ok != tt.ok {
			t.Errorf("parseContentRange(%q) = %d, %d, %v; want %d, %d, %v", tt.in, start, total, ok, tt.start, tt.total, tt.ok)
		}
	}
}

// TestReadAheadFirstError checks which failure a ranged read reports once
// a fetch has failed for good: that of the chunk being read, when it has
// failed too, as it comes first in the object; otherwise the first in time.
func TestReadAheadFirstError(t *testing.T) {
	reading, later := errors.New("the chunk being read failed"), errors.New("a later chunk failed first")
	tests := []struct {
		name  string
		first *chunk
		want  error
	}{
		{"the chunk being read failed too", &chunk{done: true, err: reading}, reading},
		{"the chunk being read is still arriving", &chunk{}, later},
		{"the chunk being read arrived whole", &chunk{done: true}, later},
	}
	for _, tt := range tests {
		a := &readAhead{queue: []*chunk{tt.first, {done: true, err: later}}, failErr: later}
		if got := a.firstError(); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestObjectReaderReopenThrottled429 checks that a reopen answered 429 Too
// Many Requests is a throttle to wait out, as permanent's doc says, not a
// client error that ends the read.
func TestObjectReaderReopenThrottled429(t *testing.T) {
	data := testData(10000)
	api := &fakeS3{data: data, etag: `"v1"`,
		steps: []step{{cut: 700}, {err: &apiError{"TooManyRequests", 429}}}}
	r, err := NewObjectReader(context.Background(), api, "b", "data.csv", ReaderOptions{Backoff: time.Millisecond, Concurrency: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("read after a 429 on reopen: %v", err)
	}
	if !bytes.Equal(got, data) || r.Resumes() != 1 {
		t.Fatalf("read %d bytes, %d resumes; want all %d bytes after 1 resume", len(got), r.Resumes(), len(data))
	}
}

// TestObjectReaderOpen405WithoutVersion checks that a 405 answer is read
// as a delete marker only for a named version: for the latest version S3
// answers a delete marker with 404, and a 405 there is no proof that the
// object is gone (a handler would skip the event for good).
func TestObjectReaderOpen405WithoutVersion(t *testing.T) {
	api := &fakeS3{data: testData(10), etag: `"e"`, steps: []step{{err: &apiError{"MethodNotAllowed", 405}}}}
	_, err := NewObjectReader(context.Background(), api, "b", "in/x.csv", ReaderOptions{})
	if !errors.Is(err, ErrSourceRead) || errors.Is(err, ErrSourceNotFound) || strings.Contains(err.Error(), "delete marker") {
		t.Fatalf("err = %v; want ErrSourceRead, not ErrSourceNotFound", err)
	}
	api = &fakeS3{data: testData(10), etag: `"e"`, steps: []step{{err: &apiError{"MethodNotAllowed", 405}}}}
	_, err = NewObjectReader(context.Background(), api, "b", "in/x.csv", ReaderOptions{VersionID: "v1"})
	if !errors.Is(err, ErrSourceNotFound) {
		t.Fatalf("named version: err = %v; want ErrSourceNotFound", err)
	}
}

// TestObjectReaderCompositeChecksumUntyped checks that a composite
// checksum ("value-N", of a multipart object's parts) is skipped even when
// the response does not say its type (S3 before it sent
// x-amz-checksum-type, and servers that still do not): it covers parts,
// not the object, and checking the bytes against it would always fail.
func TestObjectReaderCompositeChecksumUntyped(t *testing.T) {
	data := testData(5000)
	api := &fakeS3{data: data, etag: `"e-2"`, crc32: "AAAAAA==-2", steps: []step{{cut: 1000}}}
	r, err := NewObjectReader(context.Background(), api, "b", "k", ReaderOptions{Backoff: time.Millisecond, Concurrency: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read %d bytes, err %v; want all %d bytes", len(got), err, len(data))
	}
}

// rangeS3 serves one object from memory to a reader's concurrent GETs,
// honouring Range (bytes=N-M) and If-Match. Unlike fakeS3 it is safe for
// the read-ahead's goroutines and copies no bytes.
type rangeS3 struct {
	data  []byte
	etag  string                // "" sends no ETag
	empty func(rng string) bool // a ranged body that ends at once with io.EOF

	mu     sync.Mutex
	ranges []string // Range of every GET; "" for the whole object
}

func (f *rangeS3) GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	f.mu.Lock()
	rng := aws.ToString(in.Range)
	f.ranges = append(f.ranges, rng)
	etag := f.etag
	f.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if m := aws.ToString(in.IfMatch); m != "" && m != etag {
		return nil, &apiError{"PreconditionFailed", 412}
	}
	out := &s3.GetObjectOutput{}
	if etag != "" {
		out.ETag = aws.String(etag)
	}
	start, end := int64(0), int64(len(f.data))
	if rng != "" {
		s, e, _ := strings.Cut(strings.TrimPrefix(rng, "bytes="), "-")
		start, _ = strconv.ParseInt(s, 10, 64)
		if e != "" {
			last, _ := strconv.ParseInt(e, 10, 64)
			end = min(end, last+1)
		}
		out.ContentRange = aws.String(fmt.Sprintf("bytes %d-%d/%d", start, end-1, len(f.data)))
		if f.empty != nil && f.empty(rng) {
			end = start
		}
	}
	out.ContentLength = aws.Int64(end - start)
	out.Body = io.NopCloser(bytes.NewReader(f.data[start:end]))
	return out, nil
}

func (f *rangeS3) gets() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.ranges...)
}

// TestObjectReaderChunkMemory reads an object of many ranges: the reader
// holds at most Concurrency buffers of ChunkSize, as the README's memory
// figures say ("one 8 MiB buffer per range of an S3 source read at once"),
// however many ranges the object has.
func TestObjectReaderChunkMemory(t *testing.T) {
	const chunk, conc = 1 << 20, 2
	data := testData(16 * chunk)
	api := &rangeS3{data: data, etag: `"e"`}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	r, err := NewObjectReader(context.Background(), api, "b", "k", ReaderOptions{Concurrency: conc, ChunkSize: chunk})
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, r)
	r.Close()
	runtime.ReadMemStats(&after)
	if err != nil || n != int64(len(data)) {
		t.Fatalf("read %d bytes, %v; want %d", n, err, len(data))
	}
	// Concurrency buffers, and well under one more for everything else.
	if got, limit := after.TotalAlloc-before.TotalAlloc, uint64(conc*chunk+chunk/2); got > limit {
		t.Errorf("reading %d ranges allocated %d bytes; want at most %d, %d buffers of %d", len(data)/chunk, got, limit, conc, chunk)
	}
}

// TestObjectReaderChunksNeedETag reads a large object whose first answer
// has no ETag: with nothing to pin ranges to, it is read as one stream, so
// that a replaced object cannot be mixed in.
func TestObjectReaderChunksNeedETag(t *testing.T) {
	data := testData(3 << 20)
	api := &rangeS3{data: data}
	r, err := NewObjectReader(context.Background(), api, "b", "k", ReaderOptions{Concurrency: 4, ChunkSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read %d bytes, %v; want all %d", len(got), err, len(data))
	}
	if gets := api.gets(); len(gets) != 1 {
		t.Errorf("GETs %q; want one whole GET, no unpinned ranges", gets)
	}
}

// TestObjectReaderNoETagNoResume breaks the body of an object whose first
// answer has no ETag: a resume could not be pinned, so the read fails
// rather than splice in whatever object is there now.
func TestObjectReaderNoETagNoResume(t *testing.T) {
	api := &fakeS3{data: testData(5000), steps: []step{{cut: 700}}}
	r, err := NewObjectReader(context.Background(), api, "b", "k", ReaderOptions{Backoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	_, err = io.ReadAll(r)
	if err == nil || !strings.Contains(err.Error(), "no ETag") || len(api.calls) != 1 {
		t.Errorf("read: %v after %d GETs; want a failure saying there is no ETag, after the one GET", err, len(api.calls))
	}
}

// dataErrAPI gives the first body's last bytes together with its error,
// in one Read, as io.Reader allows.
type dataErrAPI struct{ *fakeS3 }

func (a dataErrAPI) GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	out, err := a.fakeS3.GetObject(ctx, in, optFns...)
	if err == nil && len(a.fakeS3.calls) == 1 {
		out.Body = struct {
			io.Reader
			io.Closer
		}{iotest.DataErrReader(out.Body), out.Body}
	}
	return out, err
}

// TestObjectReaderBytesWithBreak breaks a body in the same Read that
// returns its last bytes: those bytes are returned, then the rest is
// resumed, with no byte lost.
func TestObjectReaderBytesWithBreak(t *testing.T) {
	data := testData(5000)
	api := dataErrAPI{&fakeS3{data: data, etag: `"e"`, steps: []step{{cut: 1000}}}}
	r, err := NewObjectReader(context.Background(), api, "b", "k", ReaderOptions{Backoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(got, data) || r.Resumes() != 1 {
		t.Errorf("read %d bytes, %v, %d resumes; want the %d bytes of the object after 1 resume", len(got), err, r.Resumes(), len(data))
	}
}

// TestObjectReaderReopenStatuses checks permanent's split of a reopen's
// failures: a client error (400 other than RequestTimeout) ends the read
// at once; 408 Request Timeout is waited out like 429.
func TestObjectReaderReopenStatuses(t *testing.T) {
	tests := []struct {
		name  string
		err   error
		calls int
		fails bool
	}{
		{"400 invalid argument", &apiError{"InvalidArgument", 400}, 2, true},
		{"408 request timeout", &apiError{"", 408}, 3, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := testData(5000)
			api := &fakeS3{data: data, etag: `"e"`, steps: []step{{cut: 700}, {err: tt.err}}}
			r, err := NewObjectReader(context.Background(), api, "b", "k", ReaderOptions{Backoff: time.Millisecond, Concurrency: 1})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			got, err := io.ReadAll(r)
			if (err != nil) != tt.fails || len(api.calls) != tt.calls {
				t.Errorf("read: %v after %d GETs; want failure %v after %d", err, len(api.calls), tt.fails, tt.calls)
			}
			if !tt.fails && !bytes.Equal(got, data) {
				t.Errorf("read %d bytes that differ from the object", len(got))
			}
		})
	}
}

// TestObjectReaderSleepBounded waits before reopen attempts far past the
// point where doubling Backoff would overflow: the wait stays capped,
// whatever ReaderOptions.Attempts allows.
func TestObjectReaderSleepBounded(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := &ObjectReader{ctx: ctx, opt: ReaderOptions{Backoff: defaultReadBackoff}}
	for n := 1; n <= 100; n++ {
		func() {
			defer func() {
				if p := recover(); p != nil {
					t.Fatalf("sleep before attempt %d panicked: %v", n, p)
				}
			}()
			if err := r.sleep(n); !errors.Is(err, context.Canceled) {
				t.Fatalf("sleep(%d) = %v; want context.Canceled", n, err)
			}
		}()
	}
}

// TestObjectReaderUnchangedVersion reads a named version: it never
// changes, so a newer version of the key does not fail the job, and no
// request is made.
func TestObjectReaderUnchangedVersion(t *testing.T) {
	api := &fakeS3{data: testData(1000), etag: `"v1"`, steps: []step{{cut: -1}, {cut: -1, etag: `"v2"`}}}
	r, err := NewObjectReader(context.Background(), api, "b", "k", ReaderOptions{VersionID: "111"})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := io.ReadAll(r); err != nil {
		t.Fatal(err)
	}
	if err := r.Unchanged(context.Background()); err != nil || len(api.calls) != 1 {
		t.Errorf("Unchanged: %v after %d GETs; want nil after the one read", err, len(api.calls))
	}
}

// TestObjectReaderUnchangedClosesBody checks that the look before
// publishing closes the body of its one-byte GET, which would otherwise
// hold a connection for every job.
func TestObjectReaderUnchangedClosesBody(t *testing.T) {
	api := &fakeS3{data: testData(1000), etag: `"v1"`}
	r, err := NewObjectReader(context.Background(), api, "b", "k", ReaderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(r); err != nil {
		t.Fatal(err)
	}
	r.Close()
	if err := r.Unchanged(context.Background()); err != nil {
		t.Fatal(err)
	}
	for i, b := range api.bodies {
		if !b.closed {
			t.Errorf("body %d of %d not closed", i+1, len(api.bodies))
		}
	}
}

// TestObjectReaderChunkEndsEarly gives a range a body that ends with io.EOF
// before its bytes, on every attempt: the read fails with
// io.ErrUnexpectedEOF, never with an io.EOF a caller would take for the
// object's end.
func TestObjectReaderChunkEndsEarly(t *testing.T) {
	const chunk = 1 << 20
	api := &rangeS3{data: testData(3 * chunk), etag: `"e"`,
		empty: func(rng string) bool { return strings.HasPrefix(rng, "bytes="+strconv.Itoa(chunk)+"-") }}
	r, err := NewObjectReader(context.Background(), api, "b", "k", ReaderOptions{Concurrency: 2, ChunkSize: chunk, Attempts: 2, Backoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	_, err = io.Copy(io.Discard, r)
	if !errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || !strings.Contains(err.Error(), "ended after 0") {
		t.Errorf("read: %v; want io.ErrUnexpectedEOF saying the range ended early, and not io.EOF", err)
	}
}
