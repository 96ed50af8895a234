package csvstream

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// FieldError is one reason a record is rejected.
type FieldError struct {
	// Code is one of the Code constants, such as CodeTypeError.
	Code string
	// Field is the name of the column at fault; it is empty when the
	// problem belongs to the whole record or to a cell beyond the header.
	Field string
	// Message says what is wrong in words, quoting the value.
	Message string
}

// Error returns the code, the field if any, and the message, as one line
// for a log or a rejects file.
func (e FieldError) Error() string {
	if e.Field == "" {
		return e.Code + ": " + e.Message
	}
	return e.Code + ": field " + strconv.Quote(e.Field) + ": " + e.Message
}

// encodingProblem says why a header line is not UTF-8 text, or returns "":
// the source is compressed or an archive, or it is UTF-16 or UTF-32, whose
// every row would otherwise be rejected one by one. It goes by the
// format's magic number, by the byte order mark, or by the NUL bytes such
// text holds among ASCII letters.
func encodingProblem(line []byte) string {
	// iconv reads the locale's encoding unless told: -f is needed.
	convert := func(from string) string {
		return ": convert it to UTF-8 (for example with iconv -f " + from + " -t UTF-8)"
	}
	for _, p := range packedFormats {
		if len(line) >= len(p.magic) && p.matches(line) {
			return "the source is " + p.name + ", not CSV text: " + p.advice
		}
	}
	switch {
	case bytes.HasPrefix(line, []byte("\xFF\xFE\x00\x00")), bytes.HasPrefix(line, []byte("\x00\x00\xFE\xFF")):
		return "the source is UTF-32 (it starts with a UTF-32 byte order mark)" + convert("UTF-32")
	case bytes.HasPrefix(line, []byte("\xFF\xFE")), bytes.HasPrefix(line, []byte("\xFE\xFF")):
		return "the source is UTF-16 (it starts with a UTF-16 byte order mark)" + convert("UTF-16")
	case bytes.IndexByte(line, 0) >= 0:
		// Where the NULs sit among ASCII letters tells the width and
		// byte order.
		from := "UTF-16LE"
		switch {
		case len(line) >= 4 && line[0] == 0 && line[1] == 0 && line[2] == 0:
			from = "UTF-32BE"
		case len(line) >= 4 && line[1] == 0 && line[2] == 0 && line[3] == 0:
			from = "UTF-32LE"
		case line[0] == 0:
			from = "UTF-16BE"
		}
		return "the header holds NUL bytes: the source looks like UTF-16 or UTF-32 text, or is not text" + convert(from) + " if it is text"
	}
	return ""
}

// packedFormat is a compressed or archive format that CSV files are often
// delivered in, known by its magic number.
type packedFormat struct {
	magic  string // '?' stands for any byte
	name   string
	advice string
}

// packedFormats holds only magic numbers no CSV header starts with: each
// has a byte that is a control character or not UTF-8, or, for bzip2, is
// ten bytes long. A source cut short within its magic number is not
// recognised.
var packedFormats = []packedFormat{
	{"\x1f\x8b", "gzip-compressed", "decompress it first (gunzip)"},
	{"BZh?1AY&SY", "bzip2-compressed", "decompress it first (bunzip2)"},
	{"BZh?\x17rE8P\x90", "bzip2-compressed", "decompress it first (bunzip2)"}, // an empty stream
	{"\xfd7zXZ\x00", "xz-compressed", "decompress it first (unxz)"},
	{"\x28\xb5\x2f\xfd", "zstd-compressed", "decompress it first (unzstd)"},
	{"PK\x03\x04", "a ZIP archive", "extract the CSV file from it; an Excel .xlsx workbook is a ZIP archive too: save its sheet as CSV"},
	{"PK\x05\x06", "a ZIP archive", "it is empty"},
	{"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an OLE2 file, such as an Excel .xls workbook", "save its sheet as CSV"},
}

// matches reports whether line starts with the magic number; line is at
// least as long as it.
func (p packedFormat) matches(line []byte) bool {
	for i := range len(p.magic) {
		if p.magic[i] != '?' && p.magic[i] != line[i] {
			return false
		}
	}
	return true
}

