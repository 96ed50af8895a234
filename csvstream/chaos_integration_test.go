package csvstream_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/csvstream/csvstream/csvstream"
	"github.com/csvstream/csvstream/internal/faultproxy"
	"github.com/csvstream/csvstream/internal/gen"
	"github.com/csvstream/csvstream/internal/leakcheck"
	"github.com/csvstream/csvstream/internal/s3test"
)

// The chaos test's source: about 11.4 MiB of orders, one row in fifty
// invalid, so that the valid rows make three parts of 5 MiB (the last one
// about 1.4 MiB) and the rejects, about half a MiB, one PutObject.
const (
	chaosRows         = 120_000
	chaosInvalidEvery = 50
	chaosGenSeed      = 11
)

// chaosSeeds are the seeds TestRunChaosS3 runs, one subtest each
// ("seed=N"); a seed always draws the same faults. They take about 45
// seconds on a 2-core machine, mostly waiting for retries; those with 503
// SlowDown take longest, as the S3 client's adaptive mode then slows all
// its requests. CSVSTREAM_CHAOS_SEEDS runs others instead, such as "7,12"
// or "1-200".
var chaosSeeds = []uint64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20}

// chaosStall is how long the reader waits on a GET that sends nothing.
const chaosStall = 300 * time.Millisecond

// chaosPersistent is the Times of a fault that outlasts every retry: the
// S3 client's 6 tries of a request, the writer's 4 sends of a part, and the
// reader's 5 reopens without progress, for each of up to four parts or
// ranges at once, which share the fault's hits between them.
const chaosPersistent = 1000

// chaosEffect says what a fault may do to a job that meets it.
type chaosEffect int

const (
	absorbed chaosEffect = iota // retries hide it: the job succeeds
	mayFail                     // the job may fail, and then must publish nothing
	fatal                       // once it fires, the job fails
)

func (e chaosEffect) String() string {
	return [...]string{"absorbed", "may fail", "fatal"}[e]
}

// chaosFault is one fault injected into a seed's run.
type chaosFault struct {
	desc   string
	fault  faultproxy.Fault
	effect chaosEffect
	// retries is how many of the client's, writer's or reader's retries an
	// absorbed fault uses up; 0 for a fatal one, and for one that never
	// stops the job's progress.
	retries int
	// onComplete marks a fault on CompleteMultipartUpload, and
	// lostAnswers counts the answers to Complete it cuts off.
	onComplete  bool
	lostAnswers int
	errs        []error      // what the job's error may wrap when this fault fails it
	hits        atomic.Int32 // requests it was injected into
}

func (f *chaosFault) String() string { return fmt.Sprintf("%s [%v]", f.desc, f.effect) }

// chaosKeys are one seed's objects.
type chaosKeys struct{ src, dst, rej string }

// chaosTimes draws how many requests a fault hits: once or twice
// (transient), or every time (persistent), one time in three.
func chaosTimes(rng *rand.Rand) (times int, persistent bool) {
	if rng.IntN(3) == 0 {
		return chaosPersistent, true
	}
	return 1 + rng.IntN(2), false
}

// chaosServerError draws a 500 InternalError or a 503 SlowDown.
func chaosServerError(rng *rand.Rand) (int, string) {
	if rng.IntN(2) == 0 {
		return 500, "InternalError"
	}
	return 503, "SlowDown"
}

// chaosPart draws a part of the destination to hit: 1 to 3, or 0 for any.
func chaosPart(rng *rand.Rand) (int, string) {
	if n := rng.IntN(4); n > 0 {
		return n, fmt.Sprintf("part %d", n)
	}
	return 0, "any part"
}

// transient returns a fault that the job absorbs when it hits only a few
// times, and that fails it, wrapping errs, when it hits every time.
func transient(desc string, f faultproxy.Fault, persistent bool, errs ...error) *chaosFault {
	cf := &chaosFault{desc: fmt.Sprintf("%s ×%d", desc, f.Times), fault: f, effect: absorbed, retries: f.Times, errs: errs}
	if persistent {
		cf.effect, cf.retries = fatal, 0
	}
	return cf
}

