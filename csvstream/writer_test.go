package csvstream

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/crc64"
	"io"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// fakeUploader is an in-memory UploadAPI that checks what S3 checks: part and
// object checksums, part order, sizes, and ETags.
type fakeUploader struct {
	minPart int64 // smallest non-final part Complete accepts

	// Hooks; nil means success.
	onPut      func(ctx context.Context, attempt int) error
	onCreate   func(ctx context.Context) error
	onPart     func(ctx context.Context, num int32, attempt int) error
	onComplete func(ctx context.Context) error
	onAbort    func(ctx context.Context) error

	mu          sync.Mutex
	seq         int
	uploads     map[string]*fakeMPU
	objects     map[string][]byte
	types       map[string]string // content types by key
	attempts    map[int32]int     // UploadPart calls per part number
	calls       []string
	inflight    int
	maxInflight int
	completed   []types.CompletedPart
	abortErrs   []error // ctx.Err() of each abort's context, when called
	abortLeft   []time.Duration
}

type fakeMPU struct {
	key   string
	parts map[int32][]byte
	etags map[int32]string
	sums  map[int32]string
}

func newFakeUploader(minPart int64) *fakeUploader {
	return &fakeUploader{
		minPart:  minPart,
		uploads:  map[string]*fakeMPU{},
		objects:  map[string][]byte{},
		types:    map[string]string{},
		attempts: map[int32]int{},
	}
}

func fakeAPIError(code string) error {
	return &smithy.GenericAPIError{Code: code, Message: "injected by the test"}
}

func (f *fakeUploader) log(s string) {
	f.mu.Lock()
	f.calls = append(f.calls, s)
	f.mu.Unlock()
}

// count counts the calls named name, such as "UploadPart" (every part) or
// "UploadPart 2".
func (f *fakeUploader) count(prefix string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.calls {
		if c == prefix || strings.HasPrefix(c, prefix+" ") {
			n++
		}
	}
	return n
}