// HeaderError says how a header differs from the schema's field names.
type HeaderError struct {
	// Missing lists the schema's fields that the header lacks.
	Missing []string
	// Unexpected lists the header's labels that are not schema fields, or
	// that repeat one.
	Unexpected []string
	// OutOfOrder is set when the header has the right labels in the wrong
	// order.
	OutOfOrder bool
	// Want lists the schema's field names; Got lists the header's labels.
	Want, Got []string
	// Problem, when set, says why the header record itself is unusable
	// (malformed, not UTF-8, a repeated label or one holding a carriage
	// return), with or
	// without a schema.
	Problem string
	// Delimiter, when not 0, is a delimiter that splits a one-column
	// header into as many labels as the schema has fields, or at which a
	// header that broke the quoting rules reads cleanly (into the schema's
	// fields, or into more than one label without a schema): most likely
	// the one the source uses.
	Delimiter byte
}

// Error says why the header is unusable, or how it differs from the
// schema: first, when another delimiter splits the header, the hint that
// it is the source's; then the missing and
// unexpected labels, or that the order is wrong and the first column out
// of place; then both lists, unless they would only repeat the missing and
// unexpected ones. The message stays short whatever the width of the file:
// each list shows its first maxListedLabels names, each cut to
// maxShownLabel bytes, and says how many more there are. The fields keep
// everything.
func (e *HeaderError) Error() string {
	if e.Problem != "" {
		if e.Delimiter != 0 {
			return "unusable header: is the delimiter " + delimiterName(e.Delimiter) + "? The header reads cleanly at it; " + e.Problem
		}
		return "unusable header: " + e.Problem
	}
	var b strings.Builder
	b.WriteString("header does not match the schema:")
	sep := " "
	if e.Delimiter != 0 {
		b.WriteString(" is the delimiter " + delimiterName(e.Delimiter) + "? The header splits into the schema's " + strconv.Itoa(len(e.Want)) + " fields at it")
		sep = "; "
	}
	n := b.Len()
	if len(e.Missing) > 0 {
		b.WriteString(sep + "missing " + quoteList(e.Missing))
		sep = "; "
	}
	if len(e.Unexpected) > 0 {
		b.WriteString(sep + "unexpected " + quoteList(e.Unexpected))
		sep = "; "
	}
	if e.OutOfOrder {
		// The lists below may show only the columns before the first
		// difference: name it.
		b.WriteString(sep + "columns out of order")
		for i := range min(len(e.Want), len(e.Got)) {
			if e.Want[i] != e.Got[i] {
				b.WriteString(": column " + strconv.Itoa(i+1) + " is " + quoteLabel(e.Got[i]) + " where the schema has " + quoteLabel(e.Want[i]))
				break
			}
		}
		sep = "; "
	}
	if b.Len() == n {
		b.WriteString(sep + "the labels differ")
	}
	// When nothing matches, the lists would only repeat the missing and
	// unexpected labels.
	repeats := len(e.Got) > 0 && slices.Equal(e.Missing, e.Want) && slices.Equal(e.Unexpected, e.Got)
	if (e.Want != nil || e.Got != nil) && !repeats {
		want, got := quoteList(e.Want), quoteList(e.Got)
		if want == "" {
			want = "no fields"
		}
		if got == "" {
			got = "no labels"
		}
		b.WriteString(" (want " + want + ", got " + got + ")")
	}
	return b.String()
}

// commonDelimiters are the delimiters a header is tried with when it
// suggests the source uses another than the one it was read with.
const commonDelimiters = ",;\t|"

// delimiterName names a delimiter for a message, as the --delimiter flag
// takes it: quoted, or "tab".
func delimiterName(d byte) string {
	if d == '\t' {
		return "tab"
	}
	return strconv.QuoteRune(rune(d))
}

// maxListedLabels and maxShownLabel bound the names a HeaderError's
// message shows: a file thousands of columns wide, read with the wrong
// delimiter, would otherwise give a message of hundreds of kilobytes.
const (
	maxListedLabels = 10
	maxShownLabel   = 40
)

// quoteList quotes the first maxListedLabels names, each cut to
// maxShownLabel bytes, and says how many more there are.
func quoteList(names []string) string {
	q := make([]string, 0, min(len(names), maxListedLabels)+1)
	for _, n := range names[:min(len(names), maxListedLabels)] {
		q = append(q, quoteLabel(n))
	}
	if more := len(names) - maxListedLabels; more > 0 {
		q = append(q, "and "+strconv.Itoa(more)+" more")
	}
	return strings.Join(q, ", ")
}

// quoteLabel quotes a label, cut to maxShownLabel bytes (on a character
// boundary) and followed by "..." when it is longer.
func quoteLabel(s string) string {
	if len(s) <= maxShownLabel {
		return strconv.Quote(s)
	}
	cut := maxShownLabel
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strconv.Quote(s[:cut]) + "..."
}

