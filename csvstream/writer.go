package csvstream

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc64"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
)

// Part size limits of S3 multipart uploads.
const (
	// DefaultPartSize is the size of the first part when
	// WriterOptions.PartSize is zero.
	DefaultPartSize = 8 << 20
	// MinPartSize is the smallest part S3 accepts, except for the last one.
	MinPartSize = 5 << 20
	// MaxPartSize is the largest part S3 accepts.
	MaxPartSize = 5 << 30
	// MaxParts is the largest number of parts in one upload.
	MaxParts = 10000
)

// MaxConcurrency is the most parts an ObjectWriter uploads, and the most
// ranges an ObjectReader fetches, at once. Each takes a buffer, so the
// bound also bounds memory.
const MaxConcurrency = 64

// partsPerDoubling is how many parts are uploaded at one size before the
// size doubles. With 900, 10,000 parts starting at MinPartSize hold more
// than 9 TiB, well above S3's 5 TiB object limit; 1,000 would fall just
// short of it (4.9 TiB).
const partsPerDoubling = 900

// Defaults for the zero WriterOptions fields.
const (
	defaultConcurrency    = 4
	defaultPartAttempts   = 4
	defaultAbortTimeout   = 30 * time.Second
	defaultDeadlineMargin = 10 * time.Second
	defaultRetryBackoff   = 250 * time.Millisecond
	maxRetryBackoff       = 5 * time.Second
	firstBufferSize       = 64 << 10
	minAbortTime          = 2 * time.Second
	// partHeadroom is the room a part buffer has past the part size, for
	// the write that takes it over: a part is cut only between writes.
	// It is the Scanner's usual read size, which bounds Run's usual write.
	partHeadroom = readBufSize
)

// settleDelays are the waits before each look that completedBefore takes
// for an object a request cut short may still publish, and that
// abortAgain takes for an upload a late part may keep alive: about 2 s in
// all, unless the caller's deadline leaves less.
var settleDelays = [...]time.Duration{0, 100 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond, time.Second}

// lookTimeout bounds each look that completedBefore and abortAgain take,
// the S3 client's own retries included: a look that gets no answer gives
// way to the next, rather than holding the writer until its cleanup
// context ends.
const lookTimeout = 2 * time.Second

// minSettleTime is the least time completedBefore keeps looking, even
// past the caller's deadline: a Complete that the deadline cut short may
// still publish the object a moment later.
const minSettleTime = 400 * time.Millisecond

// A request that sends bytes (UploadPart, PutObject) has a timeout of its
// own, since the S3 client has none: without it, a request on a connection
// that stopped answering would hang until the job's deadline and fail the
// whole job, where sending that part again would do. The timeout is
// attemptBase plus the time to send the body at attemptRate. The base
// leaves room for S3 to answer and for the S3 client's own retries and
// backoff within the attempt; the rate is far below any working link to S3,
// so only a stalled request is cut short (a 64 MiB part gets 2m4s).
const (
	attemptBase = time.Minute
	attemptRate = 1 << 20 // bytes per second
)

// errAttemptTimeout is the cause of an attempt's context ending at the
// attempt's own deadline.
var errAttemptTimeout = errors.New("request attempt timed out")

// nvmePoly is the CRC-64/NVME polynomial in the reversed form hash/crc64
// expects; S3's CRC64NVME checksum is this CRC with hash/crc64's usual
// initial and final inversion.
const nvmePoly = 0x9a6c9329ac4bc9b5

// ErrWriterClosed is returned by Write and Close after Close or Abort.
var ErrWriterClosed = errors.New("object writer already closed")

// WriterOptions configures an ObjectWriter. The zero value works.
type WriterOptions struct {
	// PartSize is the size of the first part; later parts grow so that an
	// upload never needs more than MaxParts parts. Zero means
	// DefaultPartSize; below MinPartSize or above MaxPartSize is an error.
	PartSize int64
	// Concurrency is how many parts are uploaded at once, at most
	// MaxConcurrency. Memory use is about Concurrency+1 part buffers, each
	// of the part size plus 256 KiB for the write that ends a part. Zero
	// means 4.
	Concurrency int
	// PartAttempts is how many times one part is sent when S3 rejects its
	// bytes as corrupted in transit, when the connection breaks after the
	// S3 client's own retries, or when a request gets no answer in time (a
	// minute plus a second per MiB sent). Zero means 4.
	PartAttempts int
	// AbortTimeout bounds AbortMultipartUpload, which runs on a context of
	// its own so that it works after the job's context is cancelled; it
	// ends by the context's deadline, if any, but gets at least 2s. Zero
	// means 30s.
	AbortTimeout time.Duration
	// DeadlineMargin is how long before the context's deadline the writer
	// stops uploading and aborts, so that the abort finishes in time. It is
	// capped at a quarter of the time left when the writer is created. Zero
	// means 10s.
	DeadlineMargin time.Duration
	// ContentType is the object's Content-Type, such as "text/csv";
	// empty leaves it to S3.
	ContentType string
}

// Check reports the first option out of range, as NewObjectWriter and Run
// would.
func (o WriterOptions) Check() error { return o.check(MinPartSize) }

// check is Check with minPartSize as the smallest PartSize accepted.
func (o WriterOptions) check(minPartSize int64) error {
	switch {
	case o.PartSize != 0 && o.PartSize < minPartSize:
		return fmt.Errorf("part size %d is below S3's minimum of %d bytes (5 MiB)", o.PartSize, minPartSize)
	case o.PartSize > MaxPartSize:
		return fmt.Errorf("part size %d is above S3's maximum of %d bytes (5 GiB)", o.PartSize, int64(MaxPartSize))
	case o.Concurrency > MaxConcurrency:
		return fmt.Errorf("concurrency %d is above the maximum of %d", o.Concurrency, MaxConcurrency)
	case o.Concurrency < 0 || o.PartAttempts < 0 || o.AbortTimeout < 0 || o.DeadlineMargin < 0:
		return errors.New("concurrency, part attempts, abort timeout and deadline margin must not be negative")
	}
	return nil
}

