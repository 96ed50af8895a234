package csvstream

import (
	"fmt"
	"io"
	"unicode/utf8"
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
}

// inferKinds returns the types InferSchema tries, narrowest first.
func inferKinds() []kind {
	return []kind{kindBoolean, kindInteger, kindNumber, kindDate, kindDatetime, kindTime}
}

// InferSchema reads the header and up to opt.Rows data rows from r and
// returns a schema they fit: each column gets the narrowest type (boolean,
// then integer, number, date, datetime, time, else string) that accepts every
// non-empty sampled value in its default format, and is marked required when
// no sampled value is empty. It never marks a column unique. Records the
// Scanner cannot split and blank rows are left out of the sample. The result
// depends only on the bytes read, so the same input always gives the same
// schema.
func InferSchema(r io.Reader, opt InferOptions) (*Schema, error) {
	rows := opt.Rows
	if rows < 0 {
		return nil, fmt.Errorf("infer: InferOptions.Rows is %d; it must not be negative", rows)
	}
	if rows == 0 {
		rows = DefaultInferRows
	}
	sc, err := NewScanner(r, ScanOptions{Comma: opt.Comma})
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
	if h.Err != nil {
		return nil, fmt.Errorf("infer: header on line %d: %w", h.Line, h.Err)
	}
	s := &Schema{Fields: make([]Field, h.NumFields())}
	first := make(map[string]int, len(s.Fields))
	for i := range s.Fields {
		b := h.Field(i)
		switch {
		case len(b) == 0:
			return nil, fmt.Errorf("infer: header on line %d: column %d has no label", h.Line, i+1)
		case !utf8.Valid(b):
			return nil, fmt.Errorf("infer: header on line %d: column %d label is not valid UTF-8", h.Line, i+1)
		}
		name := string(b)
		if j, dup := first[name]; dup {
			return nil, fmt.Errorf("infer: header on line %d: column %d label %q repeats column %d", h.Line, i+1, name, j+1)
		}
		first[name] = i
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
	for n := 0; n < rows && sc.Scan(); {
		rec := sc.Record()
		if rec.Err != nil || blankRecord(rec) {
			continue
		}
		n++
		for i := range s.Fields {
			if i >= rec.NumFields() || len(rec.Field(i)) == 0 {
				empty[i] = true
				continue
			}
			b := rec.Field(i)
			seen[i] = true
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
