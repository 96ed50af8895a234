package csvstream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/middleware"
)

// MaxAttempts is how many times the SDK tries one request before giving up
// on throttling and transient errors.
const MaxAttempts = 6

// ClientOptions applies csvstream's S3 client settings: the SDK's adaptive
// retry mode (client-side rate limiting on SlowDown, backoff on transient
// errors) with MaxAttempts tries, which AWS_MAX_ATTEMPTS still overrides,
// and no retry quota; and path-style addressing when
// AWS_S3_FORCE_PATH_STYLE is true. The endpoint itself comes from the
// SDK's standard AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL. The SDK's
// plain-text notes that it skipped validating a response's checksum (of an
// object stored without one, or with a checksum of its parts) are turned
// off, since they would break JSON logs.
func ClientOptions(o *s3.Options) {
	o.Retryer = retry.NewAdaptiveMode(func(ao *retry.AdaptiveModeOptions) {
		ao.StandardOptions = append(ao.StandardOptions, func(so *retry.StandardOptions) {
			so.MaxAttempts = MaxAttempts
			// No retry quota: the client outlives the job in a warm Lambda
			// container, and a quota emptied by one job's throttling would
			// leave the next jobs with no retries at all. Adaptive mode
			// still slows the client's sending when S3 throttles.
			so.RateLimiter = ratelimit.None
		})
	})
	o.DisableLogOutputChecksumValidationSkipped = true
	if v, err := strconv.ParseBool(os.Getenv("AWS_S3_FORCE_PATH_STYLE")); err == nil && v {
		o.UsePathStyle = true
	}
}

// NewS3Client loads the default AWS configuration (environment, shared
// files, or the Lambda role) and returns a client with ClientOptions
// applied, followed by optFns.
func NewS3Client(ctx context.Context, optFns ...func(*s3.Options)) (*s3.Client, error) {
	if v := os.Getenv("AWS_S3_FORCE_PATH_STYLE"); v != "" {
		if _, err := strconv.ParseBool(v); err != nil {
			return nil, fmt.Errorf("AWS_S3_FORCE_PATH_STYLE=%q: want true or false", v)
		}
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration: %w", err)
	}
	return s3.NewFromConfig(cfg, append([]func(*s3.Options){ClientOptions}, optFns...)...), nil
}

// wait waits for d, or until ctx is done, and reports whether d passed.
// The reader and the writer wait with it before trying a request again,
// and a pipe source at its end for a stop on its way.
func wait(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// retryCutAnswer is a call option that has the S3 client send a request
// again when its answer was cut off after the headers, which the client
// otherwise takes as final (it retries a connection broken before them).
// It is for listings, which are safe to repeat (the sweep's, and the
// writer's look for an aborted upload), and for CreateMultipartUpload,
// where failing the job would leave the upload S3 may have created behind
// just the same. An error that says it must not be retried, such as
// noLateRetry's, is not. A retryer that is not an aws.RetryerV2 (the
// SDK's own all are) is left as it is.
func retryCutAnswer(o *s3.Options) {
	if r, ok := o.Retryer.(aws.RetryerV2); ok {
		o.Retryer = cutAnswerRetryer{r}
	}
}

// cutAnswerRetryer is a retryer that also retries answers cut off.
type cutAnswerRetryer struct{ aws.RetryerV2 }

func (r cutAnswerRetryer) IsErrorRetryable(err error) bool {
	retryable := retry.IsErrorRetryables{retry.RetryableError{}, retry.IsErrorRetryableFunc(cutAnswer)}
	if v := retryable.IsErrorRetryable(err); v != aws.UnknownTernary {
		return v.Bool()
	}
	return r.RetryerV2.IsErrorRetryable(err)
}

// cutAnswer says an answer whose body ended before its length is
// retryable.
func cutAnswer(err error) aws.Ternary {
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return aws.TrueTernary
	}
	return aws.UnknownTernary
}

// sendTimeout returns a call option that gives each request the S3 client
// sends d for its answer, the client's waits between requests not
// included: a request on a connection that stopped answering fails with a
// sendTimeoutError, which the client sends again as it does a request
// whose connection broke. It is for calls whose answer is read whole
// within the call, as CreateMultipartUpload's is.
func sendTimeout(d time.Duration) func(*s3.Options) {
	return func(o *s3.Options) {
		o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
			return st.Finalize.Add(middleware.FinalizeMiddlewareFunc("csvstream:sendTimeout",
				func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
					sctx, cancel := context.WithTimeoutCause(ctx, d, errAttemptTimeout)
					defer cancel()
					out, md, err := next.HandleFinalize(sctx, in)
					if err != nil && context.Cause(sctx) == errAttemptTimeout && ctx.Err() == nil {
						err = &sendTimeoutError{d: d, err: err}
					}
					return out, md, err
				}), middleware.After) // last, so that the other steps after Retry see its error
		})
	}
}

// sendTimeoutError is the error of a request that got no answer within
// its time. Its message keeps the S3 client's error, but not in its chain:
// that holds a DeadlineExceeded, which would read as the job running out
// of time.
type sendTimeoutError struct {
	d   time.Duration
	err error
}

func (e *sendTimeoutError) Error() string {
	return fmt.Sprintf("no answer within %v (%v)", e.d.Round(time.Millisecond), e.err)
}

// RetryableError tells the S3 client's retryer to send the request again.
func (e *sendTimeoutError) RetryableError() bool { return true }
