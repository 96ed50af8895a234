package csvstream

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/csvstream/csvstream/internal/gen"
)

// scanned is a copy of one Record, kept after the Scanner moves on.
type scanned struct {
	raw    string
	line   int64
	num    int64
	fields []string
	err    *ScanError
}

// scanAll scans every record of r and copies it, failing the test if the
// Scanner cannot be built or reading fails.
func scanAll(t testing.TB, r io.Reader, opt ScanOptions) []scanned {
	t.Helper()
	s, err := NewScanner(r, opt)
	if err != nil {
		t.Fatalf("NewScanner: %v", err)
	}
	var out []scanned
	for s.Scan() {
		rec := s.Record()
		c := scanned{raw: string(rec.Raw), line: rec.Line, num: rec.Num, err: rec.Err}
		for i := range rec.NumFields() {
			c.fields = append(c.fields, string(rec.Field(i)))
		}
		out = append(out, c)
	}
	if err := s.Err(); err != nil {
		t.Fatalf("Err: %v", err)
	}
	return out
}

// readers returns the ways a test feeds its input to a Scanner: whole, a
// byte at a time, in halves, and with io.EOF arriving with the last bytes.
func readers(in string) map[string]io.Reader {
	return map[string]io.Reader{
		"whole":   strings.NewReader(in),
		"onebyte": iotest.OneByteReader(strings.NewReader(in)),
		"half":    iotest.HalfReader(strings.NewReader(in)),
		"dataerr": iotest.DataErrReader(strings.NewReader(in)),
	}
}

// want is the expected shape of one record. raw is checked when not empty;
// fields are checked when code is empty or wantFields is set.
type want struct {
	line       int64
	fields     []string
	raw        string
	code       string // expected ScanError code, "" for none
	msg        string // substring of the ScanError message
	wantFields bool   // check fields even though code is set
}

const bom = "\xEF\xBB\xBF"

// scanCase is an input and the records it must give.
type scanCase struct {
	name string
	in   string
	opt  ScanOptions
	want []want
}

