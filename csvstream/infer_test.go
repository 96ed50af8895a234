package csvstream

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
	"unicode/utf8"
)

// inferred lists name:type pairs, with a * after the type when required.
func inferred(s *Schema) []string {
	var out []string
	for _, f := range s.Fields {
		d := f.Name + ":" + f.Type
		if f.Constraints.Required {
			d += "*"
		}
		if f.Format != "" || f.Constraints.Unique || f.Constraints.Minimum != nil || f.Constraints.Enum != nil {
			d += "(more)"
		}
		out = append(out, d)
	}
	return out
}

func TestInferSchema(t *testing.T) {
	data, err := os.ReadFile("testdata/infer.csv")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		opt  InferOptions
		want []string
	}{
		{"all rows", InferOptions{}, []string{
			"id:integer*", "name:string*", "price:number*", "active:boolean*", "day:date*", "stamp:datetime*",
			"at:time*", "code:string*", "flag:integer", "empty:string", "count:number*", "note:string"}},
		{"two rows", InferOptions{Rows: 2}, []string{
			"id:integer*", "name:string*", "price:number*", "active:boolean*", "day:date*", "stamp:datetime*",
			"at:time*", "code:string*", "flag:integer*", "empty:string", "count:integer*", "note:string*"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := InferSchema(bytes.NewReader(data), tt.opt)
			if err != nil {
				t.Fatal(err)
			}
			if got := inferred(s); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
			again, err := InferSchema(bytes.NewReader(data), tt.opt)
			if err != nil || !reflect.DeepEqual(s, again) {
				t.Errorf("a second run gave %+v, %v", again, err)
			}
			out, err := json.Marshal(s)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := ParseSchema(out); err != nil {
				t.Errorf("the inferred schema does not parse: %v\n%s", err, out)
			}
		})
	}

	// Every row of the sample is valid against the schema inferred from it.
	s, err := InferSchema(bytes.NewReader(data), InferOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sc, err := NewScanner(bytes.NewReader(data), ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sc.Scan()
	v, err := NewValidator(s, sc.Record())
	if err != nil {
		t.Fatal(err)
	}
	for sc.Scan() {
		rec := sc.Record()
		errs := v.Check(rec, nil)
		blank := len(errs) == 1 && errs[0].Code == CodeBlankRow
		if len(errs) > 0 && !blank {
			t.Errorf("line %d: %v", rec.Line, errs)
		}
	}
}

func TestInferSchemaCases(t *testing.T) {
	tests := []struct {
		name string
		csv  string
		opt  InferOptions
		want []string
	}{
		{"semicolons", "a;b\n1;x\n2;y\n", InferOptions{Comma: ';'}, []string{"a:integer*", "b:string*"}},
		{"header only", "a,b\n", InferOptions{}, []string{"a:string", "b:string"}},
		{"short rows", "a,b\n1,2\n3\n", InferOptions{}, []string{"a:integer*", "b:integer"}},
		{"extra cells ignored", "a\n1,x\n2,y\n", InferOptions{}, []string{"a:integer*"}},
		{"integer too large", "a\n1\n99999999999999999999\n", InferOptions{}, []string{"a:number*"}},
		{"booleans and integers", "a,b\n1,true\n2,1\n", InferOptions{}, []string{"a:integer*", "b:boolean*"}},
		{"zeros and ones are integers", "a\n0\n1\n", InferOptions{}, []string{"a:integer*"}},
		{"words make booleans", "a\n0\ntrue\n", InferOptions{}, []string{"a:boolean*"}},
		{"leading zeros make strings", "a,b,c,d\n007,0,0.5,09:30:00\n8,-01,1,10:00:00\n", InferOptions{}, []string{"a:string*", "b:string*", "c:number*", "d:time*"}},
		{"leading zeros before a fraction or exponent", "a,b,c\n01.10,-00.5,01e3\n02.20,1,1\n", InferOptions{}, []string{"a:string*", "b:string*", "c:string*"}},
		{"one zero before the point", "a\n0.5\n-0.25\n0e3\n", InferOptions{}, []string{"a:number*"}},
		{"dates and datetimes", "a\n2024-01-01\n2024-01-01T00:00:00Z\n", InferOptions{}, []string{"a:string*"}},
		{"invalid date", "a\n2023-02-29\n", InferOptions{}, []string{"a:string*"}},
		{"spaces", "a\n 1\n", InferOptions{}, []string{"a:string*"}},
		{"broken record skipped", "a,b\n5,6\n7,\"8\n", InferOptions{}, []string{"a:integer*", "b:integer*"}},
		{"BOM", "\xEF\xBB\xBFa\n7\n", InferOptions{}, []string{"a:integer*"}},
		{"a plus sign before leading zeros", "a\n+007\n1\n", InferOptions{}, []string{"a:string*"}},
		// Rows bounds the records read, blank and unreadable ones included.
		{"rows ends the sample", "a\n1\n2\nword\n", InferOptions{Rows: 2}, []string{"a:integer*"}},
		{"blank rows count toward rows", "a\n1\n\nword\n", InferOptions{Rows: 2}, []string{"a:integer*"}},
		{"unreadable records count toward rows", "a\n1\nx\"y\nword\n", InferOptions{Rows: 2}, []string{"a:integer*"}},
		{"the default sample is the first 1,000 rows", "a\n" + strings.Repeat("1\n", 1000) + "word\n", InferOptions{}, []string{"a:integer*"}},
		{"the default sample's last row", "a\n" + strings.Repeat("1\n", 999) + "word\n", InferOptions{}, []string{"a:string*"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := InferSchema(strings.NewReader(tt.csv), tt.opt)
			if err != nil {
				t.Fatal(err)
			}
			if got := inferred(s); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestInferSchemaErrors(t *testing.T) {
	tests := []struct {
		name string
		csv  string
		opt  InferOptions
		want string
	}{
		{"empty", "", InferOptions{}, "infer: the input is empty: no header"},
		{"negative rows", "a\n", InferOptions{Rows: -1}, "infer: InferOptions.Rows is -1; it must not be negative"},
		{"bad comma", "a\n", InferOptions{Comma: '"'}, "infer: csvstream: NewScanner: invalid delimiter"},
		{"empty label", "a,,c\n", InferOptions{}, "infer: header on line 1: column 2 has no label: give it one, or export without it (pandas writes its index so unless to_csv(index=False), R its row names unless write.csv(row.names=FALSE))"},
		{"repeated label", "a,b,a\n", InferOptions{}, `infer: unusable header: line 1: column 3 label "a" repeats column 1`},
		{"two empty labels", ",a,\n", InferOptions{}, "infer: unusable header: line 1: columns 1 and 3 both have no label"},
		{"bad UTF-8 label", "a,\xff\n", InferOptions{}, "infer: unusable header: line 1: column 2 label is not valid UTF-8"},
		{"broken header", "a,\"b\n", InferOptions{}, "infer: unusable header: line 1: quote-error"},
		{"CR line ends", "a,b\r1,2\r3,4\r", InferOptions{}, "infer: unusable header: line 1: column 2 label \"b\\r1\" holds a carriage return"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := InferSchema(strings.NewReader(tt.csv), tt.opt)
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("got %v, want an error starting %s", err, tt.want)
			}
		})
	}
}

// TestInferSampleReadError checks that a source failing after its header
// fails infer, rather than giving a schema drafted from part of the sample
// as though it were all of it, and that one failing within its header is
// not taken for an empty source.
func TestInferSampleReadError(t *testing.T) {
	reset := errors.New("connection reset")
	r := io.MultiReader(strings.NewReader("a,b\n1,x\n2,y\n"), iotest.ErrReader(reset))
	s, err := InferSchema(r, InferOptions{})
	if !errors.Is(err, reset) || !strings.HasPrefix(err.Error(), "infer: reading the sample: ") {
		t.Fatalf("got %v, %v; want an error reading the sample that wraps %v", s, err, reset)
	}
	r = io.MultiReader(strings.NewReader("a,b"), iotest.ErrReader(reset))
	s, err = InferSchema(r, InferOptions{})
	if !errors.Is(err, reset) || !strings.HasPrefix(err.Error(), "infer: reading the header: ") {
		t.Fatalf("got %v, %v; want an error reading the header that wraps %v", s, err, reset)
	}
}

// TestInferWarnings checks what InferSchema tells Warn about a sample the
// schema it drafts may not fit, and that a sample it fits gives no warning.
func TestInferWarnings(t *testing.T) {
	tests := []struct {
		name string
		in   string
		opt  InferOptions
		want []string
	}{
		{"fits", "a,b\n1,2\n\n3,4\n", InferOptions{}, nil},
		{"semicolons", "a;b\n1,5;2\n3;4\n", InferOptions{}, []string{
			"the header is one column whose label holds ';': is that the delimiter? (--delimiter ';')",
			"1 row in the sample with a number of fields other than the header's 1; the first is on line 2",
		}},
		{"tabs", "a\tb\n1\t2\n", InferOptions{}, []string{
			"the header is one column whose label holds '\\t': is that the delimiter? (--delimiter tab)",
		}},
		{"commas, read with semicolons", "a,b\n1,2\n", InferOptions{Comma: ';'}, []string{
			"the header is one column whose label holds ',': is that the delimiter? (--delimiter ',')",
		}},
		{"pipes", "a|b|c\n1|2|3\n", InferOptions{}, []string{
			"the header is one column whose label holds '|': is that the delimiter? (--delimiter '|')",
		}},
		// Only a header of one column gets the note.
		{"two columns, one label holding a semicolon", "a;b,c\n1,2\n", InferOptions{}, nil},
		{"one column", "name\nAda\n", InferOptions{}, nil},
		{"one column, comma by default", "\"last, first\"\nAda\n", InferOptions{}, nil},
		// No delimiter splits a label quoted whole.
		{"quoted whole", "\"id;name;price\"\n1\n", InferOptions{}, nil},
		{"quoted whole, read with semicolons", "\"id,name,price\"\n1\n", InferOptions{Comma: ';'}, nil},
		{"quoted whole after a byte order mark", "\xef\xbb\xbf\"id;name;price\"\n1\n", InferOptions{}, nil},
		{"cells all empty, too few and too many", "a,b,c\n1,2,3\n,\n,,,,\n", InferOptions{}, []string{
			"2 rows in the sample with a number of fields other than the header's 3; the first is on line 3",
		}},
		{"UTF-8", "name\nZoë\n", InferOptions{}, nil},
		{"ragged", "a,b\n1,2,3\n4\n5,6\n", InferOptions{}, []string{
			"2 rows in the sample with a number of fields other than the header's 2; the first is on line 2",
		}},
		{"unreadable", "a,b\n1,2\n3,\"x\n", InferOptions{}, []string{
			"1 record left out of the sample, not readable (quoting or size); the first starts on line 3",
		}},
		{"two unreadable", "a,b\n1,2\n3,x\"y\n4,5\n6,z\"w\n", InferOptions{}, []string{
			"2 records left out of the sample, not readable (quoting or size); the first starts on line 3",
		}},
		{"latin-1", "id,city\n1,Paris\n2,Orl\xe9ans\n3,Z\xfcrich\n", InferOptions{}, []string{
			"2 rows in the sample with text that is not UTF-8, which a run rejects (encoding-error); the first is on line 3: convert the file to UTF-8 (with iconv, say)",
		}},
		{"too large", "a,b\n1," + strings.Repeat("x", 100) + "\n2,3\n", InferOptions{MaxRecordSize: 64}, []string{
			"1 record left out of the sample, not readable (quoting or size); the first starts on line 2",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			tt.opt.Warn = func(msg string) { got = append(got, msg) }
			if _, err := InferSchema(strings.NewReader(tt.in), tt.opt); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("warnings\n  %q\nwant\n  %q", got, tt.want)
			}
		})
	}
}

// FuzzInferRoundTrip holds infer to its promise: every sampled row that is
// well formed (it passes the checks made without a schema) is valid
// against the schema inferred from the sample, once that schema has been
// written out as JSON and parsed back.
func FuzzInferRoundTrip(f *testing.F) {
	f.Add([]byte("a,b\n1,2\n3,x\n"), byte(','), 0)
	f.Add([]byte("a;b\r\n1.5;2024-01-01\r\n-3;2024-01-01T00:00:00Z\r\n"), byte(';'), 1)
	f.Add([]byte("\xef\xbb\xbfa\tb\n007\t1e400\n0\tNaN\n"), byte('\t'), 0)
	f.Add([]byte("a|b\ntrue|12:00:00.5+01:00\nFALSE|\n9223372036854775808|23:59:59"), byte('|'), 2)
	f.Add([]byte("a,\"b c\"\r\n\"1\n2\",\"x\"\"\"\r\n3,\"\r\n\"\r\n,4\r\n"), byte(','), 0)
	f.Fuzz(func(t *testing.T, data []byte, comma byte, rows int) {
		if comma == 0 || comma == '"' || comma == '\r' || comma == '\n' || comma >= utf8.RuneSelf {
			return
		}
		rows &= 0xff
		s, err := InferSchema(bytes.NewReader(data), InferOptions{Comma: comma, Rows: rows})
		if err != nil {
			return // a header infer refuses, with its reason
		}
		js, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		parsed, err := ParseSchema(js)
		if err != nil {
			t.Fatalf("the inferred schema does not parse: %v\n%s", err, js)
		}
		sc, err := NewScanner(bytes.NewReader(data), ScanOptions{Comma: comma})
		if err != nil {
			t.Fatal(err)
		}
		sc.Scan()
		plain, err := NewValidator(nil, sc.Record())
		if err != nil {
			t.Fatal(err)
		}
		v, err := NewValidator(parsed, sc.Record())
		if err != nil {
			t.Fatalf("the inferred schema does not fit its own header: %v\n%s", err, js)
		}
		if rows == 0 {
			rows = DefaultInferRows
		}
		for n := 0; n < rows && sc.Scan(); n++ {
			rec := sc.Record()
			if len(plain.Check(rec, nil)) > 0 {
				continue
			}
			if errs := v.Check(rec, nil); len(errs) > 0 {
				t.Fatalf("line %d %q: %v\nschema %s", rec.Line, rec.Raw, errs, js)
			}
		}
	})
}