func (f *fakeUploader) PutObject(ctx context.Context, in *s3.PutObjectInput, _ ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	f.log("PutObject")
	body, err := io.ReadAll(in.Body)
	if err != nil {
		return nil, err
	}
	if f.onPut != nil {
		if err := f.onPut(ctx, f.count("PutObject")); err != nil {
			return nil, err
		}
	}
	if got := ChecksumCRC64NVME(body); aws.ToString(in.ChecksumCRC64NVME) != got {
		return nil, fakeAPIError("BadDigest")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.objects[*in.Key] = body
	f.types[*in.Key] = aws.ToString(in.ContentType)
	return &s3.PutObjectOutput{ETag: aws.String(`"put"`)}, nil
}

func (f *fakeUploader) CreateMultipartUpload(ctx context.Context, in *s3.CreateMultipartUploadInput, _ ...func(*s3.Options)) (*s3.CreateMultipartUploadOutput, error) {
	f.log("CreateMultipartUpload")
	if f.onCreate != nil {
		if err := f.onCreate(ctx); err != nil {
			return nil, err
		}
	}
	if in.ChecksumAlgorithm != types.ChecksumAlgorithmCrc64nvme || in.ChecksumType != types.ChecksumTypeFullObject {
		return nil, fmt.Errorf("fake: want CRC64NVME FULL_OBJECT, got %s %s", in.ChecksumAlgorithm, in.ChecksumType)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seq++
	id := fmt.Sprintf("upload-%d", f.seq)
	f.uploads[id] = &fakeMPU{key: *in.Key, parts: map[int32][]byte{}, etags: map[int32]string{}, sums: map[int32]string{}}
	f.types[*in.Key] = aws.ToString(in.ContentType)
	return &s3.CreateMultipartUploadOutput{UploadId: aws.String(id)}, nil
}

func (f *fakeUploader) UploadPart(ctx context.Context, in *s3.UploadPartInput, _ ...func(*s3.Options)) (*s3.UploadPartOutput, error) {
	num := aws.ToInt32(in.PartNumber)
	f.mu.Lock()
	f.calls = append(f.calls, fmt.Sprintf("UploadPart %d", num))
	f.attempts[num]++
	attempt := f.attempts[num]
	f.inflight++
	f.maxInflight = max(f.maxInflight, f.inflight)
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.inflight--
		f.mu.Unlock()
	}()
	body, err := io.ReadAll(in.Body)
	if err != nil {
		return nil, err
	}
	if int64(len(body)) != aws.ToInt64(in.ContentLength) {
		return nil, fakeAPIError("IncompleteBody")
	}
	if f.onPart != nil {
		if err := f.onPart(ctx, num, attempt); err != nil {
			return nil, err
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	sum := ChecksumCRC64NVME(body)
	if aws.ToString(in.ChecksumCRC64NVME) != sum {
		return nil, fakeAPIError("BadDigest")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	u := f.uploads[aws.ToString(in.UploadId)]
	if u == nil {
		return nil, fakeAPIError("NoSuchUpload")
	}
	u.parts[num] = body
	u.etags[num] = fmt.Sprintf(`"etag-%d-%d"`, num, attempt)
	u.sums[num] = sum
	return &s3.UploadPartOutput{ETag: aws.String(u.etags[num])}, nil
}

func (f *fakeUploader) CompleteMultipartUpload(ctx context.Context, in *s3.CompleteMultipartUploadInput, _ ...func(*s3.Options)) (*s3.CompleteMultipartUploadOutput, error) {
	f.log("CompleteMultipartUpload")
	if f.onComplete != nil {
		if err := f.onComplete(ctx); err != nil {
			return nil, err
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	id := aws.ToString(in.UploadId)
	u := f.uploads[id]
	if u == nil {
		return nil, fakeAPIError("NoSuchUpload")
	}
	var obj []byte
	parts := in.MultipartUpload.Parts
	for i, p := range parts {
		n := aws.ToInt32(p.PartNumber)
		if n != int32(i+1) {
			return nil, fakeAPIError("InvalidPartOrder")
		}
		if aws.ToString(p.ETag) != u.etags[n] || aws.ToString(p.ChecksumCRC64NVME) != u.sums[n] {
			return nil, fakeAPIError("InvalidPart")
		}
		if i < len(parts)-1 && int64(len(u.parts[n])) < f.minPart {
			return nil, fakeAPIError("EntityTooSmall")
		}
		obj = append(obj, u.parts[n]...)
	}
	if in.ChecksumType != types.ChecksumTypeFullObject || aws.ToString(in.ChecksumCRC64NVME) != ChecksumCRC64NVME(obj) {
		return nil, fakeAPIError("BadDigest")
	}
	if aws.ToInt64(in.MpuObjectSize) != int64(len(obj)) {
		return nil, fakeAPIError("InvalidRequest")
	}
	f.completed = parts
	f.objects[u.key] = obj
	delete(f.uploads, id)
	return &s3.CompleteMultipartUploadOutput{ETag: aws.String(fmt.Sprintf(`"done-%d"`, len(parts)))}, nil
}

func (f *fakeUploader) AbortMultipartUpload(ctx context.Context, in *s3.AbortMultipartUploadInput, _ ...func(*s3.Options)) (*s3.AbortMultipartUploadOutput, error) {
	f.log("AbortMultipartUpload")
	f.mu.Lock()
	f.abortErrs = append(f.abortErrs, ctx.Err())
	if d, ok := ctx.Deadline(); ok {
		f.abortLeft = append(f.abortLeft, time.Until(d))
	}
	f.mu.Unlock()
	if f.onAbort != nil {
		if err := f.onAbort(ctx); err != nil {
			return nil, err
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.uploads[aws.ToString(in.UploadId)] == nil {
		return nil, fakeAPIError("NoSuchUpload")
	}
	delete(f.uploads, aws.ToString(in.UploadId))
	return &s3.AbortMultipartUploadOutput{}, nil
}

// HeadObject reports a stored object's size and CRC64NVME, and an ETag
// made from its size.
func (f *fakeUploader) HeadObject(ctx context.Context, in *s3.HeadObjectInput, _ ...func(*s3.Options)) (*s3.HeadObjectOutput, error) {
	f.log("HeadObject")
	f.mu.Lock()
	defer f.mu.Unlock()
	obj, ok := f.objects[aws.ToString(in.Key)]
	if !ok {
		return nil, fakeAPIError("NotFound")
	}
	out := &s3.HeadObjectOutput{
		ContentLength: aws.Int64(int64(len(obj))),
		ETag:          aws.String(fmt.Sprintf(`"head-%d"`, len(obj))),
	}
	if in.ChecksumMode == types.ChecksumModeEnabled {
		out.ChecksumCRC64NVME = aws.String(ChecksumCRC64NVME(obj))
	}
	return out, nil
}

// ListParts answers NoSuchUpload for an upload that is not open, and
// otherwise reports how many parts it holds, up to MaxParts.
func (f *fakeUploader) ListParts(ctx context.Context, in *s3.ListPartsInput, _ ...func(*s3.Options)) (*s3.ListPartsOutput, error) {
	f.log("ListParts")
	f.mu.Lock()
	defer f.mu.Unlock()
	u := f.uploads[aws.ToString(in.UploadId)]
	if u == nil {
		return nil, fakeAPIError("NoSuchUpload")
	}
	out := &s3.ListPartsOutput{UploadId: in.UploadId}
	for n := range u.parts {
		if len(out.Parts) < int(aws.ToInt32(in.MaxParts)) {
			out.Parts = append(out.Parts, types.Part{PartNumber: aws.Int32(n)})
		}
	}
	return out, nil
}

func (f *fakeUploader) openUploads() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.uploads)
}

// writerTestLimits lets unit tests use tiny parts and short retry waits.
func writerTestLimits() writerLimits {
	l := defaultLimits()
	l.minPartSize, l.retryBackoff = 1, time.Millisecond
	l.settle = []time.Duration{0, time.Millisecond, 2 * time.Millisecond, 5 * time.Millisecond}
	return l
}

// looks is how many times a test writer looks for an object that a
// request cut short may have published, when it never appears.
var looks = len(writerTestLimits().settle)

func newTestObjectWriter(t *testing.T, ctx context.Context, api UploadAPI, opt WriterOptions) *ObjectWriter {
	t.Helper()
	w, err := newObjectWriter(ctx, api, "bucket", "dir/out.csv", opt, writerTestLimits())
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// records returns n CSV-like records of varying lengths.
func writerRecords(n int, seed uint64) [][]byte {
	r := rand.New(rand.NewPCG(seed, 1))
	out := make([][]byte, n)
	for i := range out {
		out[i] = fmt.Appendf(nil, "%d,%s,%d\n", i, strings.Repeat("x", r.IntN(60)), r.Int64())
	}
	return out
}

// writeThenClose writes recs to w until a write fails, then closes w if
// none did, and returns the first error.
func writeThenClose(w *ObjectWriter, recs [][]byte) error {
	for _, r := range recs {
		if _, err := w.Write(r); err != nil {
			return err
		}
	}
	return w.Close()
}

func writeRecords(t *testing.T, w *ObjectWriter, recs [][]byte) []byte {
	t.Helper()
	var all []byte
	for _, r := range recs {
		n, err := w.Write(r)
		if err != nil {
			t.Fatalf("write: %v", err)
		}
		if n != len(r) {
			t.Fatalf("write returned %d, want %d", n, len(r))
		}
		all = append(all, r...)
	}
	return all
}

func TestWriterPartBoundaries(t *testing.T) {
	big := bytes.Repeat([]byte("y"), 3500)
	big[len(big)-1] = '\n'
	tests := []struct {
		name     string
		partSize int64
		recs     [][]byte
	}{
		{"small records", 1000, writerRecords(500, 1)},
		{"records about one part long", 1000, writerRecords(40, 2)},
		{"one write bigger than a part", 1000, append(append(writerRecords(30, 3), big), writerRecords(30, 4)...)},
		{"exact multiples", 64, bytes.SplitAfter(bytes.Repeat([]byte("0123456789abcde\n"), 100), []byte("\n"))[:100]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeUploader(tt.partSize)
			w := newTestObjectWriter(t, context.Background(), f, WriterOptions{PartSize: tt.partSize, Concurrency: 3, ContentType: "text/csv"})
			want := writeRecords(t, w, tt.recs)
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if got := f.objects["dir/out.csv"]; !bytes.Equal(got, want) {
				t.Fatalf("object differs from what was written: %d bytes, want %d", len(got), len(want))
			}
			// A multipart upload is typed when it is created.
			if got := f.types["dir/out.csv"]; got != "text/csv" {
				t.Errorf("content type %q, want text/csv", got)
			}
			// Every part must start where a Write started.
			starts := map[int64]bool{}
			var off int64
			for _, r := range tt.recs {
				starts[off] = true
				off += int64(len(r))
			}
			st := w.State()
			if !st.Multipart || len(st.Parts) < 2 {
				t.Fatalf("want a multipart upload of several parts, got %+v", st)
			}
			off = 0
			for i, p := range st.Parts {
				if !starts[off] {
					t.Errorf("part %d starts at byte %d, inside a record", p.Number, off)
				}
				if i < len(st.Parts)-1 && p.Size < tt.partSize {
					t.Errorf("part %d has %d bytes, below the part size %d", p.Number, p.Size, tt.partSize)
				}
				off += p.Size
			}
			if st.Bytes != int64(len(want)) || off != st.Bytes {
				t.Errorf("State().Bytes = %d, parts sum to %d, wrote %d", st.Bytes, off, len(want))
			}
			if st.ChecksumCRC64NVME != ChecksumCRC64NVME(want) {
				t.Errorf("State().ChecksumCRC64NVME = %s, want %s", st.ChecksumCRC64NVME, ChecksumCRC64NVME(want))
			}
		})
	}
}

func TestPartSizeSchedule(t *testing.T) {
	const fiveTiB = 5 << 40
	for _, first := range []int64{MinPartSize, DefaultPartSize, 6 << 20, 64 << 20, 1 << 30, MaxPartSize} {
		var total int64
		prev := first
		for n := int32(1); n <= MaxParts; n++ {
			s := partSize(first, n)
			if s < prev || s > MaxPartSize {
				t.Fatalf("first %d: part %d size %d after %d (must not shrink nor pass %d)", first, n, s, prev, int64(MaxPartSize))
			}
			prev = s
			total += s
		}
		if total < fiveTiB {
			t.Errorf("first %d: %d parts hold %d bytes, below 5 TiB", first, MaxParts, total)
		}
	}
	for _, c := range []struct {
		n    int32
		want int64
	}{{1, 5 << 20}, {900, 5 << 20}, {901, 10 << 20}, {1800, 10 << 20}, {1801, 20 << 20}, {9001, MaxPartSize}, {10000, MaxPartSize}} {
		if got := partSize(MinPartSize, c.n); got != c.want {
			t.Errorf("partSize(5 MiB, %d) = %d, want %d", c.n, got, c.want)
		}
	}
}

// TestWriterGrowth2000Parts uploads 2,000 tiny parts and checks that the
// part size doubles after parts 900 and 1800 and that Complete lists parts
// 1..2000 in order.
func TestWriterGrowth2000Parts(t *testing.T) {
	const first = 64
	f := newFakeUploader(first)
	w := newTestObjectWriter(t, context.Background(), f, WriterOptions{PartSize: first, Concurrency: 4})
	rec := []byte("0123456789abcde\n") // 16 bytes: parts end exactly at the size
	total := 900*64 + 900*128 + 200*256
	for range total / len(rec) {
		if _, err := w.Write(rec); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if len(f.completed) != 2000 {
		t.Fatalf("Complete listed %d parts, want 2000", len(f.completed))
	}
	for i, p := range f.completed {
		if aws.ToInt32(p.PartNumber) != int32(i+1) {
			t.Fatalf("Complete lists part %d at position %d", aws.ToInt32(p.PartNumber), i+1)
		}
	}
	st := w.State()
	for _, p := range st.Parts {
		want := int64(64)
		switch {
		case p.Number > 1800:
			want = 256
		case p.Number > 900:
			want = 128
		}
		if p.Size != want {
			t.Fatalf("part %d has %d bytes, want %d", p.Number, p.Size, want)
		}
	}
	if w.allocated > 5 {
		t.Errorf("made %d part buffers, want at most Concurrency+1 = 5", w.allocated)
	}
}

// TestWriterLastPart fills all MaxParts parts: the last one takes in
// whatever follows, rather than the upload needing part 10,001.
func TestWriterLastPart(t *testing.T) {
	const first, extra = 1, 5000
	f := newFakeUploader(first)
	w := newTestObjectWriter(t, context.Background(), f, WriterOptions{PartSize: first, Concurrency: 4})
	var want bytes.Buffer
	write := func(n int64) {
		chunk := bytes.Repeat([]byte{byte('a' + want.Len()%26)}, int(n))
		want.Write(chunk)
		if _, err := w.Write(chunk); err != nil {
			t.Fatalf("writing part %d: %v", len(w.State().Parts)+1, err)
		}
	}
	// A write of exactly a part's size ends that part.
	for n := int32(1); n <= MaxParts; n++ {
		write(partSize(first, n))
	}
	for range extra / 100 {
		write(100)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if len(f.completed) != MaxParts {
		t.Fatalf("Complete listed %d parts, want %d", len(f.completed), MaxParts)
	}
	last := w.State().Parts[MaxParts-1]
	if wantSize := partSize(first, MaxParts) + extra; last.Size != wantSize {
		t.Errorf("part %d has %d bytes, want %d", last.Number, last.Size, wantSize)
	}
	if got := f.objects["dir/out.csv"]; !bytes.Equal(got, want.Bytes()) {
		t.Errorf("the object has %d bytes that differ from the %d written", len(got), want.Len())
	}
}

func TestNewObjectWriterOptions(t *testing.T) {
	ctx := context.Background()
	f := newFakeUploader(MinPartSize)
	tests := []struct {
		name    string
		api     UploadAPI
		bucket  string
		opt     WriterOptions
		wantErr string
	}{
		{"part size below 5 MiB", f, "b", WriterOptions{PartSize: MinPartSize - 1}, "below S3's minimum"},
		{"part size above 5 GiB", f, "b", WriterOptions{PartSize: MaxPartSize + 1}, "above S3's maximum"},
		{"negative concurrency", f, "b", WriterOptions{Concurrency: -1}, "must not be negative"},
		{"negative part attempts", f, "b", WriterOptions{PartAttempts: -1}, "must not be negative"},
		{"negative abort timeout", f, "b", WriterOptions{AbortTimeout: -time.Second}, "must not be negative"},
		{"negative deadline margin", f, "b", WriterOptions{DeadlineMargin: -time.Second}, "must not be negative"},
		{"concurrency above the maximum", f, "b", WriterOptions{Concurrency: MaxConcurrency + 1}, "above the maximum of 64"},
		{"maximum concurrency", f, "b", WriterOptions{Concurrency: MaxConcurrency}, ""},
		{"no client", nil, "b", WriterOptions{}, "no S3 client"},
		{"no bucket", f, "", WriterOptions{}, "must not be empty"},
		{"zero value", f, "b", WriterOptions{}, ""},
		{"minimum part size", f, "b", WriterOptions{PartSize: MinPartSize}, ""},
		{"maximum part size", f, "b", WriterOptions{PartSize: MaxPartSize}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := NewObjectWriter(ctx, tt.api, tt.bucket, "k", tt.opt)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if err := w.Abort(); err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), "s3://"+tt.bucket+"/k") {
				t.Fatalf("err = %v, want one naming the object and saying %q", err, tt.wantErr)
			}
		})
	}
	w, err := NewObjectWriter(ctx, f, "b", "k", WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	want := WriterOptions{PartSize: DefaultPartSize, Concurrency: 4, PartAttempts: 4, AbortTimeout: 30 * time.Second, DeadlineMargin: 10 * time.Second}
	if w.opt != want {
		t.Errorf("defaults = %+v, want %+v", w.opt, want)
	}
}

func TestWriterBackpressure(t *testing.T) {
	const concurrency = 3
	f := newFakeUploader(100)
	gate := make(chan struct{})
	f.onPart = func(ctx context.Context, num int32, attempt int) error {
		<-gate
		return nil
	}
	w := newTestObjectWriter(t, context.Background(), f, WriterOptions{PartSize: 100, Concurrency: concurrency})
	rec := bytes.Repeat([]byte("z"), 100) // one part per write
	wrote := make(chan int, 20)
	errc := make(chan error, 1)
	go func() {
		for i := range 20 {
			if _, err := w.Write(rec); err != nil {
				errc <- err
				return
			}
			wrote <- i
		}
		errc <- w.Close()
	}()
	// With every upload stuck, Concurrency parts are in flight, one more
	// buffer is being filled, and then Write must block.
	deadline := time.After(5 * time.Second)
	for f.count("UploadPart") < concurrency {
		select {
		case <-deadline:
			t.Fatalf("only %d parts started", f.count("UploadPart"))
		case <-time.After(time.Millisecond):
		}
	}
	time.Sleep(50 * time.Millisecond)
	if n := len(wrote); n > concurrency+1 {
		t.Fatalf("%d writes returned while %d uploads were stuck: no backpressure", n, concurrency)
	}
	close(gate)
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if f.maxInflight > concurrency {
		t.Errorf("%d UploadPart calls in flight, want at most %d", f.maxInflight, concurrency)
	}
	if w.allocated > concurrency+1 {
		t.Errorf("made %d part buffers, want at most %d", w.allocated, concurrency+1)
	}
	if got := len(f.objects["dir/out.csv"]); got != 2000 {
		t.Errorf("object has %d bytes, want 2000", got)
	}
}

// TestWriterPartBufferSize holds the writer to its memory bound: a part
// is cut after the write that takes it past the part size, and that write
// must not leave a buffer a quarter larger than a part (as append's growth
// would), kept for every later part.
func TestWriterPartBufferSize(t *testing.T) {
	const partSize = 1 << 20
	f := newFakeUploader(1)
	w := newTestObjectWriter(t, context.Background(), f, WriterOptions{PartSize: partSize, Concurrency: 2})
	rec := bytes.Repeat([]byte("0123456789,abcdefghi\n"), 5) // 105 bytes: parts never end on the part size
	for range 10 * partSize / len(rec) {
		if _, err := w.Write(rec); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.sendAll(); err != nil { // every buffer is back
		t.Fatal(err)
	}
	for len(w.free) > 0 {
		if b := <-w.free; cap(b) > partSize+partHeadroom {
			t.Errorf("a part buffer holds %d bytes, %.2f times the part size; want at most the part size and %d", cap(b), float64(cap(b))/partSize, partHeadroom)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got, want := len(f.objects["dir/out.csv"]), 10*partSize/len(rec)*len(rec); got != want {
		t.Errorf("object has %d bytes, want %d", got, want)
	}
}

// errStall makes a fake request wait, like one that gets no answer, until
// its context ends.
var errStall = errors.New("no answer")

// stall waits until ctx ends and returns the S3 client's error for that.
func stall(ctx context.Context) error {
	<-ctx.Done()
	return &smithy.CanceledError{Err: ctx.Err()}
}

func TestWriterRetriesPart(t *testing.T) {
	sendErr := &smithyhttp.RequestSendError{Err: errors.New("write: connection reset by peer")}
	tests := []struct {
		name      string
		err       error
		fails     int    // attempts of part 2 that fail
		wantCalls int    // UploadPart calls for part 2
		wantErr   string // empty when the upload succeeds
	}{
		{"bad digest once", fakeAPIError("BadDigest"), 1, 2, ""},
		{"bad digest three times", fakeAPIError("BadDigest"), 3, 4, ""},
		{"sha256 mismatch", fakeAPIError("XAmzContentSHA256Mismatch"), 2, 3, ""},
		{"broken connection", sendErr, 1, 2, ""},
		{"no answer once", errStall, 1, 2, ""},
		{"bad digest every time", fakeAPIError("BadDigest"), 100, 4, "attempt 4 of 4: api error BadDigest"},
		{"access denied is not retried", fakeAPIError("AccessDenied"), 1, 1, "attempt 1 of 4: api error AccessDenied"},
		{"no answer every time", errStall, 100, 4,
			"upload part 2 of s3://bucket/dir/out.csv (upload id upload-1), attempt 4 of 4: timed out after 500ms (canceled, context deadline exceeded)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeUploader(100)
			f.onPart = func(ctx context.Context, num int32, attempt int) error {
				if num == 2 && attempt <= tt.fails {
					if tt.err == errStall {
						return stall(ctx)
					}
					return tt.err
				}
				return nil
			}
			lim := writerTestLimits()
			// Every part gets the timeout: long enough for a loaded machine
			// to send the others, short enough to test.
			lim.attemptBase, lim.attemptRate = 500*time.Millisecond, 1<<30
			if tt.err != errStall {
				lim.attemptBase = time.Minute // no timeouts where none is tested
			}
			w, err := newObjectWriter(context.Background(), f, "bucket", "dir/out.csv", WriterOptions{PartSize: 100, Concurrency: 2}, lim)
			if err != nil {
				t.Fatal(err)
			}
			var want []byte
			for _, r := range writerRecords(50, 7) {
				if _, err = w.Write(r); err != nil {
					break
				}
				want = append(want, r...)
			}
			if err == nil {
				err = w.Close()
			}
			if got := f.count("UploadPart 2"); got != tt.wantCalls {
				t.Errorf("part 2 sent %d times, want %d", got, tt.wantCalls)
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one saying %q", err, tt.wantErr)
				}
				if errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("err = %v, which reads as the job running out of time", err)
				}
				if f.openUploads() != 0 {
					t.Fatal("multipart upload left behind")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(f.objects["dir/out.csv"], want) {
				t.Fatal("object differs from what was written")
			}
			if got := w.State().Retries; got != tt.wantCalls-1 {
				t.Errorf("State().Retries = %d, want %d", got, tt.wantCalls-1)
			}
		})
	}
}

// TestWriterAttemptTimeout checks that a PutObject without an answer is sent
// again, and that the attempt timeout grows with the bytes sent.
func TestWriterAttemptTimeout(t *testing.T) {
	f := newFakeUploader(100)
	f.onPut = func(ctx context.Context, attempt int) error {
		if attempt == 1 {
			return stall(ctx)
		}
		return nil
	}
	lim := writerTestLimits()
	lim.attemptBase = 500 * time.Millisecond
	w, err := newObjectWriter(context.Background(), f, "bucket", "dir/out.csv", WriterOptions{PartSize: 100}, lim)
	if err != nil {
		t.Fatal(err)
	}
	want := writeRecords(t, w, [][]byte{[]byte("id,name\n")})
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(f.objects["dir/out.csv"], want) || f.count("PutObject") != 2 || w.State().Retries != 1 {
		t.Fatalf("object %q after %d PutObjects, %d retries; want %q after 2, 1", f.objects["dir/out.csv"], f.count("PutObject"), w.State().Retries, want)
	}

	w = newTestObjectWriter(t, context.Background(), f, WriterOptions{})
	defer w.Abort()
	for _, c := range []struct {
		size int
		want time.Duration
	}{{0, time.Minute}, {DefaultPartSize, time.Minute + 8*time.Second}, {MaxPartSize, time.Minute + 5120*time.Second}} {
		if got := w.attemptTimeout(c.size); got != c.want {
			t.Errorf("attemptTimeout(%d) = %v, want %v", c.size, got, c.want)
		}
	}
}

func TestWriterPermanentFailureAborts(t *testing.T) {
	f := newFakeUploader(100)
	f.onPart = func(ctx context.Context, num int32, attempt int) error {
		if num == 3 {
			return fakeAPIError("BadDigest")
		}
		return nil
	}
	w := newTestObjectWriter(t, context.Background(), f, WriterOptions{PartSize: 100, Concurrency: 2, PartAttempts: 3})
	err := writeThenClose(w, writerRecords(200, 8))
	if err == nil {
		t.Fatal("no error")
	}
	for _, s := range []string{"part 3", "upload id upload-1", "s3://bucket/dir/out.csv", "BadDigest", "attempt 3 of 3"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not say %q", err, s)
		}
	}
	if f.openUploads() != 0 {
		t.Error("multipart upload left behind")
	}
	if n := f.count("AbortMultipartUpload"); n != 1 {
		t.Errorf("%d aborts, want 1", n)
	}
	if f.abortErrs[0] != nil {
		t.Errorf("abort ran on a done context: %v", f.abortErrs[0])
	}
	if err2 := w.Close(); err2 != err {
		t.Errorf("Close after the failure = %v, want the same error", err2)
	}
	if _, err2 := w.Write([]byte("x\n")); err2 != err {
		t.Errorf("Write after the failure = %v, want the same error", err2)
	}
	if err := w.Abort(); err != nil {
		t.Errorf("Abort after the failure: %v", err)
	}
	if n := f.count("AbortMultipartUpload"); n != 1 {
		t.Errorf("%d aborts after Abort, want 1", n)
	}
}

func TestWriterCompleteFailureAborts(t *testing.T) {
	f := newFakeUploader(100)
	f.onComplete = func(ctx context.Context) error { return fakeAPIError("InternalError") }
	w := newTestObjectWriter(t, context.Background(), f, WriterOptions{PartSize: 100})
	writeRecords(t, w, writerRecords(50, 9))
	err := w.Close()
	if err == nil || !strings.Contains(err.Error(), "complete s3://bucket/dir/out.csv (upload id upload-1)") {
		t.Fatalf("err = %v, want one naming the object and upload", err)
	}
	if f.openUploads() != 0 {
		t.Error("multipart upload left behind")
	}
}

// lossyCompleter fails chosen Complete calls, before or after the fake
// completes the upload; an error after it is an answer lost on the way back.
type lossyCompleter struct {
	*fakeUploader
	calls         int
	before, after func(call int) error // nil, or returning nil, means no fault
	extraSize     int64                // added to the size HeadObject reports
}

func (l *lossyCompleter) HeadObject(ctx context.Context, in *s3.HeadObjectInput, optFns ...func(*s3.Options)) (*s3.HeadObjectOutput, error) {
	out, err := l.fakeUploader.HeadObject(ctx, in, optFns...)
	if err == nil {
		out.ContentLength = aws.Int64(*out.ContentLength + l.extraSize)
	}
	return out, err
}

func (l *lossyCompleter) CompleteMultipartUpload(ctx context.Context, in *s3.CompleteMultipartUploadInput, optFns ...func(*s3.Options)) (*s3.CompleteMultipartUploadOutput, error) {
	l.calls++
	if l.before != nil {
		if err := l.before(l.calls); err != nil {
			return nil, err
		}
	}
	out, err := l.fakeUploader.CompleteMultipartUpload(ctx, in, optFns...)
	if err == nil && l.after != nil {
		if err := l.after(l.calls); err != nil {
			return nil, err
		}
	}
	return out, err
}

// TestWriterCompleteAnswerLost checks that an upload completed by a Complete
// whose answer was lost is reported as completed, and only when the object at
// the key is the upload's.
func TestWriterCompleteAnswerLost(t *testing.T) {
	lost := fmt.Errorf("https response error StatusCode: 200: %w", io.ErrUnexpectedEOF)
	on := func(calls int, err error) func(int) error {
		return func(call int) error {
			if call <= calls {
				return err
			}
			return nil
		}
	}
	tests := []struct {
		name          string
		before, after func(int) error
		other         bool  // another object is at the key
		extraSize     int64 // HeadObject reports the object this much larger
		wantCompletes int
		wantHeads     int
		wantETag      string // "done" from Complete, "head" from HeadObject
		wantErr       string
	}{
		{"retried Complete finds the upload gone", nil, on(1, fakeAPIError("NoSuchUpload")), false, 0, 1, 1, "head", ""},
		{"answer lost, the Complete sent again finds the upload gone", nil, on(1, lost), false, 0, 2, 1, "head", ""},
		{"answer lost before completing", on(1, lost), nil, false, 0, 2, 0, "done", ""},
		{"upload gone, another object at the key", on(9, fakeAPIError("NoSuchUpload")), nil, true, 0, 1, looks, "",
			"complete s3://bucket/dir/out.csv (upload id upload-1) with 4 parts: api error NoSuchUpload: injected by the test; the object at the key is not this upload's"},
		{"upload gone, no object", on(9, fakeAPIError("NoSuchUpload")), nil, false, 0, 1, looks, "", "NoSuchUpload: injected by the test; looking for the completed object: api error NotFound"},
		{"answer lost twice", on(9, lost), nil, false, 0, 2, looks, "", "complete s3://bucket/dir/out.csv (upload id upload-1) with 4 parts: https response error"},
		// The first Complete did complete the upload: whatever the second
		// says, the object is looked for.
		{"answer lost twice, the first completed", func(call int) error {
			if call == 2 {
				return lost
			}
			return nil
		}, on(1, lost), false, 0, 2, 1, "head", ""},
		// The object has this upload's checksum, but not its size.
		{"upload gone, an object of another size with this upload's checksum", nil, on(9, fakeAPIError("NoSuchUpload")), false, 1, 1, looks, "",
			"the object at the key is not this upload's: it has CRC64NVME"},
		{"refused", on(9, fakeAPIError("InvalidPart")), nil, false, 0, 1, 0, "", "InvalidPart"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeUploader(100)
			if tt.other {
				f.objects["dir/out.csv"] = []byte("another object\n")
			}
			api := &lossyCompleter{fakeUploader: f, before: tt.before, after: tt.after, extraSize: tt.extraSize}
			w := newTestObjectWriter(t, context.Background(), api, WriterOptions{PartSize: 100})
			want := writeRecords(t, w, writerRecords(8, 17))
			err := w.Close()
			if api.calls != tt.wantCompletes || f.count("HeadObject") != tt.wantHeads {
				t.Errorf("%d Completes and %d HeadObjects, want %d and %d", api.calls, f.count("HeadObject"), tt.wantCompletes, tt.wantHeads)
			}
			if f.openUploads() != 0 {
				t.Error("multipart upload left behind")
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one saying %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			st := w.State()
			if !bytes.Equal(f.objects["dir/out.csv"], want) || st.ChecksumCRC64NVME != ChecksumCRC64NVME(want) {
				t.Fatal("object or checksum differs from what was written")
			}
			if !strings.HasPrefix(st.ETag, `"`+tt.wantETag+"-") {
				t.Errorf("ETag %s, want one from %s", st.ETag, tt.wantETag)
			}
			if st.Retries != tt.wantCompletes-1 {
				t.Errorf("State().Retries = %d, want %d", st.Retries, tt.wantCompletes-1)
			}
		})
	}
}

// lateS3's Complete and PutObject wait until their context ends, and then,
// when finish is set, complete the upload or store the object all the
// same, as S3 may when the client gives up on a slow request. With
// abortOK, an abort of an upload that is gone succeeds, as S3 answers for
// a while after an upload completed. With held set, a finished PutObject
// takes effect only when the writer looks for the object a second time,
// as when S3 is still storing it at the first look.
type lateS3 struct {
	*fakeUploader
	finish, abortOK bool
	held            *func() // the PutObject still to take effect, if any
}

func (l lateS3) AbortMultipartUpload(ctx context.Context, in *s3.AbortMultipartUploadInput, optFns ...func(*s3.Options)) (*s3.AbortMultipartUploadOutput, error) {
	out, err := l.fakeUploader.AbortMultipartUpload(ctx, in, optFns...)
	if l.abortOK && isNoSuchUpload(err) {
		return &s3.AbortMultipartUploadOutput{}, nil
	}
	return out, err
}

func (l lateS3) CompleteMultipartUpload(ctx context.Context, in *s3.CompleteMultipartUploadInput, optFns ...func(*s3.Options)) (*s3.CompleteMultipartUploadOutput, error) {
	<-ctx.Done()
	if l.finish {
		if _, err := l.fakeUploader.CompleteMultipartUpload(context.Background(), in, optFns...); err != nil {
			return nil, err
		}
	}
	return nil, &smithy.CanceledError{Err: ctx.Err()}
}

func (l lateS3) PutObject(ctx context.Context, in *s3.PutObjectInput, optFns ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	<-ctx.Done()
	put := func() error {
		_, err := l.fakeUploader.PutObject(context.Background(), in, optFns...)
		return err
	}
	switch {
	case l.finish && l.held != nil:
		*l.held = func() { put() }
	case l.finish:
		if err := put(); err != nil {
			return nil, err
		}
	}
	return nil, &smithy.CanceledError{Err: ctx.Err()}
}

func (l lateS3) HeadObject(ctx context.Context, in *s3.HeadObjectInput, optFns ...func(*s3.Options)) (*s3.HeadObjectOutput, error) {
	if l.held != nil && *l.held != nil && l.count("HeadObject") == 1 {
		(*l.held)()
		*l.held = nil
	}
	return l.fakeUploader.HeadObject(ctx, in, optFns...)
}

// TestWriterCutShort lets the deadline end a slow Complete, or the single
// PutObject of a small object. When S3 finished the request anyway, the
// writer finds the object (after the abort of an upload finds it gone) and
// reports it, so that a published object is never reported as a failure;
// otherwise the deadline's error stands and nothing is left behind.
func TestWriterCutShort(t *testing.T) {
	tests := []struct {
		name            string
		partSize        int64
		records         int
		finish, abortOK bool
		late            bool // the PutObject takes effect after the first look
		noMargin        bool // the writer stops at the caller's deadline, leaving no time after it
		wantHeads       int
	}{
		{"Complete finished, abort finds it gone", 100, 8, true, false, false, false, 1},
		{"Complete finished, abort answers success", 100, 8, true, true, false, false, 1},
		{"Complete not finished", 100, 8, false, false, false, false, looks},
		{"PutObject finished", 1000, 3, true, false, false, false, 1},
		{"PutObject finished after the first look", 1000, 3, true, false, true, false, 2},
		// Past the deadline the writer still looks for minSettleTime.
		{"PutObject finished after the first look, deadline passed", 1000, 3, true, false, true, true, 2},
		{"PutObject not finished", 1000, 3, false, false, false, false, looks},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeUploader(100)
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			api := lateS3{fakeUploader: f, finish: tt.finish, abortOK: tt.abortOK}
			if tt.late {
				api.held = new(func())
			}
			margin := 500 * time.Millisecond
			if tt.noMargin {
				margin = time.Nanosecond
			}
			w := newTestObjectWriter(t, ctx, api, WriterOptions{PartSize: tt.partSize, DeadlineMargin: margin})
			want := writeRecords(t, w, writerRecords(tt.records, 17))
			err := w.Close()
			if f.openUploads() != 0 || f.count("HeadObject") != tt.wantHeads {
				t.Errorf("%d uploads left and %d HeadObjects, want none and %d", f.openUploads(), f.count("HeadObject"), tt.wantHeads)
			}
			if !tt.finish {
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Fatalf("err = %v, want context.DeadlineExceeded", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Close = %v, but S3 finished the request", err)
			}
			if st := w.State(); !bytes.Equal(f.objects["dir/out.csv"], want) || !strings.HasPrefix(st.ETag, `"head-`) {
				t.Errorf("object differs from what was written, or ETag %s not from HeadObject", st.ETag)
			}
		})
	}
}

// TestWriterCutShortAbortFails lets the deadline end a slow Complete whose
// abort then fails once or twice: the error says that the upload is left
// behind only when it is, and only once.
func TestWriterCutShortAbortFails(t *testing.T) {
	for _, fails := range []int{1, 2} {
		t.Run(fmt.Sprintf("abort fails %d times", fails), func(t *testing.T) {
			f := newFakeUploader(100)
			left := fails
			f.onAbort = func(context.Context) error {
				if left > 0 {
					left--
					return fakeAPIError("InternalError")
				}
				return nil
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			w := newTestObjectWriter(t, ctx, lateS3{fakeUploader: f}, WriterOptions{PartSize: 100, DeadlineMargin: 500 * time.Millisecond})
			writeRecords(t, w, writerRecords(8, 17))
			err := w.Close()
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("err = %v, want context.DeadlineExceeded", err)
			}
			if got, want := strings.Count(err.Error(), "left behind"), fails-1; got != want || f.openUploads() != want {
				t.Errorf("%d uploads open, and the error says %d times that one is left behind, want %d: %v", f.openUploads(), got, want, err)
			}
		})
	}
}

// latePart's first abort succeeds, and then the part S3 was still
// receiving lands and brings the upload back, as S3's documentation warns
// a part in progress may. With afterLooks set, it lands only once ListParts
// has found the upload gone that many times; with every set, it lands
// again after every abort, as when S3 keeps storing it.
type latePart struct {
	*fakeUploader
	aborts     int
	afterLooks int
	every      bool
	lists      int
	pending    *s3.AbortMultipartUploadInput // the abort whose late part has not landed yet
	// unansweredLooks is how many ListParts calls, the first ones, get no
	// answer: they wait until their context ends.
	unansweredLooks int
}

func (l *latePart) land(in *s3.AbortMultipartUploadInput) {
	l.mu.Lock()
	l.uploads[aws.ToString(in.UploadId)] = &fakeMPU{key: aws.ToString(in.Key), parts: map[int32][]byte{2: []byte("late\n")}}
	l.mu.Unlock()
}

func (l *latePart) AbortMultipartUpload(ctx context.Context, in *s3.AbortMultipartUploadInput, optFns ...func(*s3.Options)) (*s3.AbortMultipartUploadOutput, error) {
	out, err := l.fakeUploader.AbortMultipartUpload(ctx, in, optFns...)
	if l.aborts++; (l.aborts == 1 || l.every) && err == nil {
		if l.afterLooks > 0 {
			l.pending = in
		} else {
			l.land(in)
		}
	}
	return out, err
}

func (l *latePart) ListParts(ctx context.Context, in *s3.ListPartsInput, optFns ...func(*s3.Options)) (*s3.ListPartsOutput, error) {
	if l.unansweredLooks > 0 {
		l.unansweredLooks--
		l.log("ListParts")
		return nil, stall(ctx)
	}
	out, err := l.fakeUploader.ListParts(ctx, in, optFns...)
	if l.lists++; isNoSuchUpload(err) && l.pending != nil && l.lists == l.afterLooks {
		l.land(l.pending)
		l.pending = nil
	}
	return out, err
}

// TestWriterAbortsAgain fails a part while another part is still being
// sent. When that part had no answer, S3 may store it after the abort and
// keep the upload alive: the writer looks again, and aborts again, also
// when the part lands after a look found the upload gone. When every part
// had its answer, it does not look.
func TestWriterAbortsAgain(t *testing.T) {
	tests := []struct {
		name        string
		hang        bool // part 2 is cut short instead of answered
		concurrency int
		afterLooks  int // the late part lands once ListParts found the upload gone this often
		unanswered  int // the first looks get no answer within lookTimeout
		wantLists   int
	}{
		{"a part cut short", true, 4, 0, 0, 1},
		{"a part cut short, landing after the first look", true, 4, 1, 0, 2},
		{"a part cut short, the first look unanswered", true, 4, 0, 1, 2},
		{"every part answered", false, 1, 0, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeUploader(100)
			f.onPart = func(ctx context.Context, num int32, attempt int) error {
				switch {
				case num == 3:
					return fakeAPIError("AccessDenied")
				case num == 2 && tt.hang:
					<-ctx.Done()
					return &smithy.CanceledError{Err: ctx.Err()}
				}
				return nil
			}
			api := &latePart{fakeUploader: f, afterLooks: tt.afterLooks, unansweredLooks: tt.unanswered}
			w := newTestObjectWriter(t, context.Background(), api, WriterOptions{PartSize: 100, Concurrency: tt.concurrency})
			var err error
			for _, rec := range writerRecords(40, 3) {
				if _, err = w.Write(rec); err != nil {
					break
				}
			}
			if err == nil {
				err = w.Close()
			}
			if err == nil || !strings.Contains(err.Error(), "AccessDenied") {
				t.Fatalf("err = %v, want part 3's AccessDenied", err)
			}
			w.Abort()
			lists := f.count("ListParts")
			if tt.hang && (lists < tt.wantLists || f.openUploads() != 0 || api.aborts < 2) {
				t.Errorf("%d ListParts, %d aborts and %d uploads left; want the late upload found and aborted again", lists, api.aborts, f.openUploads())
			}
			if !tt.hang && lists != 0 {
				t.Errorf("%d ListParts after an abort with every part answered, want none", lists)
			}
		})
	}
}

// TestWriterCleanupLeavesTime stops a job with a deadline 1s away, and
// checks that looking for an object a request cut short may have published
// takes at most half the time left (or minSettleTime, when longer), and
// looking for an upload a late part keeps alive at most half: the rest of
// the job's cleanup needs the other half.
func TestWriterCleanupLeavesTime(t *testing.T) {
	tests := []struct {
		name     string
		partSize int64
		records  int
		setup    func(f *fakeUploader, stop func(context.Context) error)
		every    bool // a late part brings the upload back after every abort
		wantMax  func(left time.Duration) time.Duration
	}{
		{"looks for a PutObject cut short", 1000, 3, func(f *fakeUploader, stop func(context.Context) error) {
			f.onPut = func(ctx context.Context, _ int) error { return stop(ctx) }
		}, false, func(left time.Duration) time.Duration { return max(left/2, minSettleTime) }},
		{"looks for a Complete cut short", 100, 8, func(f *fakeUploader, stop func(context.Context) error) {
			f.onComplete = stop
		}, false, func(left time.Duration) time.Duration { return max(left/2, minSettleTime) }},
		{"looks for a late part", 100, 40, func(f *fakeUploader, stop func(context.Context) error) {
			f.onPart = func(ctx context.Context, num int32, _ int) error {
				if num == 2 {
					return stop(ctx)
				}
				return nil
			}
		}, true, func(left time.Duration) time.Duration { return left / 2 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parent, cancelParent := context.WithTimeout(context.Background(), time.Second)
			defer cancelParent()
			deadline, _ := parent.Deadline()
			ctx, cancel := context.WithCancel(parent)
			defer cancel()
			var mu sync.Mutex
			var stopped time.Time
			// stop cancels the job while a request is in flight, which then
			// gets no answer.
			stop := func(reqCtx context.Context) error {
				mu.Lock()
				if stopped.IsZero() {
					stopped = time.Now()
				}
				mu.Unlock()
				cancel()
				<-reqCtx.Done()
				return &smithy.CanceledError{Err: reqCtx.Err()}
			}
			f := newFakeUploader(100)
			tt.setup(f, stop)
			lim := writerTestLimits()
			lim.settle = []time.Duration{0, 250 * time.Millisecond, 250 * time.Millisecond, 250 * time.Millisecond, 250 * time.Millisecond}
			w, err := newObjectWriter(ctx, &latePart{fakeUploader: f, every: tt.every}, "bucket", "dir/out.csv", WriterOptions{PartSize: tt.partSize, Concurrency: 4}, lim)
			if err != nil {
				t.Fatal(err)
			}
			err = writeThenClose(w, writerRecords(tt.records, 22))
			end := time.Now()
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("err = %v, want context.Canceled", err)
			}
			mu.Lock()
			defer mu.Unlock()
			left := deadline.Sub(stopped)
			if took, most := end.Sub(stopped), tt.wantMax(left)+150*time.Millisecond; took > most {
				t.Errorf("stopped with %v left, and took %v to return; want at most %v", left.Round(time.Millisecond), took.Round(time.Millisecond), most.Round(time.Millisecond))
			}
			if n := f.count("HeadObject") + f.count("ListParts"); n == 0 {
				t.Error("the writer did not look")
			}
		})
	}
}

func TestWriterAbortErrorJoined(t *testing.T) {
	for _, fails := range []int{1, 2} {
		t.Run(fmt.Sprintf("abort fails %d times", fails), func(t *testing.T) { testWriterAbortErrorJoined(t, fails) })
	}
}

// testWriterAbortErrorJoined fails every part and the first fails aborts:
// the error of the failed write says the abort failed, and how the upload
// left behind is removed; Abort tries again, and does not report a second
// failure the write reported already.
func testWriterAbortErrorJoined(t *testing.T, n int) {
	f := newFakeUploader(100)
	f.onPart = func(ctx context.Context, num int32, attempt int) error { return fakeAPIError("AccessDenied") }
	abortErr := errors.New("abort refused")
	fails := n
	f.onAbort = func(ctx context.Context) error {
		if fails > 0 {
			fails--
			return abortErr
		}
		return nil
	}
	w := newTestObjectWriter(t, context.Background(), f, WriterOptions{PartSize: 100})
	err := writeThenClose(w, writerRecords(100, 10))
	if !errors.Is(err, abortErr) || !strings.Contains(err.Error(), "AccessDenied") || !strings.Contains(err.Error(), "abort multipart upload upload-1") ||
		!strings.Contains(err.Error(), "csvstream sweep") {
		t.Fatalf("err = %v, want the part's error joined with the abort's, saying how to remove the upload", err)
	}
	if f.openUploads() != 1 {
		t.Fatal("the failed abort should have left the upload")
	}
	// Abort tries again, and says nothing of a failure reported already.
	if err := w.Abort(); err != nil {
		t.Fatal(err)
	}
	if want := n - 1; f.openUploads() != want {
		t.Errorf("%d multipart uploads open after Abort, want %d", f.openUploads(), want)
	}
}

func TestWriterCancelAborts(t *testing.T) {
	f := newFakeUploader(100)
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan struct{}, 100)
	f.onPart = func(pctx context.Context, num int32, attempt int) error {
		if num >= 2 {
			started <- struct{}{}
			<-pctx.Done()
			return &smithy.CanceledError{Err: pctx.Err()}
		}
		return nil
	}
	w := newTestObjectWriter(t, ctx, f, WriterOptions{PartSize: 100, Concurrency: 2, AbortTimeout: 7 * time.Second})
	errc := make(chan error, 1)
	go func() {
		for _, r := range writerRecords(1000, 11) {
			if _, err := w.Write(r); err != nil {
				errc <- err
				return
			}
		}
		errc <- w.Close()
	}()
	<-started
	cancel()
	err := <-errc
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "s3://bucket/dir/out.csv") || !strings.Contains(err.Error(), "upload-1") {
		t.Fatalf("err = %v, want context.Canceled naming the object and upload", err)
	}
	if f.openUploads() != 0 {
		t.Fatal("multipart upload left behind")
	}
	if len(f.abortErrs) != 1 || f.abortErrs[0] != nil {
		t.Fatalf("abort contexts: %v, want one that was not done", f.abortErrs)
	}
	if left := f.abortLeft[0]; left < 6*time.Second || left > 7*time.Second {
		t.Errorf("abort had %v left, want about AbortTimeout (7s)", left)
	}
}

// TestWriterAbortTimeout checks the time the abort gets: AbortTimeout, but
// no later than the caller's deadline, and never less than 2s.
func TestWriterAbortTimeout(t *testing.T) {
	tests := []struct {
		name          string
		left          time.Duration // until the caller's deadline; 0 for none
		abortTimeout  time.Duration
		wantMin, want time.Duration // the time the abort had left
	}{
		{"no deadline", 0, 7 * time.Second, 6 * time.Second, 7 * time.Second},
		{"deadline before AbortTimeout", 5 * time.Second, 30 * time.Second, 4 * time.Second, 5 * time.Second},
		{"deadline in under 2s", 500 * time.Millisecond, 30 * time.Second, 1500 * time.Millisecond, 2 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			if tt.left > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.left)
				defer cancel()
			}
			f := newFakeUploader(100)
			f.onPart = func(context.Context, int32, int) error { return fakeAPIError("AccessDenied") }
			w := newTestObjectWriter(t, ctx, f, WriterOptions{PartSize: 100, AbortTimeout: tt.abortTimeout})
			if err := writeThenClose(w, writerRecords(20, 21)); err == nil || !strings.Contains(err.Error(), "AccessDenied") {
				t.Fatalf("err = %v, want the part's AccessDenied", err)
			}
			if len(f.abortLeft) != 1 || f.openUploads() != 0 {
				t.Fatalf("%d aborts with a deadline, %d uploads left; want 1 and none", len(f.abortLeft), f.openUploads())
			}
			if left := f.abortLeft[0]; left < tt.wantMin || left > tt.want {
				t.Errorf("abort had %v left, want about %v", left, tt.want)
			}
		})
	}
}