// UploadState is a snapshot of an ObjectWriter's upload.
type UploadState struct {
	Bucket, Key string // the object being written
	// UploadID is the multipart upload's id; empty until the first part is
	// full, and for an object sent with one PutObject.
	UploadID string
	// Parts lists the parts cut so far, in part-number order; it is empty
	// for an object sent with one PutObject. A part's ETag is empty until
	// S3 has accepted it: while it waits to be sent or is being sent.
	Parts []PartState
	// Bytes counts the bytes accepted by Write.
	Bytes int64
	// ETag is the object's ETag, set once Close succeeds.
	ETag string
	// ChecksumCRC64NVME is the base64 full-object CRC64NVME checksum S3
	// verified, set once Close succeeds.
	ChecksumCRC64NVME string
	// Retries counts requests sent again, by the S3 client's retryer and
	// by the writer itself.
	Retries int
	// Multipart reports whether the object is written by a multipart
	// upload rather than one PutObject.
	Multipart bool
}

// PartState describes one part of a multipart upload.
type PartState struct {
	Number            int32  // from 1
	Size              int64  // bytes
	ETag              string // S3's ETag for the part; empty while in flight
	ChecksumCRC64NVME string // base64 CRC64NVME of the part's bytes
}

// ObjectWriter writes one S3 object from a stream of records of unknown
// length. It buffers Write calls into parts and uploads up to Concurrency of
// them at once through a multipart upload; objects smaller than one part go
// up in a single PutObject when Close is called. Every request carries a
// CRC64NVME checksum, and the upload is completed with the whole object's
// checksum, so S3 verifies the object end to end. When the answer to
// Complete is lost, the writer sends it again and, if S3 then finds the
// upload gone, counts it as completed when the object at the key has that
// checksum; it checks the same way after a Complete or a PutObject that
// the deadline cut short.
//
// Any error, including the cancellation of the context given to
// NewObjectWriter, aborts the multipart upload, so a failed ObjectWriter
// leaves nothing behind in S3. There are two exceptions, both removed by a
// sweep: a part S3 was still receiving, stored after the abort, when
// ListParts is refused or the deadline leaves no time to look again; and
// an upload S3 created for a CreateMultipartUpload whose answer was lost,
// whose id the writer never learnt (on success too, when the S3 client
// sent the request again and got another). To keep that rare,
// CreateMultipartUpload is not sent again with less than a second left
// for it.
//
// The goroutines an ObjectWriter starts end by the time Close or Abort
// returns, or once the context is cancelled. Write, Close and Abort must be
// called from one goroutine; State may be called from any.
type ObjectWriter struct {
	api         UploadAPI
	bucket, key string
	opt         WriterOptions
	lim         writerLimits
	table       *crc64.Table

	parent context.Context         // the caller's context, for the abort
	ctx    context.Context         // parent, ending DeadlineMargin early
	cancel context.CancelCauseFunc // stops ctx when the writer fails

	buf       []byte // the part being filled
	nextPart  int32  // the number the buffer will have
	allocated int    // part buffers made so far
	free      chan []byte
	jobs      chan part // nil until the upload starts
	wg        sync.WaitGroup
	started   bool // CreateMultipartUpload succeeded
	stopped   bool // jobs closed and workers waited for
	done      bool // Close or Abort finished, or the writer failed
	result    error
	aborted   bool // nothing of the upload is left in S3
	// abortReported is set when a failed Write or Close returned the
	// failure of its abort, so that Abort tries again without saying so
	// twice.
	abortReported bool
	// abortGaveUp is set when an abort ran out its own timeout: S3 is
	// unreachable or stalled, and a second try would only wait as long
	// again.
	abortGaveUp bool
	abortErr    error // the last abort's failure

	bytes atomic.Int64 // accepted by Write; kept apart from state so Write takes no lock
	// unanswered is set once an UploadPart ended without an answer from
	// S3 (cut short, timed out, connection lost): S3 may still store that
	// part, even after the upload is aborted.
	unanswered atomic.Bool

	mu    sync.Mutex // guards state and err
	state UploadState
	err   error // the first failure
}

// part is one part handed to an upload goroutine.
type part struct {
	num int32
	buf []byte
}

// writerLimits holds settings tests may lower.
type writerLimits struct {
	minPartSize  int64
	retryBackoff time.Duration
	attemptBase  time.Duration   // see attemptTimeout
	attemptRate  int64           // bytes per second
	settle       []time.Duration // see completedBefore
}

func defaultLimits() writerLimits {
	return writerLimits{
		minPartSize:  MinPartSize,
		retryBackoff: defaultRetryBackoff,
		attemptBase:  attemptBase,
		attemptRate:  attemptRate,
		settle:       settleDelays[:],
	}
}

// NewObjectWriter returns an ObjectWriter for s3://bucket/key. Nothing is
// sent to S3 until the first part is full or Close is called. ctx governs
// the whole upload: cancelling it makes the next Write or Close abort.
func NewObjectWriter(ctx context.Context, api UploadAPI, bucket, key string, opt WriterOptions) (*ObjectWriter, error) {
	return newObjectWriter(ctx, api, bucket, key, opt, defaultLimits())
}

func newObjectWriter(ctx context.Context, api UploadAPI, bucket, key string, opt WriterOptions, lim writerLimits) (*ObjectWriter, error) {
	where := "s3://" + bucket + "/" + key
	switch {
	case api == nil:
		return nil, fmt.Errorf("write %s: no S3 client", where)
	case bucket == "" || key == "":
		return nil, fmt.Errorf("write %s: bucket and key must not be empty", where)
	}
	if err := opt.check(lim.minPartSize); err != nil {
		return nil, fmt.Errorf("write %s: %w", where, err)
	}
	if opt.PartSize == 0 {
		opt.PartSize = DefaultPartSize
	}
	if opt.Concurrency == 0 {
		opt.Concurrency = defaultConcurrency
	}
	if opt.PartAttempts == 0 {
		opt.PartAttempts = defaultPartAttempts
	}
	if opt.AbortTimeout == 0 {
		opt.AbortTimeout = defaultAbortTimeout
	}
	if opt.DeadlineMargin == 0 {
		opt.DeadlineMargin = defaultDeadlineMargin
	}

	w := &ObjectWriter{
		api:      api,
		bucket:   bucket,
		key:      key,
		opt:      opt,
		lim:      lim,
		table:    crc64.MakeTable(nvmePoly),
		parent:   ctx,
		nextPart: 1,
		free:     make(chan []byte, opt.Concurrency+1),
		state:    UploadState{Bucket: bucket, Key: key},
	}
	work := ctx
	var stopTimer context.CancelFunc = func() {}
	if d, ok := ctx.Deadline(); ok {
		margin := min(opt.DeadlineMargin, time.Until(d)/4)
		cause := fmt.Errorf("%w: stopped %v before the deadline to leave time for cleanup", context.DeadlineExceeded, margin.Round(time.Millisecond))
		work, stopTimer = context.WithDeadlineCause(ctx, d.Add(-margin), cause)
	}
	work, cancel := context.WithCancelCause(work)
	w.ctx = work
	w.cancel = func(err error) {
		cancel(err)
		stopTimer()
	}
	return w, nil
}

