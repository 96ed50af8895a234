package csvstream

// Error codes written to the rejects output. They follow the Frictionless
// validation codes where one exists.
const (
	CodeTypeError       = "type-error"       // a value is not of the field's type or format
	CodeConstraintError = "constraint-error" // a value breaks a field constraint
	CodeExtraCell       = "extra-cell"       // more fields than the header
	CodeMissingCell     = "missing-cell"     // fewer fields than the header
	CodeBlankRow        = "blank-row"        // every field is empty
	CodeUniqueError     = "unique-error"     // a unique field repeats a value
	CodePrimaryKeyError = "primary-key"      // the primary key repeats
	CodeEncodingError   = "encoding-error"   // the record is not valid UTF-8
	CodeRecordTooLarge  = "record-too-large" // the record exceeds the size bound
	CodeQuoteError      = "quote-error"      // a quote left open, a bare quote, or text after a closing quote
)
