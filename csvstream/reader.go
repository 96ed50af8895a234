package csvstream

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"hash/crc64"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
)

// Errors an ObjectReader wraps so callers can tell them apart with errors.Is.
var (
	// ErrSourceNotFound marks a source object (or its bucket or version)
	// that does not exist: S3 answered NoSuchKey, NoSuchVersion, NotFound or
	// 404, or 405 for a version that is a delete marker.
	ErrSourceNotFound = errors.New("source not found")
	// ErrSourceChanged marks a source object that was replaced or deleted
	// while it was being read, so the bytes already read cannot be continued.
	ErrSourceChanged = errors.New("source object changed while being read")
)

// Defaults for the zero ReaderOptions.
const (
	defaultReadAttempts = 5
	defaultReadBackoff  = 200 * time.Millisecond
	maxReadBackoff      = 5 * time.Second
	defaultStallTimeout = 30 * time.Second
	defaultReadAhead    = 4
	defaultChunkSize    = 8 << 20
	minChunkSize        = 64 << 10 // one GET per few records would cost more than it saves
	maxChunkSize        = 1 << 30
)

// errStalled is the cause of a GET's context ending because no byte of its
// answer came for ReaderOptions.StallTimeout.
var errStalled = errors.New("no bytes arrived")

// ReaderOptions configures an ObjectReader. The zero value works.
type ReaderOptions struct {
	// Attempts is how many times the body is reopened after it breaks before
	// the read fails. The count starts again once a reopened body yields
	// bytes. Zero means 5.
	Attempts int
	// Backoff is the wait before the first reopen; it doubles, with jitter,
	// on each further attempt, up to 5s. Zero means 200ms.
	Backoff time.Duration
	// VersionID, when set, reads that version of the object in a
	// versioned bucket; empty reads the latest.
	VersionID string
	// StallTimeout is how long a GET may wait for its answer, or a Read for
	// the next bytes of the body, before the connection is given up as
	// stalled and the object reopened: the S3 client has no such timeout,
	// so a connection that stays open but sends nothing would otherwise
	// hold the job until its deadline. Zero means 30s.
	StallTimeout time.Duration
	// Concurrency is how many ranged GETs fetch an object larger than
	// ChunkSize at once, each into a buffer of ChunkSize bytes, so memory
	// grows by Concurrency × ChunkSize. One S3 connection carries far less
	// than a job can check, so reading several ranges at once cuts the
	// time a large object takes. 1 reads the object as one stream. Zero
	// means 4; at most MaxConcurrency.
	Concurrency int
	// ChunkSize is the size of each ranged GET when Concurrency is above
	// one, from 64 KiB to 1 GiB. Zero means 8 MiB.
	ChunkSize int64
}

// Check reports options out of range: a negative count or duration, a
// Concurrency above MaxConcurrency, or a ChunkSize out of its range.
func (o ReaderOptions) Check() error {
	switch {
	case o.Concurrency > MaxConcurrency:
		return fmt.Errorf("read concurrency %d is above the maximum of %d", o.Concurrency, MaxConcurrency)
	case o.ChunkSize != 0 && (o.ChunkSize < minChunkSize || o.ChunkSize > maxChunkSize):
		return fmt.Errorf("chunk size %d is outside %d (64 KiB) to %d (1 GiB)", o.ChunkSize, minChunkSize, maxChunkSize)
	case o.Attempts < 0 || o.Backoff < 0 || o.StallTimeout < 0 || o.Concurrency < 0:
		return errors.New("read attempts, backoff, stall timeout and concurrency must not be negative")
	}
	return nil
}