// where names the object in errors.
func (w *ObjectWriter) where() string { return "s3://" + w.bucket + "/" + w.key }

// uploadName names the object and its upload in errors.
func (w *ObjectWriter) uploadName() string {
	w.mu.Lock()
	id := w.state.UploadID
	w.mu.Unlock()
	if id == "" {
		return w.where()
	}
	return w.where() + " (upload id " + id + ")"
}

// Write adds p to the object. p must hold whole records: parts are cut only
// between Write calls, once the buffered bytes reach the current part size,
// so a Write larger than a part makes a larger part. Write copies p and
// blocks while Concurrency parts are being uploaded. After an error, the
// upload is aborted and every later call returns the same error.
func (w *ObjectWriter) Write(p []byte) (int, error) {
	if w.done {
		if w.result != nil {
			return 0, w.result
		}
		return 0, fmt.Errorf("write %s: %w", w.where(), ErrWriterClosed)
	}
	if err := w.ctx.Err(); err != nil {
		return 0, w.failWith(fmt.Errorf("write %s: stopped before part %d: %w", w.uploadName(), w.nextPart, context.Cause(w.ctx)))
	}
	if w.stopped {
		return 0, fmt.Errorf("write %s: every part was sent already: %w", w.where(), ErrWriterClosed)
	}
	if w.buf == nil {
		buf, err := w.buffer()
		if err != nil {
			return 0, w.failWith(err)
		}
		w.buf = buf
	}
	if len(w.buf) > 0 && int64(len(w.buf))+int64(len(p)) > MaxPartSize {
		// The part would go over S3's limit: send what is buffered first.
		if err := w.flush(); err != nil {
			return 0, w.failWith(err)
		}
		return w.Write(p)
	}
	if int64(len(w.buf))+int64(len(p)) > MaxPartSize {
		return 0, w.failWith(fmt.Errorf("write %s: a single write of %d bytes is larger than S3's maximum part size", w.where(), len(p)))
	}
	size := partSize(w.opt.PartSize, w.nextPart)
	if need := len(w.buf) + len(p); need > cap(w.buf) {
		// Grow a small first buffer to a whole part in one step, and a
		// full one by exactly what this write needs: append would add a
		// quarter, which the buffer would keep for every later part.
		grown := make([]byte, len(w.buf), max(int64(need), size+partHeadroom))
		copy(grown, w.buf)
		w.buf = grown
	}
	w.buf = append(w.buf, p...)
	w.bytes.Add(int64(len(p)))
	if int64(len(w.buf)) >= size && w.nextPart < MaxParts {
		if err := w.flush(); err != nil {
			return 0, w.failWith(err)
		}
	}
	return len(p), nil
}

// buffer returns an empty part buffer with room for the next part. It makes
// up to Concurrency+1 buffers; after that it waits for an upload to give
// one back.
func (w *ObjectWriter) buffer() ([]byte, error) {
	size := partSize(w.opt.PartSize, w.nextPart)
	var b []byte
	select {
	case b = <-w.free:
	default:
		if w.allocated <= w.opt.Concurrency {
			size += partHeadroom
			if w.allocated == 0 {
				// The first buffer grows as it fills, so that a small
				// object never costs a whole part's memory.
				size = min(size, firstBufferSize)
			}
			w.allocated++
			return make([]byte, 0, size), nil
		}
		select {
		case b = <-w.free:
		case <-w.ctx.Done():
			return nil, fmt.Errorf("write %s: stopped before part %d: %w", w.uploadName(), w.nextPart, context.Cause(w.ctx))
		}
	}
	if int64(cap(b)) < size {
		b = make([]byte, 0, size+partHeadroom) // the part size grew
	}
	return b, nil
}

// flush hands the buffer to the uploads, starting the multipart upload if
// this is the first part.
func (w *ObjectWriter) flush() error {
	if w.nextPart > MaxParts {
		return fmt.Errorf("write %s: the object needs more than %d parts", w.uploadName(), MaxParts)
	}
	if !w.started {
		if err := w.start(); err != nil {
			return err
		}
	}
	p := part{num: w.nextPart, buf: w.buf}
	w.mu.Lock()
	w.state.Parts = append(w.state.Parts, PartState{Number: p.num, Size: int64(len(p.buf))})
	w.mu.Unlock()
	select {
	case w.jobs <- p:
	case <-w.ctx.Done():
		return fmt.Errorf("write %s: stopped before part %d: %w", w.uploadName(), p.num, context.Cause(w.ctx))
	}
	w.buf = nil
	w.nextPart++
	return nil
}

