package csvstream

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/csvstream/csvstream/internal/gen"
)

// Check reads most types through quick direct paths. checkReference is
// Check written plainly: every value is read by parseReference, which
// reads it the slow, obvious way, and every constraint is checked by
// checkConstraints. The tests below hold Check to it.

// checkReference is Check without shortcuts.
func (v *Validator) checkReference(rec *Record, errs []FieldError) []FieldError {
	if rec.Err != nil {
		field := ""
		if f := rec.Err.Field; f > 0 && f <= len(v.header) {
			field = v.header[f-1]
		}
		return append(errs, FieldError{Code: rec.Err.Code, Field: field, Message: rec.Err.Message})
	}
	start := len(errs)
	n := rec.NumFields()
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
	if n == len(v.header) || n == 1 {
		blank := true
		for i := 0; i < n; i++ {
			if len(rec.Field(i)) > 0 {
				blank = false
			}
		}
		if blank {
			return append(errs, FieldError{Code: CodeBlankRow, Message: "every cell is empty"})
		}
	}
	if extra := n - len(v.header); extra > 0 {
		first := quote(rec.Field(len(v.header)))
		msg := fmt.Sprintf("extra cell in column %d (the header has %d): %s", n, len(v.header), first)
		if extra > 1 {
			msg = fmt.Sprintf("%d extra cells in columns %d to %d (the header has %d); the first holds %s", extra, len(v.header)+1, n, len(v.header), first)
		}
		errs = append(errs, FieldError{Code: CodeExtraCell, Message: msg})
	}
	if missing := len(v.header) - n; missing > 0 {
		msg := fmt.Sprintf("missing cell: the row ends before column %d", n+1)
		if missing > 1 {
			msg = fmt.Sprintf("%d missing cells: the row ends before column %d (the header has %d)", missing, n+1, len(v.header))
		}
		errs = append(errs, FieldError{Code: CodeMissingCell, Field: v.header[n], Message: msg})
	}
	if v.cols == nil {
		return errs
	}
	ok := make([]bool, len(v.cols))
	vals := make([]value, len(v.cols))
	for i := range v.cols {
		if i >= n {
			break
		}
		c := &v.cols[i]
		b := rec.Field(i)
		missing := false
		for _, m := range v.missing {
			if bytes.Equal(b, m) {
				missing = true
			}
		}
		if missing {
			if c.required {
				errs = append(errs, FieldError{Code: CodeConstraintError, Field: c.name, Message: "a value is required"})
			}
			continue
		}
		val, res := c.parseReference(b)
		if res != parseOK {
			errs = append(errs, c.typeError(b, res))
			continue
		}
		vals[i], ok[i] = val, true
		errs = c.checkConstraints(b, val, errs)
	}
	for u := range v.uniq {
		set := &v.uniq[u]
		i := set.col
		if !ok[i] {
			set.seen.pending = false
			continue
		}
		var seen bool
		if set.seen.ints {
			seen = v.seenInt(set.seen, vals[i].i)
		} else {
			v.keyBuf = v.cols[i].appendKey(v.keyBuf[:0], rec.Field(i), vals[i])
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
			pkOK = pkOK && ok[i]
		}
		var seen bool
		switch {
		case !pkOK:
		case v.pkSet.ints:
			seen = v.seenInt(&v.pkSet, vals[v.pk[0]].i)
		default:
			v.keyBuf = v.keyBuf[:0]
			for _, i := range v.pk {
				v.keyBuf = v.cols[i].appendKey(v.keyBuf, rec.Field(i), vals[i])
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

// parseReference is column.parse written plainly, byte by byte.
func (c *column) parseReference(b []byte) (value, parseResult) {
	switch c.kind {
	case kindString:
		if c.strFormat == formatEmail && !isEmailReference(b) {
			return value{}, parseBad
		}
	case kindInteger:
		return parseIntegerReference(b)
	case kindNumber:
		if !isNumber(b) {
			return value{}, parseBad
		}
		if f, ok := simpleFloatReference(b); ok {
			if f == 0 {
				f = 0
			}
			return value{f: f}, parseOK
		}
		return numberValue(b), parseOK
	case kindBoolean:
		for k, t := range append(append([][]byte(nil), c.trueVals...), c.falseVals...) {
			if string(b) == string(t) {
				if k < len(c.trueVals) {
					return value{i: 1}, parseOK
				}
				return value{}, parseOK
			}
		}
		return value{}, parseBad
	case kindDate:
		if c.layout == nil {
			if len(b) != 10 {
				return value{}, parseBad
			}
			y, m, d, ok := isoYMDReference(b)
			return result(value{i: daysFromCivil(y, m, d)}, ok)
		}
	case kindTime:
		if c.layout == nil {
			sec, nsec, off, ok := clockReference(b)
			return result(timeValue(0, 0, sec, nsec, off), ok)
		}
	case kindDatetime:
		if c.layout == nil {
			if len(b) < 19 || (b[10] != 'T' && b[10] != 't' && b[10] != ' ') {
				return value{}, parseBad
			}
			y, m, d, ok := isoYMDReference(b)
			if !ok {
				return value{}, parseBad
			}
			sec, nsec, off, ok := clockReference(b[11:])
			if !ok {
				return value{}, parseBad
			}
			return value{i: daysFromCivil(y, m, d)*86400 + int64(sec-off), ns: int64(nsec)}, parseOK
		}
	}
	return c.parse(b)
}

// parseIntegerReference reads an optionally signed run of decimal digits.
func parseIntegerReference(b []byte) (value, parseResult) {
	s := string(b)
	if s == "" || s == "+" || s == "-" {
		return value{}, parseBad
	}
	digits := strings.TrimLeft(s, "+-")
	if len(s)-len(digits) > 1 || strings.Trim(digits, "0123456789") != "" {
		return value{}, parseBad
	}
	i, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return value{}, parseRange
	}
	return value{i: i}, parseOK
}

// simpleFloatReference is simpleFloat one byte at a time.
func simpleFloatReference(b []byte) (float64, bool) {
	i := 0
	neg := false
	if len(b) > 0 && (b[0] == '+' || b[0] == '-') {
		neg = b[0] == '-'
		i = 1
	}
	var mant uint64
	nd, sig, frac := 0, 0, -1
	for ; i < len(b); i++ {
		c := b[i]
		if c == '.' && frac < 0 {
			frac = 0
			continue
		}
		if c < '0' || c > '9' {
			return 0, false
		}
		d := c - '0'
		nd++
		if frac >= 0 {
			frac++
		}
		if mant == 0 && d == 0 {
			continue
		}
		if sig++; sig > 15 {
			return 0, false
		}
		mant = mant*10 + uint64(d)
	}
	if nd == 0 || frac > 22 {
		return 0, false
	}
	f := float64(mant) / math.Pow(10, float64(max(frac, 0)))
	if neg {
		f = -f
	}
	return f, true
}

// isEmailReference is isEmail one byte at a time.
func isEmailReference(b []byte) bool {
	for _, r := range string(b) {
		if r <= ' ' || r == 0x7f || unicode.IsSpace(r) || unicode.IsControl(r) {
			return false
		}
	}
	at := bytes.IndexByte(b, '@')
	if at <= 0 || bytes.Count(b, []byte{'@'}) != 1 {
		return false
	}
	local, dom := b[:at], b[at+1:]
	for _, part := range [][]byte{local, dom} {
		if len(part) == 0 || part[0] == '.' || part[len(part)-1] == '.' || bytes.Contains(part, []byte("..")) {
			return false
		}
	}
	return len(dom) > 1 && bytes.IndexByte(dom, '.') > 0
}

// referenceSchema exercises every quick path of Check and the slow ones
// beside them.
const referenceSchema = `{"fields": [
	{"name": "i", "type": "integer", "constraints": {"minimum": -5, "maximum": 1000000}},
	{"name": "iu", "type": "integer", "constraints": {"unique": true}},
	{"name": "ie", "type": "integer", "constraints": {"enum": [1, 7, 12]}},
	{"name": "n", "type": "number", "constraints": {"minimum": 0}},
	{"name": "ne", "type": "number", "constraints": {"maximum": 1e10, "enum": [1, 2.5, "NaN"]}},
	{"name": "b", "type": "boolean"},
	{"name": "bc", "type": "boolean", "trueValues": ["yes", "Y", "positively"], "falseValues": ["no", "N", "negatively-not"]},
	{"name": "d", "type": "date"},
	{"name": "du", "type": "date", "constraints": {"unique": true}},
	{"name": "dp", "type": "date", "format": "%d/%m/%y"},
	{"name": "t", "type": "time", "constraints": {"minimum": "01:00:00"}},
	{"name": "dt", "type": "datetime"},
	{"name": "dtm", "type": "datetime", "constraints": {"maximum": "2030-01-01T00:00:00Z"}},
	{"name": "y", "type": "year"},
	{"name": "e", "format": "email"},
	{"name": "u", "format": "uri"},
	{"name": "id", "format": "uuid"},
	{"name": "st", "constraints": {"enum": ["pending", "paid", "shipped", "cancelled", "", "a", "exactly8", "exactly-9", "sixteen-bytes-xx", "seventeen-bytes-x"]}},
	{"name": "sl", "constraints": {"enum": ["x", "y", "z", "w", "v", "u", "t", "s", "r", "q"]}},
	{"name": "sr", "constraints": {"required": true, "minLength": 2, "maxLength": 9, "pattern": "[a-z0-9.:@-]*"}},
	{"name": "a", "type": "any"}],
	"primaryKey": ["i", "sr"]}`

// referenceValues are the texts TestCheckReference puts in cells: each
// type's valid forms and the near misses around its quick paths.
var referenceValues = []string{
	"", "0", "1", "7", "9", "12", "-5", "-6", "+3", "-", "+", "007", "1000000", "1000001",
	"123456789012345678", "1234567890123456789", "9223372036854775807", "9223372036854775808",
	"-9223372036854775808", "-9223372036854775809", "99999999999999999999", "12a", "1 ", " 1", "\xff",
	"182.15", "0.5", ".5", "5.", ".", "-0", "-0.0", "+1.25", "1e3", "1.5e-3", "NaN", "INF", "-INF", "nan", "-Inf", "+inf", "-nan",
	"0.0000000000000000000001", "0.00000000000000000000001", "123456789012345", "1234567890123456",
	"000000000000000000001.5", "1..2", "1.2.3", "2.5", "1e400",
	"true", "True", "TRUE", "false", "False", "FALSE", "tRue", "truE", "fals", "falsee", "yes", "Y", "N", "no",
	"positively", "negatively-not", "negatively-noT", "positivelY",
	"2021-10-22", "2024-02-29", "2023-02-29", "1900-02-29", "2000-02-29", "2021-13-01", "2021-00-10",
	"2021-04-31", "2021-04-30", "2021-1-22", "2021/10/22", "2021-10-2x", "0000-01-01", "9999-12-31",
	"22/10/21", "29/02/24", "12:00:00", "00:59:59", "23:59:59", "24:00:00", "12:60:00", "12:00:60",
	"12:00:00.5", "12:00:00Z", "12:00:00+01:30", "12:00:00+0130", "1:00:00",
	"2021-10-24T17:05:43Z", "2021-10-24t17:05:43z", "2021-10-24 17:05:43.123456789+01:00",
	"2021-10-24T17:05:43.1234567891Z", "2021-10-24T24:05:43Z", "2021-10-24X17:05:43Z", "2031-10-24T17:05:43Z",
	"2021-10-24T17:05:43", "2021-10-24T17:05", "2024", "999", "20245",
	"dara.rossi4@mail.example.net", "a@b.co", "a@b.c.", "a@.bc", "@b.co", "a@@b.co", "a@b@c.co", "ab@cd",
	"a b@c.de", "a@b.c\x7f", "a\t@b.co", "é@exämple.org", "x@y.z", "a@b.", "abcdefg@h.ij",
	"a-very-long-local-part-that-goes-on-and-on@some.long.example.domain.org",
	"a-very-long-local-part-that-goes-on-and-on-and-on-and-on-and-on@b.co",
	"urn:x", "http://e.x/ y", "123e4567-e89b-12d3-a456-426614174000",
	"pending", "paid", "pai", "paid ", "paiD", "shipped", "cancelled", "cancelleD", "a", "b",
	"exactly8", "exactly9", "exactly-9", "exactly-8", "sixteen-bytes-xx", "sixteen-bytes-xy",
	"seventeen-bytes-x", "seventeen-bytes-y", "x", "q", "p", "\x00", "paid\x00",
	"ok", "ab:cd", "too-long-value", "é", "\"\n", "a,b",
}

// TestCheckReference checks rows of random cells, with Check and with
// checkReference, each on a Validator of its own, and compares the errors.
func TestCheckReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for _, schema := range []string{referenceSchema, gen.Schema} {
		s, err := ParseSchema([]byte(schema))
		if err != nil {
			t.Fatal(err)
		}
		names := make([]string, len(s.Fields))
		for i := range s.Fields {
			names[i] = s.Fields[i].Name
		}
		for _, missing := range [][]string{nil, {}, {"", "NA", "-"}, {"n/a"}} {
			s.MissingValues = missing
			fast, err := NewValidator(s, testRecord(0, names...))
			if err != nil {
				t.Fatal(err)
			}
			slow, _ := NewValidator(s, testRecord(0, names...))
			for row := range 2500 {
				cells := make([]string, len(names)-2+rng.IntN(5))
				for i := range cells {
					cells[i] = referenceValues[rng.IntN(len(referenceValues))]
					if rng.IntN(3) == 0 && i < len(names) {
						cells[i] = referenceValues[i%len(referenceValues)]
					}
				}
				if row%50 == 0 {
					for i := range cells {
						cells[i] = ""
					}
				}
				rec := testRecord(int64(row+1), cells...)
				got := fast.Check(rec, nil)
				want := slow.checkReference(rec, nil)
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Fatalf("missing %q, cells %q:\nCheck:     %v\nreference: %v", missing, cells, got, want)
				}
			}
		}
	}
}

// TestCheckReferenceValues checks each value in each column of
// referenceSchema alone, and also with the ASCII mark set on its record.
func TestCheckReferenceValues(t *testing.T) {
	s, err := ParseSchema([]byte(referenceSchema))
	if err != nil {
		t.Fatal(err)
	}
	names := make([]string, len(s.Fields))
	for i := range s.Fields {
		names[i] = s.Fields[i].Name
	}
	fast, _ := NewValidator(s, testRecord(0, names...))
	slow, _ := NewValidator(s, testRecord(0, names...))
	for _, val := range referenceValues {
		cells := make([]string, len(names))
		for i := range cells {
			cells[i] = val
		}
		rec := testRecord(1, cells...)
		got := fast.Check(rec, nil)
		want := slow.checkReference(rec, nil)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("value %q:\nCheck:     %v\nreference: %v", val, got, want)
		}
	}
}