// ObjectReader streams an S3 object. When the response body breaks part
// way (a reset connection, an unexpected EOF, a body shorter than its
// Content-Length), it reopens the object at the next unread byte with a
// ranged GET pinned to the first response's ETag, so a replaced object is
// reported with ErrSourceChanged rather than silently mixed in.
//
// An object larger than ReaderOptions.ChunkSize is fetched in ranges of
// that size, up to ReaderOptions.Concurrency at once, each into a buffer
// of its own and resumed alone when it breaks; Read hands their bytes over
// in order as they arrive. A smaller object, or any object with a
// Concurrency of 1, is read as one stream straight into the caller's
// slice. When the first response carries a full-object checksum (CRC32,
// CRC32C, CRC64NVME, SHA1 or SHA256), the reader checks every byte it
// returned against it at the end, across any resumes and ranges.
//
// An ObjectReader is not safe for concurrent use.
type ObjectReader struct {
	ctx    context.Context
	cancel context.CancelFunc // ends ctx, and so every request, on Close
	api    GetObjectAPI
	bucket string
	key    string
	opt    ReaderOptions

	size int64  // from the first response; -1 if unknown
	etag string // from the first response

	ahead   *readAhead    // fetches the object's chunks when set; body is then unused
	body    io.ReadCloser // nil between a break and the reopen
	offset  int64         // bytes returned to the caller so far
	resumes int           // successful reopens
	fails   int           // reopen attempts since the last progress
	broke   error         // why the body was last dropped

	sum     hash.Hash // running checksum of the returned bytes, or nil
	sumAlg  string
	sumWant string

	err error // sticky: io.EOF or the error that ended the read
}

// NewObjectReader opens s3://bucket/key with a first GET, so a missing
// object or a denied request is reported here rather than on the first
// Read. ctx governs this GET and every later Read, reopen and range.
func NewObjectReader(ctx context.Context, api GetObjectAPI, bucket, key string, opt ReaderOptions) (*ObjectReader, error) {
	if api == nil {
		return nil, fmt.Errorf("read s3://%s/%s: no S3 client", bucket, key)
	}
	if bucket == "" || key == "" {
		return nil, fmt.Errorf("read s3://%s/%s: bucket and key must not be empty", bucket, key)
	}
	if err := opt.Check(); err != nil {
		return nil, fmt.Errorf("read s3://%s/%s: %w: %w", bucket, key, ErrInvalidJob, err)
	}
	if opt.Attempts == 0 {
		opt.Attempts = defaultReadAttempts
	}
	if opt.Backoff == 0 {
		opt.Backoff = defaultReadBackoff
	}
	if opt.StallTimeout == 0 {
		opt.StallTimeout = defaultStallTimeout
	}
	if opt.Concurrency == 0 {
		opt.Concurrency = defaultReadAhead
	}
	if opt.ChunkSize == 0 {
		opt.ChunkSize = defaultChunkSize
	}
	r := &ObjectReader{api: api, bucket: bucket, key: key, opt: opt, size: -1}
	// Close cancels every request the reader made, so that no fetch of a
	// range outlives it.
	r.ctx, r.cancel = context.WithCancel(ctx)

	// Ask for the object's stored checksum. The SDK then validates the body
	// when it is read whole in one response, and the reader validates the
	// bytes it returns when the body had to be resumed.
	in := &s3.GetObjectInput{
		Bucket:       aws.String(bucket),
		Key:          aws.String(key),
		VersionId:    r.versionID(),
		ChecksumMode: types.ChecksumModeEnabled,
	}
	out, err := api.GetObject(r.ctx, in, r.watchStalls)
	if err != nil {
		r.cancel()
		switch {
		case ctx.Err() != nil:
			// Stopped while waiting for the answer: say why the job
			// stopped, not that the source failed.
			return nil, fmt.Errorf("get %s: stopped before the first byte: %w", r.name(), context.Cause(ctx))
		case isNotFound(err):
			return nil, fmt.Errorf("get %s: %w: %w", r.name(), ErrSourceNotFound, err)
		case r.versionID() != nil && httpStatus(err) == http.StatusMethodNotAllowed:
			// S3's answer for a version that is a delete marker.
			return nil, fmt.Errorf("get %s: %w: the version is a delete marker: %w", r.name(), ErrSourceNotFound, err)
		case errorCode(err) == "InvalidObjectState":
			// A 403 too, but no permission is missing: the object is in
			// an archive storage class, and only a restore will do.
			return nil, fmt.Errorf("get %s: %w: the object is archived and must be restored before it can be read: %w", r.name(), ErrInvalidJob, err)
		case isForbidden(err):
			return nil, fmt.Errorf("get %s: %w: %w", r.name(), ErrAccessDenied, err)
		case errorCode(err) == "InvalidArgument" || refusedName(err):
			// Such as a malformed version id or bucket name: the request,
			// not S3, is wrong.
			return nil, fmt.Errorf("get %s: %w: %w", r.name(), ErrInvalidJob, err)
		case errorCode(err) == "InvalidRequest":
			// S3's answer, for one, to a GET of an object stored with a
			// customer-provided key: no retry will change it.
			return nil, fmt.Errorf("get %s: %w: S3 refused the request as invalid (as it does for an object encrypted with a customer-provided key, SSE-C): %w", r.name(), ErrInvalidJob, err)
		}
		return nil, fmt.Errorf("get %s: %w: %w", r.name(), ErrSourceRead, err)
	}
	if out.Body == nil {
		r.cancel()
		return nil, fmt.Errorf("get %s: response has no body", r.name())
	}
	r.body = out.Body
	if out.ContentLength != nil && *out.ContentLength >= 0 {
		r.size = *out.ContentLength
	}
	r.etag = aws.ToString(out.ETag)
	r.sumAlg, r.sumWant, r.sum = fullChecksum(out)
	if opt.Concurrency > 1 && r.size > opt.ChunkSize && r.etag != "" {
		// The first response's body becomes the first chunk.
		r.ahead = newReadAhead(r, r.body)
		r.body = nil
	}
	return r, nil
}