// start creates the multipart upload and its upload goroutines.
func (w *ObjectWriter) start() error {
	in := &s3.CreateMultipartUploadInput{
		Bucket:            aws.String(w.bucket),
		Key:               aws.String(w.key),
		ChecksumAlgorithm: types.ChecksumAlgorithmCrc64nvme,
		ChecksumType:      types.ChecksumTypeFullObject,
	}
	if w.opt.ContentType != "" {
		in.ContentType = aws.String(w.opt.ContentType)
	}
	// The request runs on a cleanup context: had the writer's context cut
	// it short, S3 could have created the upload without the writer ever
	// learning its id to abort it. Whether the writer should stop is asked
	// once the id is known. Each request sent gets a third of that
	// context's time (minCreateAttempt at the least) for its answer, so
	// that one on a connection that stopped answering is sent again, as
	// one whose answer was cut off is; a lost answer's upload is left to a
	// sweep either way.
	ctx, cancel := w.cleanupContext()
	until, _ := ctx.Deadline()
	var watch callWatch
	out, err := w.api.CreateMultipartUpload(ctx, in, watch.option, noLateRetry(until, w.ctx),
		sendTimeout(max(time.Until(until)/3, minCreateAttempt)), retryCutAnswer)
	outOfTime := ctx.Err() != nil
	err = cleanupError(ctx, err)
	cancel()
	w.addRetries(watch.retries())
	if err != nil && outOfTime && w.ctx.Err() != nil {
		// The request's time ends with the writer's deadline, unless
		// that is very near: when the writer's time ran out too, that
		// is why the request failed.
		return fmt.Errorf("create multipart upload for %s: stopped: %w (%v)", w.where(), context.Cause(w.ctx), err)
	}
	if err != nil {
		return fmt.Errorf("create multipart upload for %s: %w", w.where(), err)
	}
	if aws.ToString(out.UploadId) == "" {
		return fmt.Errorf("create multipart upload for %s: S3 returned no upload id", w.where())
	}
	w.mu.Lock()
	w.state.UploadID = *out.UploadId
	w.state.Multipart = true
	w.mu.Unlock()
	w.started = true
	if err := w.ctx.Err(); err != nil {
		return fmt.Errorf("write %s: stopped before part 1: %w", w.uploadName(), context.Cause(w.ctx))
	}
	w.jobs = make(chan part)
	for range w.opt.Concurrency {
		w.wg.Add(1)
		go w.uploadParts()
	}
	return nil
}

// probeUpload checks that an upload to s3://bucket/key can be made before
// any of it is written, by creating a multipart upload and aborting it at
// once. S3 then refuses a bucket that does not exist, a name it cannot
// take, or a caller that may not write there or make data keys with the
// bucket's KMS key before a job reads its source, and not at the end, when
// a small output's one PutObject is its first request and the other output
// may already be published. The abort's failure is not the output's: the
// upload it leaves holds no data, and a sweep or a lifecycle rule removes
// it.
func probeUpload(ctx context.Context, api UploadAPI, bucket, key string, opt WriterOptions) error {
	opt.Concurrency = 1
	w, err := NewObjectWriter(ctx, api, bucket, key, opt)
	if err != nil {
		return err
	}
	err = w.start()
	_ = w.Abort() // a failure leaves an empty upload, which is no reason to stop
	if err != nil {
		return fmt.Errorf("check that the output can be written: %w", err)
	}
	return nil
}

// uploadParts uploads the parts it receives until the writer stops or
// fails, giving each buffer back for reuse.
func (w *ObjectWriter) uploadParts() {
	defer w.wg.Done()
	for {
		select {
		case <-w.ctx.Done():
			return
		case p, ok := <-w.jobs:
			if !ok {
				return
			}
			if err := w.uploadPart(p); err != nil {
				w.fail(err)
			}
			w.free <- p.buf[:0] // never blocks: at most Concurrency+1 buffers exist
		}
	}
}

// uploadPart sends one part, sending the same bytes again when S3 rejects
// them as corrupted, the connection breaks for good, or the request times
// out.
func (w *ObjectWriter) uploadPart(p part) error {
	sum := encodeCRC(crc64.Checksum(p.buf, w.table))
	w.mu.Lock()
	uploadID := w.state.UploadID
	w.mu.Unlock()
	what := fmt.Sprintf("upload part %d of %s (upload id %s)", p.num, w.where(), uploadID)
	var watch callWatch
	err := w.send(what, len(p.buf), &watch, func(ctx context.Context) error {
		out, err := w.api.UploadPart(ctx, &s3.UploadPartInput{
			Bucket:            aws.String(w.bucket),
			Key:               aws.String(w.key),
			UploadId:          aws.String(uploadID),
			PartNumber:        aws.Int32(p.num),
			Body:              bytes.NewReader(p.buf),
			ContentLength:     aws.Int64(int64(len(p.buf))),
			ChecksumAlgorithm: types.ChecksumAlgorithmCrc64nvme,
			ChecksumCRC64NVME: aws.String(sum),
		}, watch.option)
		if err != nil {
			return err
		}
		if aws.ToString(out.ETag) == "" {
			return errors.New("S3 returned no ETag")
		}
		w.mu.Lock()
		ps := &w.state.Parts[p.num-1]
		ps.ETag = *out.ETag
		ps.ChecksumCRC64NVME = sum
		w.mu.Unlock()
		return nil
	})
	if watch.unanswered.Load() {
		w.unanswered.Store(true)
	}
	return err
}

// send makes one request through do until it succeeds, fails for good, or
// PartAttempts attempts have failed with errors for which sending the same
// bytes again may help (see retryablePartError), or have timed out. Each
// attempt gets a context that ends after attemptTimeout(size), size being
// the bytes it sends. what names the request in errors. do passes
// watch.option to its call, so that watch follows every request sent; send
// counts the retries of the S3 client and its own.
func (w *ObjectWriter) send(what string, size int, watch *callWatch, do func(context.Context) error) error {
	timeout := w.attemptTimeout(size)
	for attempt := 1; ; attempt++ {
		ctx, cancel := context.WithTimeoutCause(w.ctx, timeout, errAttemptTimeout)
		sent := watch.sent.Load()
		err := do(ctx)
		timedOut := context.Cause(ctx) == errAttemptTimeout && w.ctx.Err() == nil
		cancel()
		w.addRetries(watch.retriesSince(sent))
		if err == nil {
			return nil
		}
		if errorCode(err) == "" {
			watch.unanswered.Store(true)
		}
		if timedOut {
			// err wraps the attempt's context.DeadlineExceeded, which would
			// read as the job running out of time: say what happened, and
			// keep the client's words out of the chain.
			err = fmt.Errorf("timed out after %v (%v)", timeout.Round(time.Millisecond), err)
		}
		if w.ctx.Err() != nil {
			// The client says only that its context ended: say why.
			return fmt.Errorf("%s, attempt %d of %d: %w: %w", what, attempt, w.opt.PartAttempts, context.Cause(w.ctx), err)
		}
		if attempt >= w.opt.PartAttempts || !(timedOut || retryablePartError(err)) {
			return fmt.Errorf("%s, attempt %d of %d: %w", what, attempt, w.opt.PartAttempts, err)
		}
		if err := w.backoff(attempt); err != nil {
			return fmt.Errorf("%s, waiting to retry: %w", what, err)
		}
	}
}

