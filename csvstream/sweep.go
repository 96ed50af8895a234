package csvstream

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// DefaultSweepAge is how old a multipart upload must be before Sweep aborts
// it when SweepOptions.OlderThan is zero. It is far longer than any job can
// run, so an upload still in progress is never swept.
const DefaultSweepAge = 24 * time.Hour

// defaultSweepAttemptTimeout is SweepOptions.AttemptTimeout's default,
// and sweepAttempts how many times a request that timed out is sent in
// all.
const (
	defaultSweepAttemptTimeout = time.Minute
	sweepAttempts              = 3
)

// maxSweepErrors is the most failed aborts a Sweep error spells out; the
// rest are counted, so that a role denied every abort still gets an error
// short enough to log.
const maxSweepErrors = 10

// SweepAPI is the part of the S3 client Sweep uses.
type SweepAPI interface {
	ListMultipartUploads(ctx context.Context, in *s3.ListMultipartUploadsInput, optFns ...func(*s3.Options)) (*s3.ListMultipartUploadsOutput, error)
	AbortMultipartUpload(ctx context.Context, in *s3.AbortMultipartUploadInput, optFns ...func(*s3.Options)) (*s3.AbortMultipartUploadOutput, error)
}

// SweepOptions configures Sweep. The zero value aborts uploads older than
// DefaultSweepAge.
type SweepOptions struct {
	// OlderThan is the age, measured from the upload's initiation, beyond
	// which an upload is aborted. Zero means DefaultSweepAge.
	OlderThan time.Duration
	// DryRun lists the uploads that would be aborted without aborting them.
	DryRun bool
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// AttemptTimeout bounds one attempt of a List or Abort request, the
	// S3 client's own retries included, as the client has no timeout of
	// its own: a request on a connection that stopped answering is sent
	// again, up to three times in all. Zero means one minute.
	AttemptTimeout time.Duration
}

// SweptUpload is one multipart upload Sweep aborted, or would abort.
type SweptUpload struct {
	Key       string    `json:"key"`       // the object the upload was writing
	UploadID  string    `json:"upload_id"` // the multipart upload's id
	Initiated time.Time `json:"initiated"` // when the upload was created
}

// SweepResult reports what one Sweep did under one prefix.
type SweepResult struct {
	Bucket string    `json:"bucket"`  // the bucket swept
	Prefix string    `json:"prefix"`  // the key prefix swept; empty for the whole bucket
	Cutoff time.Time `json:"cutoff"`  // uploads initiated before this were swept
	DryRun bool      `json:"dry_run"` // uploads were listed, not aborted
	// Seen counts the uploads listed under the prefix, up to the one a
	// stopped sweep stopped at.
	Seen int `json:"seen"`
	// Aborted lists the uploads aborted (with DryRun, those that would be).
	Aborted []SweptUpload `json:"aborted"`
	// Kept counts the uploads left alone: younger than the cutoff, with no
	// initiation time, or already gone when the abort was sent.
	Kept int `json:"kept"`
	// Failed counts the uploads whose abort failed. Seen is the sum of
	// Failed, Kept and the length of Aborted.
	Failed int `json:"failed"`
}