// Size returns the object's size from the first response's Content-Length,
// or -1 if the response did not give one.
func (r *ObjectReader) Size() int64 { return r.size }

// ETag returns the object's ETag from the first response. Every resumed
// read is pinned to it.
func (r *ObjectReader) ETag() string { return r.etag }

// checkDrainWait is how long Unchanged waits for the byte it asked for
// once the answer's headers, which tell all it needs, have come: long
// enough for a byte sent with its headers, short beside a job. A byte
// later than that is left, and its connection closed with the body.
const checkDrainWait = 250 * time.Millisecond

// Unchanged asks S3 whether the object is still the one read, by its ETag,
// and reports ErrSourceChanged when it was replaced or deleted since. A job
// asks before publishing its outputs, which are named after the source:
// an older version's job finishing after a newer one's must not overwrite
// its output. A named version never changes.
func (r *ObjectReader) Unchanged(ctx context.Context) error {
	if r.opt.VersionID != "" || r.etag == "" {
		return nil
	}
	in := &s3.GetObjectInput{Bucket: aws.String(r.bucket), Key: aws.String(r.key), IfMatch: aws.String(r.etag)}
	if r.size != 0 {
		in.Range = aws.String("bytes=0-0") // one byte is enough to compare ETags
	}
	getCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	out, err := r.api.GetObject(getCtx, in, noRangeChecksum, r.watchStalls)
	switch {
	case err == nil:
		if out.Body != nil {
			// Read the byte asked for: a body closed before its end
			// closes its connection, and the outputs' requests, which
			// come next, would open one again (a TLS handshake). A
			// server that ignored the Range, or did not say how much it
			// sends, is not read, nor one whose byte is late: the
			// headers told all the look needs.
			if n := out.ContentLength; n != nil && *n >= 0 && *n <= 1 {
				late := time.AfterFunc(checkDrainWait, cancel)
				_, _ = io.Copy(io.Discard, out.Body)
				late.Stop()
			}
			out.Body.Close()
		}
		// A server that ignores If-Match answers for whatever object is
		// there now: its ETag tells, as it does for a resumed read.
		if etag := aws.ToString(out.ETag); etag != "" && etag != r.etag {
			return fmt.Errorf("check %s: %w: it was replaced while being read (ETag is now %s, was %s)", r.name(), ErrSourceChanged, etag, r.etag)
		}
		return nil
	case ctx.Err() != nil:
		// Say why the job stopped, not that the source failed.
		return fmt.Errorf("check %s is unchanged: stopped: %w", r.name(), context.Cause(ctx))
	case isPreconditionFailed(err):
		return fmt.Errorf("check %s: %w: it was replaced while being read (no longer ETag %s)", r.name(), ErrSourceChanged, r.etag)
	case isNotFound(err):
		return fmt.Errorf("check %s: %w: it was deleted while being read", r.name(), ErrSourceChanged)
	}
	return fmt.Errorf("check %s is unchanged: %w: %w", r.name(), ErrSourceRead, err)
}

