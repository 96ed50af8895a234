package csvstream

import (
	"errors"
	"fmt"
)

// Kinds of job failure. Errors returned by Run wrap one of these,
// ErrSourceNotFound or ErrSourceChanged, or a *HeaderError, so callers can
// tell them apart with errors.Is and errors.As and map them to exit codes
// or Step Functions error names. A job stopped by its context wraps the
// context's cause (context.Canceled or DeadlineExceeded, or the cause it
// was given) instead.
var (
	// ErrInvalidJob marks a job whose options are wrong before any work starts.
	ErrInvalidJob = errors.New("invalid job")
	// ErrSchema marks a schema that cannot be loaded or parsed.
	ErrSchema = errors.New("schema error")
	// ErrTooManyRejects marks a job stopped by its reject limits.
	ErrTooManyRejects = errors.New("too many rejected rows")
	// ErrUploadFailed marks a failure to write an output.
	ErrUploadFailed = errors.New("output write failed")
	// ErrSourceRead marks a source that could not be opened or read for a
	// reason that may pass: S3 errors that outlasted the retries, a broken
	// connection. A missing source is ErrSourceNotFound instead, and a
	// refused request ErrAccessDenied.
	ErrSourceRead = errors.New("source read failed")
	// ErrAccessDenied marks a request S3 refused with 403 Forbidden (such as
	// AccessDenied, a KMS key the caller may not use, or a bad signature),
	// or a local file the process may not open. Retrying does not help;
	// the credentials or permissions must change.
	ErrAccessDenied = errors.New("access denied")
)

// markDenied wraps err with ErrAccessDenied when S3 refused one of its
// requests with 403 Forbidden, unless it already says so.
func markDenied(err error) error {
	if err != nil && isForbidden(err) && !errors.Is(err, ErrAccessDenied) {
		return fmt.Errorf("%w: %w", ErrAccessDenied, err)
	}
	return err
}

// markRefused is markDenied that also wraps with ErrInvalidJob an error
// from S3 refusing the names in a request (see refusedName), which no
// retry changes either, unless it already says what it is.
func markRefused(err error) error {
	if err != nil && !isForbidden(err) && refusedName(err) &&
		!errors.Is(err, ErrInvalidJob) && !errors.Is(err, ErrSourceNotFound) && !errors.Is(err, ErrSourceChanged) {
		return fmt.Errorf("%w: %w", ErrInvalidJob, err)
	}
	return markDenied(err)
}

// maxKeyLen is the most bytes an S3 object key may have.
const maxKeyLen = 1024

// refusedName reports whether S3 refused a request for a name in it: a
// bucket that does not exist or cannot, or that lies in another region than
// the client's (301 PermanentRedirect, which the SDK does not follow), or a
// key that is too long. No retry changes such an answer.
func refusedName(err error) bool {
	switch errorCode(err) {
	case "NoSuchBucket", "InvalidBucketName", "KeyTooLongError", "PermanentRedirect":
		return true
	}
	return false
}
