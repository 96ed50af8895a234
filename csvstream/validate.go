package csvstream

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"math/bits"
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
	// (malformed, not UTF-8, a repeated or multi-line label), with or
	// without a schema.
	Problem string
}

// Error lists the missing and unexpected labels, or says the order is
// wrong, then shows both lists in full.
func (e *HeaderError) Error() string {
	if e.Problem != "" {
		return "unusable header: " + e.Problem
	}
	var b strings.Builder
	b.WriteString("header does not match the schema:")
	sep := " "
	if len(e.Missing) > 0 {
		b.WriteString(sep + "missing " + quoteList(e.Missing))
		sep = "; "
	}
	if len(e.Unexpected) > 0 {
		b.WriteString(sep + "unexpected " + quoteList(e.Unexpected))
		sep = "; "
	}
	if e.OutOfOrder {
		b.WriteString(sep + "columns out of order")
		sep = "; "
	}
	if sep == " " {
		b.WriteString(" the labels differ")
	}
	if e.Want != nil || e.Got != nil {
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

func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = strconv.Quote(n)
	}
	return strings.Join(q, ", ")
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
	keys    [][]byte    // `"label":` per column, for AppendJSON
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

// uniqueSet remembers the values of one unique column.
type uniqueSet struct {
	col  int
	seen keySet
}

// truncateLabel shortens a label for an error message.
func truncateLabel(b []byte) string {
	const max = 40
	if len(b) > max {
		return string(b[:max]) + "..."
	}
	return string(b)
}

// NewValidator returns a Validator for records under header. With s nil it
// checks only well-formedness: each record has as many fields as the header
// and is valid UTF-8. With a schema, the header labels must be the schema's
// field names in order. Every problem with the header is a *HeaderError.
func NewValidator(s *Schema, header *Record) (*Validator, error) {
	if header == nil {
		return nil, errors.New("validator: no header record")
	}
	if header.Err != nil {
		return nil, &HeaderError{Problem: fmt.Sprintf("line %d: %v", header.Line, header.Err)}
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
			// Most often a file with classic Mac (CR) line ends, which
			// would otherwise hide every row inside the header.
			return nil, &HeaderError{Problem: fmt.Sprintf("line %d: column %d label %q holds a carriage return (are the lines ended by CR alone?)", header.Line, i+1, truncateLabel(b))}
		}
		v.header[i] = string(b)
		if j, dup := first[v.header[i]]; dup && s == nil {
			return nil, &HeaderError{Problem: fmt.Sprintf("line %d: column %d label %q repeats column %d", header.Line, i+1, v.header[i], j+1)}
		}
		first[v.header[i]] = i
		v.keys = append(v.keys, append(appendJSONString(nil, b), ':'))
	}
	if s == nil {
		return v, nil
	}
	c, err := s.compile()
	if err != nil {
		return nil, err
	}
	if err := matchHeader(s, v.header); err != nil {
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
	for i := range v.cols {
		if v.cols[i].unique {
			v.uniq = append(v.uniq, uniqueSet{col: i, seen: keySet{ints: v.cols[i].intKey()}})
		}
	}
	v.pkSet.ints = len(v.pk) == 1 && v.cols[v.pk[0]].intKey()
	v.vals = make([]value, len(v.cols))
	v.ok = make([]bool, len(v.cols))
	return v, nil
}

// matchHeader compares the header labels with the schema's field names.
func matchHeader(s *Schema, got []string) error {
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
	return e
}

// Header returns a copy of the header labels.
func (v *Validator) Header() []string { return append([]string(nil), v.header...) }

// Check appends to errs every reason rec must be rejected, and returns errs
// unchanged when rec is valid.
//
// A record the Scanner could not split yields exactly one error with the
// Scanner's code; invalid UTF-8 yields encoding errors only; a blank row
// yields one blank-row error. Otherwise Check reports an extra-cell error per
// cell beyond the header, a missing-cell error per absent cell, then, per
// field, a type error or every broken constraint, and finally unique and
// primary-key repeats. A missing value (see Schema.MissingValues) breaks
// only the required constraint.
func (v *Validator) Check(rec *Record, errs []FieldError) []FieldError {
	if rec.Err != nil {
		return append(errs, FieldError{Code: rec.Err.Code, Message: rec.Err.Message})
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
	if n == len(v.header) || n == 1 {
		blank := true
		for i := 0; i < n; i++ {
			if len(rec.Field(i)) > 0 {
				blank = false
				break
			}
		}
		if blank {
			return append(errs, FieldError{Code: CodeBlankRow, Message: "every cell is empty"})
		}
	}
	for i := len(v.header); i < n; i++ {
		errs = append(errs, FieldError{
			Code:    CodeExtraCell,
			Message: fmt.Sprintf("extra cell in column %d (the header has %d): %s", i+1, len(v.header), quote(rec.Field(i))),
		})
	}
	for i := n; i < len(v.header); i++ {
		errs = append(errs, FieldError{
			Code:    CodeMissingCell,
			Field:   v.header[i],
			Message: fmt.Sprintf("missing cell: the row ends before column %d", i+1),
		})
	}
	if v.cols == nil {
		return errs
	}
	if n != len(v.cols) || !v.passes(rec) {
		errs = v.fieldErrors(rec, errs)
	}
	for i := n; i < len(v.cols); i++ {
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
			seen = v.seenInt(&set.seen, v.vals[i].i)
		} else {
			v.keyBuf = v.cols[i].appendKey(v.keyBuf[:0], rec.Field(i), v.vals[i])
			seen = v.seenKey(&set.seen, v.keyBuf)
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
			seen = v.seenInt(&v.pkSet, v.vals[v.pk[0]].i)
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
		for u := range v.uniq {
			v.uniq[u].seen.remember()
		}
		v.pkSet.remember()
	}
	return errs
}

// passes reports whether each of rec's fields, one per column, holds a
// missing value its column allows or a value that meets its column's type
// and constraints, noting keyed values as fieldErrors does. It is the
// common case made short: it stops at the first failure without saying
// why, and Check then calls fieldErrors, which does.
func (v *Validator) passes(rec *Record) bool {
	steps, fields, ok, vals := v.steps, rec.fields[:len(v.steps)], v.ok[:len(v.steps)], v.vals[:len(v.steps)]
	for i := range steps {
		s := &steps[i]
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
				return false
			}
			ok[i] = false
			continue
		}
		var val value
		switch s.op {
		case opNone:
		case opEnum:
			if s.col.enumList.index(b) < 0 {
				return false
			}
		case opEmail:
			if !isEmail(b) {
				return false
			}
		case opInteger:
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
					return false
				}
			}
			if x < s.lo || x > s.hi {
				return false
			}
			val.i = x
		case opNumber:
			if x, simple := simpleFloat(b); simple {
				val.f = x + 0 // -0 equals 0
			} else if !isNumber(b) {
				return false
			} else if s.needValue {
				val = numberValue(b)
			}
			if !(val.f >= s.flo && val.f <= s.fhi) {
				return false
			}
		case opISODate:
			if len(b) != 10 || !isISODate(b) {
				return false
			}
		case opISODatetime:
			if !isISODatetime(b) {
				return false
			}
		case opBoolean:
			k := s.col.bools.index(b)
			if k < 0 {
				return false
			}
			if k < len(s.col.trueVals) {
				val.i = 1
			}
		default:
			var res parseResult
			if val, res = s.col.parse(b); res != parseOK {
				return false
			}
			if s.constrained && len(s.col.checkConstraints(b, val, nil)) > 0 {
				return false
			}
		}
		if s.keyed {
			vals[i], ok[i] = val, true
		}
	}
	return true
}

