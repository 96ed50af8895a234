package csvstream

import (
	"bytes"
	"encoding/csv"
	"io"
	"testing"
	"testing/iotest"
)

// FuzzScanner checks, for any input, that the Records' Raw bytes
// concatenate to the input under every size bound, delimiter and read
// pattern; and that wherever encoding/csv accepts the input, split at ',',
// ';' or a tab, the Scanner finds the same fields starting on the same
// lines.
func FuzzScanner(f *testing.F) {
	for _, tc := range scanCases() {
		f.Add([]byte(tc.in))
	}
	f.Add([]byte("a,\"b\r\n\"\"c\"\"\r\n\",d\r\ne,f\r"))
	f.Add([]byte(bom + "x,\"y\"\n\n\"z\"\"\"\n"))
	f.Add([]byte("\"a\"\r\"b\n\"c\"\n"))
	f.Add([]byte("a;b\tc,d\r\n\"x;\ty\r\nz\";\t\"\"\r\n;\t,\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, opt := range []ScanOptions{
			{},
			{MaxRecordSize: 1},
			{MaxRecordSize: 3},
			{MaxRecordSize: 8},
			{Comma: ';', MaxRecordSize: 16},
			{Comma: '\t'},
		} {
			checkLossless(t, bytes.NewReader(in), in, opt)
			checkLossless(t, iotest.OneByteReader(bytes.NewReader(in)), in, opt)
		}
		for _, comma := range []byte{',', ';', '\t'} {
			compareWithEncodingCSV(t, in, comma)
		}
	})
}

// withoutLineEnd returns raw without its final "\n" or "\r\n".
func withoutLineEnd(raw []byte) []byte {
	if b, ok := bytes.CutSuffix(raw, []byte("\n")); ok {
		return bytes.TrimSuffix(b, []byte("\r"))
	}
	return raw
}

// checkLossless scans r, which reads in, and checks the invariants that
// hold for every input: the Raws concatenate to the input, none is longer
// than the bound before its line end, Num counts from 0 and Line follows
// the newlines in Raw.
func checkLossless(t testing.TB, r io.Reader, in []byte, opt ScanOptions) {
	t.Helper()
	s, err := NewScanner(r, opt)
	if err != nil {
		t.Fatal(err)
	}
	max := opt.MaxRecordSize
	if max == 0 {
		max = DefaultMaxRecordSize
	}
	var all []byte
	line := int64(1)
	for n := int64(0); s.Scan(); n++ {
		rec := s.Record()
		if len(rec.Raw) == 0 {
			t.Fatalf("%+v: record %d is empty", opt, n)
		}
		body := withoutLineEnd(rec.Raw)
		if len(body) > max {
			t.Fatalf("%+v: record %d has %d bytes before its line end, more than the bound", opt, n, len(body))
		}
		if len(body) == 0 && len(all) > 0 && all[len(all)-1] != '\n' {
			t.Fatalf("%+v: record %d is a piece of a long line that holds only its line end", opt, n)
		}
		if rec.Num != n || rec.Line != line {
			t.Fatalf("%+v: record %d (%q): Num %d, Line %d; want Num %d, Line %d", opt, n, rec.Raw, rec.Num, rec.Line, n, line)
		}
		if rec.Err == nil && rec.NumFields() == 0 {
			t.Fatalf("%+v: record %d (%q) has no fields and no error", opt, n, rec.Raw)
		}
		if rec.ascii && !isASCII(rec.Raw) {
			t.Fatalf("%+v: record %d (%q) is marked ASCII but holds a byte >= 0x80", opt, n, rec.Raw)
		}
		for i := range rec.NumFields() {
			_ = rec.Field(i)
		}
		line += int64(bytes.Count(rec.Raw, []byte{'\n'}))
		all = append(all, rec.Raw...)
	}
	if err := s.Err(); err != nil {
		t.Fatalf("%+v: Err = %v", opt, err)
	}
	if !rawsCover(string(all), string(in)) {
		t.Fatalf("%+v: concatenated Raw = %q, want the input %q", opt, all, in)
	}
	if s.BytesRead() != int64(len(in)) {
		t.Fatalf("%+v: BytesRead = %d, want %d", opt, s.BytesRead(), len(in))
	}
}

// compareWithEncodingCSV checks that where encoding/csv (strict quotes, any
// number of fields, the given delimiter) reads in without error, the Scanner finds the same
// records. The differences that are on purpose are undone first: the
// Scanner keeps empty lines, keeps CRLF inside quoted fields, keeps a final
// lone '\r' as data, leaves a byte order mark out of the first field and
// finds no record in a byte order mark alone.
// It reports whether encoding/csv accepted the input.
func compareWithEncodingCSV(t testing.TB, in []byte, comma byte) (compared bool) {
	t.Helper()
	cr := csv.NewReader(bytes.NewReader(in))
	cr.FieldsPerRecord = -1
	cr.Comma = rune(comma)
	var want [][]string
	var wantLines []int
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return false // not well formed: only the lossless checks apply
		}
		line, _ := cr.FieldPos(0)
		want = append(want, rec)
		wantLines = append(wantLines, line)
	}
	if len(want) > 0 && bytes.HasPrefix(in, []byte(bom)) {
		want[0][0] = want[0][0][len(bom):]
	}

	// encoding/csv drops a '\r' that ends the input; so does this side.
	ours := in
	if n := len(ours); n > 0 && ours[n-1] == '\r' {
		ours = ours[:n-1]
	}
	if string(ours) == bom {
		want = nil // a byte order mark alone holds no record
	}
	s, err := NewScanner(iotest.HalfReader(bytes.NewReader(ours)), ScanOptions{Comma: comma})
	if err != nil {
		t.Fatal(err)
	}
	i := 0
	for s.Scan() {
		rec := s.Record()
		if string(rec.Raw) == "\n" || string(rec.Raw) == "\r\n" {
			continue // encoding/csv skips empty lines
		}
		if rec.Err != nil {
			t.Fatalf("record %d (%q): error %v, but encoding/csv reads the input", rec.Num, short(string(rec.Raw)), rec.Err)
		}
		if i >= len(want) {
			t.Fatalf("record %d (%q) is extra: encoding/csv reads only %d", rec.Num, short(string(rec.Raw)), len(want))
		}
		got := make([]string, rec.NumFields())
		for j := range got {
			got[j] = string(bytes.ReplaceAll(rec.Field(j), []byte("\r\n"), []byte("\n")))
		}
		if !equalStrings(got, want[i]) {
			t.Fatalf("record %d (%q): fields %q, encoding/csv reads %q", rec.Num, short(string(rec.Raw)), shortAll(got), shortAll(want[i]))
		}
		if rec.Line != int64(wantLines[i]) {
			t.Fatalf("record %d (%q): Line %d, encoding/csv says %d", rec.Num, short(string(rec.Raw)), rec.Line, wantLines[i])
		}
		i++
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	if i != len(want) {
		t.Fatalf("scanned %d non-empty records, encoding/csv reads %d", i, len(want))
	}
	return true
}

// isASCII reports whether b holds only bytes below 0x80.
func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}