// attemptTimeout returns how long one attempt of a request that sends size
// bytes may take.
func (w *ObjectWriter) attemptTimeout(size int) time.Duration {
	return w.lim.attemptBase + time.Duration(size)*time.Second/time.Duration(w.lim.attemptRate)
}

// backoff counts a retry and waits before attempt+1, or until ctx ends.
func (w *ObjectWriter) backoff(attempt int) error {
	w.addRetries(1)
	d := w.lim.retryBackoff << (attempt - 1)
	if d > maxRetryBackoff || d <= 0 {
		d = maxRetryBackoff
	}
	d = d/2 + rand.N(d/2+1) // jitter, so parallel retries spread out
	if !wait(w.ctx, d) {
		return context.Cause(w.ctx)
	}
	return nil
}

// retryablePartError reports whether a request that failed with err may
// succeed when the same bytes are sent again: S3 found them corrupted, or
// the connection broke and the S3 client gave up retrying.
func retryablePartError(err error) bool {
	var api smithy.APIError
	if errors.As(err, &api) {
		switch api.ErrorCode() {
		case "BadDigest", "InvalidDigest", "XAmzContentSHA256Mismatch", "IncompleteBody", "RequestTimeout":
			return true
		}
		return false
	}
	var conn interface{ ConnectionError() bool }
	return errors.As(err, &conn) && conn.ConnectionError()
}

// addRetries counts n requests sent again.
func (w *ObjectWriter) addRetries(n int) {
	w.mu.Lock()
	w.state.Retries += n
	w.mu.Unlock()
}

// fail records the writer's first error and stops the uploads.
func (w *ObjectWriter) fail(err error) {
	w.mu.Lock()
	if w.err == nil {
		w.err = err
	}
	w.mu.Unlock()
	w.cancel(err)
}

// failWith records err unless an upload failed first, stops everything,
// aborts the multipart upload, and returns the error to report, joined
// with the abort's error if the abort failed.
func (w *ObjectWriter) failWith(err error) error {
	w.fail(err)
	w.stop()
	w.mu.Lock()
	err = w.err
	w.mu.Unlock()
	if aerr := w.abortUpload(); aerr != nil {
		err = errors.Join(err, aerr)
		w.abortReported = true
	}
	w.release()
	w.done, w.result = true, err
	return err
}

// stop ends the upload goroutines and waits for them.
func (w *ObjectWriter) stop() {
	if w.stopped {
		return
	}
	w.stopped = true
	if w.jobs != nil {
		close(w.jobs)
	}
	w.wg.Wait()
}

// abortTimeout is the time the abort gets: AbortTimeout, but no later than
// the caller's deadline (the writer stopped DeadlineMargin before it to
// leave this time), and never less than minAbortTime, so that an abort is
// still tried when the deadline has come.
func (w *ObjectWriter) abortTimeout() time.Duration {
	d, ok := w.parent.Deadline()
	if !ok {
		return w.opt.AbortTimeout
	}
	return min(w.opt.AbortTimeout, max(time.Until(d), minAbortTime))
}

// abortUpload aborts the multipart upload, if there is one, on a context
// of its own: the writer's may already be cancelled.
func (w *ObjectWriter) abortUpload() error {
	if !w.started || w.aborted {
		return nil
	}
	if w.abortGaveUp {
		return w.abortErr
	}
	ctx, cancel := w.cleanupContext()
	defer cancel()
	w.mu.Lock()
	id := w.state.UploadID
	w.mu.Unlock()
	in := &s3.AbortMultipartUploadInput{
		Bucket:   aws.String(w.bucket),
		Key:      aws.String(w.key),
		UploadId: aws.String(id),
	}
	_, err := w.api.AbortMultipartUpload(ctx, in)
	if err != nil && !isNoSuchUpload(err) {
		w.abortGaveUp = ctx.Err() != nil
		w.abortErr = fmt.Errorf("abort multipart upload %s of %s: %w (the upload is left behind: csvstream sweep, or a lifecycle rule for incomplete multipart uploads, removes it)", id, w.where(), cleanupError(ctx, err))
		return w.abortErr
	}
	if w.unanswered.Load() {
		w.abortAgain(ctx, in)
	}
	w.aborted = true
	return nil
}

// abortAgain looks for the upload again after it was aborted while parts
// may still be stored: a part that S3 was receiving when the abort came
// can keep the upload, and the storage it is billed for, alive, as S3's
// documentation warns. Over the settle delays, it aborts the upload again
// whenever ListParts still finds it. A look whose answer is cut off is
// sent again, and one that gets no answer within lookTimeout gives way to
// the next. It gives up quietly when it cannot
// tell (ListParts refused, say), and it takes no more than half the time
// left before the caller's deadline: a sweep removes what is left.
func (w *ObjectWriter) abortAgain(ctx context.Context, in *s3.AbortMultipartUploadInput) {
	if d, ok := w.parent.Deadline(); ok {
		left := time.Until(d)
		if left <= 0 {
			return
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, left/2)
		defer cancel()
	}
	for _, d := range w.lim.settle {
		if !wait(ctx, d) {
			return
		}
		lctx, lcancel := context.WithTimeoutCause(ctx, lookTimeout, errAttemptTimeout)
		_, err := w.api.ListParts(lctx, &s3.ListPartsInput{
			Bucket:   in.Bucket,
			Key:      in.Key,
			UploadId: in.UploadId,
			MaxParts: aws.Int32(1),
		}, retryCutAnswer)
		unanswered := context.Cause(lctx) == errAttemptTimeout
		lcancel()
		switch {
		case isNoSuchUpload(err):
			continue // gone, unless a late part brings it back
		case err != nil && unanswered:
			continue // look again
		case err != nil:
			return
		}
		if _, err := w.api.AbortMultipartUpload(ctx, in); err != nil && !isNoSuchUpload(err) {
			return
		}
	}
}