// fieldErrors appends the type and constraint errors of each of rec's
// fields, and notes in v.ok and v.vals the values of keyed columns that
// hold one, for the unique and primary-key checks.
func (v *Validator) fieldErrors(rec *Record, errs []FieldError) []FieldError {
	m := min(rec.NumFields(), len(v.cols))
	steps, fields, ok, vals := v.steps[:m], rec.fields[:m], v.ok[:m], v.vals[:m]
	for i := range steps {
		// Check field i, and when it holds a value of its type and is part
		// of a key, record the value for the unique and primary-key checks
		// below.
		s := &steps[i]
		var b []byte
		if f := fields[i]; f.start >= 0 {
			b = rec.raw[f.start:f.end:f.end]
		} else {
			b = rec.esc[^f.start:f.end:f.end]
		}
		ok[i] = false
		if len(b) <= v.maxMissing && v.isMissing(b) {
			if s.required {
				errs = append(errs, FieldError{Code: CodeConstraintError, Field: s.col.name, Message: "a value is required"})
			}
			continue
		}
		var val value
		switch s.op {
		case opNone, opSkip:
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
			x, res := parseInt(b)
			if res != parseOK {
				errs = append(errs, s.col.typeError(b, res))
				continue
			}
			val.i = x
			if x < s.lo || x > s.hi {
				errs = s.col.checkConstraints(b, val, errs)
			}
		case opNumber:
			// The common number parses in one quick pass; for the others,
			// checking the syntax is enough unless the value is needed.
			if f, ok := simpleFloat(b); ok {
				if f == 0 {
					f = 0 // -0 equals 0
				}
				val.f = f
			} else if !isNumber(b) {
				errs = append(errs, s.col.typeError(b, parseBad))
				continue
			} else if s.needValue {
				val = numberValue(b)
			}
			if !(val.f >= s.flo && val.f <= s.fhi) {
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

// sum hashes a key to 128 bits, never all zero.
func (v *Validator) sum(key []byte) [2]uint64 {
	h := [2]uint64{maphash.Bytes(v.seed1, key), maphash.Bytes(v.seed2, key)}
	if h == ([2]uint64{}) {
		h[1] = 1
	}
	return h
}

// seenInt reports whether s holds the integer key x, and makes x the key
// s.remember adds. s.ints must be set.
func (v *Validator) seenInt(s *keySet, x int64) bool {
	s.pending, s.pendingInt = true, x
	if s.ranges.above(x) {
		return false // every key in s is below x: the common case
	}
	if s.ranges.has(x) {
		return true
	}
	s.pendingHash = v.sum(appendUint64(v.keyBuf[:0], uint64(x)))
	return s.hashes.has(s.pendingHash)
}

// seenKey reports whether s holds key, and makes it the key s.remember
// adds. s.ints must not be set.
func (v *Validator) seenKey(s *keySet, key []byte) bool {
	s.pending = true
	s.pendingHash = v.sum(key)
	return s.hashes.has(s.pendingHash)
}

// keySet remembers the keys of one unique column, or of the primary key.
// When every key is one integer (ints is set), keys above all the others
// go to a list of ranges and only the rest are hashed, so that an ID
// column in increasing order costs next to nothing; otherwise every key is
// hashed. Each key is in ranges or in hashes, never in both, and every
// hashed integer is below the top of the ranges.
type keySet struct {
	ints   bool
	ranges rangeSet
	hashes hashSet

	// The key of the row being checked, which remember adds: pendingInt
	// when ints is set and the key is above the ranges, else pendingHash.
	pending     bool
	pendingInt  int64
	pendingHash [2]uint64
}

// remember adds the key seenInt or seenKey last looked up, if any.
func (s *keySet) remember() {
	if !s.pending {
		return
	}
	s.pending = false
	if s.ints && s.ranges.above(s.pendingInt) {
		s.ranges.push(s.pendingInt)
		return
	}
	s.hashes.add(s.pendingHash)
}

// rangeSet is a set of integers kept as sorted, disjoint, non-adjacent
// inclusive ranges, which grows only at the top: adding the integer just
// above the last range extends it, and one further above starts a new
// range. The zero value is an empty set.
type rangeSet struct {
	r [][2]int64 // r[k][0] <= r[k][1] < r[k+1][0]-1
}

// above reports whether x is above every member of s.
func (s *rangeSet) above(x int64) bool {
	return len(s.r) == 0 || x > s.r[len(s.r)-1][1]
}

// has reports whether x is a member of s.
func (s *rangeSet) has(x int64) bool {
	// Find the first range ending at or above x.
	lo, hi := 0, len(s.r)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if s.r[m][1] < x {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo < len(s.r) && s.r[lo][0] <= x
}

// push adds x, which must be above every member of s.
func (s *rangeSet) push(x int64) {
	if n := len(s.r); n > 0 && x-1 == s.r[n-1][1] {
		s.r[n-1][1] = x
		return
	}
	s.r = append(s.r, [2]int64{x, x})
}

// hashSet is a set of 128-bit hashes: open addressing with linear probing
// in a power-of-two table, doubled when it would be more than 3/4 full. The
// hashes are uniform, so their top bits pick the slot; then the table keeps
// its members roughly in hash order, and doubling it reads the old table
// and writes the new one front to back, friendly to caches. The zero hash
// marks an empty slot and is never added. The zero value is an empty set.
type hashSet struct {
	slots [][2]uint64
	shift uint // 64 - log2(len(slots))
	n     int
}

func (s *hashSet) has(h [2]uint64) bool {
	if s.n == 0 {
		return false
	}
	mask := uint64(len(s.slots) - 1)
	for i := h[0] >> s.shift; ; i = (i + 1) & mask {
		switch s.slots[i] {
		case h:
			return true
		case [2]uint64{}:
			return false
		}
	}
}

// add adds h, which must not be zero.
func (s *hashSet) add(h [2]uint64) {
	if 4*(s.n+1) > 3*len(s.slots) {
		s.grow()
	}
	mask := uint64(len(s.slots) - 1)
	for i := h[0] >> s.shift; ; i = (i + 1) & mask {
		switch s.slots[i] {
		case h:
			return
		case [2]uint64{}:
			s.slots[i] = h
			s.n++
			return
		}
	}
}

func (s *hashSet) grow() {
	old := s.slots
	size := max(1024, 2*len(old))
	s.slots = make([][2]uint64, size)
	s.shift = uint(64 - bits.TrailingZeros(uint(size)))
	s.n = 0
	for _, h := range old {
		if h != ([2]uint64{}) {
			s.add(h)
		}
	}
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
	if c.min != nil && c.belowMin(val) {
		errs = append(errs, FieldError{Code: CodeConstraintError, Field: c.name,
			Message: fmt.Sprintf("value %s is below the minimum %s", c.show(b), c.min.text)})
	}
	if c.max != nil && c.aboveMax(val) {
		errs = append(errs, FieldError{Code: CodeConstraintError, Field: c.name,
			Message: fmt.Sprintf("value %s is above the maximum %s", c.show(b), c.max.text)})
	}
	if c.minLen >= 0 || c.maxLen >= 0 {
		n := utf8.RuneCount(b)
		if c.minLen >= 0 && n < c.minLen {
			errs = append(errs, FieldError{Code: CodeConstraintError, Field: c.name,
				Message: fmt.Sprintf("value %s is %d characters long, shorter than the minimum length %d", quote(b), n, c.minLen)})
		}
		if c.maxLen >= 0 && n > c.maxLen {
			errs = append(errs, FieldError{Code: CodeConstraintError, Field: c.name,
				Message: fmt.Sprintf("value %s is %d characters long, longer than the maximum length %d", quote(b), n, c.maxLen)})
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
	}
	return errs
}

// belowMin reports whether val, of c's type, is below c.min, which is set;
// NaN is below every minimum.
func (c *column) belowMin(val value) bool {
	switch c.kind {
	case kindNumber:
		return !(val.f >= c.min.v.f)
	case kindDatetime:
		return compare(c.kind, val, c.min.v) < 0
	}
	return val.i < c.min.v.i
}

// aboveMax reports whether val, of c's type, is above c.max, which is set;
// NaN is above every maximum.
func (c *column) aboveMax(val value) bool {
	switch c.kind {
	case kindNumber:
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
			want = "a time in the form HH:MM:SS"
		default:
			want = "an RFC 3339 datetime (YYYY-MM-DDTHH:MM:SSZ)"
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
		return appendUint64(dst, math.Float64bits(val.f))
	case kindDatetime:
		dst = appendUint64(dst, uint64(val.i))
		return appendUint64(dst, uint64(val.ns))
	}
	return appendUint64(dst, uint64(val.i))
}

func appendUint64(dst []byte, u uint64) []byte {
	return append(dst, byte(u), byte(u>>8), byte(u>>16), byte(u>>24), byte(u>>32), byte(u>>40), byte(u>>48), byte(u>>56))
}

// ---- types ----

// parseResult says whether a value has its field's type.
type parseResult uint8

const (
	parseOK    parseResult = iota
	parseBad               // not of the type
	parseRange             // an integer beyond 64 bits
)

// parse reads b as a value of column c's type and format.
func (c *column) parse(b []byte) (value, parseResult) {
	switch c.kind {
	case kindString:
		if c.strFormat != formatDefault && !checkStringFormat(c.strFormat, b) {
			return value{}, parseBad
		}
		return value{}, parseOK
	case kindAny:
		return value{}, parseOK
	case kindInteger:
		return parseInteger(b)
	case kindNumber:
		if !isNumber(b) {
			return value{}, parseBad
		}
		return numberValue(b), parseOK
	case kindBoolean:
		i, res := c.parseBoolean(b)
		return value{i: i}, res
	case kindYear:
		y, _, ok := fixedDigits(b, 0, 4)
		if !ok || len(b) != 4 {
			return value{}, parseBad
		}
		return value{i: int64(y)}, parseOK
	case kindDate:
		if c.layout == nil {
			return result(parseISODate(b))
		}
		t, ok := c.layout.parse(b)
		return result(value{i: daysFromCivil(t.year, t.month, t.day)}, ok)
	case kindTime:
		if c.layout == nil {
			return result(parseISOTime(b))
		}
		t, ok := c.layout.parse(b)
		return result(timeValue(t.hour, t.minute, t.sec, t.nsec, t.offset), ok)
	case kindDatetime:
		if c.layout == nil {
			return result(parseISODatetime(b))
		}
		t, ok := c.layout.parse(b)
		return result(datetimeValue(t), ok)
	}
	return value{}, parseBad
}

// parseBoolean reads b as a boolean: 1 for one of c's true values, 0 for
// one of its false values.
func (c *column) parseBoolean(b []byte) (int64, parseResult) {
	for _, t := range c.trueVals {
		if string(b) == string(t) {
			return 1, parseOK
		}
	}
	for _, f := range c.falseVals {
		if string(b) == string(f) {
			return 0, parseOK
		}
	}
	return 0, parseBad
}

// textSet finds which of a few texts a value is, with one comparison: the
// value's length and three of its bytes, hashed, pick the one item it may
// be. When no multiplier in a short search gives each item a slot of its
// own, or there are too many items, it compares the items in order.
type textSet struct {
	items [][]byte
	mul   uint32    // the hash multiplier; 0 to search in order
	slot  [64]uint8 // 1 + the index in items of the item hashing here, or 0
	// lo and hi hold each item of up to 16 bytes as the two words
	// shortWords reads, so that index compares such an item without a loop.
	lo, hi []uint64
}

// maxTextSet is the most items a textSet hashes.
const maxTextSet = 16

// newTextSet returns a textSet of items; an item repeating an earlier one
// is never found, as the earlier one is.
func newTextSet(items [][]byte) textSet {
	s := textSet{items: items}
	if len(items) > maxTextSet {
		return s
	}
	s.lo, s.hi = make([]uint64, len(items)), make([]uint64, len(items))
	for k, it := range items {
		if len(it) <= 16 {
			s.lo[k], s.hi[k] = shortWords(it)
		}
	}
	// The multipliers tried are fixed, so that a schema always compiles
	// to the same set.
	mul := uint32(0x9e3779b1)
	for range 1000 {
		s.slot = [64]uint8{}
		ok := true
		for k, it := range items {
			h := textHash(it, mul)
			switch j := s.slot[h]; {
			case j == 0:
				s.slot[h] = uint8(k + 1)
			case string(items[j-1]) != string(it):
				ok = false // two items share a slot
			}
		}
		if ok {
			s.mul = mul
			return s
		}
		mul = mul*0x2c1b3c6d + 0x297a2d39 | 1
	}
	s.slot = [64]uint8{}
	return s
}

// textHash hashes b's length and its first, middle and last bytes to a
// slot of a textSet.
func textHash(b []byte, mul uint32) uint8 {
	x := uint32(len(b))
	if len(b) > 0 {
		x |= uint32(b[0])<<8 | uint32(b[len(b)/2])<<16 | uint32(b[len(b)-1])<<24
	}
	return uint8((x * mul) >> 26)
}

// index returns the index of the first item equal to b, or -1.
func (s *textSet) index(b []byte) int {
	if s.mul == 0 {
		for k, it := range s.items {
			if string(it) == string(b) {
				return k
			}
		}
		return -1
	}
	k := int(s.slot[textHash(b, s.mul)]) - 1
	if k < 0 || len(s.items[k]) != len(b) {
		return -1
	}
	if len(b) <= 16 {
		if lo, hi := shortWords(b); lo != s.lo[k] || hi != s.hi[k] {
			return -1
		}
	} else if string(s.items[k]) != string(b) {
		return -1
	}
	return k
}

// shortWords reads b, of at most 16 bytes, as two little-endian words:
// two texts of the same length are equal when their words are. Up to 8
// bytes fill lo, zero-padded; more fill lo with the first 8 and hi with
// the last 8.
func shortWords(b []byte) (lo, hi uint64) {
	if n := len(b); n > 8 {
		return binary.LittleEndian.Uint64(b), binary.LittleEndian.Uint64(b[n-8:])
	}
	return shortWord(b), 0
}

// shortWord reads b, of at most 8 bytes, as a zero-padded little-endian
// word. Its two loads may overlap; they then read the same bytes twice,
// which the OR leaves unchanged.
func shortWord(b []byte) uint64 {
	switch n := len(b); {
	case n >= 4:
		return uint64(binary.LittleEndian.Uint32(b)) | uint64(binary.LittleEndian.Uint32(b[n-4:]))<<(8*(n-4))
	case n >= 2:
		return uint64(binary.LittleEndian.Uint16(b)) | uint64(binary.LittleEndian.Uint16(b[n-2:]))<<(8*(n-2))
	case n == 1:
		return uint64(b[0])
	}
	return 0
}

func result(v value, ok bool) (value, parseResult) {
	if !ok {
		return value{}, parseBad
	}
	return v, parseOK
}

// compare orders two values of kind k.
func compare(k kind, a, b value) int {
	switch k {
	case kindNumber:
		return cmp.Compare(a.f, b.f)
	case kindDatetime:
		if c := cmp.Compare(a.i, b.i); c != 0 {
			return c
		}
		return cmp.Compare(a.ns, b.ns)
	}
	return cmp.Compare(a.i, b.i)
}

// parseInteger reads an optionally signed run of decimal digits.
func parseInteger(b []byte) (value, parseResult) {
	x, res := parseInt(b)
	return value{i: x}, res
}

// parseInt is parseInteger returning the integer alone. Up to 18 digits
// cannot overflow, so they are read without checking; longer runs go to
// parseLongInt.
func parseInt(b []byte) (int64, parseResult) {
	digits := b
	if len(b) > 0 && (b[0] == '+' || b[0] == '-') {
		digits = b[1:]
	}
	if len(digits) == 0 || len(digits) > 18 {
		return parseLongInt(b)
	}
	var x int64
	for _, c := range digits {
		d := c - '0'
		if d > 9 {
			return 0, parseBad
		}
		x = x*10 + int64(d)
	}
	if b[0] == '-' {
		x = -x
	}
	return x, parseOK
}

// eightDigits reads the first n (1 to 8) bytes of the little-endian word w,
// whose other bytes are zero, as decimal digits, all at once: it reports
// false if one of them is not a digit.
func eightDigits(w uint64, n int) (uint64, bool) {
	x := w ^ (ones*'0')>>(64-8*n) // digits become 0 to 9
	if !shapeOK(x, ones*0x76) {
		return 0, false
	}
	// Shift the digits to the top, so that the bytes below read as leading
	// zeros, then add neighbours pairwise: 2, 4, then 8 digits at a time.
	x <<= 64 - 8*n
	x = (x * (1 + 10<<8)) >> 8 & 0x00ff00ff00ff00ff
	x = (x * (1 + 100<<16)) >> 16 & 0x0000ffff0000ffff
	return (x * (1 + 10000<<32)) >> 32, true
}

// parseLongInt is parseInt for any length, checking for overflow.
func parseLongInt(b []byte) (int64, parseResult) {
	i := 0
	neg := false
	if len(b) > 0 && (b[0] == '+' || b[0] == '-') {
		neg = b[0] == '-'
		i = 1
	}
	if i == len(b) {
		return 0, parseBad
	}
	const limit = 1 << 63
	var u uint64
	over := false
	for ; i < len(b); i++ {
		d := b[i] - '0'
		if d > 9 {
			return 0, parseBad
		}
		if u > (limit-uint64(d))/10 {
			over = true
		}
		u = u*10 + uint64(d)
	}
	if over || (!neg && u == limit) {
		return 0, parseRange
	}
	if neg {
		return -int64(u), parseOK
	}
	return int64(u), parseOK
}

// isNumber reports whether b is a decimal number: an optional sign, digits
// with an optional decimal point (at least one digit in all), an optional
// exponent; or NaN, INF or -INF.
func isNumber(b []byte) bool {
	i := 0
	if len(b) > 0 && (b[0] == '+' || b[0] == '-') {
		i = 1
	}
	nd := 0
	for i < len(b) && b[i]-'0' <= 9 {
		i++
		nd++
	}
	if i < len(b) && b[i] == '.' {
		i++
		for i < len(b) && b[i]-'0' <= 9 {
			i++
			nd++
		}
	}
	if nd == 0 {
		return isNumberWord(b)
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		ne := 0
		for i < len(b) && b[i]-'0' <= 9 {
			i++
			ne++
		}
		if ne == 0 {
			return false
		}
	}
	return i == len(b)
}

func isNumberWord(b []byte) bool {
	return string(b) == "NaN" || string(b) == "INF" || string(b) == "-INF"
}

// numberValue parses b, which isNumber accepted.
func numberValue(b []byte) value {
	if f, ok := simpleFloat(b); ok {
		if f == 0 {
			f = 0 // -0 equals 0
		}
		return value{f: f}
	}
	switch {
	case string(b) == "NaN":
		return value{f: math.NaN()}
	case string(b) == "INF":
		return value{f: math.Inf(1)}
	case string(b) == "-INF":
		return value{f: math.Inf(-1)}
	}
	f, _ := strconv.ParseFloat(string(b), 64) // out of range gives ±Inf
	if f == 0 {
		f = 0 // -0 equals 0
	}
	return value{f: f}
}

// exactPow10 holds the powers of ten a float64 represents exactly. It is a
// read-only table.
var exactPow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
	1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// simpleFloat parses the common number quickly: a sign, digits with at
// most 15 significant and 22 after the decimal point, no exponent. Both the
// digits and the power of ten are exact as float64, so one division rounds
// correctly. It reports false for anything else.
func simpleFloat(b []byte) (float64, bool) {
	i := 0
	neg := false
	if len(b) > 0 && (b[0] == '+' || b[0] == '-') {
		neg = b[0] == '-'
		i = 1
	}
	var mant uint64
	sig := 0 // digits from the first nonzero one
	whole := i
	i, mant, sig = digitRun(b, i, mant, sig)
	nd, frac := i-whole, 0
	if i < len(b) && b[i] == '.' {
		i++
		point := i
		i, mant, sig = digitRun(b, i, mant, sig)
		frac = i - point
		nd += frac
	}
	// mant may have overflowed when sig > 15, but it is then not used.
	if i != len(b) || nd == 0 || sig > 15 || frac >= len(exactPow10) {
		return 0, false
	}
	f := float64(mant)
	if frac > 0 {
		f /= exactPow10[frac]
	}
	if neg {
		f = -f
	}
	return f, true
}

// digitRun reads the decimal digits at b[i:] into mant, counting in sig
// those from the first nonzero digit of mant on, and returns where they
// end.
func digitRun(b []byte, i int, mant uint64, sig int) (int, uint64, int) {
	for ; i < len(b); i++ {
		d := b[i] - '0'
		if d > 9 {
			break
		}
		mant = mant*10 + uint64(d)
		if mant != 0 {
			sig++
		}
	}
	return i, mant, sig
}

// parseISODate reads YYYY-MM-DD.
func parseISODate(b []byte) (value, bool) {
	if len(b) != 10 {
		return value{}, false
	}
	days, ok := isoDate(b)
	return value{i: days}, ok
}

// isoDate reads YYYY-MM-DD at the start of b, which has at least 10 bytes,
// as days since 1970-01-01.
func isoDate(b []byte) (int64, bool) {
	y, m, d, ok := isoYMD(b)
	if !ok {
		return 0, false
	}
	return daysFromCivil(y, m, d), true
}

// isISODate reports whether b starts with a valid YYYY-MM-DD; b has at
// least 10 bytes.
func isISODate(b []byte) bool {
	_, _, _, ok := isoYMD(b)
	return ok
}

// Fixed-shape texts, such as the YYYY-MM-DD of a date, are checked eight
// bytes at a time. XOR with a shape word, which holds '0' where the text
// has a digit and the text's own byte elsewhere, leaves each digit as 0 to
// 9 and each other byte as 0; adding the matching limit word, which holds
// 0x76 for a digit and 0x7f for another byte, then sets a byte's high bit
// exactly when the byte was out of range. The bytes' low seven bits are
// added, so no carry crosses into the next byte.
const (
	dateShape  = 0x2d30302d30303030 // "0000-00-", little-endian
	dateLimit  = 0x7f76767f76767676
	clockShape = 0x30303a30303a3030 // "00:00:00"
	clockLimit = 0x76767f76767f7676
)

// shapeOK reports whether the word x, XORed with a shape word, fits the
// shape's limit word.
func shapeOK(x, limit uint64) bool {
	return (x&lows+limit|x)&highs == 0
}

// isoYMD reads YYYY-MM-DD at the start of b, which has at least 10 bytes.
func isoYMD(b []byte) (y, m, d int, ok bool) {
	_ = b[9]
	x := binary.LittleEndian.Uint64(b) ^ dateShape
	z := uint64(binary.LittleEndian.Uint16(b[8:])) ^ 0x3030 // DD
	if !shapeOK(x, dateLimit) || !shapeOK(z, 0x7676) {
		return 0, 0, 0, false
	}
	y = int(x&0xff)*1000 + int(x>>8&0xff)*100 + int(x>>16&0xff)*10 + int(x>>24&0xff)
	m = int(x>>40&0xff)*10 + int(x>>48&0xff)
	d = int(z&0xff)*10 + int(z>>8)
	if m < 1 || m > 12 || d < 1 || d > 28 && d > daysIn(y, m) {
		return 0, 0, 0, false
	}
	return y, m, d, true
}

// clock reads HH:MM:SS with an optional fraction and an optional zone (Z or
// ±HH:MM) and nothing after, returning the seconds after midnight, the
// nanoseconds, and the zone's offset in seconds.
func clock(b []byte) (sec, nsec, off int, ok bool) {
	if len(b) < 8 {
		return 0, 0, 0, false
	}
	s, ok := hms(b)
	if !ok {
		return 0, 0, 0, false
	}
	if nsec, off, ok = clockTail(b); !ok {
		return 0, 0, 0, false
	}
	return s, nsec, off, true
}

// clockTail reads what may follow HH:MM:SS in b: an optional fraction and
// an optional zone, and nothing after, returning the nanoseconds and the
// zone's offset in seconds.
func clockTail(b []byte) (nsec, off int, ok bool) {
	i := 8
	if i < len(b) && b[i] == '.' {
		if nsec, i, ok = fraction(b, i+1); !ok {
			return 0, 0, false
		}
	}
	if i < len(b) {
		if off, i, ok = zone(b, i, false); !ok {
			return 0, 0, false
		}
	}
	return nsec, off, i == len(b)
}

// hms reads HH:MM:SS at the start of b, which has at least 8 bytes, as
// seconds after midnight.
func hms(b []byte) (int, bool) {
	x := binary.LittleEndian.Uint64(b) ^ clockShape
	h := int(x&0xff)*10 + int(x>>8&0xff)
	m := int(x>>24&0xff)*10 + int(x>>32&0xff)
	s := int(x>>48&0xff)*10 + int(x>>56)
	if !shapeOK(x, clockLimit) || h > 23 || m > 59 || s > 59 {
		return 0, false
	}
	return h*3600 + m*60 + s, true
}

// parseISOTime reads HH:MM:SS[.fraction][Z|±HH:MM].
func parseISOTime(b []byte) (value, bool) {
	sec, nsec, off, ok := clock(b)
	return timeValue(0, 0, sec, nsec, off), ok
}

func timeValue(h, m, s, nsec, off int) value {
	return value{i: int64(h*3600+m*60+s-off)*1e9 + int64(nsec)}
}

// isISODatetime reports whether b is an RFC 3339 datetime, as
// parseISODatetime reads one, without working out its value.
func isISODatetime(b []byte) bool {
	if len(b) < 19 || (b[10] != 'T' && b[10] != 't' && b[10] != ' ') {
		return false
	}
	if _, _, _, ok := isoYMD(b); !ok {
		return false
	}
	if len(b) == 20 && b[19]|0x20 == 'z' {
		_, ok := hms(b[11:]) // the usual form, in UTC: no fraction
		return ok
	}
	_, _, _, ok := clock(b[11:])
	return ok
}

// parseISODatetime reads an RFC 3339 datetime, YYYY-MM-DDTHH:MM:SS with an
// optional fraction and zone; T may also be t or a space. Without a zone the
// time is taken as UTC.
func parseISODatetime(b []byte) (value, bool) {
	if len(b) < 19 || (b[10] != 'T' && b[10] != 't' && b[10] != ' ') {
		return value{}, false
	}
	days, ok := isoDate(b)
	if !ok {
		return value{}, false
	}
	sec, nsec, off, ok := clock(b[11:])
	if !ok {
		return value{}, false
	}
	return value{i: days*86400 + int64(sec-off), ns: int64(nsec)}, true
}

func datetimeValue(t civil) value {
	days := daysFromCivil(t.year, t.month, t.day)
	return value{i: days*86400 + int64(t.hour*3600+t.minute*60+t.sec-t.offset), ns: int64(t.nsec)}
}

// checkStringFormat checks b against a string format.
func checkStringFormat(f stringFormat, b []byte) bool {
	switch f {
	case formatEmail:
		return isEmail(b)
	case formatURI:
		return isURI(b)
	case formatUUID:
		return isUUID(b)
	}
	return true
}

// isEmailGeneric is the portable isEmail.
func isEmailGeneric(b []byte) bool {
	at := bytes.IndexByte(b, '@')
	if at <= 0 || hasSpaceOrControl(b) {
		return false
	}
	dom := b[at+1:]
	if bytes.IndexByte(dom, '@') >= 0 {
		return false
	}
	dot := bytes.IndexByte(dom, '.')
	return dot > 0 && dom[len(dom)-1] != '.'
}

// hasSpaceOrControl reports whether b holds a space, an ASCII control
// character or DEL, eight bytes at a time.
func hasSpaceOrControl(b []byte) bool {
	i := 0
	for ; i+8 <= len(b); i += 8 {
		if spaceOrControl(binary.LittleEndian.Uint64(b[i:])) != 0 {
			return true
		}
	}
	for ; i < len(b); i++ {
		if b[i] <= ' ' || b[i] == 0x7f {
			return true
		}
	}
	return false
}

// spaceOrControl returns a word that is not zero when one of the eight
// bytes in w is a space, an ASCII control character or DEL. A byte below
// 0x21 borrows into its high bit, unless it had one; a borrow may mark a
// byte above a marked one, but never a byte when none is marked.
func spaceOrControl(w uint64) uint64 {
	del := w ^ (ones * 0x7f)
	return ((w-ones*0x21)&^w | (del-ones)&^del) & highs
}

// isURI checks for a scheme (a letter, then letters, digits, +, - or .), a
// colon, something after it, and no spaces or control characters.
func isURI(b []byte) bool {
	colon := bytes.IndexByte(b, ':')
	if colon < 1 || colon == len(b)-1 {
		return false
	}
	for i, c := range b[:colon] {
		letter := c|0x20 >= 'a' && c|0x20 <= 'z'
		if !letter && (i == 0 || !(c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.')) {
			return false
		}
	}
	return !hasSpaceOrControl(b[colon+1:])
}

// isUUID checks the canonical 8-4-4-4-12 hexadecimal form.
func isUUID(b []byte) bool {
	if len(b) != 36 {
		return false
	}
	for i, c := range b {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c|0x20 >= 'a' && c|0x20 <= 'f') {
				return false
			}
		}
	}
	return true
}

// ---- JSON ----

// AppendJSON appends rec as one JSON object keyed by the header labels, with
// no trailing newline. With a schema, integers, numbers and years become
// JSON numbers (NaN, INF and -INF, which JSON lacks, stay strings), booleans
// become true or false, missing values become null, and other values stay
// strings; without one, every value is a string. It is meant for records
// Check accepted: an absent cell becomes null, an extra cell is dropped, and
// a value not of its type is written as a string.
func (v *Validator) AppendJSON(dst []byte, rec *Record) []byte {
	dst = append(dst, '{')
	n := rec.NumFields()
	if rec.Err != nil {
		n = 0
	}
	for i, key := range v.keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, key...)
		if i >= n {
			dst = append(dst, "null"...)
			continue
		}
		b := rec.Field(i)
		if v.cols == nil {
			dst = appendJSONString(dst, b)
			continue
		}
		if v.isMissing(b) {
			dst = append(dst, "null"...)
			continue
		}
		c := &v.cols[i]
		switch c.kind {
		case kindInteger:
			if _, res := parseInteger(b); res == parseOK {
				dst = appendJSONDigits(dst, b)
				continue
			}
		case kindYear:
			if _, res := c.parse(b); res == parseOK {
				dst = appendJSONDigits(dst, b)
				continue
			}
		case kindNumber:
			if isNumber(b) && !isNumberWord(b) {
				dst = appendJSONNumber(dst, b)
				continue
			}
		case kindBoolean:
			if val, res := c.parse(b); res == parseOK {
				if val.i == 1 {
					dst = append(dst, "true"...)
				} else {
					dst = append(dst, "false"...)
				}
				continue
			}
		}
		dst = appendJSONString(dst, b)
	}
	return append(dst, '}')
}

// appendJSONDigits writes an optionally signed integer as a JSON number:
// without a plus sign or leading zeros.
func appendJSONDigits(dst, b []byte) []byte {
	if b[0] == '+' || b[0] == '-' {
		if b[0] == '-' {
			dst = append(dst, '-')
		}
		b = b[1:]
	}
	for len(b) > 1 && b[0] == '0' {
		b = b[1:]
	}
	return append(dst, b...)
}

// appendJSONNumber writes a number isNumber accepted as a JSON number: the
// same digits, without a plus sign or leading zeros, with a zero before a
// bare decimal point and no point without digits after it.
func appendJSONNumber(dst, b []byte) []byte {
	i := 0
	if b[0] == '+' || b[0] == '-' {
		if b[0] == '-' {
			dst = append(dst, '-')
		}
		i = 1
	}
	j := i
	for j < len(b) && b[j]-'0' <= 9 {
		j++
	}
	whole := b[i:j]
	for len(whole) > 1 && whole[0] == '0' {
		whole = whole[1:]
	}
	if len(whole) == 0 {
		dst = append(dst, '0')
	}
	dst = append(dst, whole...)
	if j < len(b) && b[j] == '.' {
		k := j + 1
		for k < len(b) && b[k]-'0' <= 9 {
			k++
		}
		if k > j+1 {
			dst = append(dst, b[j:k]...)
		}
		j = k
	}
	return append(dst, b[j:]...) // the exponent, already valid JSON
}

const hexDigits = "0123456789abcdef"

// plainJSON8 reports whether none of the eight bytes in w needs care in a
// JSON string: each is ASCII, not a control character, not '"' or '\\'.
func plainJSON8(w uint64) bool {
	quote := w ^ (ones * '"')
	bslash := w ^ (ones * '\\')
	x := w | (w - ones*0x20) | (quote-ones)&^quote | (bslash-ones)&^bslash
	return x&highs == 0
}

// appendJSONString writes b as a JSON string, escaping quotes, backslashes,
// control characters, U+2028 and U+2029, and replacing invalid UTF-8 with
// U+FFFD.
func appendJSONString(dst, b []byte) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(b); {
		for i+8 <= len(b) && plainJSON8(binary.LittleEndian.Uint64(b[i:])) {
			i += 8
		}
		if i == len(b) {
			break
		}
		c := b[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, b[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, b[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, b[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, b[start:]...)
	return append(dst, '"')
}