// TestWriterCancelDuringBackoff cancels the job while a part waits to be
// sent again: the writer stops and aborts at once, not after the wait.
func TestWriterCancelDuringBackoff(t *testing.T) {
	f := newFakeUploader(100)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f.onPart = func(_ context.Context, num int32, attempt int) error {
		if num == 1 {
			if attempt == 1 {
				time.AfterFunc(50*time.Millisecond, cancel)
			}
			return fakeAPIError("BadDigest")
		}
		return nil
	}
	lim := writerTestLimits()
	lim.retryBackoff = time.Hour // capped at maxRetryBackoff: a wait of 2.5s to 5s
	w, err := newObjectWriter(ctx, f, "bucket", "dir/out.csv", WriterOptions{PartSize: 100, Concurrency: 1}, lim)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = writeThenClose(w, writerRecords(20, 26))
	if d := time.Since(start); d > time.Second {
		t.Errorf("the writer took %v to stop after its context was cancelled", d)
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	if n := f.count("UploadPart 1"); n != 1 || f.openUploads() != 0 {
		t.Errorf("part 1 sent %d times, %d uploads left; want 1 and none", n, f.openUploads())
	}
}

// TestWriterCleanupTimeout checks that a request on a cleanup context that
// gave up (S3 unreachable, say) is reported as giving up, without the
// context's DeadlineExceeded in the error's chain: that would read as the
// caller's deadline having come. An abort that gave up is not tried again.
func TestWriterCleanupTimeout(t *testing.T) {
	stall := func(ctx context.Context) error {
		<-ctx.Done()
		return &smithy.OperationError{ServiceID: "S3", OperationName: "stalled", Err: ctx.Err()}
	}
	tests := []struct {
		name  string
		setup func(f *fakeUploader)
		want  string
	}{
		{"create", func(f *fakeUploader) { f.onCreate = stall }, "create multipart upload"},
		{"abort", func(f *fakeUploader) {
			f.onPart = func(context.Context, int32, int) error { return fakeAPIError("InvalidRequest") }
			f.onAbort = stall
		}, "abort multipart upload"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeUploader(100)
			tt.setup(f)
			w := newTestObjectWriter(t, context.Background(), f, WriterOptions{PartSize: 100, Concurrency: 2, AbortTimeout: 100 * time.Millisecond})
			err := writeThenClose(w, writerRecords(100, 11))
			if err == nil || errors.Is(err, context.DeadlineExceeded) ||
				!strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "gave up after 100ms") {
				t.Errorf("error %v: want one saying the %s gave up after 100ms, without DeadlineExceeded in its chain", err, tt.want)
			}
			// An abort that gave up is not tried again: it would only
			// wait as long again.
			aborts := f.count("AbortMultipartUpload")
			if err := w.Abort(); err != nil {
				t.Errorf("Abort after a failure that reported its abort: %v", err)
			}
			if n := f.count("AbortMultipartUpload"); n != aborts {
				t.Errorf("%d aborts after Abort, want %d: an abort that gave up was tried again", n, aborts)
			}
		})
	}
}