// A Validator checks records against a schema, or, without one, checks only
// that they are well formed. It remembers the values of unique fields and
// primary keys, so one Validator serves one job, and it is not safe for
// concurrent use.
//
// Unique values and primary keys are remembered without keeping their
// text, so checking them allocates nothing per row but the occasional
// growth of a set. A key that is one integer (an integer, year, date, time
// or boolean field) and is above every key seen so far, the usual case of
// an ID column in increasing order, joins a sorted list of ranges: a run
// of consecutive keys takes one range, 16 bytes, and a key after a gap
// starts a new one (about 20 bytes with the list's spare room). Every
// other key is remembered as a 128-bit hash (two maphash seeds chosen per
// Validator); the chance of two different keys sharing a hash is
// negligible (about n²/2¹²⁹ for n keys). Each hash costs 16 bytes per slot
// in a table kept between 3/8 and 3/4 full: 21 to 43 bytes per distinct
// key. So keys cost at most 43 MB per million (and, for the moment it
// takes to double the table or the list, the old one besides). Only keys
// of valid rows are remembered: a key is rejected as a repeat only when a
// row that was written out already holds it.
type Validator struct {
	header  []string
	keys    [][]byte    // `{"label":` for the first column, `,"label":` for the others, for AppendJSON
	cols    []column    // nil without a schema
	steps   []checkStep // how to check each column
	missing [][]byte
	// maxMissing is the length of the longest missing value, or -1 when
	// there is none: a longer value is never missing.
	maxMissing int
	pk         []int

	seed1, seed2 maphash.Seed
	uniq         []uniqueSet // one per unique column
	pkSet        keySet
	keyBuf       []byte  // scratch for hashing keys
	vals         []value // scratch: parsed value per column
	ok           []bool  // scratch: column parsed and not null
}

// uniqueSet remembers the values of one unique column. When the column is
// also the whole primary key, seen is the Validator's pkSet, which would
// hold the same keys.
type uniqueSet struct {
	col  int
	seen *keySet
}

// NewValidator returns a Validator for records under header. With s nil it
// checks only well-formedness: each record has as many fields as the header
// and is valid UTF-8. With a schema, the header labels must be the schema's
// field names in order. Every problem with the header is a *HeaderError.
func NewValidator(s *Schema, header *Record) (*Validator, error) {
	if header == nil {
		return nil, errors.New("validator: no header record")
	}
	// A UTF-16 header, quoted or not, breaks the quoting rules too: say
	// what is wrong with it first.
	if p := encodingProblem(header.raw); p != "" {
		return nil, &HeaderError{Problem: fmt.Sprintf("line %d: %s", header.Line, p)}
	}
	if e := header.Err; e != nil {
		// Nothing resumes after a broken header: the job ends here.
		p := e.Error()
		if e.what != "" {
			p = e.Code + ": " + e.what
		}
		if bytes.IndexByte(header.raw, '\r') >= 0 && bytes.IndexByte(header.raw, '\n') < 0 {
			// A file of CR line ends is one line, as long as the file.
			p += "; the line holds a carriage return but no line feed (are the lines ended by CR alone?)"
		}
		he := &HeaderError{Problem: fmt.Sprintf("line %d: %s", header.Line, p)}
		if e.Code == CodeQuoteError {
			// Labels quoted one by one ("id";"name") break the quoting
			// rules at any other delimiter than the source's.
			n := 0
			if s != nil {
				n = len(s.Fields)
			}
			he.Delimiter = splittingDelimiter(header.raw, n)
		}
		return nil, he
	}
	if header.NumFields() == 1 && len(header.Field(0)) == 0 {
		// A blank line before the header would otherwise make a header of
		// one empty label, and every row after it an extra-cell reject.
		return nil, &HeaderError{Problem: fmt.Sprintf("line %d: the header is blank: the first line must hold the column names", header.Line)}
	}
	v := &Validator{
		header: make([]string, header.NumFields()),
		seed1:  maphash.MakeSeed(),
		seed2:  maphash.MakeSeed(),
	}
	first := make(map[string]int, len(v.header))
	for i := range v.header {
		b := header.Field(i)
		if !utf8.Valid(b) {
			return nil, &HeaderError{Problem: fmt.Sprintf("line %d: column %d label is not valid UTF-8", header.Line, i+1)}
		}
		if bytes.IndexByte(b, '\r') >= 0 {
			// A CR alone is most often a file with classic Mac (CR) line
			// ends, which would otherwise hide every row inside the
			// header. A quoted CRLF is a line break inside the label.
			hint := "are the lines ended by CR alone?"
			if !bytes.Contains(bytes.ReplaceAll(b, []byte("\r\n"), nil), []byte{'\r'}) {
				hint = "a quoted CRLF line break, which a label may not hold"
			}
			return nil, &HeaderError{Problem: fmt.Sprintf("line %d: column %d label %s holds a carriage return (%s)", header.Line, i+1, quoteLabel(string(b)), hint)}
		}
		v.header[i] = string(b)
		if j, dup := first[v.header[i]]; dup && s == nil {
			if len(b) == 0 {
				return nil, &HeaderError{Problem: fmt.Sprintf("line %d: columns %d and %d both have no label (labels must differ, so at most one may be empty)", header.Line, j+1, i+1)}
			}
			return nil, &HeaderError{Problem: fmt.Sprintf("line %d: column %d label %s repeats column %d", header.Line, i+1, quoteLabel(v.header[i]), j+1)}
		}
		first[v.header[i]] = i
		sep := byte(',')
		if i == 0 {
			sep = '{'
		}
		v.keys = append(v.keys, append(appendJSONString([]byte{sep}, b), ':'))
	}
	if s == nil {
		return v, nil
	}
	c, err := s.compile()
	if err != nil {
		return nil, err
	}
	if err := matchHeader(s, v.header, !quotedWhole(header)); err != nil {
		return nil, err
	}
	v.cols, v.missing, v.pk = c.cols, c.missing, c.pk
	v.maxMissing = -1
	for _, m := range v.missing {
		v.maxMissing = max(v.maxMissing, len(m))
	}
	v.steps = make([]checkStep, len(v.cols))
	for i := range v.cols {
		v.steps[i] = v.cols[i].checkStep()
	}
	v.pkSet.ints = len(v.pk) == 1 && v.cols[v.pk[0]].intKey()
	for i := range v.cols {
		switch {
		case !v.cols[i].unique:
		case len(v.pk) == 1 && v.pk[0] == i:
			v.uniq = append(v.uniq, uniqueSet{col: i, seen: &v.pkSet})
		default:
			v.uniq = append(v.uniq, uniqueSet{col: i, seen: &keySet{ints: v.cols[i].intKey()}})
		}
	}
	v.vals = make([]value, len(v.cols))
	v.ok = make([]bool, len(v.cols))
	return v, nil
}