// brokenGet returns a chaosTable entry for a GET answer that kind breaks
// after least bytes or more, or before its first byte. A body
// broken after some bytes every time still makes progress, and the job
// succeeds; one broken before its first byte every time does not.
func brokenGet(kind faultproxy.Kind, verb string, least int64) func(rng *rand.Rand, k chaosKeys) *chaosFault {
	return func(rng *rand.Rand, k chaosKeys) *chaosFault {
		var after int64
		if rng.IntN(3) > 0 {
			after = least + rng.Int64N(4<<20)
		}
		times, persistent := chaosTimes(rng)
		f := transient(fmt.Sprintf("GET answer %s after %d bytes", verb, after),
			faultproxy.Fault{Kind: kind, After: after, Times: times, Match: faultproxy.IsGet(k.src)},
			persistent && after == 0, csvstream.ErrSourceRead)
		if persistent && after > 0 {
			f.retries = 0
		}
		return f
	}
}

// chaosTable lists the faults a seed draws from.
var chaosTable = []func(rng *rand.Rand, k chaosKeys) *chaosFault{
	func(rng *rand.Rand, k chaosKeys) *chaosFault {
		status, code := chaosServerError(rng)
		part, name := chaosPart(rng)
		times, persistent := chaosTimes(rng)
		return transient(fmt.Sprintf("%d %s on %s", status, code, name),
			faultproxy.Fault{Kind: faultproxy.Status, Status: status, Code: code, Times: times, Match: faultproxy.IsPartUpload(part)},
			persistent, csvstream.ErrUploadFailed)
	},
	func(rng *rand.Rand, k chaosKeys) *chaosFault {
		status, code := chaosServerError(rng)
		times, persistent := chaosTimes(rng)
		return transient(fmt.Sprintf("%d %s on CreateMultipartUpload", status, code),
			faultproxy.Fault{Kind: faultproxy.Status, Status: status, Code: code, Times: times, Match: faultproxy.IsCreateUpload},
			persistent, csvstream.ErrUploadFailed)
	},
	func(rng *rand.Rand, k chaosKeys) *chaosFault {
		status, code := chaosServerError(rng)
		times, persistent := chaosTimes(rng)
		f := transient(fmt.Sprintf("%d %s on Complete", status, code),
			faultproxy.Fault{Kind: faultproxy.Status, Status: status, Code: code, Times: times, Match: faultproxy.IsCompleteUpload},
			persistent, csvstream.ErrUploadFailed)
		f.onComplete = true
		return f
	},
	func(rng *rand.Rand, k chaosKeys) *chaosFault {
		status, code := chaosServerError(rng)
		times, persistent := chaosTimes(rng)
		return transient(fmt.Sprintf("%d %s on the GET", status, code),
			faultproxy.Fault{Kind: faultproxy.Status, Status: status, Code: code, Times: times, Match: faultproxy.IsGet(k.src)},
			persistent, csvstream.ErrSourceRead)
	},
	func(rng *rand.Rand, k chaosKeys) *chaosFault {
		part, name := chaosPart(rng)
		after := rng.Int64N(1 << 20)
		times, persistent := chaosTimes(rng)
		return transient(fmt.Sprintf("connection cut after %d bytes of %s", after, name),
			faultproxy.Fault{Kind: faultproxy.CutRequest, After: after, Times: times, Match: faultproxy.IsPartUpload(part)},
			persistent, csvstream.ErrUploadFailed)
	},
	func(rng *rand.Rand, k chaosKeys) *chaosFault {
		part, name := chaosPart(rng)
		after := rng.Int64N(1 << 20) // every part is longer
		times, persistent := chaosTimes(rng)
		return transient(fmt.Sprintf("byte %d of %s flipped", after, name),
			faultproxy.Fault{Kind: faultproxy.FlipByte, After: after, Times: times, Match: faultproxy.IsPartUpload(part)},
			persistent, csvstream.ErrUploadFailed)
	},
	// The reader resumes from where the body broke, or stalled: its
	// connection left open, the GET is given up after chaosStall.
	brokenGet(faultproxy.CutResponse, "cut", 256<<10),
	brokenGet(faultproxy.StallResponse, "stalled", 1<<20),
	func(rng *rand.Rand, k chaosKeys) *chaosFault {
		// S3 completes the upload, but its answer is lost. The writer sends
		// Complete again once; a second lost answer may fail the job, which
		// must then not leave the object published.
		times, persistent := chaosTimes(rng)
		f := transient("Complete's answer cut off",
			faultproxy.Fault{Kind: faultproxy.CutResponse, After: 20, Times: times, Match: faultproxy.IsCompleteUpload},
			false, csvstream.ErrUploadFailed)
		if persistent || times > 1 {
			f.effect = mayFail
		}
		f.onComplete, f.lostAnswers = true, times
		return f
	},
	func(rng *rand.Rand, k chaosKeys) *chaosFault {
		part, name := chaosPart(rng)
		return &chaosFault{desc: "403 AccessDenied on " + name, effect: fatal, errs: []error{csvstream.ErrAccessDenied},
			fault: faultproxy.Fault{Kind: faultproxy.Status, Status: 403, Code: "AccessDenied", Match: faultproxy.IsPartUpload(part)}}
	},
	func(rng *rand.Rand, k chaosKeys) *chaosFault {
		return &chaosFault{desc: "403 AccessDenied on the GET", effect: fatal, errs: []error{csvstream.ErrAccessDenied},
			fault: faultproxy.Fault{Kind: faultproxy.Status, Status: 403, Code: "AccessDenied", Match: faultproxy.IsGet(k.src)}}
	},
	func(rng *rand.Rand, k chaosKeys) *chaosFault {
		status, code := chaosServerError(rng)
		times, persistent := chaosTimes(rng)
		return transient(fmt.Sprintf("%d %s on the rejects' PutObject", status, code),
			faultproxy.Fault{Kind: faultproxy.Status, Status: status, Code: code, Times: times, Match: faultproxy.IsPutObject(k.rej)},
			persistent, csvstream.ErrUploadFailed)
	},
	func(rng *rand.Rand, k chaosKeys) *chaosFault {
		after := rng.Int64N(64 << 10)
		times, persistent := chaosTimes(rng)
		return transient(fmt.Sprintf("byte %d of the rejects' PutObject flipped", after),
			faultproxy.Fault{Kind: faultproxy.FlipByte, After: after, Times: times, Match: faultproxy.IsPutObject(k.rej)},
			persistent, csvstream.ErrUploadFailed)
	},
}