func TestWriterDeadlineMargin(t *testing.T) {
	tests := []struct {
		name      string
		left      time.Duration // until the caller's deadline
		margin    time.Duration
		wantEarly time.Duration // how much earlier the writer's deadline is
	}{
		{"margin applies", time.Hour, 2 * time.Second, 2 * time.Second},
		{"default margin", time.Hour, 0, 10 * time.Second},
		{"capped near the deadline", 8 * time.Second, 10 * time.Second, 2 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeUploader(100)
			var seen time.Time
			f.onPart = func(ctx context.Context, num int32, attempt int) error {
				seen, _ = ctx.Deadline()
				return nil
			}
			ctx, cancel := context.WithTimeout(context.Background(), tt.left)
			defer cancel()
			outer, _ := ctx.Deadline()
			lim := writerTestLimits()
			lim.attemptBase = 2 * time.Hour // so that the writer's deadline comes first
			w, err := newObjectWriter(ctx, f, "bucket", "dir/out.csv", WriterOptions{PartSize: 100, Concurrency: 1, DeadlineMargin: tt.margin}, lim)
			if err != nil {
				t.Fatal(err)
			}
			writeRecords(t, w, writerRecords(10, 12))
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			early := outer.Sub(seen)
			if d := early - tt.wantEarly; d < -50*time.Millisecond || d > 50*time.Millisecond {
				t.Errorf("parts had a deadline %v before the caller's, want %v", early, tt.wantEarly)
			}
		})
	}

	// When the working deadline passes, the writer stops and aborts on a
	// context that is still live.
	f := newFakeUploader(100)
	f.onPart = func(ctx context.Context, num int32, attempt int) error {
		<-ctx.Done()
		return &smithy.CanceledError{Err: ctx.Err()}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	w := newTestObjectWriter(t, ctx, f, WriterOptions{PartSize: 100, DeadlineMargin: 250 * time.Millisecond})
	err := writeThenClose(w, writerRecords(1000, 13))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want context.DeadlineExceeded", err)
	}
	if ctx.Err() != nil {
		t.Fatal("the writer gave up only after the caller's deadline")
	}
	if f.openUploads() != 0 || len(f.abortErrs) != 1 || f.abortErrs[0] != nil {
		t.Fatalf("uploads left %d, abort contexts %v", f.openUploads(), f.abortErrs)
	}
}