// quotedWhole reports whether header is one label quoted whole. No
// delimiter splits a quoted label, whichever the source uses, so such a
// header gets no hint of another.
func quotedWhole(header *Record) bool {
	return header.NumFields() == 1 && bytes.HasPrefix(bytes.TrimPrefix(header.raw, []byte(utf8BOM)), []byte{'"'})
}

// matchHeader compares the header labels with the schema's field names.
// hint says whether a one-label header may be split by another delimiter
// into the schema's fields, as HeaderError.Delimiter reports.
func matchHeader(s *Schema, got []string, hint bool) error {
	want := make([]string, len(s.Fields))
	for i := range s.Fields {
		want[i] = s.Fields[i].Name
	}
	if len(want) == len(got) {
		same := true
		for i := range want {
			if want[i] != got[i] {
				same = false
				break
			}
		}
		if same {
			return nil
		}
	}
	e := &HeaderError{Want: want, Got: append([]string(nil), got...)}
	left := make(map[string]int, len(want))
	for _, w := range want {
		left[w]++
	}
	for _, g := range got {
		if left[g] > 0 {
			left[g]--
		} else {
			e.Unexpected = append(e.Unexpected, g)
		}
	}
	for _, w := range want {
		if left[w] > 0 {
			left[w]--
			e.Missing = append(e.Missing, w)
		}
	}
	e.OutOfOrder = len(e.Missing) == 0 && len(e.Unexpected) == 0
	if hint && len(got) == 1 && len(want) > 1 {
		for _, c := range []byte(commonDelimiters) {
			if strings.Count(got[0], string(c)) == len(want)-1 {
				e.Delimiter = c
				break
			}
		}
	}
	return e
}

// splittingDelimiter returns the first common delimiter at which raw, a
// header line that broke the quoting rules, reads cleanly into n labels
// (more than one when n is 0), or 0.
func splittingDelimiter(raw []byte, n int) byte {
	for _, c := range []byte(commonDelimiters) {
		sc, err := NewScanner(bytes.NewReader(raw), ScanOptions{Comma: c, MaxRecordSize: min(len(raw)+2, MaxRecordSizeLimit)})
		if err != nil || !sc.Scan() {
			continue
		}
		if r := sc.Record(); r.Err == nil && r.NumFields() > 1 && (n == 0 || r.NumFields() == n) {
			return c
		}
	}
	return 0
}

