package csvstream

import "errors"

// Kinds of job failure. Errors returned by Run wrap one of these (or a
// *HeaderError) so callers can tell them apart with errors.Is and errors.As
// and map them to exit codes or Step Functions error names.
var (
	// ErrInvalidJob marks a job whose options are wrong before any work starts.
	ErrInvalidJob = errors.New("invalid job")
	// ErrSchema marks a schema that cannot be loaded or parsed.
	ErrSchema = errors.New("schema error")
	// ErrTooManyRejects marks a job stopped by its reject limits.
	ErrTooManyRejects = errors.New("too many rejected rows")
	// ErrUploadFailed marks a failure to write an output.
	ErrUploadFailed = errors.New("upload failed")
	// ErrSourceRead marks a failure to read the source after it was opened.
	ErrSourceRead = errors.New("source read failed")
)