func TestWriterSmallObject(t *testing.T) {
	tests := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"one record", []byte("id,name\n")},
		{"just under a part", bytes.Repeat([]byte("abc\n"), 24)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeUploader(100)
			w := newTestObjectWriter(t, context.Background(), f, WriterOptions{PartSize: 100, ContentType: "text/csv"})
			if len(tt.data) > 0 {
				if _, err := w.Write(tt.data); err != nil {
					t.Fatal(err)
				}
			}
			// A small object never costs a whole part's memory.
			if c := cap(w.buf); c > firstBufferSize {
				t.Errorf("a %d-byte object holds a buffer of %d bytes, want at most %d", len(tt.data), c, firstBufferSize)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if f.count("PutObject") != 1 || f.count("CreateMultipartUpload") != 0 || f.count("UploadPart") != 0 {
				t.Fatalf("calls %v, want one PutObject", f.calls)
			}
			got, ok := f.objects["dir/out.csv"]
			if !ok || !bytes.Equal(got, tt.data) {
				t.Fatalf("object = %q (exists %v), want %q", got, ok, tt.data)
			}
			if f.types["dir/out.csv"] != "text/csv" {
				t.Errorf("content type %q", f.types["dir/out.csv"])
			}
			st := w.State()
			if st.Multipart || st.UploadID != "" || st.ETag == "" || st.ChecksumCRC64NVME != ChecksumCRC64NVME(tt.data) {
				t.Errorf("state %+v", st)
			}
		})
	}
}