// Close uploads what is buffered and completes the object. An object
// smaller than one part is sent with one PutObject; an empty one too.
// After Close succeeds, State has the object's ETag and checksum. If Close
// fails, the multipart upload is aborted and later calls return the same
// error.
func (w *ObjectWriter) Close() error {
	if w.done {
		if w.result != nil {
			return w.result
		}
		return fmt.Errorf("close %s: %w", w.where(), ErrWriterClosed)
	}
	if err := w.ctx.Err(); err != nil {
		return w.failWith(fmt.Errorf("close %s: stopped before completing: %w", w.uploadName(), context.Cause(w.ctx)))
	}
	if !w.started {
		err := w.putObject()
		w.cancel(ErrWriterClosed)
		w.release()
		w.done, w.result = true, err
		return err
	}
	if err := w.sendAll(); err != nil {
		return err
	}
	if err := w.complete(); err != nil {
		return w.failWith(err)
	}
	w.cancel(ErrWriterClosed)
	w.release()
	w.done = true
	return nil
}

// sendAll sends what is buffered as the last part and waits for every
// part, without completing the upload; Write may not be called after it.
// A writer that has not started a multipart upload has nothing to send
// before Close. It makes ObjectWriter a sink.
func (w *ObjectWriter) sendAll() error {
	if w.done || !w.started || w.stopped {
		return w.result
	}
	if err := w.ctx.Err(); err != nil {
		return w.failWith(fmt.Errorf("send the last parts of %s: stopped: %w", w.uploadName(), context.Cause(w.ctx)))
	}
	if len(w.buf) > 0 {
		if err := w.flush(); err != nil {
			return w.failWith(err)
		}
	}
	w.stop()
	w.mu.Lock()
	err := w.err
	w.mu.Unlock()
	if err != nil {
		return w.failWith(err)
	}
	return nil
}

// release drops the part buffers once the writer is done with them.
func (w *ObjectWriter) release() {
	w.buf = nil
	for {
		select {
		case <-w.free:
		default:
			return
		}
	}
}

// putObject sends the buffered bytes as the whole object.
func (w *ObjectWriter) putObject() error {
	sum := encodeCRC(crc64.Checksum(w.buf, w.table))
	in := &s3.PutObjectInput{
		Bucket:            aws.String(w.bucket),
		Key:               aws.String(w.key),
		ContentLength:     aws.Int64(int64(len(w.buf))),
		ChecksumAlgorithm: types.ChecksumAlgorithmCrc64nvme,
		ChecksumCRC64NVME: aws.String(sum),
	}
	if w.opt.ContentType != "" {
		in.ContentType = aws.String(w.opt.ContentType)
	}
	var watch callWatch
	err := w.send("put "+w.where(), len(w.buf), &watch, func(ctx context.Context) error {
		req := *in // a fresh input and body for each attempt
		req.Body = bytes.NewReader(w.buf)
		out, err := w.api.PutObject(ctx, &req, watch.option)
		if err != nil {
			return err
		}
		w.finished(aws.ToString(out.ETag), sum)
		return nil
	})
	if err != nil && (w.ctx.Err() != nil || watch.unanswered.Load()) {
		// Cut short by the deadline or a cancel, or with an answer lost
		// (a broken connection, an attempt timed out), even one the S3
		// client then sent again, the PUT may have stored the object all
		// the same: look.
		return w.completedBefore(err, sum, int64(len(w.buf)))
	}
	return err
}

// finished records the ETag and full-object checksum of the written object.
func (w *ObjectWriter) finished(etag, sum string) {
	w.mu.Lock()
	w.state.ETag = etag
	w.state.ChecksumCRC64NVME = sum
	w.mu.Unlock()
}

// complete completes the multipart upload with the whole object's
// CRC64NVME, combined from the parts' checksums without reading the bytes
// again.
func (w *ObjectWriter) complete() error {
	w.mu.Lock()
	id := w.state.UploadID
	parts := make([]types.CompletedPart, len(w.state.Parts))
	var full uint64
	var size int64
	for i, p := range w.state.Parts {
		crc, err := decodeCRC(p.ChecksumCRC64NVME)
		if err != nil || p.ETag == "" {
			w.mu.Unlock()
			return fmt.Errorf("complete %s (upload id %s): part %d was not uploaded", w.where(), id, p.Number)
		}
		full = crc64Combine(full, crc, p.Size)
		size += p.Size
		parts[i] = types.CompletedPart{
			PartNumber:        aws.Int32(p.Number),
			ETag:              aws.String(p.ETag),
			ChecksumCRC64NVME: aws.String(p.ChecksumCRC64NVME),
		}
	}
	w.mu.Unlock()
	sum := encodeCRC(full)
	in := &s3.CompleteMultipartUploadInput{
		Bucket:            aws.String(w.bucket),
		Key:               aws.String(w.key),
		UploadId:          aws.String(id),
		MultipartUpload:   &types.CompletedMultipartUpload{Parts: parts},
		ChecksumCRC64NVME: aws.String(sum),
		ChecksumType:      types.ChecksumTypeFullObject,
		MpuObjectSize:     aws.Int64(size),
	}
	// Complete has no timeout of its own, only the writer's context, which
	// ends DeadlineMargin before the caller's deadline: S3 may take minutes
	// to assemble a large object, keeping the connection alive meanwhile,
	// and a Complete cut short leaves it unknown whether the object exists.
	var watch callWatch
	out, err := w.api.CompleteMultipartUpload(w.ctx, in, watch.option)
	w.addRetries(watch.retries())
	// An answer lost to an attempt the S3 client sent again counts too:
	// the last attempt's SlowDown does not undo what the first may have
	// done.
	lost := err != nil && (errorCode(err) == "" || watch.unanswered.Load())
	if lost && w.ctx.Err() == nil {
		// S3's answer was lost: the connection broke or the response was
		// cut off, which the S3 client does not retry once the headers
		// have come. S3 may have completed the upload. Sent again,
		// Complete either completes it, or answers for the completed
		// upload, or finds it gone (NoSuchUpload, handled below).
		w.addRetries(1)
		sent := watch.sent.Load()
		out, err = w.api.CompleteMultipartUpload(w.ctx, in, watch.option)
		w.addRetries(watch.retriesSince(sent))
	}
	if err != nil {
		err = fmt.Errorf("complete %s (upload id %s) with %d parts: %w", w.where(), id, len(parts), err)
		switch {
		case isNoSuchUpload(err):
			return w.completedBefore(err, sum, size)
		case lost || w.ctx.Err() != nil:
			// S3 may have completed the upload, whatever the second
			// attempt says: abort it and look, as for a Complete cut
			// short.
			return w.cutShort(err, sum, size)
		}
		return err
	}
	w.finished(aws.ToString(out.ETag), sum)
	return nil
}