// Sweep aborts the multipart uploads under s3://bucket/prefix that were
// initiated more than opt.OlderThan ago. Uploads abandoned by a process
// that was killed before it could abort them still hold storage, billed,
// until someone aborts them; Sweep is that someone.
//
// Sweep goes on past an abort that fails and reports the failures, joined
// (the first ten, and how many more), along with the result of the rest.
// An upload that is already gone (completed or aborted meanwhile) is
// counted as kept, not as a failure, unless an earlier request of the
// same abort got no answer: S3 most likely carried that one out, so the
// upload counts as aborted.
func Sweep(ctx context.Context, api SweepAPI, bucket, prefix string, opt SweepOptions) (SweepResult, error) {
	res := SweepResult{Bucket: bucket, Prefix: prefix, DryRun: opt.DryRun, Aborted: []SweptUpload{}}
	if api == nil {
		return res, fmt.Errorf("sweep s3://%s/%s: no S3 client", bucket, prefix)
	}
	if bucket == "" {
		return res, fmt.Errorf("sweep s3://%s/%s: no bucket", bucket, prefix)
	}
	if opt.OlderThan < 0 {
		return res, fmt.Errorf("sweep s3://%s/%s: age %v is negative", bucket, prefix, opt.OlderThan)
	}
	if opt.AttemptTimeout < 0 {
		return res, fmt.Errorf("sweep s3://%s/%s: attempt timeout %v is negative", bucket, prefix, opt.AttemptTimeout)
	}
	if opt.AttemptTimeout == 0 {
		opt.AttemptTimeout = defaultSweepAttemptTimeout
	}
	if opt.OlderThan == 0 {
		opt.OlderThan = DefaultSweepAge
	}
	now := time.Now
	if opt.Now != nil {
		now = opt.Now
	}
	res.Cutoff = now().Add(-opt.OlderThan).UTC()

	var errs []error
	failed := func(err error) { // one upload not aborted
		res.Failed++
		if res.Failed <= maxSweepErrors {
			errs = append(errs, err)
		}
	}
	finish := func() (SweepResult, error) {
		if n := res.Failed - maxSweepErrors; n > 0 {
			errs = append(errs, fmt.Errorf("sweep s3://%s/%s: %d more aborts failed", bucket, prefix, n))
		}
		if ctx.Err() != nil {
			// The client says only that its context ended: say why first.
			errs = append([]error{fmt.Errorf("sweep s3://%s/%s: stopped: %w", bucket, prefix, context.Cause(ctx))}, errs...)
		}
		return res, markDenied(errors.Join(errs...))
	}
	// Keys are asked for URL-encoded: XML 1.0 cannot carry some control
	// characters a key may hold, and S3 would send a page that the client
	// cannot read, or a key that is not the upload's.
	in := &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket), EncodingType: types.EncodingTypeUrl}
	if prefix != "" {
		in.Prefix = aws.String(prefix)
	}
	for page := 1; ; page++ {
		var out *s3.ListMultipartUploadsOutput
		err := sweepCall(ctx, opt.AttemptTimeout, func(ctx context.Context) (err error) {
			out, err = api.ListMultipartUploads(ctx, in, retryCutAnswer)
			return err
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("sweep s3://%s/%s: list multipart uploads (page %d): %w", bucket, prefix, page, err))
			break
		}
		for _, u := range out.Uploads {
			res.Seen++
			id := aws.ToString(u.UploadId)
			if u.Initiated == nil || !u.Initiated.Before(res.Cutoff) || id == "" {
				res.Kept++
				continue
			}
			key, err := listedKey(out.EncodingType, u.Key)
			if err != nil {
				failed(fmt.Errorf("sweep: upload %s under s3://%s/%s: %w", id, bucket, prefix, err))
				continue
			}
			swept := SweptUpload{Key: key, UploadID: id, Initiated: u.Initiated.UTC()}
			if !opt.DryRun {
				var watch callWatch
				err := sweepCall(ctx, opt.AttemptTimeout, func(ctx context.Context) error {
					_, err := api.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{
						Bucket: aws.String(bucket), Key: aws.String(key), UploadId: aws.String(id),
					}, watch.option)
					return err
				})
				switch {
				case isNoSuchUpload(err) && watch.unanswered.Load():
					// An earlier request got no answer: S3 most likely
					// aborted the upload then, and the next found it gone.
					err = nil
				case isNoSuchUpload(err):
					res.Kept++
					continue
				}
				if err != nil {
					failed(fmt.Errorf("sweep: abort upload %s of s3://%s/%s: %w", id, bucket, key, err))
					if ctx.Err() != nil {
						return finish()
					}
					continue
				}
			}
			res.Aborted = append(res.Aborted, swept)
		}
		if !aws.ToBool(out.IsTruncated) {
			break
		}
		nextKey, err := listedKey(out.EncodingType, out.NextKeyMarker)
		if err != nil {
			errs = append(errs, fmt.Errorf("sweep s3://%s/%s: listing page %d: next key marker: %w", bucket, prefix, page, err))
			break
		}
		nextID := aws.ToString(out.NextUploadIdMarker)
		if nextKey == aws.ToString(in.KeyMarker) && nextID == aws.ToString(in.UploadIdMarker) {
			errs = append(errs, fmt.Errorf("sweep s3://%s/%s: listing page %d is truncated but its markers do not advance", bucket, prefix, page))
			break
		}
		in.KeyMarker, in.UploadIdMarker = aws.String(nextKey), aws.String(nextID)
	}
	return finish()
}

// sweepCall makes one request through do, giving each attempt timeout,
// and sends it again when an attempt times out, up to sweepAttempts in
// all.
func sweepCall(ctx context.Context, timeout time.Duration, do func(context.Context) error) error {
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithTimeoutCause(ctx, timeout, errAttemptTimeout)
		err := do(actx)
		timedOut := context.Cause(actx) == errAttemptTimeout && ctx.Err() == nil
		cancel()
		if err == nil || !timedOut {
			return err // an answer that came as the attempt ran out counts
		}
		if attempt == sweepAttempts {
			// err wraps the attempt's DeadlineExceeded, which would read
			// as the sweep running out of time.
			return fmt.Errorf("timed out %d times after %v (%v)", attempt, timeout, err)
		}
	}
}

// listedKey returns a key as a listing gave it, URL-decoded when the
// listing says it encoded keys (S3 does when asked; some servers do not).
func listedKey(enc types.EncodingType, key *string) (string, error) {
	k := aws.ToString(key)
	if enc != types.EncodingTypeUrl {
		return k, nil
	}
	d, err := url.QueryUnescape(k)
	if err != nil {
		return "", fmt.Errorf("key %q is not URL-encoded as the listing says: %w", k, err)
	}
	return d, nil
}

// isNoSuchUpload reports whether err says the upload no longer exists.
func isNoSuchUpload(err error) bool {
	return err != nil && (errorCode(err) == "NoSuchUpload" || httpStatus(err) == 404)
}

// ParsePrefix parses "s3://bucket/prefix" into its bucket and key prefix,
// which may be empty ("s3://bucket" or "s3://bucket/" name the whole
// bucket). Sweep and the Lambda handler's output settings name places
// this way.
func ParsePrefix(s string) (bucket, prefix string, err error) {
	rest, ok := strings.CutPrefix(s, "s3://")
	if !ok {
		return "", "", fmt.Errorf("prefix %q: want s3://bucket/prefix", s)
	}
	bucket, prefix, _ = strings.Cut(rest, "/")
	if bucket == "" {
		return "", "", fmt.Errorf("prefix %q: missing bucket: want s3://bucket/prefix", s)
	}
	return bucket, prefix, nil
}