func TestWriterAfterCloseAndAbort(t *testing.T) {
	f := newFakeUploader(100)
	w := newTestObjectWriter(t, context.Background(), f, WriterOptions{PartSize: 100})
	writeRecords(t, w, writerRecords(30, 14))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("x\n")); !errors.Is(err, ErrWriterClosed) {
		t.Errorf("Write after Close = %v, want ErrWriterClosed", err)
	}
	if err := w.Close(); !errors.Is(err, ErrWriterClosed) {
		t.Errorf("second Close = %v, want ErrWriterClosed", err)
	}
	if err := w.Abort(); err != nil {
		t.Errorf("Abort after Close = %v, want nil", err)
	}
	if f.count("AbortMultipartUpload") != 0 {
		t.Error("Abort after Close aborted the upload")
	}

	// Abort mid-upload discards it, and is idempotent.
	f = newFakeUploader(100)
	w = newTestObjectWriter(t, context.Background(), f, WriterOptions{PartSize: 100})
	writeRecords(t, w, writerRecords(30, 15))
	for range 2 {
		if err := w.Abort(); err != nil {
			t.Fatal(err)
		}
	}
	if f.openUploads() != 0 || f.count("AbortMultipartUpload") != 1 {
		t.Fatalf("uploads %d, aborts %d", f.openUploads(), f.count("AbortMultipartUpload"))
	}
	if _, err := w.Write([]byte("x\n")); err == nil {
		t.Error("Write after Abort succeeded")
	}
	if err := w.Close(); err == nil || f.count("CompleteMultipartUpload") != 0 {
		t.Errorf("Close after Abort = %v", err)
	}

	// Abort before anything was sent sends nothing.
	f = newFakeUploader(100)
	w = newTestObjectWriter(t, context.Background(), f, WriterOptions{PartSize: 100})
	writeRecords(t, w, [][]byte{[]byte("a,b\n"), []byte("c,d\n")})
	if err := w.Abort(); err != nil || len(f.calls) != 0 {
		t.Fatalf("Abort = %v, calls %v", err, f.calls)
	}
}