// chaosPlan is what one seed does.
type chaosPlan struct {
	seed        uint64
	keys        chaosKeys
	faults      []*chaosFault
	concurrency int
	reader      csvstream.ReaderOptions // ranges of the source read at once, and their size
	deadline    time.Duration           // 0: none
}

// newChaosPlan draws a seed's faults, the writer's concurrency and, for
// one seed in four, a deadline from a fifth of base, the time a run
// without faults takes, to two and a half times base, so that it may come
// at any point of the job, or not at all.
func newChaosPlan(seed uint64, base time.Duration) *chaosPlan {
	rng := rand.New(rand.NewPCG(seed, 0xc4a05))
	p := &chaosPlan{
		seed: seed,
		keys: chaosKeys{
			src: fmt.Sprintf("in/%d.csv", seed),
			dst: fmt.Sprintf("valid/%d.csv", seed),
			rej: fmt.Sprintf("rejects/%d.csv", seed),
		},
		concurrency: 1 + rng.IntN(4),
	}
	for range 1 + rng.IntN(3) {
		p.faults = append(p.faults, chaosTable[rng.IntN(len(chaosTable))](rng, p.keys))
	}
	if rng.IntN(4) == 0 {
		p.deadline = time.Duration(float64(base) * (0.2 + 2.3*rng.Float64())).Round(time.Millisecond)
	}
	// The source is read as one stream, or in ranges of 1 MiB, 3 MiB or
	// the default 8 MiB, up to four at once, each of which a GET fault
	// may hit.
	p.reader.Concurrency = 1 + rng.IntN(4)
	p.reader.ChunkSize = []int64{1 << 20, 3 << 20, 0}[rng.IntN(3)]
	// A GET answer broken after the bytes of a whole range is never broken:
	// bring such a break within the ranges the reader asks for.
	chunk := p.reader.ChunkSize
	if chunk == 0 {
		chunk = 8 << 20
	}
	for _, f := range p.faults {
		if k := f.fault.Kind; (k == faultproxy.CutResponse || k == faultproxy.StallResponse) && !f.onComplete && f.fault.After >= chunk {
			after := 1 + f.fault.After%(chunk-1)
			f.desc = strings.Replace(f.desc, fmt.Sprintf("after %d bytes", f.fault.After), fmt.Sprintf("after %d bytes", after), 1)
			f.fault.After = after
		}
	}
	// Count each fault's hits: the proxy injects a fault when its Match
	// says yes, and asks only until one does.
	for _, f := range p.faults {
		match, hits := f.fault.Match, &f.hits
		f.fault.Match = func(r *http.Request) bool {
			if match != nil && !match(r) {
				return false
			}
			hits.Add(1)
			return true
		}
	}
	return p
}

