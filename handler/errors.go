package handler

import (
	"context"
	"errors"
	"reflect"
	"strings"

	"github.com/csvstream/csvstream/csvstream"
)

// The handler reports every failure as one of the error types below. The
// Lambda runtime client names a function error after the Go type of the
// error returned (errorType in the error response), so Step Functions can
// match the type names in Retry and Catch clauses: retry UploadFailed,
// SourceReadFailed and SourceChanged; send the others to a human, since
// running the same input again gives the same answer (a Timeout usually
// recurs under the same time limit).
//
// Each wraps its cause (errors.Is and errors.As see through it) and its
// message names the object it is about.

// failure is the part every handler error type shares.
type failure struct {
	// Object names what the error is about, such as s3://bucket/key, or is
	// empty when the error concerns the event as a whole.
	Object string
	// Err is the cause.
	Err error
}

func (f *failure) Error() string {
	msg := "<nil>"
	if f.Err != nil {
		msg = f.Err.Error()
	}
	if f.Object == "" || strings.Contains(msg, f.Object) {
		return msg
	}
	return f.Object + ": " + msg
}

func (f *failure) Unwrap() error { return f.Err }

// SourceNotFound reports a source object or bucket that does not exist.
type SourceNotFound struct{ failure }

// SourceChanged reports a source object that was replaced or deleted while
// it was being read.
type SourceChanged struct{ failure }

// SourceReadFailed reports a source that could not be read to its end, or
// a schema on S3 that could not be read for a passing reason, such as a
// broken connection or a server error.
type SourceReadFailed struct{ failure }

// SchemaError reports a schema that does not exist, cannot be parsed, or
// that S3 refuses to give for good (such as one stored with SSE-C).
type SchemaError struct{ failure }

// HeaderMismatch reports a source whose header does not match the schema.
type HeaderMismatch struct{ failure }

// TooManyRejects reports a job stopped by its reject limit; the rejects
// seen so far are published. A job whose rejects could not be published
// reports what kept them back instead.
type TooManyRejects struct{ failure }

// UploadFailed reports an output that could not be written; nothing of it
// is left behind.
type UploadFailed struct{ failure }

// AccessDenied reports a request S3 refused with 403 Forbidden: the
// function's role may not read the source or write an output there (or use
// the KMS key that protects it), which no retry changes.
type AccessDenied struct{ failure }

// InvalidEvent reports an event the handler cannot act on: an unknown
// shape, a missing or malformed field, or job options that contradict
// each other.
type InvalidEvent struct{ failure }

// RecursionRisk reports a job whose output would land where the function
// reads its input, so that writing it could trigger the function again.
type RecursionRisk struct{ failure }

// Timeout reports a job stopped because the invocation was about to run
// out of time; its uploads were aborted.
type Timeout struct{ failure }

// InternalError reports any other failure.
type InternalError struct{ failure }

// classify maps a job's error to a handler error type. stopped reports
// whether the job's own deadline has passed.
func classify(err error, object string, stopped bool) error {
	f := failure{Object: object, Err: err}
	var header *csvstream.HeaderError
	switch {
	case err == nil:
		return nil
	case isHandlerError(err):
		return err
	case stopped || errors.Is(err, context.DeadlineExceeded):
		return &Timeout{f}
	case errors.Is(err, csvstream.ErrSchema) && !schemaUnread(err): // before SourceNotFound: a missing schema is a schema error
		return &SchemaError{f}
	case errors.Is(err, csvstream.ErrSourceNotFound):
		return &SourceNotFound{f}
	case errors.Is(err, csvstream.ErrSourceChanged):
		return &SourceChanged{f}
	case errors.As(err, &header):
		return &HeaderMismatch{f}
	case errors.Is(err, csvstream.ErrTooManyRejects) && !errors.Is(err, csvstream.ErrUploadFailed) && !errors.Is(err, csvstream.ErrSourceRead):
		// Only when the rejects that say why were published: otherwise
		// the failure that kept them back is what a retry must get past.
		return &TooManyRejects{f}
	case errors.Is(err, csvstream.ErrAccessDenied): // before the failures it causes
		return &AccessDenied{f}
	case errors.Is(err, csvstream.ErrInvalidJob): // such as an output bucket S3 does not have
		return &InvalidEvent{f}
	case errors.Is(err, csvstream.ErrUploadFailed):
		return &UploadFailed{f}
	case errors.Is(err, csvstream.ErrSourceRead):
		return &SourceReadFailed{f}
	}
	return &InternalError{f}
}

// schemaUnread reports whether a schema error is a failure to read the
// schema, for a passing reason or for want of permission: those are named
// as for a source, not blamed on the schema.
func schemaUnread(err error) bool {
	return errors.Is(err, csvstream.ErrSourceRead) || errors.Is(err, csvstream.ErrSourceChanged) ||
		errors.Is(err, csvstream.ErrAccessDenied)
}

// isHandlerError reports whether err is already one of the handler's types.
func isHandlerError(err error) bool {
	switch err.(type) {
	case *SourceNotFound, *SourceChanged, *SourceReadFailed, *SchemaError, *HeaderMismatch,
		*TooManyRejects, *UploadFailed, *AccessDenied, *InvalidEvent, *RecursionRisk, *Timeout, *InternalError:
		return true
	}
	return false
}

// ErrorType returns the name Lambda reports for err: the name of its Go
// type, found the way the runtime client finds it. Errors that are not one
// of the handler's types are reported as InternalError.
func ErrorType(err error) string {
	if err == nil {
		return ""
	}
	if !isHandlerError(err) {
		return "InternalError"
	}
	return reflect.TypeOf(err).Elem().Name()
}

func invalidEvent(err error) error { return &InvalidEvent{failure{Err: err}} }