// TestFastPathsReference holds the quick readers of integers (whole, and
// eight digits at a time), numbers and email addresses to their references on every value above, on every
// prefix and suffix of those, on runs of digits with and without a stray
// byte, and on random texts of lengths 0 to 70.
func TestFastPathsReference(t *testing.T) {
	var texts []string
	for _, v := range referenceValues {
		for k := range len(v) + 1 {
			texts = append(texts, v[:k], v[k:])
		}
	}
	// Runs of digits of every length up to 20, whole and with a byte just
	// outside the digits, or above ASCII, in each place.
	for n := 1; n <= 20; n++ {
		run := strings.Repeat("9876543210", 2)[:n]
		texts = append(texts, run, "-"+run, "+"+run)
		for p := range n {
			for _, c := range []byte("/:a\x80") {
				texts = append(texts, run[:p]+string([]byte{c})+run[p+1:])
			}
		}
	}
	rng := rand.New(rand.NewPCG(13, 14))
	for range 200000 {
		n := rng.IntN(71)
		texts = append(texts,
			string(randomText(rng, n, "0123456789.+-eE", "0123456789"[rng.IntN(10)], 2)),
			string(randomText(rng, n, "ab.@ \x7f\x00\xc3\xa9-", "abcdefg."[rng.IntN(8)], 2)))
	}
	for _, s := range texts {
		b := []byte(s)
		if got, res := parseInteger(b); fmt.Sprint(got, res) != fmt.Sprint(parseIntegerReference(b)) {
			w, wres := parseIntegerReference(b)
			t.Fatalf("parseInteger(%q) = %v %v, want %v %v", s, got, res, w, wres)
		}
		if n := len(b); n >= 1 && n <= 8 {
			got, ok := eightDigits(shortWord(b), n)
			want, res := parseIntegerReference(b)
			wok := res == parseOK && b[0] != '+' && b[0] != '-'
			if ok != wok || ok && int64(got) != want.i {
				t.Fatalf("eightDigits(%q) = %d %v, want %d %v", s, got, ok, want.i, wok)
			}
		}
		got, ok := simpleFloat(b)
		want, wok := simpleFloatReference(b)
		if ok != wok || ok && math.Float64bits(got) != math.Float64bits(want) {
			t.Fatalf("simpleFloat(%q) = %v %v, want %v %v", s, got, ok, want, wok)
		}
		if got, want := isEmail(b), isEmailReference(b); got != want {
			t.Fatalf("isEmail(%q) = %v, want %v", s, got, want)
		}
	}
}