// Resumes returns how many times a body was reopened after it broke: the
// object's, or a range's, including ranges fetched but not yet read.
func (r *ObjectReader) Resumes() int {
	if r.ahead != nil {
		return r.resumes + r.ahead.resumes()
	}
	return r.resumes
}

// Read reads up to len(p) bytes of the object into p. A broken body is
// reopened transparently; Read fails only when the reopens are exhausted,
// the object changed, the context ends, or the bytes fail their checksum.
func (r *ObjectReader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	if r.ahead != nil {
		return r.readChunks(p)
	}
	for {
		if r.ctx.Err() != nil {
			return 0, r.fail(r.stopped())
		}
		if r.body == nil {
			if err := r.reopen(); err != nil {
				if r.ctx.Err() != nil {
					err = r.stopped()
				}
				return 0, r.fail(err)
			}
		}
		n, err := r.body.Read(p)
		if n > 0 {
			r.offset += int64(n)
			r.fails = 0
			if r.sum != nil {
				r.sum.Write(p[:n])
			}
		}
		if err == nil {
			return n, nil
		}
		if err == io.EOF && (r.size < 0 || r.offset >= r.size) {
			return n, r.finish()
		}

		// The body broke, or ended early.
		r.closeBody()
		if err == io.EOF {
			err = fmt.Errorf("body ended after %d of %d bytes: %w", r.offset, r.size, io.ErrUnexpectedEOF)
		}
		if r.ctx.Err() != nil {
			return n, r.fail(r.stopped())
		}
		if r.size >= 0 && r.offset >= r.size {
			// Every byte arrived but the body still failed, as when the
			// SDK's checksum check does: there is nothing left to re-fetch.
			return n, r.fail(r.errorf("read", err))
		}
		r.broke = err
		if n > 0 {
			return n, nil // reopen on the next Read
		}
	}
}

// Close closes the current response body and ends every range still being
// fetched, waiting for their goroutines to return. Reads after Close fail.
func (r *ObjectReader) Close() error {
	if r.err == nil {
		r.err = fmt.Errorf("read %s: reader is closed", r.name())
	}
	r.cancel()
	if r.ahead != nil {
		r.ahead.stop()
	}
	if r.body == nil {
		return nil
	}
	err := r.body.Close()
	r.body = nil
	if err != nil {
		return fmt.Errorf("close %s: %w", r.name(), err)
	}
	return nil
}

// finish ends a complete read: it checks the length and the checksum and
// makes io.EOF sticky.
func (r *ObjectReader) finish() error {
	r.closeBody()
	if r.size >= 0 && r.offset > r.size {
		return r.fail(r.errorf("read", fmt.Errorf("body is longer than its Content-Length %d", r.size)))
	}
	if r.sum != nil {
		got := base64.StdEncoding.EncodeToString(r.sum.Sum(nil))
		if got != r.sumWant {
			return r.fail(r.errorf("read", fmt.Errorf("%s checksum mismatch after %d resumes: object has %s, bytes read give %s",
				r.sumAlg, r.resumes, r.sumWant, got)))
		}
	}
	r.err = io.EOF
	return io.EOF
}

// reopen fetches the rest of the object, from r.offset, with reopenRange.
func (r *ObjectReader) reopen() error {
	if r.etag == "" {
		return r.errorf("resume", fmt.Errorf("the first response had no ETag to pin the object to: %w", r.broke))
	}
	body, err := r.reopenRange(r.offset, -1, &r.fails, r.broke)
	if err != nil {
		return r.errorf("resume", err)
	}
	r.body = body
	r.resumes++
	return nil
}