// callWatch follows the requests of S3 calls, the S3 client's own
// retries included: how many were sent, and whether any ended without an
// answer from S3 (a broken connection, a response cut off). A request S3
// never answered may have been carried out, whatever later attempts were
// told. The S3 client reports its retries only when it succeeds or runs
// out of attempts, not when it stops at an error it does not retry.
type callWatch struct {
	sent       atomic.Int32
	unanswered atomic.Bool
}

// option adds the watch to one call, after the retry middleware, so that
// it sees every attempt.
func (c *callWatch) option(o *s3.Options) {
	o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
		return st.Finalize.Insert(middleware.FinalizeMiddlewareFunc("csvstream:callWatch",
			func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
				c.sent.Add(1)
				out, md, err := next.HandleFinalize(ctx, in)
				if err != nil && errorCode(err) == "" {
					c.unanswered.Store(true)
				}
				return out, md, err
			}), "Retry", middleware.After)
	})
}

// minCreateRetryTime is the least time its context must have left for the
// S3 client to send CreateMultipartUpload again. S3 may create an upload
// for a request whose answer the context's end then cuts off, and the
// writer never learns that upload's id to abort it; after throttling, the
// client's own wait can hold a retry until moments before that end.
const minCreateRetryTime = time.Second

// minCreateAttempt is the least time a CreateMultipartUpload request
// gets for its answer before it is sent again. S3 answers one in well
// under a second; a request cut short while a slow answer is on its way
// would leave that answer's upload behind.
const minCreateAttempt = 2 * time.Second

// noLateRetry returns a call option for CreateMultipartUpload: it stops
// the S3 client from sending the request again with less than
// minCreateRetryTime left before until, or once stop is done (the writer
// is stopping, and a request sent again would only create an upload to
// abort), failing the call with the last attempt's error instead. The
// call's first attempt is always sent.
func noLateRetry(until time.Time, stop context.Context) func(*s3.Options) {
	return func(o *s3.Options) {
		o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
			var last error // the error of the attempt before, if any
			return st.Finalize.Insert(middleware.FinalizeMiddlewareFunc("csvstream:noLateRetry",
				func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
					if last != nil {
						if stop.Err() != nil {
							return middleware.FinalizeOutput{}, middleware.Metadata{}, &lateRetryError{err: last, stop: context.Cause(stop)}
						}
						if left := time.Until(until); left < minCreateRetryTime {
							return middleware.FinalizeOutput{}, middleware.Metadata{}, &lateRetryError{err: last, left: left}
						}
					}
					out, md, err := next.HandleFinalize(ctx, in)
					last = err
					return out, md, err
				}), "Retry", middleware.After)
		})
	}
}

// lateRetryError is the error of a request noLateRetry kept the S3 client
// from sending again: the error of the last attempt sent, and why. The S3
// client does not retry it.
type lateRetryError struct {
	err  error
	left time.Duration // the time that was left, when that was too little
	stop error         // the stop's cause, when the writer was stopping
}

func (e *lateRetryError) Error() string {
	if e.stop != nil {
		return fmt.Sprintf("%v (not sent again: stopped: %v)", e.err, e.stop)
	}
	return fmt.Sprintf("%v (not sent again with %v left: too little time for the answer)", e.err, e.left.Round(time.Millisecond))
}

func (e *lateRetryError) Unwrap() []error {
	if e.stop != nil {
		return []error{e.err, e.stop}
	}
	return []error{e.err}
}

// RetryableError tells the S3 client's retryer not to retry.
func (e *lateRetryError) RetryableError() bool { return false }

// retries returns how many requests the S3 client sent again, for a
// watch that followed one call.
func (c *callWatch) retries() int { return c.retriesSince(0) }

// retriesSince is retries for the one call the watch followed after it
// had counted sent requests.
func (c *callWatch) retriesSince(sent int32) int { return max(int(c.sent.Load()-sent)-1, 0) }

// cutShort is called when the writer's context ended during Complete, so
// that S3 may be completing the upload still, or have completed it. It
// aborts the upload on a fresh context, so that it cannot complete later,
// and then lets completedBefore tell whether S3 completed it first: S3
// answers the abort of a completed upload with NoSuchUpload, or, for a
// while, with success. When the abort fails, err alone is returned: Close
// then fails the writer, which tries the abort again and reports it once.
func (w *ObjectWriter) cutShort(err error, sum string, size int64) error {
	if w.abortUpload() != nil {
		return err
	}
	return w.completedBefore(err, sum, size)
}

// cleanupContext returns a context for a request made after the writer's
// context ended: the abort's timeout, on a context the parent's
// cancellation does not reach.
func (w *ObjectWriter) cleanupContext() (context.Context, context.CancelFunc) {
	t := w.abortTimeout()
	return context.WithTimeoutCause(context.WithoutCancel(w.parent), t, cleanupTimeout(t))
}

// cleanupTimeout is the cause of a cleanup context's end: the request gave
// up after so long.
type cleanupTimeout time.Duration

func (t cleanupTimeout) Error() string {
	return fmt.Sprintf("gave up after %v", time.Duration(t).Round(time.Millisecond))
}

// cleanupError returns err, from a request on cleanup context ctx, without
// the context's DeadlineExceeded in its chain when ctx timed out: that
// would read as the job running out of time, when the time that ran out
// was the request's own (the caller's deadline has a cause of its own).
func cleanupError(ctx context.Context, err error) error {
	var t cleanupTimeout
	if err != nil && errors.As(context.Cause(ctx), &t) {
		return fmt.Errorf("%v (%v)", t, err)
	}
	return err
}