func TestCRC64Combine(t *testing.T) {
	// The CRC-64/NVME check value.
	if got := crc64.Checksum([]byte("123456789"), crc64.MakeTable(nvmePoly)); got != 0xae8b14860a799888 {
		t.Fatalf("CRC of 123456789 = %#x, want 0xae8b14860a799888", got)
	}
	if got := encodeCRC(0xae8b14860a799888); got != "rosUhgp5mIg=" {
		t.Fatalf("encodeCRC = %s", got)
	}
	tab := crc64.MakeTable(nvmePoly)
	r := rand.New(rand.NewPCG(1, 2))
	data := make([]byte, 1<<16)
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	for _, cut := range [][]int{{0}, {1}, {len(data)}, {8, 8}, {100, 5000, 20000}, {1 << 15, 1<<15 + 1}} {
		var crc uint64
		prev := 0
		for _, c := range append(cut, len(data)) {
			crc = crc64Combine(crc, crc64.Checksum(data[prev:c], tab), int64(c-prev))
			prev = c
		}
		if want := crc64.Checksum(data, tab); crc != want {
			t.Errorf("cuts %v: combined %#x, want %#x", cut, crc, want)
		}
	}
}

func TestRetryablePartError(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{fakeAPIError("BadDigest"), true},
		{fakeAPIError("InvalidDigest"), true},
		{fakeAPIError("XAmzContentSHA256Mismatch"), true},
		{fmt.Errorf("wrapped: %w", fakeAPIError("RequestTimeout")), true},
		{fakeAPIError("IncompleteBody"), true},
		{&smithyhttp.RequestSendError{Err: io.ErrUnexpectedEOF}, true},
		{fakeAPIError("AccessDenied"), false},
		{fakeAPIError("NoSuchUpload"), false},
		{&smithy.CanceledError{Err: context.Canceled}, false},
		{errors.New("something else"), false},
	}
	for _, tt := range tests {
		if got := retryablePartError(tt.err); got != tt.want {
			t.Errorf("retryablePartError(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

// TestWriterSendParts sends every part ahead of Close, as Run does before
// publishing the rejects: a part that fails then fails sendAll, and a
// Write after it is an error, not a send on a closed channel.
func TestWriterSendParts(t *testing.T) {
	f := newFakeUploader(100)
	w := newTestObjectWriter(t, context.Background(), f, WriterOptions{PartSize: 100})
	want := writeRecords(t, w, writerRecords(50, 9))
	if err := w.sendAll(); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("late\n")); !errors.Is(err, ErrWriterClosed) {
		t.Errorf("Write after sendAll: %v, want ErrWriterClosed", err)
	}
	if f.count("CompleteMultipartUpload") != 0 {
		t.Error("sendAll completed the upload")
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := f.objects["dir/out.csv"]; !bytes.Equal(got, want) {
		t.Errorf("object has %d bytes, want the %d written", len(got), len(want))
	}

	f = newFakeUploader(100)
	f.onPart = func(_ context.Context, num int32, _ int) error {
		if num == 3 {
			return fakeAPIError("AccessDenied")
		}
		return nil
	}
	w = newTestObjectWriter(t, context.Background(), f, WriterOptions{PartSize: 100, Concurrency: 1})
	for _, r := range writerRecords(25, 9) {
		if _, err := w.Write(r); err != nil {
			break
		}
	}
	if err := w.sendAll(); err == nil || !strings.Contains(err.Error(), "AccessDenied") {
		t.Errorf("sendAll = %v, want the part's failure", err)
	}
	if f.openUploads() != 0 {
		t.Error("multipart upload left behind")
	}

	// The last part, which sendAll sends, fails sendAll when it fails: Run
	// publishes the rejects after sendAll.
	f = newFakeUploader(100)
	var last atomic.Int32 // the number of the part that fails
	last.Store(-1)
	f.onPart = func(_ context.Context, num int32, _ int) error {
		if num == last.Load() {
			return fakeAPIError("AccessDenied")
		}
		return nil
	}
	w = newTestObjectWriter(t, context.Background(), f, WriterOptions{PartSize: 100, Concurrency: 1})
	writeRecords(t, w, append(writerRecords(25, 9), []byte("last,part\n")))
	last.Store(int32(len(w.State().Parts)) + 1) // buffered, not yet sent
	if err := w.sendAll(); err == nil || !strings.Contains(err.Error(), "AccessDenied") {
		t.Errorf("sendAll = %v, want the last part's failure", err)
	}
	if f.openUploads() != 0 {
		t.Error("multipart upload left behind")
	}
}

// TestWriterStoppedDuringCreate ends the writer's context while S3 creates
// the upload: the request still learns the upload's id, so the upload is
// aborted rather than left behind.
func TestWriterStoppedDuringCreate(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := newFakeUploader(100)
	f.onCreate = func(reqCtx context.Context) error {
		cancel()
		if reqCtx.Err() != nil {
			// The request was cut short with the writer, after S3 made
			// the upload.
			f.mu.Lock()
			f.uploads["lost"] = &fakeMPU{key: "dir/out.csv", parts: map[int32][]byte{}}
			f.mu.Unlock()
			return reqCtx.Err()
		}
		return nil
	}
	w := newTestObjectWriter(t, ctx, f, WriterOptions{PartSize: 100})
	_, err := w.Write(bytes.Repeat([]byte("abcdefghi\n"), 20))
	if err == nil {
		err = w.Close()
	}
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "upload-1") {
		t.Errorf("err = %v, want the cancellation, naming the upload", err)
	}
	if f.openUploads() != 0 || f.count("AbortMultipartUpload") != 1 {
		t.Errorf("%d uploads left, %d aborts; want 0 and 1", f.openUploads(), f.count("AbortMultipartUpload"))
	}
}

// lostPutAnswers is an S3 whose PutObject answers are all lost: with
// stored set, each request stores the object first, as when the
// connection breaks after S3 has taken it.
type lostPutAnswers struct {
	*fakeUploader
	stored bool
}

func (l lostPutAnswers) PutObject(ctx context.Context, in *s3.PutObjectInput, optFns ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	if l.stored {
		if _, err := l.fakeUploader.PutObject(ctx, in, optFns...); err != nil {
			return nil, err
		}
	} else {
		l.log("PutObject")
	}
	return nil, &smithyhttp.RequestSendError{Err: errors.New("read: connection reset by peer")}
}

// TestWriterPutAnswerLost checks that a PutObject whose answers never come
// back is looked for before the writer reports a failure: an object S3
// stored is reported as written, and only a missing one as a failure.
func TestWriterPutAnswerLost(t *testing.T) {
	for _, stored := range []bool{true, false} {
		t.Run(fmt.Sprintf("stored=%v", stored), func(t *testing.T) {
			f := lostPutAnswers{newFakeUploader(100), stored}
			w := newTestObjectWriter(t, context.Background(), f, WriterOptions{PartSize: 100})
			want := writeRecords(t, w, [][]byte{[]byte("id,name\n1,a\n")})
			err := w.Close()
			if got := f.count("PutObject"); got != 4 {
				t.Errorf("%d PutObject calls, want 4", got)
			}
			if stored {
				if err != nil || !bytes.Equal(f.objects["dir/out.csv"], want) || w.State().ETag == "" {
					t.Fatalf("Close = %v, object %q, ETag %q; want the stored object reported as written", err, f.objects["dir/out.csv"], w.State().ETag)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), "connection reset") || f.count("HeadObject") != looks {
				t.Fatalf("Close = %v after %d looks; want the lost answer reported after %d", err, f.count("HeadObject"), looks)
			}
		})
	}
}

func TestWriterPutAndCreateFailures(t *testing.T) {
	small := []byte("id,name\n1,a\n")
	big := bytes.Repeat([]byte("abcdefghi\n"), 20)
	tests := []struct {
		name     string
		data     []byte
		onPut    func(ctx context.Context, attempt int) error
		onCreate func(ctx context.Context) error
		wantPuts int
		wantErr  string
	}{
		{"put retried on bad digest", small, func(_ context.Context, a int) error {
			if a == 1 {
				return fakeAPIError("BadDigest")
			}
			return nil
		}, nil, 2, ""},
		{"put corrupted every time", small, func(context.Context, int) error { return fakeAPIError("BadDigest") }, nil, 4, "put s3://bucket/dir/out.csv, attempt 4 of 4"},
		{"put refused", small, func(context.Context, int) error { return fakeAPIError("AccessDenied") }, nil, 1, "AccessDenied"},
		{"create refused", big, nil, func(context.Context) error { return fakeAPIError("NoSuchBucket") }, 0, "create multipart upload for s3://bucket/dir/out.csv"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeUploader(100)
			f.onPut, f.onCreate = tt.onPut, tt.onCreate
			w := newTestObjectWriter(t, context.Background(), f, WriterOptions{PartSize: 100})
			_, err := w.Write(tt.data)
			if err == nil {
				err = w.Close()
			}
			if got := f.count("PutObject"); got != tt.wantPuts {
				t.Errorf("%d PutObject calls, want %d", got, tt.wantPuts)
			}
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(f.objects["dir/out.csv"], tt.data) || w.State().Retries != tt.wantPuts-1 {
					t.Fatalf("object %q, retries %d", f.objects["dir/out.csv"], w.State().Retries)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want one saying %q", err, tt.wantErr)
			}
			if err2 := w.Close(); err2 != err {
				t.Errorf("Close after the failure = %v, want the same error", err2)
			}
			if err := w.Abort(); err != nil || f.count("AbortMultipartUpload") != 0 {
				t.Errorf("Abort = %v after %d aborts, want nil and none", err, f.count("AbortMultipartUpload"))
			}
		})
	}
}

// TestWriterCreateOutOfTimeSaysWhy: a Create that is still waiting when
// the writer's deadline passes runs out of time with it (its own context
// ends at that deadline, or minAbortTime after its start): the error says
// the writer's time ran out, not only that the request gave up.
func TestWriterCreateOutOfTimeSaysWhy(t *testing.T) {
	f := newFakeUploader(100)
	f.onCreate = func(ctx context.Context) error {
		<-ctx.Done() // a throttled client waiting for a send token, say
		return ctx.Err()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	w := newTestObjectWriter(t, ctx, f, WriterOptions{PartSize: 100})
	_, err := w.Write(bytes.Repeat([]byte("abcdefghi\n"), 20))
	if err == nil {
		err = w.Close()
	}
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "create multipart upload for s3://bucket/dir/out.csv: stopped: context deadline exceeded") {
		t.Errorf("err = %v, want the writer's deadline named as the stop", err)
	}
}

// TestWriterPartStoppedSaysWhy checks that a part cut short by the end of
// the writer's context reports why the context ended (its cause), not only
// the S3 client's "context canceled".
func TestWriterPartStoppedSaysWhy(t *testing.T) {
	f := newFakeUploader(100)
	cause := errors.New("interrupted by the operator")
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	started := make(chan struct{}, 10)
	f.onPart = func(pctx context.Context, num int32, attempt int) error {
		started <- struct{}{}
		<-pctx.Done()
		return &smithy.CanceledError{Err: pctx.Err()}
	}
	w := newTestObjectWriter(t, ctx, f, WriterOptions{PartSize: 100, Concurrency: 2})
	go func() {
		<-started
		time.Sleep(50 * time.Millisecond) // Close is waiting for the part by now
		cancel(cause)
	}()
	if _, err := w.Write(bytes.Repeat([]byte("x,y\n"), 40)); err != nil {
		t.Fatal(err)
	}
	err := w.Close()
	if err == nil || !errors.Is(err, cause) || !strings.Contains(err.Error(), cause.Error()) {
		t.Fatalf("Close = %v, want an error naming the cause %q", err, cause)
	}
	if f.openUploads() != 0 {
		t.Fatal("multipart upload left behind")
	}
}

// TestWriterCloseAfterCancel checks NewObjectWriter's doc: cancelling its
// context makes the next Write or Close abort. A small object must not be
// sent, and a multipart upload must not wait for a part to fill before it
// is aborted.
func TestWriterCloseAfterCancel(t *testing.T) {
	tests := []struct {
		name    string
		records int  // written before the cancel
		write   bool // Write after the cancel, rather than Close
	}{
		{"close of a small object", 1, false},
		{"write during a multipart upload", 10, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeUploader(100)
			ctx, cancel := context.WithCancel(context.Background())
			w := newTestObjectWriter(t, ctx, f, WriterOptions{PartSize: 100})
			writeRecords(t, w, writerRecords(tt.records, 24))
			cancel()
			var err error
			if tt.write {
				_, err = w.Write([]byte("a,b\n"))
			} else {
				err = w.Close()
			}
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("after cancel = %v, want context.Canceled", err)
			}
			if n := f.count("PutObject"); n != 0 {
				t.Errorf("%d PutObject sent after the context was cancelled", n)
			}
			if f.openUploads() != 0 {
				t.Error("multipart upload not aborted")
			}
		})
	}
}