// Header returns a copy of the header labels.
func (v *Validator) Header() []string { return append([]string(nil), v.header...) }

// Check appends to errs every reason rec must be rejected, and returns errs
// unchanged when rec is valid.
//
// A record the Scanner could not split yields exactly one error with the
// Scanner's code; invalid UTF-8 yields encoding errors only; a blank row
// yields one blank-row error. Otherwise Check reports one extra-cell error
// for all cells beyond the header, or one missing-cell error for all absent
// cells, then, per field, a type error or every broken constraint, and
// finally unique and primary-key repeats. A missing value (see Schema.MissingValues) breaks
// only the required constraint.
func (v *Validator) Check(rec *Record, errs []FieldError) []FieldError {
	if rec.Err != nil {
		fe := FieldError{Code: rec.Err.Code, Message: rec.Err.Message}
		if rec.Err.Field > 0 {
			fe.Field = v.label(rec.Err.Field - 1)
		}
		return append(errs, fe)
	}
	start := len(errs)
	n := rec.NumFields()
	// Delimiters and quotes are ASCII, so the fields are valid UTF-8 when
	// the record's bytes are; one pass over Raw checks them all, unless the
	// Scanner saw that they are ASCII.
	if !rec.ascii && (len(rec.Raw) == 0 || !asciiOnly(rec.Raw) && !utf8.Valid(rec.Raw)) {
		for i := 0; i < n; i++ {
			if b := rec.Field(i); !utf8.Valid(b) {
				errs = append(errs, FieldError{
					Code:    CodeEncodingError,
					Field:   v.label(i),
					Message: fmt.Sprintf("column %d is not valid UTF-8 (bad byte at offset %d)", i+1, badUTF8(b)),
				})
			}
		}
		if len(errs) > start {
			return errs
		}
	}
	if blankRecord(rec, len(v.header)) {
		return append(errs, FieldError{Code: CodeBlankRow, Message: "every cell is empty"})
	}
	// Extra cells make one error, whatever their number: each error line in
	// the rejects repeats the raw row, so one per cell would grow with the
	// square of the row's length.
	switch h := len(v.header); {
	case n == h+1:
		errs = append(errs, FieldError{
			Code:    CodeExtraCell,
			Message: fmt.Sprintf("extra cell in column %d (the header has %d): %s", n, h, quote(rec.Field(h))),
		})
	case n > h+1:
		errs = append(errs, FieldError{
			Code:    CodeExtraCell,
			Message: fmt.Sprintf("%d extra cells in columns %d to %d (the header has %d); the first holds %s", n-h, h+1, n, h, quote(rec.Field(h))),
		})
	}
	// Missing cells make one error too, named after the first: a short row
	// under a wide header would otherwise cost the header's width in time
	// and in rejects.
	switch h := len(v.header); {
	case n == h-1:
		errs = append(errs, FieldError{
			Code:    CodeMissingCell,
			Field:   v.header[n],
			Message: fmt.Sprintf("missing cell: the row ends before column %d", n+1),
		})
	case n < h-1:
		errs = append(errs, FieldError{
			Code:    CodeMissingCell,
			Field:   v.header[n],
			Message: fmt.Sprintf("%d missing cells: the row ends before column %d (the header has %d)", h-n, n+1, h),
		})
	}
	if v.cols == nil {
		return errs
	}
	m := min(n, len(v.cols))
	steps, fields, ok, vals := v.steps[:m], rec.fields[:m], v.ok[:m], v.vals[:m]
	for i := range steps {
		// Check field i, and when it holds a value of its type and is part
		// of a key, record the value for the unique and primary-key checks
		// below.
		s := &steps[i]
		ok[i] = false
		if s.op == opSkip {
			continue
		}
		var b []byte
		f := fields[i]
		if f.start >= 0 {
			b = rec.raw[f.start:f.end:f.end]
		} else {
			b = rec.esc[^f.start:f.end:f.end]
		}
		if len(b) <= v.maxMissing && v.isMissing(b) {
			if s.required {
				errs = append(errs, FieldError{Code: CodeConstraintError, Field: s.col.name, Message: "a value is required"})
			}
			continue
		}
		var val value
		switch s.op {
		case opNone:
		case opEnum:
			if s.col.enumList.index(b) < 0 {
				errs = append(errs, s.col.enumError(b))
			}
		case opEmail:
			if !isEmail(b) {
				errs = append(errs, s.col.typeError(b, parseBad))
				continue
			}
		case opInteger:
			// Up to eight digits are read with one load; the rest, signs
			// and errors take parseInt.
			var x int64
			read := false
			if w, short := rec.word(f); short {
				var d uint64
				d, read = eightDigits(w, len(b))
				x = int64(d)
			}
			if !read {
				var res parseResult
				if x, res = parseInt(b); res != parseOK {
					errs = append(errs, s.col.typeError(b, res))
					continue
				}
			}
			val.i = x
			if x < s.lo || x > s.hi {
				errs = s.col.checkConstraints(b, val, errs)
			}
		case opNumber:
			// The common number parses in one quick pass; for the others,
			// checking the syntax is enough unless the value is needed.
			if x, simple := simpleFloat(b); simple {
				if x == 0 {
					x = 0 // -0 equals 0
				}
				val.f = x
			} else if !isNumber(b) {
				errs = append(errs, s.col.typeError(b, parseBad))
				continue
			} else if s.needValue {
				val = numberValue(b)
			}
			// A value equal to a bound as a float64 may still be beyond
			// it as a decimal: checkConstraints compares their texts.
			if !(val.f > s.flo && val.f < s.fhi) {
				errs = s.col.checkConstraints(b, val, errs)
			}
		case opISODate:
			if len(b) != 10 || !isISODate(b) {
				errs = append(errs, s.col.typeError(b, parseBad))
				continue
			}
		case opISODatetime:
			if !isISODatetime(b) {
				errs = append(errs, s.col.typeError(b, parseBad))
				continue
			}
		case opBoolean:
			k := s.col.bools.index(b)
			if k < 0 {
				errs = append(errs, s.col.typeError(b, parseBad))
				continue
			}
			if k < len(s.col.trueVals) {
				val.i = 1
			}
		default:
			var res parseResult
			if val, res = s.col.parse(b); res != parseOK {
				errs = append(errs, s.col.typeError(b, res))
				continue
			}
			if s.constrained {
				errs = s.col.checkConstraints(b, val, errs)
			}
		}
		if s.keyed {
			vals[i], ok[i] = val, true
		}
	}
	for i := m; i < len(v.cols); i++ {
		v.ok[i] = false
	}
	// Repeats: look up now, remember only when the whole row is valid.
	for u := range v.uniq {
		set := &v.uniq[u]
		i := set.col
		if !v.ok[i] {
			set.seen.pending = false
			continue
		}
		var seen bool
		if set.seen.ints {
			// seenInt, spelled out so that top is inlined.
			ks, x := set.seen, v.vals[i].i
			seen = !ks.top(x) && v.seenIntBelow(ks, x)
		} else {
			v.keyBuf = v.cols[i].appendKey(v.keyBuf[:0], rec.Field(i), v.vals[i])
			seen = v.seenKey(set.seen, v.keyBuf)
		}
		if seen {
			c := &v.cols[i]
			errs = append(errs, FieldError{
				Code:    CodeUniqueError,
				Field:   c.name,
				Message: fmt.Sprintf("value %s is not unique: an earlier row holds it", c.show(rec.Field(i))),
			})
		}
	}
	if len(v.pk) > 0 {
		v.pkSet.pending = false
		pkOK := true
		for _, i := range v.pk {
			if !v.ok[i] {
				pkOK = false
				break
			}
		}
		var seen bool
		switch {
		case !pkOK:
		case v.pkSet.ints:
			x := v.vals[v.pk[0]].i
			seen = !v.pkSet.top(x) && v.seenIntBelow(&v.pkSet, x)
		default:
			v.keyBuf = v.keyBuf[:0]
			for _, i := range v.pk {
				v.keyBuf = v.cols[i].appendKey(v.keyBuf, rec.Field(i), v.vals[i])
			}
			seen = v.seenKey(&v.pkSet, v.keyBuf)
		}
		if seen {
			errs = append(errs, v.pkError(rec))
		}
	}
	if len(errs) == start {
		// The calls are for keys that are hashed; the rest are inlined.
		for u := range v.uniq {
			if ks := v.uniq[u].seen; !ks.rememberTop() && ks.pending {
				ks.remember()
			}
		}
		if !v.pkSet.rememberTop() && v.pkSet.pending {
			v.pkSet.remember()
		}
	}
	return errs
}