// reopenRange asks again, after broke, for the bytes from offset to end (to
// the object's end when end is negative) with a ranged GET pinned to the
// first ETag. It waits before each attempt, counting them in *fails, and
// gives up once *fails reaches opt.Attempts, when the object changed, or
// when another attempt could not help.
func (r *ObjectReader) reopenRange(offset, end int64, fails *int, broke error) (io.ReadCloser, error) {
	for {
		if *fails >= r.opt.Attempts {
			return nil, fmt.Errorf("gave up after %d attempts to reopen: %w", *fails, broke)
		}
		*fails++
		if err := r.sleep(*fails); err != nil {
			return nil, err
		}
		body, err := r.get(offset, end)
		if err == nil {
			return body, nil
		}
		if cerr := r.ctx.Err(); cerr != nil {
			return nil, cerr
		}
		if errors.Is(err, ErrSourceChanged) || permanent(err) {
			return nil, err
		}
		broke = err
	}
}

// get sends one ranged GET for the bytes from offset to end, or to the
// object's end when end is negative, and checks that the answer is that
// range of the same object.
func (r *ObjectReader) get(offset, end int64) (io.ReadCloser, error) {
	rng := "bytes=" + strconv.FormatInt(offset, 10) + "-"
	if end >= 0 {
		rng += strconv.FormatInt(end-1, 10)
	}
	out, err := r.api.GetObject(r.ctx, &s3.GetObjectInput{
		Bucket:    aws.String(r.bucket),
		Key:       aws.String(r.key),
		VersionId: r.versionID(),
		Range:     aws.String(rng),
		IfMatch:   aws.String(r.etag),
	}, noRangeChecksum, r.watchStalls)
	if err != nil {
		switch {
		case isPreconditionFailed(err):
			return nil, fmt.Errorf("%w: it no longer has ETag %s: %w", ErrSourceChanged, r.etag, err)
		case isNotFound(err):
			return nil, fmt.Errorf("%w: it was deleted: %w", ErrSourceChanged, err)
		}
		return nil, fmt.Errorf("GET %s: %w", rng, err)
	}
	if out.Body == nil {
		return nil, fmt.Errorf("GET %s: response has no body", rng)
	}
	if etag := aws.ToString(out.ETag); etag != "" && etag != r.etag {
		out.Body.Close()
		return nil, fmt.Errorf("%w: ETag is now %s, was %s", ErrSourceChanged, etag, r.etag)
	}
	start, total, ok := parseContentRange(aws.ToString(out.ContentRange))
	if !ok || start != offset || (r.size >= 0 && total >= 0 && total != r.size) {
		out.Body.Close()
		return nil, &permanentError{fmt.Errorf("GET %s: answered with Content-Range %q", rng, aws.ToString(out.ContentRange))}
	}
	return out.Body, nil
}

// watchStalls adds stallWatch to a GET's middleware stack.
func (r *ObjectReader) watchStalls(o *s3.Options) {
	o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
		return st.Finalize.Add(stallWatch{timeout: r.opt.StallTimeout}, middleware.After)
	})
}

// stallWatch ends a GET attempt that waits timeout for its response, with a
// stallError the S3 client retries as it does a broken connection, and
// watches each Read of the body the same way (a stalled body is reopened
// by the ObjectReader). It runs once per attempt, after the client's retry
// middleware, so that the client's waits between attempts do not count.
type stallWatch struct{ timeout time.Duration }

func (stallWatch) ID() string { return "csvstream.StallWatch" }

func (w stallWatch) HandleFinalize(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	timer := time.AfterFunc(w.timeout, func() { cancel(errStalled) })
	out, md, err := next.HandleFinalize(ctx, in)
	timer.Stop()
	if err != nil {
		if context.Cause(ctx) == errStalled {
			err = &stallError{timeout: w.timeout, detail: err.Error()}
		}
		cancel(nil)
		return out, md, err
	}
	if res, ok := out.Result.(*s3.GetObjectOutput); ok && res.Body != nil {
		res.Body = &watchedBody{body: res.Body, ctx: ctx, cancel: cancel, timer: timer, timeout: w.timeout}
	} else {
		cancel(nil)
	}
	return out, md, err
}