// scanCases returns inputs of the kinds the csv-spectrum suite holds, plus
// the cases this scanner treats differently from encoding/csv on purpose.
// They also seed FuzzScanner.
func scanCases() []scanCase {
	return []scanCase{
		{name: "simple", in: "a,b,c\n1,2,3\n", want: []want{
			{line: 1, fields: []string{"a", "b", "c"}, raw: "a,b,c\n"},
			{line: 2, fields: []string{"1", "2", "3"}, raw: "1,2,3\n"},
		}},
		{name: "simple crlf", in: "a,b,c\r\n1,2,3\r\n", want: []want{
			{line: 1, fields: []string{"a", "b", "c"}, raw: "a,b,c\r\n"},
			{line: 2, fields: []string{"1", "2", "3"}, raw: "1,2,3\r\n"},
		}},
		{name: "comma in quotes", in: "first,last,address\nJohn,Doe,\"120 any st., Anytown\"\n", want: []want{
			{line: 1, fields: []string{"first", "last", "address"}},
			{line: 2, fields: []string{"John", "Doe", "120 any st., Anytown"}},
		}},
		{name: "escaped quotes", in: "a,b\n1,\"ha \"\"ha\"\" ha\"\n3,\"\"\"\"\n", want: []want{
			{line: 1, fields: []string{"a", "b"}},
			{line: 2, fields: []string{"1", `ha "ha" ha`}},
			{line: 3, fields: []string{"3", `"`}},
		}},
		{name: "quoted newlines lf", in: "a,b,c\n1,2,3\n\"Once upon \na time\",5,6\n7,8,9\n", want: []want{
			{line: 1, fields: []string{"a", "b", "c"}},
			{line: 2, fields: []string{"1", "2", "3"}},
			{line: 3, fields: []string{"Once upon \na time", "5", "6"}, raw: "\"Once upon \na time\",5,6\n"},
			{line: 5, fields: []string{"7", "8", "9"}},
		}},
		{name: "quoted newlines crlf", in: "a,b,c\r\n1,2,3\r\n\"Once upon \r\na time\",5,6\r\n7,8,9\r\n", want: []want{
			{line: 1, fields: []string{"a", "b", "c"}},
			{line: 2, fields: []string{"1", "2", "3"}},
			{line: 3, fields: []string{"Once upon \r\na time", "5", "6"}, raw: "\"Once upon \r\na time\",5,6\r\n"},
			{line: 5, fields: []string{"7", "8", "9"}},
		}},
		{name: "quotes and newlines", in: "a,b\n1,\"ha \n\"\"ha\"\" \nha\"\n3,4\n", want: []want{
			{line: 1, fields: []string{"a", "b"}},
			{line: 2, fields: []string{"1", "ha \n\"ha\" \nha"}},
			{line: 5, fields: []string{"3", "4"}},
		}},
		{name: "empty quoted fields", in: "a,b,c\n\"\",\"\",\"\"\n", want: []want{
			{line: 1, fields: []string{"a", "b", "c"}},
			{line: 2, fields: []string{"", "", ""}},
		}},
		{name: "empty fields", in: "a,b,c\n1,,\n,,\n", want: []want{
			{line: 1, fields: []string{"a", "b", "c"}},
			{line: 2, fields: []string{"1", "", ""}},
			{line: 3, fields: []string{"", "", ""}},
		}},
		{name: "utf8", in: "a,b,c\n1,2,3\n4,5,ʤ\n\"日本語\",ü,\"é, è\"\n", want: []want{
			{line: 1, fields: []string{"a", "b", "c"}},
			{line: 2, fields: []string{"1", "2", "3"}},
			{line: 3, fields: []string{"4", "5", "ʤ"}},
			{line: 4, fields: []string{"日本語", "ü", "é, è"}},
		}},
		{name: "json", in: "key,val\n1,\"{\"\"type\"\": \"\"Point\"\", \"\"coordinates\"\": [102.0, 0.5]}\"\n", want: []want{
			{line: 1, fields: []string{"key", "val"}},
			{line: 2, fields: []string{"1", `{"type": "Point", "coordinates": [102.0, 0.5]}`}},
		}},
		{name: "empty input", in: "", want: nil},
		{name: "empty lines", in: "a\n\nb\r\n\r\n\n", want: []want{
			{line: 1, fields: []string{"a"}},
			{line: 2, fields: []string{""}, raw: "\n"},
			{line: 3, fields: []string{"b"}},
			{line: 4, fields: []string{""}, raw: "\r\n"},
			{line: 5, fields: []string{""}, raw: "\n"},
		}},
		{name: "last line without newline", in: "a,b\nc,d", want: []want{
			{line: 1, fields: []string{"a", "b"}},
			{line: 2, fields: []string{"c", "d"}, raw: "c,d"},
		}},
		{name: "last line quoted without newline", in: "a,b\nc,\"d\"", want: []want{
			{line: 1, fields: []string{"a", "b"}},
			{line: 2, fields: []string{"c", "d"}, raw: "c,\"d\""},
		}},
		{name: "last line quoted with doubled quotes without newline", in: "a,b\nc,\"d\"\"e\"", want: []want{
			{line: 1, fields: []string{"a", "b"}},
			{line: 2, fields: []string{"c", `d"e`}, raw: "c,\"d\"\"e\""},
		}},
		{name: "trailing delimiter at eof", in: "a,", want: []want{
			{line: 1, fields: []string{"a", ""}},
		}},
		{name: "lone cr is data", in: "a\rb,c\r\nd,e\r", want: []want{
			{line: 1, fields: []string{"a\rb", "c"}, raw: "a\rb,c\r\n"},
			{line: 2, fields: []string{"d", "e\r"}, raw: "d,e\r"},
		}},
		{name: "cr before crlf", in: "a\r\r\n", want: []want{
			{line: 1, fields: []string{"a\r"}},
		}},
		{name: "quoted cr and crlf", in: "\"a\rb\"\r\n\"c\"\r", want: []want{
			{line: 1, fields: []string{"a\rb"}, raw: "\"a\rb\"\r\n"},
			{line: 2, raw: "\"c\"\r", code: CodeQuoteError, msg: "line 2, column 4"},
		}},
		{name: "bom", in: bom + "id,name\n1,x\n", want: []want{
			{line: 1, fields: []string{"id", "name"}, raw: bom + "id,name\n"},
			{line: 2, fields: []string{"1", "x"}},
		}},
		{name: "bom then quoted field", in: bom + "\"id\",name\n", want: []want{
			{line: 1, fields: []string{"id", "name"}, raw: bom + "\"id\",name\n"},
		}},
		{name: "bom only", in: bom}, // as empty as no bytes at all
		{name: "bom then blank line", in: bom + "\n", want: []want{
			{line: 1, fields: []string{""}, raw: bom + "\n"},
		}},
		{name: "bom not at start is data", in: "a\n" + bom + "b\n", want: []want{
			{line: 1, fields: []string{"a"}},
			{line: 2, fields: []string{bom + "b"}},
		}},
		{name: "semicolon", in: "a;b;\"c;d\"\n1;2,5;3\n", opt: ScanOptions{Comma: ';'}, want: []want{
			{line: 1, fields: []string{"a", "b", "c;d"}},
			{line: 2, fields: []string{"1", "2,5", "3"}},
		}},
		{name: "tab", in: "a\tb\t\"c\td\"\n1\t2 3\t\n", opt: ScanOptions{Comma: '\t'}, want: []want{
			{line: 1, fields: []string{"a", "b", "c\td"}},
			{line: 2, fields: []string{"1", "2 3", ""}},
		}},
		{name: "pipe", in: "a|b|\"c|d\"\r\n1|2,5|\"\"\r\n", opt: ScanOptions{Comma: '|'}, want: []want{
			{line: 1, fields: []string{"a", "b", "c|d"}},
			{line: 2, fields: []string{"1", "2,5", ""}},
		}},
		{name: "location of errors: bare quote", in: "a,b\nc,d\"e\nf,g\n", want: []want{
			{line: 1, fields: []string{"a", "b"}},
			{line: 2, fields: []string{"c", "d\"e"}, code: CodeQuoteError, msg: "line 2, column 4, field 2", wantFields: true},
			{line: 3, fields: []string{"f", "g"}},
		}},
		{name: "location of errors: text after closing quote", in: "a,b\n\"x\ny\"z,w\nf,g\n", want: []want{
			{line: 1, fields: []string{"a", "b"}},
			// The quoted field ran over a line end before it broke the
			// rules: the record keeps its first line, and the next line
			// is scanned as a record of its own.
			{line: 2, raw: "\"x\n", code: CodeQuoteError, msg: "line 3, column 3, field 1: unexpected byte after closing '\"', in a quoted field that began on line 2"},
			{line: 3, fields: []string{"y\"z", "w"}, raw: "y\"z,w\n", code: CodeQuoteError, msg: "line 3, column 2", wantFields: true},
			{line: 4, fields: []string{"f", "g"}},
		}},
		{name: "stray quote before a quoted field on the next line", in: "a,b\n1,\"abc\n2,\"hello, world\"\n3,x\n", want: []want{
			{line: 1, fields: []string{"a", "b"}},
			{line: 2, raw: "1,\"abc\n", code: CodeQuoteError, msg: "line 3, column 4, field 2"},
			{line: 3, fields: []string{"2", "hello, world"}},
			{line: 4, fields: []string{"3", "x"}},
		}},
		{name: "a quoted field over two lines, then a break in the next field", in: "h\n\"a\nb\",\"c\"x\nz\n", want: []want{
			{line: 1, fields: []string{"h"}},
			{line: 2, raw: "\"a\nb\",\"c\"x\n", code: CodeQuoteError, msg: "line 3, column 7, field 2: unexpected byte after closing '\"'; the field is read on as unquoted text"},
			{line: 4, fields: []string{"z"}},
		}},
		{name: "stray quote, CRLF", in: "a,b\r\n1,\"abc\r\n2,\"hi, there\"\r\n3,x\r\n", want: []want{
			{line: 1, fields: []string{"a", "b"}},
			{line: 2, raw: "1,\"abc\r\n", code: CodeQuoteError, msg: "line 3, column 4, field 2"},
			{line: 3, fields: []string{"2", "hi, there"}},
			{line: 4, fields: []string{"3", "x"}},
		}},
		{name: "stray quote, then a CR after the quote that closes it", in: "a,b\r\n1,\"abc\r\n2\"\rx,y\r\n3,x\r\n", want: []want{
			{line: 1, fields: []string{"a", "b"}},
			{line: 2, raw: "1,\"abc\r\n", code: CodeQuoteError, msg: "line 3, column 3, field 2: unexpected '\\r' after closing '\"'"},
			{line: 3, raw: "2\"\rx,y\r\n", code: CodeQuoteError, msg: "line 3, column 2"},
			{line: 4, fields: []string{"3", "x"}},
		}},
		{name: "stray quote, closed at the end of the input by a quote and a CR", in: "h\n1,\"a\n2,x\n3,y\"\r", want: []want{
			// A CRLF cut short, as a truncated export ends: the rows the
			// stray quote swallowed are rows of their own all the same.
			{line: 1, fields: []string{"h"}},
			{line: 2, raw: "1,\"a\n", code: CodeQuoteError, msg: "line 4, column 5, field 2: unexpected '\\r' after closing '\"'"},
			{line: 3, fields: []string{"2", "x"}},
			{line: 4, raw: "3,y\"\r", code: CodeQuoteError, msg: "line 4, column 4"},
		}},
		{name: "location of errors: text after a closing quote and a CR", in: "\"a\"\rb,c\nd\n", want: []want{
			{line: 1, fields: []string{"\"a\"\rb", "c"}, code: CodeQuoteError, msg: "line 1, column 4, field 1: unexpected '\\r' after closing '\"'; the field is read on", wantFields: true},
			{line: 2, fields: []string{"d"}},
		}},
		{name: "location of errors: quote after closing quote", in: "\"a\"\"\"b\"c\nd\n", want: []want{
			{line: 1, fields: []string{"\"a\"\"\"b\"c"}, code: CodeQuoteError, msg: "line 1, column 6", wantFields: true},
			{line: 2, fields: []string{"d"}},
		}},
		{name: "unclosed quote near the end", in: "a,b\nc,\"d\ne,f\ng,h\n", want: []want{
			{line: 1, fields: []string{"a", "b"}},
			{line: 2, raw: "c,\"d\n", code: CodeQuoteError, msg: "line 2, column 3, field 2"},
			{line: 3, fields: []string{"e", "f"}},
			{line: 4, fields: []string{"g", "h"}},
		}},
		{name: "unclosed quote on the last line", in: "a,b\nc,\"d", want: []want{
			{line: 1, fields: []string{"a", "b"}},
			{line: 2, raw: "c,\"d", code: CodeQuoteError},
		}},
		// A stray quote that opens a field which then runs on: the kept
		// line's own fault is named, not only the bound or the end.
		{name: "quoting fault on the kept line, then too large", in: "a,b,c\n1,x\"y,\"z\n2,p,q\n3,p,q\n4,p,q\n", opt: ScanOptions{MaxRecordSize: 16}, want: []want{
			{line: 1, fields: []string{"a", "b", "c"}},
			{line: 2, raw: "1,x\"y,\"z\n", code: CodeRecordTooLarge, msg: "record starting on line 2 is longer than 16 bytes; its quoting broke first at line 2, column 4, field 2: bare '\"' in unquoted field; its first line is kept"},
			{line: 3, fields: []string{"2", "p", "q"}},
			{line: 4, fields: []string{"3", "p", "q"}},
			{line: 5, fields: []string{"4", "p", "q"}},
		}},
		{name: "quoting fault on the kept line, then the end", in: "a,b\nx\",\"y\nz\n", want: []want{
			{line: 1, fields: []string{"a", "b"}},
			{line: 2, raw: "x\",\"y\n", code: CodeQuoteError, msg: "line 2, column 4, field 2: quoted field is not closed before the end of the input; its quoting broke first at line 2, column 2, field 1: bare '\"' in unquoted field; its first line is kept"},
			{line: 3, fields: []string{"z"}},
		}},
		// A fault on a later line, in a record that keeps only its first
		// line, is not that line's: it is named when that line is scanned
		// again as a record of its own.
		{name: "quoting fault on a later line, then the end", in: "a,b,c\n\"a\nb\",c\"d,\"e\nx,y,z\n", want: []want{
			{line: 1, fields: []string{"a", "b", "c"}},
			{line: 2, raw: "\"a\n", code: CodeQuoteError, msg: "field 3: quoted field is not closed before the end of the input; its first line is kept"},
			{line: 3, raw: "b\",c\"d,\"e\n", code: CodeQuoteError, msg: "; its quoting broke first at line 3, column 2, field 1: bare '\"' in unquoted field; its first line is kept"},
			{line: 4, fields: []string{"x", "y", "z"}},
		}},
		{name: "record too large in the middle", in: "a,b\n\"x\nx\nx\nx\nx\nx\nx\nx\nx\"\nc,d\n", opt: ScanOptions{MaxRecordSize: 12}, want: []want{
			{line: 1, fields: []string{"a", "b"}},
			{line: 2, raw: "\"x\n", code: CodeRecordTooLarge, msg: "line 2"},
			{line: 3, fields: []string{"x"}},
			{line: 4, fields: []string{"x"}},
			{line: 5, fields: []string{"x"}},
			{line: 6, fields: []string{"x"}},
			{line: 7, fields: []string{"x"}},
			{line: 8, fields: []string{"x"}},
			{line: 9, fields: []string{"x"}},
			{line: 10, raw: "x\"\n", fields: []string{"x\""}, code: CodeQuoteError, wantFields: true},
			{line: 11, fields: []string{"c", "d"}},
		}},
		{name: "line too large in the middle", in: "a,b\n0123456789abcdefghij\r\nc,d\n", opt: ScanOptions{MaxRecordSize: 8}, want: []want{
			{line: 1, fields: []string{"a", "b"}},
			{line: 2, raw: "01234567", code: CodeRecordTooLarge, msg: "record starting on line 2 is longer than 8 bytes; this record holds the first 8 bytes of line 2, and the next ones the rest of it"},
			{line: 2, raw: "89abcdef", code: CodeRecordTooLarge, msg: "line 2 is longer than 8 bytes; this record holds the next piece of it"},
			{line: 2, raw: "ghij\r\n", code: CodeRecordTooLarge, msg: "line 2 is longer than 8 bytes; this record holds the next piece of it"},
			{line: 3, fields: []string{"c", "d"}},
		}},
		{name: "record of exactly the bound", in: "abc,d\nabc,de\n", opt: ScanOptions{MaxRecordSize: 6}, want: []want{
			{line: 1, fields: []string{"abc", "d"}},
			{line: 2, raw: "abc,de\n", code: CodeRecordTooLarge, msg: "longer than 6 bytes (7 with its line end)"},
		}},
		{name: "first line of the bound, quoted field running on", in: "h\n\"abcdefg\nhi\",x\ny\n", opt: ScanOptions{MaxRecordSize: 8}, want: []want{
			// The record is 15 bytes, not the 9 of its first line.
			{line: 1, fields: []string{"h"}},
			{line: 2, raw: "\"abcdefg\n", code: CodeRecordTooLarge, msg: "longer than 8 bytes; its first line is kept"},
			{line: 3, raw: "hi\",x\n", code: CodeQuoteError},
			{line: 4, fields: []string{"y"}},
		}},
		{name: "last record of exactly the bound", in: "ab\n\"ab\"", opt: ScanOptions{MaxRecordSize: 4}, want: []want{
			{line: 1, fields: []string{"ab"}},
			{line: 2, fields: []string{"ab"}},
		}},
		damagedThenMultiLine(),
		{name: "quote open at eof and too large", in: "\"abcdefgh\nij\nk", opt: ScanOptions{MaxRecordSize: 6}, want: []want{
			{line: 1, raw: "\"abcde", code: CodeRecordTooLarge},
			{line: 1, raw: "fgh\n", code: CodeRecordTooLarge},
			{line: 2, fields: []string{"ij"}},
			{line: 3, fields: []string{"k"}},
		}},
	}
}