// completedBefore is called when a request that may have published the
// object failed with err: Complete finding the upload gone (which is also
// what S3 answers when an earlier Complete of the upload succeeded but its
// answer was lost and the request was sent again), or a Complete or
// PutObject that the writer's context cut short. If the object at the key
// has the full-object checksum sum and the size the writer computed, it is
// this upload's: its ETag is recorded and the upload counts as completed.
// Otherwise err is returned, saying why. It looks on a fresh context, as
// the writer's may have just ended.
//
// A request cut short on the client's side may still be running at S3,
// and publish the object a moment after a first look finds nothing; so
// an object that is missing, or not this upload's, is looked for again
// after each of the settle delays before the upload counts as not
// completed; but after the first look, only within half the time left
// before the caller's deadline, or minSettleTime when that is longer (as
// the abort before it gets at least minAbortTime).
func (w *ObjectWriter) completedBefore(err error, sum string, size int64) error {
	ctx, cancel := w.cleanupContext()
	defer cancel()
	var until time.Time // when to stop looking again; zero: no limit
	if d, ok := w.parent.Deadline(); ok {
		until = time.Now().Add(max(time.Until(d)/2, minSettleTime))
	}
	var last error
	for i, d := range w.lim.settle {
		if i > 0 && !until.IsZero() && time.Now().Add(d).After(until) {
			return last
		}
		if d > 0 && !wait(ctx, d) {
			return last
		}
		lctx, lcancel := context.WithTimeoutCause(ctx, lookTimeout, errAttemptTimeout)
		head, herr := w.api.HeadObject(lctx, &s3.HeadObjectInput{
			Bucket:       aws.String(w.bucket),
			Key:          aws.String(w.key),
			ChecksumMode: types.ChecksumModeEnabled,
		})
		if context.Cause(lctx) == errAttemptTimeout && herr != nil {
			herr = &sendTimeoutError{d: lookTimeout, err: herr}
		}
		herr = cleanupError(ctx, herr)
		lcancel()
		if herr != nil {
			// Not wrapped: the cause is err. Without s3:ListBucket, a
			// missing object answers 403, which must not read as access
			// denied.
			last = fmt.Errorf("%w; looking for the completed object: %v", err, herr)
			continue
		}
		gotSum, gotSize := aws.ToString(head.ChecksumCRC64NVME), aws.ToInt64(head.ContentLength)
		if gotSum != sum || (head.ContentLength != nil && gotSize != size) {
			last = fmt.Errorf("%w; the object at the key is not this upload's: it has CRC64NVME %q and %d bytes, this upload %q and %d bytes",
				err, gotSum, gotSize, sum, size)
			continue
		}
		w.finished(aws.ToString(head.ETag), sum)
		return nil
	}
	return last
}

// Abort discards the object: it stops the uploads and aborts the multipart
// upload, so that nothing is left in S3 unless the abort fails. It is safe
// to call more than once, and after a failed Write or Close; after a
// successful Close it does nothing, so it can be deferred. Write and Close
// fail after Abort. When the error of a failed Write or Close said that
// its abort failed, Abort tries once more and returns nil, so the failure
// is not reported twice. An abort that gave up on its own timeout (S3
// unreachable, say) is not tried again.
func (w *ObjectWriter) Abort() error {
	if w.done && (w.result == nil || w.aborted) {
		return nil // completed, or already aborted
	}
	if !w.done {
		w.fail(fmt.Errorf("write %s: aborted: %w", w.uploadName(), ErrWriterClosed))
		w.stop()
		w.done = true
		w.mu.Lock()
		w.result = w.err
		w.mu.Unlock()
	}
	w.release()
	err := w.abortUpload() // a failed abort is tried again, unless it gave up
	if w.abortReported {
		return nil // the failed Write or Close said the abort failed
	}
	return err
}

// State returns a snapshot of the upload. It is safe to call at any time,
// from any goroutine.
func (w *ObjectWriter) State() UploadState {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := w.state
	s.Parts = append([]PartState(nil), w.state.Parts...)
	s.Bytes = w.bytes.Load()
	return s
}

// partSize returns the size at which part n (numbered from 1) is handed
// off, for an upload whose first part is first bytes. The size doubles every
// partsPerDoubling parts, up to MaxPartSize, so that MaxParts parts hold
// more than S3's 5 TiB object limit for any first ≥ MinPartSize.
func partSize(first int64, n int32) int64 {
	s := first
	for k := (n - 1) / partsPerDoubling; k > 0 && s < MaxPartSize; k-- {
		s *= 2
	}
	return min(s, MaxPartSize)
}

// encodeCRC returns S3's encoding of a CRC64NVME value: the base64 of its
// eight big-endian bytes.
func encodeCRC(crc uint64) string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], crc)
	return base64.StdEncoding.EncodeToString(b[:])
}

// decodeCRC undoes encodeCRC.
func decodeCRC(s string) (uint64, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b) != 8 {
		return 0, fmt.Errorf("checksum %q is not a base64 CRC64NVME", s)
	}
	return binary.BigEndian.Uint64(b), nil
}

// crc64Combine returns the CRC64NVME of A followed by B, given crcA, crcB,
// and the length of B: crcA·x^(8·lenB) + crcB modulo the polynomial, the
// method of zlib's crc32_combine. It costs microseconds where hashing the
// whole object again would read every byte a second time.
func crc64Combine(crcA, crcB uint64, lenB int64) uint64 {
	if lenB <= 0 {
		return crcA
	}
	return crc64MulMod(xPow8n(lenB), crcA) ^ crcB
}

// crc64MulMod multiplies a and b, polynomials over GF(2) in the reflected
// bit order of the CRC (the top bit is x^0), modulo the CRC polynomial.
func crc64MulMod(a, b uint64) uint64 {
	var p uint64
	for m := uint64(1) << 63; m != 0 && a != 0; m >>= 1 {
		if a&m != 0 {
			p ^= b
			a &^= m
		}
		if b&1 != 0 {
			b = b>>1 ^ nvmePoly
		} else {
			b >>= 1
		}
	}
	return p
}

// xPow8n returns x^(8n) modulo the CRC polynomial, in reflected order.
func xPow8n(n int64) uint64 {
	p := uint64(1) << 63 // x^0
	sq := uint64(1) << (63 - 8)
	for n > 0 {
		if n&1 != 0 {
			p = crc64MulMod(sq, p)
		}
		n >>= 1
		if n > 0 {
			sq = crc64MulMod(sq, sq)
		}
	}
	return p
}