// String names everything needed to tell what happened and to run the
// seed again: go test -run 'TestRunChaosS3/seed=N$'.
func (p *chaosPlan) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "seed %d (concurrency %d, read concurrency %d", p.seed, p.concurrency, p.reader.Concurrency)
	if p.reader.ChunkSize > 0 {
		fmt.Fprintf(&b, " of %d MiB", p.reader.ChunkSize>>20)
	}
	if p.deadline > 0 {
		fmt.Fprintf(&b, ", deadline %v", p.deadline)
	}
	b.WriteString("; faults:")
	for i, f := range p.faults {
		if i > 0 {
			b.WriteString(";")
		}
		fmt.Fprintf(&b, " %v, hit %d times", f, f.hits.Load())
	}
	b.WriteString(")")
	return b.String()
}

// effects returns whether the job must succeed, whether it must fail, and
// the errors it may fail with: those of every fault that fired and may
// fail it, and context.DeadlineExceeded under a deadline. Absorbed faults
// may fail the job too when together they hit more often than the S3
// client's, the writer's or the reader's retries are sure to absorb
// (the smallest allowance is the writer's 4 sends of a part), or when
// Complete's answer is lost more than once. A fault that fails every
// Complete is not sure to fail the job once an answer to Complete was
// lost: S3 may have completed the upload then.
func (p *chaosPlan) effects() (mustSucceed, mustFail bool, allowed []error) {
	retries, lost, lostFired := 0, 0, false
	for _, f := range p.faults {
		retries += f.retries
		lost += f.lostAnswers
		lostFired = lostFired || (f.lostAnswers > 0 && f.hits.Load() > 0)
	}
	overflow := retries > 3 || lost > 1
	mustSucceed = p.deadline == 0 && !overflow
	for _, f := range p.faults {
		if f.hits.Load() == 0 {
			continue
		}
		switch {
		case f.effect == fatal && f.onComplete && lostFired:
			mustSucceed = false
		case f.effect == fatal:
			mustFail = true
			mustSucceed = false
		case f.effect == mayFail:
			mustSucceed = false
		case !overflow:
			continue
		}
		allowed = append(allowed, f.errs...)
	}
	if p.deadline > 0 {
		allowed = append(allowed, context.DeadlineExceeded)
	}
	return mustSucceed, mustFail, allowed
}

// chaosObject returns an object's bytes and ETag, or exists false when
// HeadObject finds nothing at the key.
func chaosObject(t *testing.T, client *s3.Client, bucket, key string) (body []byte, etag string, exists bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	head, err := client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	var notFound *types.NotFound
	if errors.As(err, &notFound) {
		return nil, "", false
	}
	if err != nil {
		t.Fatalf("head s3://%s/%s: %v", bucket, key, err)
	}
	out, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("get s3://%s/%s: %v", bucket, key, err)
	}
	defer out.Body.Close()
	body, err = io.ReadAll(out.Body)
	if err != nil {
		t.Fatalf("read s3://%s/%s: %v", bucket, key, err)
	}
	return body, aws.ToString(head.ETag), true
}

// chaosExpected runs the job on the local source and returns the valid
// rows and the rejects it writes: what every successful run must publish.
func chaosExpected(t *testing.T, src []byte, schema *csvstream.Schema) (dst, rej []byte) {
	t.Helper()
	dir := t.TempDir()
	job := csvstream.Job{
		Source:      csvstream.Stdio,
		Stdin:       bytes.NewReader(src),
		Destination: csvstream.Location{Path: filepath.Join(dir, "valid.csv")},
		Rejects:     csvstream.Location{Path: filepath.Join(dir, "rejects.csv")},
		Schema:      schema,
	}
	if _, err := csvstream.Run(context.Background(), nil, job); err != nil {
		t.Fatalf("local run: %v", err)
	}
	dst, err := os.ReadFile(job.Destination.Path)
	if err != nil {
		t.Fatal(err)
	}
	rej, err = os.ReadFile(job.Rejects.Path)
	if err != nil {
		t.Fatal(err)
	}
	return dst, rej
}

// chaosJob is the job every seed runs, with its own keys.
func chaosJob(bucket string, k chaosKeys, schema *csvstream.Schema, concurrency int) csvstream.Job {
	return csvstream.Job{
		Source:      csvstream.Location{Bucket: bucket, Key: k.src},
		Destination: csvstream.Location{Bucket: bucket, Key: k.dst},
		Rejects:     csvstream.Location{Bucket: bucket, Key: k.rej},
		Schema:      schema,
		Reader:      csvstream.ReaderOptions{Backoff: 10 * time.Millisecond, StallTimeout: chaosStall},
		Writer:      csvstream.WriterOptions{PartSize: csvstream.MinPartSize, Concurrency: concurrency},
	}
}