func (v *Validator) pkError(rec *Record) FieldError {
	names := make([]string, len(v.pk))
	vals := make([]string, len(v.pk))
	for j, i := range v.pk {
		names[j] = v.cols[i].name
		vals[j] = v.cols[i].show(rec.Field(i))
	}
	msg := fmt.Sprintf("primary key %s = %s repeats an earlier row", names[0], vals[0])
	if len(v.pk) > 1 {
		msg = fmt.Sprintf("primary key (%s) = (%s) repeats an earlier row", strings.Join(names, ", "), strings.Join(vals, ", "))
	}
	return FieldError{Code: CodePrimaryKeyError, Field: strings.Join(names, ","), Message: msg}
}

// blankRecord reports whether rec is a blank row, which Check rejects:
// every field is empty, and there are as many as the header's width, or
// one (an empty line). A row of empty fields of another number is a row
// with missing or extra cells.
func blankRecord(rec *Record, width int) bool {
	n := rec.NumFields()
	if n != width && n != 1 {
		return false
	}
	for i := range n {
		if len(rec.Field(i)) > 0 {
			return false
		}
	}
	return true
}

// asciiOnly reports whether b holds only ASCII bytes, reading sixteen at a
// time and testing their high bits once at the end: quicker than
// utf8.Valid when they are ASCII, as most records are.
func asciiOnly(b []byte) bool {
	var x uint64
	for len(b) >= 16 {
		x |= binary.LittleEndian.Uint64(b) | binary.LittleEndian.Uint64(b[8:])
		b = b[16:]
	}
	for _, c := range b {
		x |= uint64(c)
	}
	return x&highs == 0
}