// damagedThenMultiLine is damage whose records each run on past their
// first line, up to the first line of a well-formed multi-line record:
// after maxCutBack records are cut back, the lines their scans ran over are
// kept to one line, but not the line where the farthest scan stopped, so
// that the record starting there is whole.
func damagedThenMultiLine() scanCase {
	const (
		badLine = "x\",y,\"z\n" // its quoted field runs on over the next lines
		bad     = 17            // lines 2 to 18
		max     = 82            // a scan from line 9 stops on line 19, before its quote
	)
	wants := []want{{line: 1, fields: []string{"a", "b", "c"}}}
	for l := int64(2); l < 2+bad; l++ {
		w := want{line: l, raw: badLine, code: CodeRecordTooLarge, msg: fmt.Sprintf("record starting on line %d is longer than %d bytes", l, max)}
		if l >= 2+maxCutBack {
			w.code, w.msg = CodeQuoteError, fmt.Sprintf("line %d, column 6, field 3: quoted field not closed on its line, where records starting before line %d are kept to one line", l, 2+bad)
		}
		wants = append(wants, w)
	}
	wants = append(wants,
		want{line: 2 + bad, fields: []string{"4", "two\nlines", "5"}},
		want{line: 4 + bad, fields: []string{"last", "row", "6"}})
	return scanCase{
		name: "damage up to a multi-line record",
		in:   "a,b,c\n" + strings.Repeat(badLine, bad) + "4,\"two\nlines\",5\nlast,row,6\n",
		opt:  ScanOptions{MaxRecordSize: max},
		want: wants,
	}
}

