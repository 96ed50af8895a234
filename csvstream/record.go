package csvstream

// Record is one CSV record exactly as it appeared in the input. A Scanner
// owns it: it and every slice it returns are valid only until the next call
// to Scan.
type Record struct {
	// Raw holds the record's bytes, including its line terminator if any.
	Raw []byte
	// Line is the physical line (1-based) on which the record starts.
	Line int64
	// Num is 0 for the header and n for the n-th data record.
	Num int64
	// Err is set when the bytes could not be split into fields (the record
	// is too large, or a quote is left open); Fields are then undefined.
	Err *ScanError

	vals []byte // field values, quotes removed and doubled quotes undone
	ends []int  // ends[i] is the end of field i in vals
}

// NumFields returns the number of fields in the record.
func (r *Record) NumFields() int { return len(r.ends) }

// Field returns the value of field i: the bytes between its quotes with
// doubled quotes undone, or the bytes between delimiters when unquoted.
func (r *Record) Field(i int) []byte {
	start := 0
	if i > 0 {
		start = r.ends[i-1]
	}
	return r.vals[start:r.ends[i]]
}

// ScanError says why a record's bytes could not be split into fields.
type ScanError struct {
	Code    string // CodeRecordTooLarge or CodeQuoteError
	Message string
}

func (e *ScanError) Error() string { return e.Code + ": " + e.Message }