// label names column i for an error, or "" beyond the header.
func (v *Validator) label(i int) string {
	if i < len(v.header) {
		return v.header[i]
	}
	return ""
}

// isMissing reports whether b is one of the schema's missing values.
func (v *Validator) isMissing(b []byte) bool {
	for _, m := range v.missing {
		if bytes.Equal(b, m) {
			return true
		}
	}
	return false
}

// checkConstraints appends an error for each constraint beyond its type
// that value b, parsed as val, breaks.
func (c *column) checkConstraints(b []byte, val value, errs []FieldError) []FieldError {
	if c.min != nil && c.belowMin(b, val) {
		errs = append(errs, FieldError{Code: CodeConstraintError, Field: c.name,
			Message: fmt.Sprintf("value %s is below the minimum %s", c.show(b), c.min.text)})
	}
	if c.max != nil && c.aboveMax(b, val) {
		errs = append(errs, FieldError{Code: CodeConstraintError, Field: c.name,
			Message: fmt.Sprintf("value %s is above the maximum %s", c.show(b), c.max.text)})
	}
	if c.minLen >= 0 || c.maxLen >= 0 {
		n := utf8.RuneCount(b)
		if c.minLen >= 0 && n < c.minLen {
			errs = append(errs, FieldError{Code: CodeConstraintError, Field: c.name,
				Message: fmt.Sprintf("value %s is %s long, shorter than the minimum length %d", quote(b), characters(n), c.minLen)})
		}
		if c.maxLen >= 0 && n > c.maxLen {
			errs = append(errs, FieldError{Code: CodeConstraintError, Field: c.name,
				Message: fmt.Sprintf("value %s is %s long, longer than the maximum length %d", quote(b), characters(n), c.maxLen)})
		}
	}
	if c.pattern != nil && !c.pattern.Match(b) {
		errs = append(errs, FieldError{Code: CodeConstraintError, Field: c.name,
			Message: fmt.Sprintf("value %s does not match the pattern %s", quote(b), strconv.Quote(c.patternSrc))})
	}
	if c.enumList.items != nil {
		if c.enumList.index(b) < 0 {
			errs = append(errs, c.enumError(b))
		}
	} else if c.enumStrs != nil {
		if _, in := c.enumStrs[string(b)]; !in {
			errs = append(errs, c.enumError(b))
		}
	} else if c.enumVals != nil {
		if _, in := c.enumVals[val]; !in {
			errs = append(errs, c.enumError(b))
		}
	} else if c.enumNums != nil {
		var buf [64]byte
		if _, in := c.enumNums[string(appendDecimal(buf[:0], b))]; !in {
			errs = append(errs, c.enumError(b))
		}
	}
	return errs
}

// characters gives a count of characters, as "1 character" or "5 characters".
func characters(n int) string {
	if n == 1 {
		return "1 character"
	}
	return strconv.Itoa(n) + " characters"
}

