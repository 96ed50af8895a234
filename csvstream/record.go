package csvstream

import "encoding/binary"

// Record is one CSV record exactly as it appeared in the input. A Scanner
// owns it: it and every slice it returns are valid only until the next call
// to Scan.
type Record struct {
	// Raw holds the record's bytes, including its line terminator if any.
	// Its capacity ends at its length, so appending to it never overwrites
	// the records after it.
	Raw []byte
	// Line is the physical line (1-based) on which the record starts;
	// line breaks inside quoted fields count.
	Line int64
	// Num is 0 for the header and n for the n-th data record.
	Num int64
	// Err is set when the record is malformed: longer than the size bound,
	// a quote left open, or a quote out of place. Its fields are then
	// undefined, and NumFields may be 0; the record belongs in the rejects.
	Err *ScanError

	raw    []byte // Raw as the Scanner set it, uncapped; reslicing Raw cannot move fields
	fields []span // where each field's value lies
	esc    []byte // values of quoted fields whose doubled quotes were undone
	ascii  bool   // the Scanner saw that raw holds only ASCII bytes
}

// span locates one field value: raw[start:end], or esc[^start:end] when
// start is negative (a quoted value with doubled quotes undone).
type span struct{ start, end int32 }

// NumFields returns the number of fields in the record.
func (r *Record) NumFields() int { return len(r.fields) }

// Field returns the value of field i: the bytes between its quotes with
// doubled quotes undone, or the bytes between delimiters when unquoted.
// It panics if i is not in [0, NumFields()), like indexing a slice. The
// result's capacity ends at its length, so appending to it never overwrites
// the record.
func (r *Record) Field(i int) []byte {
	f := r.fields[i]
	if f.start < 0 {
		return r.esc[^f.start:f.end:f.end]
	}
	return r.raw[f.start:f.end:f.end]
}

// ScanError says why a record's bytes could not be split into fields.
type ScanError struct {
	Code    string // CodeRecordTooLarge or CodeQuoteError
	Message string // what is wrong, for people: where the record broke and why
	Field   int    // the 1-based field a quote error is in; 0 when not known

	// what is Message without what the scanner did next (where scanning
	// resumes), for a header, whose error ends the job; "" when Message
	// says nothing of it.
	what string
	// line is the physical line the error is on.
	line int64
}

// Error returns the code and the message, separated by a colon.
func (e *ScanError) Error() string { return e.Code + ": " + e.Message }

// word returns the value of field span f, of 1 to 8 bytes, as a
// zero-padded little-endian word read with one load, and true. It returns
// false when the value is empty or longer, has doubled quotes undone, or
// lies too near the end of the record for the load.
func (r *Record) word(f span) (uint64, bool) {
	n := int(f.end) - int(f.start)
	if f.start < 0 || uint(n-1) >= 8 || int(f.start)+8 > len(r.raw) {
		return 0, false
	}
	return binary.LittleEndian.Uint64(r.raw[f.start:]) & (1<<(8*n) - 1), true
}
