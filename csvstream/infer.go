package csvstream

import (
	"fmt"
	"io"
	"strconv"
	"strings"
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
	// MaxRecordSize bounds a record, as ScanOptions.MaxRecordSize does; 0
	// means the Scanner's default.
	MaxRecordSize int
	// Warn, when set, is told of what in the sample suggests that the
	// schema does not fit the file: records left out because they could
	// not be read, rows whose number of fields is not the header's, rows
	// that are not UTF-8, and a one-column header that another delimiter
	// would split.
	Warn func(msg string)
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
// no sampled value is empty. A number with a leading zero, such as 007 or
// 01.10, makes its column a string: it is most likely a code, whose zeros a
// number would drop. It never marks a column unique. Records the Scanner
// cannot split and blank rows count toward opt.Rows but are left out of the
// sample. The result depends only on the bytes read, so the same input
// always gives the same schema.
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
	quoted := quotedWhole(h) // h is reused by the next Scan
	s := &Schema{Fields: make([]Field, len(names))}
	for i, name := range names {
		if name == "" {
			return nil, fmt.Errorf("infer: header on line %d: column %d has no label: give it one, or export without it (pandas writes its index so unless to_csv(index=False), R its row names unless write.csv(row.names=FALSE))", h.Line, i+1)
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
	var broken, ragged, notUTF8 tally
	for n := 0; n < rows && sc.Scan(); n++ {
		rec := sc.Record()
		if rec.Err != nil {
			broken.add(rec.Line)
			continue // counted, so that a broken file is not read to its end
		}
		if blankRecord(rec, len(s.Fields)) {
			continue
		}
		if !rec.ascii && !utf8.Valid(rec.Raw) {
			notUTF8.add(rec.Line)
		}
		if rec.NumFields() != len(s.Fields) {
			ragged.add(rec.Line)
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
	if opt.Warn != nil {
		if d := otherDelimiter(names, sc.comma); d != 0 && !quoted {
			opt.Warn(fmt.Sprintf("the header is one column whose label holds %s: is that the delimiter? (--delimiter %s)",
				strconv.QuoteRune(rune(d)), delimiterName(d)))
		}
		if ragged.n > 0 {
			opt.Warn(fmt.Sprintf("%s in the sample with a number of fields other than the header's %d; the first is on line %d",
				plural(ragged.n, "row"), len(s.Fields), ragged.first))
		}
		if broken.n > 0 {
			opt.Warn(fmt.Sprintf("%s left out of the sample, not readable (quoting or size); the first starts on line %d",
				plural(broken.n, "record"), broken.first))
		}
		if notUTF8.n > 0 {
			opt.Warn(fmt.Sprintf("%s in the sample with text that is not UTF-8, which a run rejects (encoding-error); the first is on line %d: convert the file to UTF-8 (with iconv, say)",
				plural(notUTF8.n, "row"), notUTF8.first))
		}
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

// tally counts records of one kind and remembers where the first starts.
// The pieces of a line longer than the size bound, which all start on it,
// count once.
type tally struct {
	n           int64
	first, last int64
}

func (t *tally) add(line int64) {
	if t.n == 0 {
		t.first = line
	} else if line == t.last {
		return
	}
	t.n++
	t.last = line
}

// otherDelimiter returns the common delimiter that a header of one label
// holds, other than comma, or 0: most likely the file's delimiter.
func otherDelimiter(labels []string, comma byte) byte {
	if len(labels) != 1 {
		return 0
	}
	for _, d := range []byte(commonDelimiters) {
		if d != comma && strings.IndexByte(labels[0], d) >= 0 {
			return d
		}
	}
	return 0
}

// leadingZero reports whether b is a number, perhaps signed, whose digits
// start with a 0 followed by another digit, such as 007 or 01.10.
func leadingZero(b []byte) bool {
	d := b
	if len(d) > 0 && (d[0] == '+' || d[0] == '-') {
		d = d[1:]
	}
	return len(d) >= 2 && d[0] == '0' && d[1]-'0' <= 9 && isNumber(b)
}

func toBytes(ss []string) [][]byte {
	out := make([][]byte, len(ss))
	for i, s := range ss {
		out[i] = []byte(s)
	}
	return out
}