func TestScanner(t *testing.T) {
	for _, tc := range scanCases() {
		for rname, r := range readers(tc.in) {
			t.Run(tc.name+"/"+rname, func(t *testing.T) {
				got := scanAll(t, r, tc.opt)
				checkRecords(t, tc.in, got, tc.want)
			})
		}
	}
}

// rawsCover reports whether the Raws of the records scanned from in,
// concatenated in all, hold every byte of it: they are the input, unless
// the input is a byte order mark alone, which holds no record.
func rawsCover(all, in string) bool {
	return all == in || in == bom && all == ""
}

// checkRecords compares scanned records with the expected ones, and checks
// the invariants every scan must keep: the Raws concatenate to the input,
// and Num counts from 0.
func checkRecords(t *testing.T, in string, got []scanned, wants []want) {
	t.Helper()
	var all strings.Builder
	for i, g := range got {
		all.WriteString(g.raw)
		if g.num != int64(i) {
			t.Errorf("record %d: Num = %d", i, g.num)
		}
	}
	if !rawsCover(all.String(), in) {
		t.Errorf("concatenated Raw = %q, want the input %q", short(all.String()), short(in))
	}
	if len(got) != len(wants) {
		var raws []string
		for _, g := range got {
			raws = append(raws, short(g.raw))
		}
		t.Fatalf("got %d records, want %d: %q", len(got), len(wants), raws)
	}
	for i, w := range wants {
		g := got[i]
		g.raw = short(g.raw)
		if g.line != w.line {
			t.Errorf("record %d (%q): Line = %d, want %d", i, g.raw, g.line, w.line)
		}
		if w.raw != "" && got[i].raw != w.raw {
			t.Errorf("record %d: Raw = %q, want %q", i, g.raw, short(w.raw))
		}
		switch {
		case w.code == "" && g.err != nil:
			t.Errorf("record %d (%q): unexpected error %v", i, g.raw, g.err)
		case w.code != "" && g.err == nil:
			t.Errorf("record %d (%q): no error, want %s", i, g.raw, w.code)
		case w.code != "" && g.err.Code != w.code:
			t.Errorf("record %d (%q): error %v, want code %s", i, g.raw, g.err, w.code)
		case w.code != "" && !strings.Contains(g.err.Message, w.msg):
			t.Errorf("record %d (%q): error message %q does not mention %q", i, g.raw, g.err.Message, w.msg)
		case g.err != nil && g.err.Code == CodeQuoteError && !strings.Contains(g.err.Message, fmt.Sprintf("field %d:", g.err.Field)):
			t.Errorf("record %d (%q): Field = %d, but the message says %q", i, g.raw, g.err.Field, g.err.Message)
		case g.err != nil && g.err.Code != CodeQuoteError && g.err.Field != 0:
			t.Errorf("record %d (%q): Field = %d for a %s", i, g.raw, g.err.Field, g.err.Code)
		}
		if w.code == "" || w.wantFields {
			if !equalStrings(g.fields, w.fields) {
				t.Errorf("record %d (%q): fields = %q, want %q", i, g.raw, shortAll(g.fields), shortAll(w.fields))
			}
		}
	}
}

// short returns s, or its start and length when it is too long to print.
func short(s string) string {
	if len(s) <= 80 {
		return s
	}
	return fmt.Sprintf("%s... (%d bytes)", s[:60], len(s))
}

func shortAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = short(s)
	}
	return out
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestNewScannerOptions(t *testing.T) {
	tests := []struct {
		name    string
		r       io.Reader
		opt     ScanOptions
		wantErr string
	}{
		{name: "zero options", r: strings.NewReader("")},
		{name: "tab", r: strings.NewReader(""), opt: ScanOptions{Comma: '\t', MaxRecordSize: 1}},
		{name: "nil reader", wantErr: "nil reader"},
		{name: "quote delimiter", r: strings.NewReader(""), opt: ScanOptions{Comma: '"'}, wantErr: "invalid delimiter"},
		{name: "cr delimiter", r: strings.NewReader(""), opt: ScanOptions{Comma: '\r'}, wantErr: "invalid delimiter"},
		{name: "lf delimiter", r: strings.NewReader(""), opt: ScanOptions{Comma: '\n'}, wantErr: "invalid delimiter"},
		{name: "non-ascii delimiter", r: strings.NewReader(""), opt: ScanOptions{Comma: 0xA7}, wantErr: "invalid delimiter"},
		{name: "first non-ascii delimiter", r: strings.NewReader(""), opt: ScanOptions{Comma: 0x80}, wantErr: "invalid delimiter"},
		{name: "last ascii delimiter", r: strings.NewReader(""), opt: ScanOptions{Comma: 0x7F}},
		{name: "negative size", r: strings.NewReader(""), opt: ScanOptions{MaxRecordSize: -1}, wantErr: "MaxRecordSize -1"},
		{name: "largest size", r: strings.NewReader(""), opt: ScanOptions{MaxRecordSize: MaxRecordSizeLimit}},
		{name: "size too large", r: strings.NewReader(""), opt: ScanOptions{MaxRecordSize: MaxRecordSizeLimit + 1}, wantErr: "MaxRecordSize"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := NewScanner(tc.r, tc.opt)
			if tc.wantErr == "" {
				if err != nil || s == nil {
					t.Fatalf("NewScanner = %v, %v; want a Scanner", s, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("NewScanner error = %v, want one mentioning %q", err, tc.wantErr)
			}
		})
	}
}

// failingReader returns its data, then err.
type failingReader struct {
	data []byte
	err  error
}

func (r *failingReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, r.err
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

// emptyReader returns no bytes and no error, forever.
type emptyReader struct{}

func (emptyReader) Read([]byte) (int, error) { return 0, nil }

func TestScannerReadErrors(t *testing.T) {
	boom := errors.New("connection reset")
	tests := []struct {
		name       string
		r          io.Reader
		opt        ScanOptions
		wantRaws   []string
		wantErrIs  error
		wantErrMsg string
	}{
		{
			name:       "error mid record",
			r:          &failingReader{data: []byte("a,b\nc,d\ne,"), err: boom},
			wantRaws:   []string{"a,b\n", "c,d\n"}, // the cut record "e," is not passed off as complete
			wantErrIs:  boom,
			wantErrMsg: "reading input after byte 10 (record starting on line 3)",
		},
		{
			name:      "error mid quoted field",
			r:         &failingReader{data: []byte("a,b\n\"c\n"), err: boom},
			wantRaws:  []string{"a,b\n"},
			wantErrIs: boom,
		},
		{
			// The rest of a line cut at the bound: the cut piece is not
			// passed off as the line's end, and the error ends the scan.
			name:      "error mid long line",
			r:         &failingReader{data: []byte("h\n" + strings.Repeat("x", 20)), err: boom},
			opt:       ScanOptions{MaxRecordSize: 8},
			wantRaws:  []string{"h\n", "xxxxxxxx", "xxxxxxxx"},
			wantErrIs: boom,
		},
		{
			name:      "error at once",
			r:         iotest.ErrReader(boom),
			wantErrIs: boom,
		},
		{
			name:      "no progress",
			r:         emptyReader{},
			wantErrIs: io.ErrNoProgress,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := NewScanner(tc.r, tc.opt)
			if err != nil {
				t.Fatal(err)
			}
			var raws []string
			for s.Scan() {
				raws = append(raws, string(s.Record().Raw))
			}
			if !equalStrings(raws, tc.wantRaws) {
				t.Errorf("records = %q, want %q", raws, tc.wantRaws)
			}
			if !errors.Is(s.Err(), tc.wantErrIs) {
				t.Errorf("Err = %v, want %v", s.Err(), tc.wantErrIs)
			}
			if tc.wantErrMsg != "" && !strings.Contains(s.Err().Error(), tc.wantErrMsg) {
				t.Errorf("Err = %v, want it to say %q", s.Err(), tc.wantErrMsg)
			}
			if s.Scan() {
				t.Error("Scan after failure returned true")
			}
		})
	}
}

func TestScannerLargeRecordGrowsBuffer(t *testing.T) {
	// A quoted field longer than the read buffer, and a line with it.
	big := strings.Repeat("0123456789\"\"\r\n", 3*readBufSize/14)
	in := "h\n\"" + big + "\",x\n" + strings.Repeat("y", readBufSize+7) + "\nlast\n"
	for rname, r := range readers(in) {
		if rname == "onebyte" {
			continue // a byte per read makes 1 MiB slow without testing more
		}
		t.Run(rname, func(t *testing.T) {
			got := scanAll(t, r, ScanOptions{})
			checkRecords(t, in, got, []want{
				{line: 1, fields: []string{"h"}},
				{line: 2, fields: []string{strings.ReplaceAll(big, `""`, `"`), "x"}},
				{line: 3 + int64(strings.Count(big, "\n")), fields: []string{strings.Repeat("y", readBufSize+7)}},
				{line: 4 + int64(strings.Count(big, "\n")), fields: []string{"last"}},
			})
		})
	}
}

// TestScannerDefaultBound pins the default MaxRecordSize, 1 MiB with the
// line end, as the README documents for --max-record-size.
func TestScannerDefaultBound(t *testing.T) {
	line := strings.Repeat("x", DefaultMaxRecordSize-1) + "\n"
	in := "h\n" + line + "x" + line
	got := scanAll(t, strings.NewReader(in), ScanOptions{})
	checkRecords(t, in, got, []want{
		{line: 1, fields: []string{"h"}},
		{line: 2, fields: []string{line[:len(line)-1]}},
		{line: 3, raw: "x" + line, code: CodeRecordTooLarge, msg: fmt.Sprintf("longer than %d bytes (%d with its line end)", 1<<20, 1<<20+1)},
	})
}

// stutterReader returns (0, nil) empties times before each read that gives
// bytes, as io.Reader allows.
type stutterReader struct {
	r       io.Reader
	empties int
	left    int
}

func (s *stutterReader) Read(p []byte) (int, error) {
	if s.left > 0 {
		s.left--
		return 0, nil
	}
	s.left = s.empties
	return s.r.Read(p)
}

// overReader breaks io.Reader's contract with a count larger than the
// buffer it was given.
type overReader struct{}

func (overReader) Read(p []byte) (int, error) { return len(p) + 1, nil }

// negativeReader breaks io.Reader's contract with a negative count.
type negativeReader struct{}

func (negativeReader) Read([]byte) (int, error) { return -1, nil }

// TestScannerOddReaders: a reader may return no bytes and no error a few
// times running, which the Scanner waits out; a negative count is the
// reader's bug, reported as such, not a panic.
func TestScannerOddReaders(t *testing.T) {
	got := scanAll(t, &stutterReader{r: strings.NewReader("a,b\n1,2\n"), empties: 50}, ScanOptions{})
	if len(got) != 2 {
		t.Errorf("%d records after 50 empty reads in a row, want 2", len(got))
	}
	for _, r := range []io.Reader{negativeReader{}, overReader{}} {
		s, err := NewScanner(r, ScanOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for s.Scan() {
		}
		if err := s.Err(); err == nil || !strings.Contains(err.Error(), "reader returned invalid count") {
			t.Errorf("%T: Err = %v, want the invalid count named", r, err)
		}
	}
}

func TestScannerBytesRead(t *testing.T) {
	in := "a,b\n\"c\nd\",e\n"
	s, err := NewScanner(iotest.HalfReader(strings.NewReader(in)), ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var returned int64
	for s.Scan() {
		returned += int64(len(s.Record().Raw))
		if s.BytesRead() < returned {
			t.Errorf("BytesRead = %d after returning %d bytes", s.BytesRead(), returned)
		}
	}
	if s.BytesRead() != int64(len(in)) || returned != int64(len(in)) {
		t.Errorf("BytesRead = %d, returned %d, want %d", s.BytesRead(), returned, len(in))
	}
}

func TestRecordFieldCannotOverwrite(t *testing.T) {
	rec := firstRecord(t, "ab,cd,\"e\"\"f\",\"h\"\"i\",g\n")
	_ = append(rec.Field(0), 'X')
	_ = append(rec.Field(2), 'X')
	if got := string(rec.Raw); got != "ab,cd,\"e\"\"f\",\"h\"\"i\",g\n" {
		t.Errorf("Raw = %q after appending to fields", got)
	}
	// Field 2's doubled quote undone, next to field 3's.
	if got := string(rec.Field(3)); got != `h"i` {
		t.Errorf("Field(3) = %q after appending to fields", got)
	}
	if got := string(rec.Field(4)); got != "g" {
		t.Errorf("Field(4) = %q after appending to fields", got)
	}
}

// firstRecord scans the first record of input with the default options.
func firstRecord(t *testing.T, input string) *Record {
	t.Helper()
	s, err := NewScanner(strings.NewReader(input), ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !s.Scan() {
		t.Fatalf("no record in %q: %v", input, s.Err())
	}
	return s.Record()
}

// TestRecordWord checks the one-load read of short fields: it gives a
// field's bytes, zero-padded, exactly when the value has 1 to 8 bytes, no
// doubled quotes undone, and the record holds eight bytes from its start.
func TestRecordWord(t *testing.T) {
	rec := firstRecord(t, "1,12345678,123456789,,\"4\"\"2\",\"77\",12,3\n")
	for i, want := range []struct {
		ok   bool
		text string
	}{
		{true, "1"},
		{true, "12345678"},
		{false, "123456789"}, // longer than a word
		{false, ""},          // empty
		{false, "4\"2"},      // doubled quotes undone
		{true, "77"},         // quoted, read in place
		{false, "12"},        // fewer than eight bytes left in the record
		{false, "3"},
	} {
		w, ok := rec.word(rec.fields[i])
		if ok != want.ok || ok && w != shortWord([]byte(want.text)) {
			t.Errorf("field %d (%q): word = %#x, %v; want %#x, %v", i, rec.Field(i), w, ok, shortWord([]byte(want.text)), want.ok)
		}
		if got := string(rec.Field(i)); got != want.text {
			t.Errorf("field %d = %q, want %q", i, got, want.text)
		}
	}
}

func TestScannerZeroAllocsPerRecord(t *testing.T) {
	row := "12,someone@example.com,2024-03-05,\"quoted, \"\"with\"\" escapes\",3.50\r\n"
	in := bytes.Repeat([]byte(row), 4*readBufSize/len(row))
	s, err := NewScanner(bytes.NewReader(in), ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s.Scan() // the first record sizes the buffers
	s.Scan()
	allocs := testing.AllocsPerRun(1000, func() {
		if !s.Scan() {
			t.Fatal("input ran out")
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per record, want 0", allocs)
	}
	// The unescaped values are reused per record too, not gathered: memory
	// does not grow with the number of rows.
	if c := cap(s.Record().esc); c > len(row) {
		t.Errorf("unescaped values hold %d bytes after 1000 records of %d", c, len(row))
	}
}

// TestScannerMatchesEncodingCSV compares the Scanner with encoding/csv on
// generated orders (quoted notes with delimiters, doubled quotes and line
// breaks; invalid rows) and on lines around the length where the Scanner
// changes strategy.
func TestScannerMatchesEncodingCSV(t *testing.T) {
	long := func(fields, width int, quoteAt int) string {
		var b strings.Builder
		for i := range fields {
			if i > 0 {
				b.WriteByte(',')
			}
			v := strings.Repeat(string(rune('a'+i%26)), width)
			if i == quoteAt {
				v = `"` + v + `,""x""` + "\r\n" + `"`
			}
			b.WriteString(v)
		}
		return b.String()
	}
	var lines strings.Builder
	for _, n := range []int{fastLineMax - 2, fastLineMax - 1, fastLineMax, fastLineMax + 1} {
		for _, w := range []int{0, 1, 3, 7, 8, 9} {
			fields := n / (w + 1)
			if fields == 0 {
				fields = 1
			}
			lines.WriteString(long(fields, w, -1) + "\n")
			lines.WriteString(long(fields, w, fields-1) + "\r\n")
			lines.WriteString(long(fields, w, fields/2) + "\n")
		}
	}
	tests := []struct {
		name  string
		in    []byte
		comma byte
	}{
		{name: "long lines", in: []byte(lines.String()), comma: ','},
	}
	for _, opt := range []gen.Options{
		{Rows: 20000, InvalidEvery: 7, Seed: 1},
		{Rows: 5000, InvalidEvery: 3, Seed: 2, CRLF: true},
		{Rows: 5000, Seed: 3, Comma: ';'},
		{Rows: 5000, InvalidEvery: 5, Seed: 4, Comma: '\t', CRLF: true},
		{Rows: 5000, Seed: 5, Comma: '|'},
	} {
		var buf bytes.Buffer
		if _, err := gen.Orders(&buf, opt); err != nil {
			t.Fatal(err)
		}
		comma := opt.Comma
		if comma == 0 {
			comma = ','
		}
		tests = append(tests, struct {
			name  string
			in    []byte
			comma byte
		}{name: fmt.Sprintf("orders %q crlf=%v", comma, opt.CRLF), in: buf.Bytes(), comma: comma})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if !compareWithEncodingCSV(t, tc.in, tc.comma) {
				t.Fatal("encoding/csv rejects the input")
			}
			for _, opt := range []ScanOptions{{Comma: tc.comma}, {Comma: tc.comma, MaxRecordSize: 100}} {
				checkLossless(t, bytes.NewReader(tc.in), tc.in, opt)
			}
		})
	}
}

// TestScannerDamagedInputKeptToOneLine scans lines from which every record
// runs on over the next lines: each is cut back to its first line, and
// after maxCutBack of them the records up to where those scans reached are
// kept to one line, so that the bytes are not scanned once per line.
// Scanning then resumes as usual: a well-formed multi-line record past the
// lines those scans reached is whole.
func TestScannerDamagedInputKeptToOneLine(t *testing.T) {
	const (
		max      = 1024
		badLine  = "x\",y,\"z\n"
		badLines = 400
		okLine   = "1,2,3\n"
		okLines  = 200 // more than max bytes
	)
	damaged := strings.Repeat(badLine, badLines)
	in := "a,b,c\n" + damaged + strings.Repeat(okLine, okLines) + "4,\"two\nlines\",5\nlast,row,6\n"
	for rname, r := range readers(in) {
		t.Run(rname, func(t *testing.T) {
			got := scanAll(t, r, ScanOptions{MaxRecordSize: max})
			var all strings.Builder
			for _, g := range got {
				all.WriteString(g.raw)
			}
			if all.String() != in {
				t.Fatal("concatenated Raw differs from the input")
			}
			if want := 1 + badLines + okLines + 2; len(got) != want {
				t.Fatalf("%d records, want %d", len(got), want)
			}
			// Each record cut back scans up to max bytes; the rest cost
			// their own line.
			cutBack := 0
			for _, g := range got[1 : 1+badLines] {
				if g.raw != badLine || g.err == nil {
					t.Fatalf("damaged line %d: record %q, error %v; want the line alone, with an error", g.line, g.raw, g.err)
				}
				if !strings.Contains(g.err.Message, "kept to one line") {
					cutBack++
				}
			}
			// The first maxCutBack records are cut back; the next lines are
			// then kept to one line.
			if first := slices.IndexFunc(got[1:1+badLines], func(g scanned) bool {
				return strings.Contains(g.err.Message, "kept to one line")
			}); first != maxCutBack {
				t.Errorf("the first line kept to one line is damaged line %d, want %d", first+1, maxCutBack+1)
			}
			// maxCutBack per max bytes of damage, or so: about 32 here.
			if limit := badLines / 10; cutBack > limit {
				t.Errorf("%d of %d damaged lines were scanned on past their end, want at most %d", cutBack, badLines, limit)
			}
			for _, g := range got[1+badLines : 1+badLines+okLines] {
				if g.raw != okLine || g.err != nil {
					t.Fatalf("clean line %d: record %q, error %v", g.line, g.raw, g.err)
				}
			}
			if g := got[1+badLines+okLines]; g.err != nil || len(g.fields) != 3 || g.fields[1] != "two\nlines" {
				t.Errorf("multi-line record after the damage: fields %q, error %v", g.fields, g.err)
			}
		})
	}
}

// TestScannerLongLinePieces checks how a line longer than the bound is cut:
// into pieces of the bound's size, the last one ending with the line's end,
// so that no piece holds a line end alone and counts as a record.
func TestScannerLongLinePieces(t *testing.T) {
	const max = 8
	x := func(n int) string { return strings.Repeat("x", n) }
	tests := []struct {
		name   string
		line   string
		pieces []string
	}{
		{"the bound and LF", x(8) + "\n", []string{x(8) + "\n"}},
		{"the bound and CRLF", x(8) + "\r\n", []string{x(8) + "\r\n"}},
		{"CRLF across the bound", x(7) + "\r\n", []string{x(7) + "\r\n"}},
		{"twice the bound and LF", x(16) + "\n", []string{x(8), x(8) + "\n"}},
		{"twice the bound and CRLF", x(16) + "\r\n", []string{x(8), x(8) + "\r\n"}},
		{"a byte more", x(17) + "\n", []string{x(8), x(8), "x\n"}},
		{"a lone CR past the bound", x(8) + "\ry\n", []string{x(8), "\ry\n"}},
		{"quoted, the bound and LF", `"` + x(6) + `"` + "\n", []string{`"` + x(6) + `"` + "\n"}},
	}
	for _, tc := range tests {
		for rname, r := range readers("h\n" + tc.line + "ok\n") {
			t.Run(tc.name+"/"+rname, func(t *testing.T) {
				got := scanAll(t, r, ScanOptions{MaxRecordSize: max})
				if len(got) != len(tc.pieces)+2 {
					t.Fatalf("%d records, want the header, %d pieces and a row: %+v", len(got), len(tc.pieces), got)
				}
				for i, want := range tc.pieces {
					g := got[1+i]
					if g.raw != want || g.line != 2 || g.err == nil || g.err.Code != CodeRecordTooLarge {
						t.Errorf("piece %d: %q on line %d, error %v; want %q on line 2, record-too-large", i, g.raw, g.line, g.err, want)
					}
				}
				if last := got[len(got)-1]; last.raw != "ok\n" || last.line != 3 || last.err != nil {
					t.Errorf("row after the long line: %q on line %d, error %v", last.raw, last.line, last.err)
				}
			})
		}
	}
}

// TestScannerMemoryBounded feeds records far larger than the bound and
// checks that the buffer stays within it, that no byte is lost, and that
// the rows behind the bad bytes are still read.
func TestScannerMemoryBounded(t *testing.T) {
	const max = 300 << 10 // more than the initial buffer, so that it grows
	tests := []struct {
		name string
		bad  string
	}{
		{name: "long line", bad: strings.Repeat("x,", 1<<20) + "\n"},
		{name: "long line of one field", bad: strings.Repeat("x", 1<<20)},
		{name: "open quote", bad: "a,\"" + strings.Repeat("x,x\r\n", 1<<18)},
		{name: "long quoted field", bad: "\"" + strings.Repeat("x", 1<<20) + "\"\n"},
		{name: "line of twice the bound", bad: strings.Repeat("x", 2*max)},
		{name: "CRLF line of twice the bound", bad: strings.Repeat("x", 2*max) + "\r"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := "h1,h2\n" + tc.bad + "\nlast,row\n"
			s, err := NewScanner(iotest.HalfReader(strings.NewReader(in)), ScanOptions{MaxRecordSize: max})
			if err != nil {
				t.Fatal(err)
			}
			var all strings.Builder
			var last scanned
			tooLarge := 0
			for s.Scan() {
				rec := s.Record()
				if n := len(withoutLineEnd(rec.Raw)); n > max {
					t.Fatalf("record %d has %d bytes before its line end", rec.Num, n)
				}
				if rec.Err != nil && rec.Err.Code == CodeRecordTooLarge {
					tooLarge++
				}
				all.Write(rec.Raw)
				last = scanned{raw: string(rec.Raw), line: rec.Line, err: rec.Err}
			}
			if err := s.Err(); err != nil {
				t.Fatal(err)
			}
			if limit := max + 2; cap(s.buf) > limit {
				t.Errorf("buffer grew to %d bytes, more than %d", cap(s.buf), limit)
			}
			if all.String() != in {
				t.Error("concatenated Raw differs from the input")
			}
			if tooLarge == 0 {
				t.Error("no record-too-large record")
			}
			wantLine := int64(strings.Count(in, "\n"))
			if last.raw != "last,row\n" || last.err != nil || last.line != wantLine {
				t.Errorf("last record %q on line %d (err %v), want \"last,row\\n\" on line %d", short(last.raw), last.line, last.err, wantLine)
			}
		})
	}
}

func TestParseDelimiter(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want byte // 0: refused
	}{
		{",", ','}, {";", ';'}, {"|", '|'}, {"\t", '\t'}, {`\t`, '\t'}, {"tab", '\t'}, {"\x01", 1}, {" ", ' '},
		{"", 0}, {",,", 0}, {"\x00", 0}, {`"`, 0}, {"\r", 0}, {"\n", 0}, {"é", 0}, {"\x80", 0}, {"\xff", 0}, {"\x7f", 0x7f},
	} {
		got, err := ParseDelimiter(tc.in)
		if tc.want == 0 && (err == nil || !strings.Contains(err.Error(), "want one ASCII character")) {
			t.Errorf("ParseDelimiter(%q) = %q, %v; want it refused", tc.in, got, err)
		}
		if tc.want != 0 && (err != nil || got != tc.want) {
			t.Errorf("ParseDelimiter(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

// TestScannerBytesNearDelimiter pins fields whose first or last byte is
// one bit away from the delimiter: a negative number after a comma ('-' is
// ',' with its low bit flipped), "€" (whose last byte is ',' with its high
// bit set) before one, and the like for the other dialects.
func TestScannerBytesNearDelimiter(t *testing.T) {
	tests := []struct {
		comma byte
		in    string
		want  [][]string
	}{
		{',', "id,delta\n1,-5\n2,-6,-7\n12345678,-9,x-\n",
			[][]string{{"id", "delta"}, {"1", "-5"}, {"2", "-6", "-7"}, {"12345678", "-9", "x-"}}},
		{',', "name,price\nx,9€\n9€,€,€€,x\nitem long name,12.50€,-1\n",
			[][]string{{"name", "price"}, {"x", "9€"}, {"9€", "€", "€€", "x"}, {"item long name", "12.50€", "-1"}}},
		{';', "a;b\n1;:2\n::;3:;:\n", [][]string{{"a", "b"}, {"1", ":2"}, {"::", "3:", ":"}}},
		{'|', "a|b\n{x}|}}|y}\n", [][]string{{"a", "b"}, {"{x}", "}}", "y}"}}},
		{'\t', "a\tb\n1\t\b2\b\t3\n", [][]string{{"a", "b"}, {"1", "\b2\b", "3"}}},
	}
	for _, tt := range tests {
		for name, r := range readers(tt.in) {
			got := scanAll(t, r, ScanOptions{Comma: tt.comma})
			if len(got) != len(tt.want) {
				t.Fatalf("comma %q, %s: %d records, want %d", tt.comma, name, len(got), len(tt.want))
			}
			for i, rec := range got {
				if rec.err != nil || !equalStrings(rec.fields, tt.want[i]) {
					t.Errorf("comma %q, %s: record %d (%q): fields %q, err %v; want %q", tt.comma, name, i, rec.raw, rec.fields, rec.err, tt.want[i])
				}
			}
		}
	}
}

// TestRecordRawCannotOverwrite: like a field, a record's Raw cannot be
// appended to in place, which would overwrite the records behind it in
// the Scanner's buffer.
func TestRecordRawCannotOverwrite(t *testing.T) {
	s, err := NewScanner(strings.NewReader("h\na,b\nc,d\n"), ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s.Scan()
	s.Scan()
	_ = append(s.Record().Raw, "XXXX"...)
	if !s.Scan() {
		t.Fatal(s.Err())
	}
	if got := string(s.Record().Raw); got != "c,d\n" {
		t.Errorf("record after appending to the previous Raw = %q, want %q", got, "c,d\n")
	}
}

// TestScannerCutBackCountRestarts: a record starting on the line where the
// farthest scan of the records cut back stopped is past the lines those
// scans ran over, so it starts the count of records cut back again rather
// than adding to it; maxCutBack more of them are cut back before the lines
// are kept to one line.
func TestScannerCutBackCountRestarts(t *testing.T) {
	const bad = "x\",y,\"z\n" // its quoted field runs on over the next lines
	// The scans of lines 2 to 4 reach line 17 at the farthest, where the
	// damage starts again.
	in := "a,b,c\n" + strings.Repeat(bad, 3) + strings.Repeat("1,2,3\n", 12) + strings.Repeat(bad, 17) + "last,row,6\n"
	want := "." + strings.Repeat("T", 3) + strings.Repeat(".", 12) + strings.Repeat("T", maxCutBack) + strings.Repeat("1", 17-maxCutBack) + "."
	for rname, r := range readers(in) {
		var got strings.Builder
		for _, g := range scanAll(t, r, ScanOptions{MaxRecordSize: 82}) {
			switch {
			case g.err == nil:
				got.WriteByte('.')
			case strings.Contains(g.err.Message, "kept to one line"):
				got.WriteByte('1')
			case g.err.Code == CodeRecordTooLarge:
				got.WriteByte('T')
			default:
				got.WriteByte('?')
			}
		}
		if got.String() != want {
			t.Errorf("%s: records (. clean, T cut back, 1 kept to one line)\n got %s\nwant %s", rname, got.String(), want)
		}
	}
}