// belowMin reports whether b, of c's type and parsed as val, is below
// c.min, which is set; NaN is below every minimum.
func (c *column) belowMin(b []byte, val value) bool {
	switch c.kind {
	case kindNumber:
		if val.f == c.min.v.f {
			return compareDecimal(b, []byte(c.min.text)) < 0
		}
		return !(val.f >= c.min.v.f)
	case kindDatetime:
		return compare(c.kind, val, c.min.v) < 0
	}
	return val.i < c.min.v.i
}

// aboveMax reports whether b, of c's type and parsed as val, is above
// c.max, which is set; NaN is above every maximum.
func (c *column) aboveMax(b []byte, val value) bool {
	switch c.kind {
	case kindNumber:
		if val.f == c.max.v.f {
			return compareDecimal(b, []byte(c.max.text)) > 0
		}
		return !(val.f <= c.max.v.f)
	case kindDatetime:
		return compare(c.kind, val, c.max.v) > 0
	}
	return val.i > c.max.v.i
}

func (c *column) enumError(b []byte) FieldError {
	list := c.enumText
	more := ""
	if len(list) > 10 {
		list, more = list[:10], fmt.Sprintf(" and %d more", len(c.enumText)-10)
	}
	return FieldError{Code: CodeConstraintError, Field: c.name,
		Message: fmt.Sprintf("value %s is not one of %s%s", c.show(b), strings.Join(list, ", "), more)}
}

func (c *column) typeError(b []byte, res parseResult) FieldError {
	var want string
	switch c.kind {
	case kindString:
		want = [...]string{"", "an email address", "a URI", "a UUID"}[c.strFormat]
	case kindInteger:
		if res == parseRange {
			return FieldError{Code: CodeTypeError, Field: c.name,
				Message: fmt.Sprintf("value %s is out of the 64-bit integer range", quote(b))}
		}
		want = "an integer"
	case kindNumber:
		want = "a number"
	case kindBoolean:
		var all []string
		for _, t := range c.trueVals {
			all = append(all, string(t))
		}
		for _, f := range c.falseVals {
			all = append(all, string(f))
		}
		want = "a boolean (one of " + strings.Join(all, ", ") + ")"
	case kindYear:
		want = "a year (four digits)"
	case kindDate, kindTime, kindDatetime:
		switch {
		case c.layout != nil:
			want = fmt.Sprintf("a %s in the format %q", c.kind, c.layout.src)
		case c.kind == kindDate:
			want = "a date in the form YYYY-MM-DD"
		case c.kind == kindTime:
			want = "an ISO 8601 time such as 10:00:00 (fraction and zone optional)"
		default:
			// Say what parseISODatetime accepts: RFC 3339's form,
			// but with the zone optional.
			want = "an ISO 8601 datetime such as 2024-01-15T10:00:00Z (the T may be a space; fraction and zone optional)"
		}
	}
	return FieldError{Code: CodeTypeError, Field: c.name, Message: fmt.Sprintf("value %s is not %s", quote(b), want)}
}

// show writes a valid value for a message: bare for numbers, else quoted.
func (c *column) show(b []byte) string {
	if c.kind.numeric() && len(b) <= maxShown {
		return string(b)
	}
	return quote(b)
}

// maxShown is how many bytes of a value a message quotes.
const maxShown = 80

// quote quotes b for a message, shortening long values.
func quote(b []byte) string {
	if len(b) <= maxShown {
		return strconv.Quote(string(b))
	}
	cut := maxShown
	for cut > 0 && !utf8.RuneStart(b[cut]) {
		cut--
	}
	return strconv.Quote(string(b[:cut])) + fmt.Sprintf("... (%d bytes)", len(b))
}

// badUTF8 returns the offset of the first invalid UTF-8 byte in b.
func badUTF8(b []byte) int {
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			return i
		}
		i += size
	}
	return len(b)
}

// appendKey appends the canonical form of a valid value for hashing: equal
// values (such as integers 7 and 07) give equal keys. Each key is
// self-delimiting, so keys of several columns can be joined.
func (c *column) appendKey(dst, b []byte, val value) []byte {
	switch c.kind {
	case kindString, kindAny:
		dst = appendUint64(dst, uint64(len(b)))
		return append(dst, b...)
	case kindNumber:
		return appendDecimal(dst, b)
	case kindDatetime:
		dst = appendUint64(dst, uint64(val.i))
		return appendUint64(dst, uint64(val.ns))
	}
	return appendUint64(dst, uint64(val.i))
}

func appendUint64(dst []byte, u uint64) []byte {
	return append(dst, byte(u), byte(u>>8), byte(u>>16), byte(u>>24), byte(u>>32), byte(u>>40), byte(u>>48), byte(u>>56))
}
