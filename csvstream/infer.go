package csvstream

import (
	"fmt"
	"io"
)

// DefaultInferRows is how many data rows InferSchema samples when
// InferOptions.Rows is zero.
const DefaultInferRows = 1000

// InferOptions configures InferSchema. The zero value samples
// DefaultInferRows rows of comma-separated input.
type InferOptions struct {
	// Rows is how many data rows to sample; 0 means DefaultInferRows.
	Rows int
	// Comma is the field delimiter; 0 means ','.
	Comma byte
	// MaxRecordSize bounds a record, as ScanOptions.MaxRecordSize does; 0
	// means the Scanner's default.
	MaxRecordSize int
}

// inferKinds returns the types InferSchema tries, in order of preference:
// integers before booleans, as in Frictionless, so that a column of 0s and
// 1s (a count that happens to be small in the sample) stays a number.
func inferKinds() []kind {
	return []kind{kindInteger, kindNumber, kindBoolean, kindDate, kindDatetime, kindTime}
}

// InferSchema reads the header and up to opt.Rows records from r and
// returns a schema they fit: each column gets the first type (integer,
// number, boolean, date, datetime, time, else string) that accepts every
// non-empty sampled value in its default format, and is marked required when
// no sampled value is empty. A value with a leading zero, such as 007, makes
// its column a string: it is most likely a code, whose zeros a number would
// drop. It never marks a column unique. Records the Scanner cannot split
// and blank rows count toward opt.Rows but are left out of the sample. The
// result depends only on the bytes read, so the same input always gives the
// same schema.
func InferSchema(r io.Reader, opt InferOptions) (*Schema, error) {
	rows := opt.Rows
	if rows < 0 {
		return nil, fmt.Errorf("infer: InferOptions.Rows is %d; it must not be negative", rows)
	}
	if rows == 0 {
		rows = DefaultInferRows
	}
	sc, err := NewScanner(r, ScanOptions{Comma: opt.Comma, MaxRecordSize: opt.MaxRecordSize})
	if err != nil {
		return nil, fmt.Errorf("infer: %w", err)
	}
	if !sc.Scan() {
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("infer: reading the header: %w", err)
		}
		return nil, fmt.Errorf("infer: the input is empty: no header")
	}
	h := sc.Record()
	// The header checks of a run without a schema, which the schema's
	// header must pass too.
	v, err := NewValidator(nil, h)
	if err != nil {
		return nil, fmt.Errorf("infer: %w", err)
	}
	names := v.Header()
	s := &Schema{Fields: make([]Field, len(names))}
	for i, name := range names {
		if name == "" {
			return nil, fmt.Errorf("infer: header on line %d: column %d has no label", h.Line, i+1)
		}
		s.Fields[i].Name = name
	}

	// fits[i] has bit k set while every value of column i so far is of
	// inferKinds[k].
	kinds := inferKinds()
	fits := make([]uint8, len(s.Fields))
	seen := make([]bool, len(s.Fields))  // a non-empty value was sampled
	empty := make([]bool, len(s.Fields)) // an empty or absent value was sampled
	for i := range fits {
		fits[i] = 1<<len(kinds) - 1
	}
	probe := make([]column, len(kinds))
	for k, kd := range kinds {
		probe[k] = column{kind: kd, trueVals: toBytes(defaultTrue()), falseVals: toBytes(defaultFalse())}
	}
	for n := 0; n < rows && sc.Scan(); n++ {
		rec := sc.Record()
		if rec.Err != nil || blankRecord(rec) {
			continue // counted, so that a broken file is not read to its end
		}
		for i := range s.Fields {
			if i >= rec.NumFields() || len(rec.Field(i)) == 0 {
				empty[i] = true
				continue
			}
			b := rec.Field(i)
			seen[i] = true
			if leadingZero(b) {
				fits[i] = 0
				continue
			}
			for k := range probe {
				if fits[i]&(1<<k) != 0 {
					if _, res := probe[k].parse(b); res != parseOK {
						fits[i] &^= 1 << k
					}
				}
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("infer: reading the sample: %w", err)
	}
	for i := range s.Fields {
		f := &s.Fields[i]
		f.Type = "string"
		if seen[i] {
			for k, kd := range kinds {
				if fits[i]&(1<<k) != 0 {
					f.Type = kd.String()
					break
				}
			}
		}
		f.Constraints.Required = seen[i] && !empty[i]
	}
	return s, nil
}

// leadingZero reports whether b is two or more digits, perhaps signed, of
// which the first is 0, such as 007.
func leadingZero(b []byte) bool {
	if len(b) > 0 && (b[0] == '+' || b[0] == '-') {
		b = b[1:]
	}
	if len(b) < 2 || b[0] != '0' {
		return false
	}
	for _, c := range b {
		if c-'0' > 9 {
			return false
		}
	}
	return true
}

// blankRecord reports whether every field of rec is empty.
func blankRecord(rec *Record) bool {
	for i := 0; i < rec.NumFields(); i++ {
		if len(rec.Field(i)) > 0 {
			return false
		}
	}
	return true
}

func toBytes(ss []string) [][]byte {
	out := make([][]byte, len(ss))
	for i, s := range ss {
		out[i] = []byte(s)
	}
	return out
}