// stallError reports a request or a body that sent nothing for timeout.
// It keeps the cancelled context's error out of its chain, which would read
// as the job's end and which the S3 client would not retry.
type stallError struct {
	timeout time.Duration
	detail  string
}

func (e *stallError) Error() string {
	return fmt.Sprintf("%v for %v (%s)", errStalled, e.timeout, e.detail)
}

func (e *stallError) Is(target error) bool { return target == errStalled }

// RetryableError tells the S3 client to try the request again.
func (e *stallError) RetryableError() bool { return true }

// watchedBody is a response body whose request is cancelled when a Read
// waits longer than timeout. Only the time inside Read counts, so a slow
// consumer does not look like a stalled connection.
type watchedBody struct {
	body    io.ReadCloser
	ctx     context.Context
	cancel  context.CancelCauseFunc
	timer   *time.Timer
	timeout time.Duration
}

func (b *watchedBody) Read(p []byte) (int, error) {
	b.timer.Reset(b.timeout)
	n, err := b.body.Read(p)
	b.timer.Stop()
	if err != nil && err != io.EOF && context.Cause(b.ctx) == errStalled {
		err = &stallError{timeout: b.timeout, detail: err.Error()}
	}
	return n, err
}

func (b *watchedBody) Close() error {
	b.timer.Stop()
	err := b.body.Close()
	b.cancel(nil)
	return err
}

// noRangeChecksum turns off response checksum validation for a resumed,
// ranged GET. S3 has no checksum for an arbitrary range (it sends none), and
// a server that sent the full object's checksum would make the SDK fail the
// range at its end; the reader checks the whole object itself instead.
func noRangeChecksum(o *s3.Options) {
	o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
}

// sleep waits before reopen attempt n (1-based): opt.Backoff doubled for
// each earlier attempt, capped at maxReadBackoff, less up to half of it at
// random, so that many readers do not retry in step.
func (r *ObjectReader) sleep(n int) error {
	d := r.opt.Backoff
	for i := 1; i < n && d < maxReadBackoff; i++ {
		d *= 2
	}
	d = min(d, maxReadBackoff)
	d -= time.Duration(rand.Int64N(int64(d)/2 + 1))
	if !wait(r.ctx, d) {
		return r.ctx.Err()
	}
	return nil
}

func (r *ObjectReader) closeBody() {
	if r.body != nil {
		r.body.Close()
		r.body = nil
	}
}

func (r *ObjectReader) fail(err error) error {
	r.closeBody()
	if r.ahead != nil {
		r.ahead.stop()
	}
	r.err = err
	return err
}

func (r *ObjectReader) name() string {
	if r.opt.VersionID != "" {
		return "s3://" + r.bucket + "/" + r.key + " (version " + r.opt.VersionID + ")"
	}
	return "s3://" + r.bucket + "/" + r.key
}

// versionID returns the version to read, or nil for the latest.
func (r *ObjectReader) versionID() *string {
	if r.opt.VersionID == "" {
		return nil
	}
	return aws.String(r.opt.VersionID)
}

func (r *ObjectReader) errorf(op string, err error) error {
	return fmt.Errorf("%s %s at offset %d: %w", op, r.name(), r.offset, err)
}

// stopped is the error of a read that the end of the reader's context
// stopped: it says why the context ended.
func (r *ObjectReader) stopped() error {
	return r.errorf("read", fmt.Errorf("stopped: %w", context.Cause(r.ctx)))
}