// TestRunChaosS3 runs a job from S3 to S3 once per seed with one to three
// faults drawn from chaosTable between the client and the server, and
// sometimes a deadline. Whatever happens, no multipart upload is left. A
// job that succeeds has published exactly the valid rows and the rejects,
// and counted every row. A job that fails says why with one of the
// package's errors, names an object, and has published no destination.
// The rejects are published once every part of the destination is sent,
// just before the destination is completed, so only a job that fails
// completing its destination may leave them, and then they must be whole.
func TestRunChaosS3(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.Bucket(t, "chaos")
	direct := srv.Client()
	schema := mustSchema(t, gen.Schema)
	var src bytes.Buffer
	counts, err := gen.Orders(&src, gen.Options{Rows: chaosRows, InvalidEvery: chaosInvalidEvery, Seed: chaosGenSeed})
	if err != nil {
		t.Fatal(err)
	}
	wantDst, wantRej := chaosExpected(t, src.Bytes(), schema)
	if len(wantDst) <= 2*csvstream.MinPartSize || len(wantDst) > 3*csvstream.MinPartSize || len(wantRej) >= csvstream.MinPartSize {
		t.Fatalf("valid rows %d bytes, rejects %d: want three parts of valid rows and one PutObject of rejects", len(wantDst), len(wantRej))
	}

	// The same job through a proxy with no faults gives the time a run
	// takes, which the deadlines are drawn against.
	base := chaosKeys{src: "in/base.csv", dst: "valid/base.csv", rej: "rejects/base.csv"}
	srv.Put(t, bucket, base.src, src.Bytes())
	p := faultproxy.New(t, srv.Endpoint)
	start := time.Now()
	sum, err := csvstream.Run(context.Background(), s3test.ClientFor(p.URL, csvstream.ClientOptions), chaosJob(bucket, base, schema, 4))
	baseTime := time.Since(start)
	if err != nil {
		t.Fatalf("run without faults: %v", err)
	}
	if got, _, _ := chaosObject(t, direct, bucket, base.dst); !bytes.Equal(got, wantDst) {
		t.Fatalf("run without faults: valid rows differ from a local run's")
	}
	if got, _, _ := chaosObject(t, direct, bucket, base.rej); !bytes.Equal(got, wantRej) {
		t.Fatalf("run without faults: rejects differ from a local run's")
	}
	if sum.Parts != 3 {
		t.Fatalf("run without faults: %d parts, want 3", sum.Parts)
	}
	t.Logf("a run without faults takes %v", baseTime)

	wantByCode := map[string]int64{}
	for code, n := range counts.ByCode {
		wantByCode[code] = int64(n)
	}
	for _, seed := range faultproxy.Seeds(t, "CSVSTREAM_CHAOS_SEEDS", chaosSeeds) {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			plan := newChaosPlan(seed, baseTime)
			k := plan.keys
			srv.Put(t, bucket, k.src, src.Bytes())
			p := faultproxy.New(t, srv.Endpoint)
			for _, f := range plan.faults {
				p.Inject(f.fault)
			}
			client := s3test.ClientFor(p.URL, csvstream.ClientOptions, writerFastBackoff)
			ctx := context.Background()
			if plan.deadline > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, plan.deadline)
				defer cancel()
			}
			start := time.Now()
			job := chaosJob(bucket, k, schema, plan.concurrency)
			job.Reader.Concurrency, job.Reader.ChunkSize = plan.reader.Concurrency, plan.reader.ChunkSize
			sum, err := csvstream.Run(ctx, client, job)
			took := time.Since(start)
			t.Logf("%v: took %v, err %v", plan, took.Round(time.Millisecond), err)
			leakcheck.Ended(t, lib)

			if ups := srv.Uploads(t, bucket); len(ups) > 0 {
				for _, u := range ups {
					t.Errorf("%v: multipart upload %s of %s left", plan, aws.ToString(u.UploadId), aws.ToString(u.Key))
					_, _ = direct.AbortMultipartUpload(context.Background(), &s3.AbortMultipartUploadInput{
						Bucket: aws.String(bucket), Key: u.Key, UploadId: u.UploadId,
					})
				}
			}
			gotDst, etag, dstExists := chaosObject(t, direct, bucket, k.dst)
			gotRej, _, rejExists := chaosObject(t, direct, bucket, k.rej)
			mustSucceed, mustFail, allowed := plan.effects()

			if err == nil {
				if mustFail {
					t.Errorf("%v: succeeded, but a fatal fault fired", plan)
				}
				switch {
				case !dstExists:
					t.Errorf("%v: succeeded, but s3://%s/%s does not exist", plan, bucket, k.dst)
				case !bytes.Equal(gotDst, wantDst):
					t.Errorf("%v: s3://%s/%s has %d bytes that differ from the %d valid bytes", plan, bucket, k.dst, len(gotDst), len(wantDst))
				}
				switch {
				case !rejExists:
					t.Errorf("%v: succeeded, but s3://%s/%s does not exist", plan, bucket, k.rej)
				case !bytes.Equal(gotRej, wantRej):
					t.Errorf("%v: s3://%s/%s has %d bytes that differ from the %d expected", plan, bucket, k.rej, len(gotRej), len(wantRej))
				}
				if sum.Rows != int64(counts.Rows) || sum.Valid != int64(counts.Valid) || sum.Rejected != int64(counts.Invalid) ||
					sum.Rows != sum.Valid+sum.Rejected || fmt.Sprint(sum.RejectsByCode) != fmt.Sprint(wantByCode) {
					t.Errorf("%v: summary counts %d rows = %d valid + %d rejected %v; want %d = %d + %d %v",
						plan, sum.Rows, sum.Valid, sum.Rejected, sum.RejectsByCode, counts.Rows, counts.Valid, counts.Invalid, wantByCode)
				}
				if sum.BytesIn != int64(src.Len()) || sum.BytesOut != int64(len(wantDst)) || sum.Parts != 3 || sum.ETag != etag {
					t.Errorf("%v: summary has %d bytes in, %d out, %d parts, ETag %s; want %d, %d, 3 and %s",
						plan, sum.BytesIn, sum.BytesOut, sum.Parts, sum.ETag, src.Len(), len(wantDst), etag)
				}
				return
			}

			if mustSucceed {
				t.Errorf("%v: failed, but every fault should have been absorbed: %v", plan, err)
			}
			if !slices.ContainsFunc(allowed, func(e error) bool { return errors.Is(err, e) }) {
				t.Errorf("%v: error wraps none of %v: %v", plan, allowed, err)
			}
			named := false
			for _, key := range []string{k.src, k.dst, k.rej} {
				named = named || strings.Contains(err.Error(), "s3://"+bucket+"/"+key)
			}
			if !named {
				t.Errorf("%v: error names none of the job's objects: %v", plan, err)
			}
			if dstExists {
				t.Errorf("%v: failed, but s3://%s/%s exists (%d bytes, equal to the valid rows: %v): %v",
					plan, bucket, k.dst, len(gotDst), bytes.Equal(gotDst, wantDst), err)
			}
			if rejExists {
				// Published just before the destination failed to complete.
				t.Logf("%v: the rejects stay, published before the destination failed", plan)
				if !strings.Contains(err.Error(), "complete s3://"+bucket+"/"+k.dst) && !strings.Contains(err.Error(), "close s3://"+bucket+"/"+k.dst) {
					t.Errorf("%v: s3://%s/%s exists after a failure that is not the destination's completion: %v", plan, bucket, k.rej, err)
				}
				if !bytes.Equal(gotRej, wantRej) {
					t.Errorf("%v: s3://%s/%s exists after the failure with %d bytes that differ from the %d expected", plan, bucket, k.rej, len(gotRej), len(wantRej))
				}
			}
		})
	}
}

// TestChaosGetFaultsCanBite checks that every "GET answer cut/stalled
// after N bytes" fault the default seeds draw can break a GET: the
// reader asks for ranges of ChunkSize bytes (and reads only the first
// chunk of the first, whole GET), so a fault whose After is past the
// chunk size sends each answer whole, while the plan still counts it
// as hit.
func TestChaosGetFaultsCanBite(t *testing.T) {
	for _, seed := range chaosSeeds {
		plan := newChaosPlan(seed, time.Second)
		chunk := plan.reader.ChunkSize
		if chunk == 0 {
			chunk = 8 << 20 // the reader's default
		}
		for _, f := range plan.faults {
			k := f.fault.Kind
			if (k == faultproxy.CutResponse || k == faultproxy.StallResponse) && !f.onComplete && f.fault.After >= chunk {
				t.Errorf("seed %d: %q can never fire: After %d is past the %d MiB ranges the reader asks for", seed, f.desc, f.fault.After, chunk>>20)
			}
		}
	}
}