// TestWriterGoroutinesEndOnCancel checks ObjectWriter's doc: the goroutines
// it starts end once its context is cancelled, also when neither Close nor
// Abort is called.
func TestWriterGoroutinesEndOnCancel(t *testing.T) {
	f := newFakeUploader(100)
	ctx, cancel := context.WithCancel(context.Background())
	w := newTestObjectWriter(t, ctx, f, WriterOptions{PartSize: 100, Concurrency: 4})
	defer w.Abort()
	writeRecords(t, w, writerRecords(10, 23))
	if !w.started {
		t.Fatal("no multipart upload started")
	}
	cancel()
	ended := make(chan struct{})
	go func() {
		w.wg.Wait()
		close(ended)
	}()
	select {
	case <-ended:
	case <-time.After(5 * time.Second):
		t.Fatal("upload goroutines still running 5s after the context was cancelled")
	}
}

// TestWriterStateWhileUploading reads State from another goroutine while
// parts are uploaded, as a progress report would: with -race, it checks
// that State is safe to call at any time and shares nothing with the
// writer.
func TestWriterStateWhileUploading(t *testing.T) {
	f := newFakeUploader(100)
	w := newTestObjectWriter(t, context.Background(), f, WriterOptions{PartSize: 100, Concurrency: 4})
	stop := make(chan struct{})
	seen := make(chan int)
	go func() {
		acked := 0
		for {
			select {
			case <-stop:
				seen <- acked
				return
			default:
			}
			for _, p := range w.State().Parts {
				if p.ETag != "" && p.ChecksumCRC64NVME != "" {
					acked++
				}
			}
		}
	}()
	want := writeRecords(t, w, writerRecords(2000, 25))
	err := w.Close()
	close(stop)
	<-seen
	if err != nil {
		t.Fatal(err)
	}
	st := w.State()
	if !bytes.Equal(f.objects["dir/out.csv"], want) || st.Bytes != int64(len(want)) {
		t.Fatalf("object or State().Bytes (%d) differs from the %d bytes written", st.Bytes, len(want))
	}
	for _, p := range st.Parts {
		if p.ETag == "" || p.ChecksumCRC64NVME == "" {
			t.Fatalf("part %d has no ETag or checksum after Close: %+v", p.Number, p)
		}
	}
}

// partSizes is a fakeUploader, given no S3 source, that records the size of
// each part sent.
type partSizes struct {
	*fakeUploader
	mu    sync.Mutex
	sizes map[string][]int64 // by key, in the order sent
}

func (p *partSizes) UploadPart(ctx context.Context, in *s3.UploadPartInput, optFns ...func(*s3.Options)) (*s3.UploadPartOutput, error) {
	p.mu.Lock()
	p.sizes[*in.Key] = append(p.sizes[*in.Key], *in.ContentLength)
	p.mu.Unlock()
	return p.fakeUploader.UploadPart(ctx, in, optFns...)
}

func (*partSizes) GetObject(context.Context, *s3.GetObjectInput, ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	return nil, errors.New("the test has no S3 source")
}

// TestRunLongRecordKeepsPartsSmall holds Run to the README's memory bound
// after one long valid record: that record grows the Scanner's reads to the
// record bound, but the short rows behind it must still reach the writer
// in writes of the usual size, or every later part, and every part buffer,
// would grow by up to the record bound.
func TestRunLongRecordKeepsPartsSmall(t *testing.T) {
	const partSize = MinPartSize
	var in bytes.Buffer
	in.WriteString("id,v\n1," + strings.Repeat("x", 6<<20) + "\n")
	for in.Len() < 40<<20 {
		in.WriteString("2,abcdefgh\n")
	}
	api := &partSizes{fakeUploader: newFakeUploader(MinPartSize), sizes: map[string][]int64{}}
	_, err := Run(context.Background(), api, Job{
		Source:      Stdio,
		Destination: Location{Bucket: "b", Key: "out.csv"},
		Rejects:     Location{Bucket: "b", Key: "rejects.csv"},
		Stdin:       bytes.NewReader(in.Bytes()),
		Scan:        ScanOptions{MaxRecordSize: 8 << 20},
		Writer:      WriterOptions{PartSize: partSize},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(api.objects["out.csv"], in.Bytes()) {
		t.Fatalf("the output (%d bytes) is not the input (%d bytes)", len(api.objects["out.csv"]), in.Len())
	}
	// The first part holds the long record; the others hold short rows.
	sizes := api.sizes["out.csv"]
	for i, size := range sizes[1:] {
		if size > partSize+partHeadroom {
			t.Errorf("part %d of %d holds %d bytes, over the part size and its headroom (%d); sizes %v", i+2, len(sizes), size, partSize+partHeadroom, sizes)
			break
		}
	}
}

// TestRunDestinationContentType: the job's Writer.ContentType, when set, is
// the destination's; otherwise the format sets it. The rejects are CSV.
func TestRunDestinationContentType(t *testing.T) {
	for _, tt := range []struct{ format, set, want string }{
		{FormatCSV, "", "text/csv"},
		{FormatJSONL, "", "application/x-ndjson"},
		{FormatCSV, "text/csv; charset=utf-8", "text/csv; charset=utf-8"},
	} {
		api := &partSizes{fakeUploader: newFakeUploader(MinPartSize), sizes: map[string][]int64{}}
		_, err := Run(context.Background(), api, Job{
			Source: Stdio, Stdin: strings.NewReader("id\n1\n\"x\n"),
			Destination: Location{Bucket: "b", Key: "out"}, Rejects: Location{Bucket: "b", Key: "rejects.csv"},
			Format: tt.format, Writer: WriterOptions{ContentType: tt.set},
		})
		if err != nil {
			t.Fatal(err)
		}
		if got, rej := api.types["out"], api.types["rejects.csv"]; got != tt.want || rej != "text/csv" {
			t.Errorf("format %q, Writer.ContentType %q: destination %q, rejects %q; want %q and text/csv", tt.format, tt.set, got, rej, tt.want)
		}
	}
}