// permanentError marks a reopen failure that another attempt cannot fix.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// permanent reports whether a failed reopen should not be retried: a
// client error such as AccessDenied or InvalidRange, as opposed to a
// throttle, a timeout, a server error or a broken connection. S3 sends
// its RequestTimeout (the connection idled while sending) with status
// 400, so it is known by its code.
func permanent(err error) bool {
	var pe *permanentError
	if errors.As(err, &pe) {
		return true
	}
	switch status := httpStatus(err); {
	case status == http.StatusRequestTimeout, status == http.StatusTooManyRequests,
		errorCode(err) == "RequestTimeout":
		return false
	case status >= 400 && status < 500:
		return true
	}
	return false
}

func isNotFound(err error) bool {
	switch errorCode(err) {
	case "NoSuchKey", "NoSuchVersion", "NotFound", "NoSuchBucket":
		return true
	}
	return httpStatus(err) == http.StatusNotFound
}

// isForbidden reports whether S3 refused the request with 403 Forbidden.
func isForbidden(err error) bool { return httpStatus(err) == http.StatusForbidden }

func isPreconditionFailed(err error) bool {
	return errorCode(err) == "PreconditionFailed" || httpStatus(err) == http.StatusPreconditionFailed
}

// errorCode returns the S3 error code in err, such as "NoSuchKey", or "".
func errorCode(err error) string {
	var ae interface{ ErrorCode() string }
	if !notFromS3(err) && errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// httpStatus returns the HTTP status code of S3's response behind err, or
// 0.
func httpStatus(err error) int {
	var he interface{ HTTPStatusCode() int }
	if !notFromS3(err) && errors.As(err, &he) {
		return he.HTTPStatusCode()
	}
	return 0
}

// notFromS3 reports whether err is the failure of a request to another
// service made on the way to S3, such as the instance metadata service or
// STS while getting credentials. Their statuses are not S3's: the
// metadata service's 404 means no role, not that the object is missing.
func notFromS3(err error) bool {
	var oe *smithy.OperationError
	for errors.As(err, &oe) {
		if oe.Service() != s3.ServiceID {
			return true
		}
		err = oe.Err
	}
	return false
}

// parseContentRange parses "bytes start-end/total"; total is -1 for "*".
func parseContentRange(s string) (start, total int64, ok bool) {
	rest, found := strings.CutPrefix(s, "bytes ")
	if !found {
		return 0, 0, false
	}
	span, size, found := strings.Cut(rest, "/")
	if !found {
		return 0, 0, false
	}
	first, _, found := strings.Cut(span, "-")
	if !found {
		return 0, 0, false
	}
	start, err := strconv.ParseInt(first, 10, 64)
	if err != nil || start < 0 {
		return 0, 0, false
	}
	if size == "*" {
		return start, -1, true
	}
	total, err = strconv.ParseInt(size, 10, 64)
	if err != nil || total < 0 {
		return 0, 0, false
	}
	return start, total, true
}

// fullChecksum picks the cheapest full-object checksum the response carries
// and returns its algorithm, its base64 value and a hash to compute it, or
// a nil hash when there is none. Composite checksums of multipart objects
// ("value-N") cover parts, not the object, and are skipped.
func fullChecksum(out *s3.GetObjectOutput) (alg, want string, h hash.Hash) {
	if out.ChecksumType == types.ChecksumTypeComposite {
		return "", "", nil
	}
	candidates := []struct {
		alg   string
		value *string
		hash  func() hash.Hash
	}{
		{"CRC32C", out.ChecksumCRC32C, func() hash.Hash { return crc32.New(crc32.MakeTable(crc32.Castagnoli)) }},
		{"CRC32", out.ChecksumCRC32, func() hash.Hash { return crc32.NewIEEE() }},
		{"CRC64NVME", out.ChecksumCRC64NVME, func() hash.Hash { return crc64.New(crc64.MakeTable(nvmePoly)) }},
		{"SHA1", out.ChecksumSHA1, sha1.New},
		{"SHA256", out.ChecksumSHA256, sha256.New},
	}
	for _, c := range candidates {
		v := aws.ToString(c.value)
		if v == "" || strings.Contains(v, "-") {
			continue
		}
		return c.alg, v, c.hash()
	}
	return "", "", nil
}
