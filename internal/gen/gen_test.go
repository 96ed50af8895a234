package gen

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"
)

// problems lists what is wrong with one data row against Schema, checked
// independently of how Orders builds rows. accepted holds the order_ids of
// the valid rows so far.
func problems(row []string, accepted map[string]bool) []string {
	blank := true
	for _, f := range row {
		if f != "" {
			blank = false
		}
	}
	if blank {
		return []string{KindBlankRow}
	}
	var out []string
	switch {
	case len(row) < 9:
		out = append(out, KindMissingCell)
	case len(row) > 9:
		out = append(out, KindExtraCell)
	}
	cell := func(i int) (string, bool) {
		if i < len(row) {
			return row[i], true
		}
		return "", false
	}
	typeOK := func(i int, ok func(string) bool) {
		if v, present := cell(i); present && !ok(v) {
			out = append(out, KindTypeError)
		}
	}
	typeOK(0, func(v string) bool { _, err := strconv.Atoi(v); return err == nil })
	typeOK(1, func(v string) bool {
		at := strings.IndexByte(v, '@')
		return at > 0 && strings.Contains(v[at:], ".") && !strings.ContainsAny(v, " ,\"")
	})
	typeOK(2, func(v string) bool { _, err := time.Parse(time.DateOnly, v); return err == nil })
	typeOK(3, func(v string) bool { _, err := time.Parse("2006-01-02T15:04:05Z", v); return err == nil })
	typeOK(5, func(v string) bool { _, err := strconv.Atoi(v); return err == nil })
	typeOK(6, func(v string) bool { _, err := strconv.ParseFloat(v, 64); return err == nil })
	typeOK(7, func(v string) bool { return v == "true" || v == "false" })
	if v, ok := cell(4); ok && v != "pending" && v != "paid" && v != "shipped" && v != "cancelled" {
		out = append(out, KindConstraintError)
	}
	if v, ok := cell(5); ok {
		if q, err := strconv.Atoi(v); err == nil && (q < 1 || q > 1000) {
			out = append(out, KindConstraintError)
		}
	}
	if v, ok := cell(6); ok {
		if p, err := strconv.ParseFloat(v, 64); err == nil && p < 0 {
			out = append(out, KindConstraintError)
		}
	}
	if accepted[row[0]] {
		out = append(out, KindUniqueError)
	}
	return out
}

// readAll parses data as CSV with the given delimiter.
func readAll(t *testing.T, data []byte, comma byte) [][]string {
	t.Helper()
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1
	if comma != 0 {
		r.Comma = rune(comma)
	}
	rows, err := r.ReadAll()
	if err != nil {
		t.Fatalf("the output is not valid CSV: %v", err)
	}
	return rows
}

func TestOrdersCounts(t *testing.T) {
	tests := []struct {
		name string
		opt  Options
	}{
		{name: "all valid", opt: Options{Rows: 500, Seed: 1}},
		{name: "every 7th invalid", opt: Options{Rows: 2000, InvalidEvery: 7, Seed: 2}},
		{name: "every 2nd invalid crlf", opt: Options{Rows: 1000, InvalidEvery: 2, Seed: 3, CRLF: true}},
		{name: "every row invalid", opt: Options{Rows: 60, InvalidEvery: 1, Seed: 4}},
		{name: "semicolon", opt: Options{Rows: 700, InvalidEvery: 5, Seed: 5, Comma: ';'}},
		{name: "tab", opt: Options{Rows: 700, InvalidEvery: 3, Seed: 6, Comma: '\t', CRLF: true}},
		{name: "pipe", opt: Options{Rows: 700, InvalidEvery: 4, Seed: 7, Comma: '|'}},
		{name: "header only", opt: Options{Seed: 8}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			counts, err := Orders(&buf, tc.opt)
			if err != nil {
				t.Fatal(err)
			}
			rows := readAll(t, buf.Bytes(), tc.opt.Comma)
			// Nine fields, split at the chosen delimiter: a header that kept
			// ',' would read as one field that joins to the same text.
			if got := strings.Join(rows[0], ","); got != Header || len(rows[0]) != 9 {
				t.Errorf("header = %q in %d fields, want %q in 9", got, len(rows[0]), Header)
			}
			rows = rows[1:]
			if len(rows) != tc.opt.Rows || counts.Rows != tc.opt.Rows || counts.Valid+counts.Invalid != counts.Rows {
				t.Fatalf("%d rows in the output; Counts %+v; want %d rows", len(rows), counts, tc.opt.Rows)
			}

			accepted := map[string]bool{}
			ids := map[string]bool{}
			got := Counts{Rows: len(rows), ByCode: map[string]int{}}
			for i, row := range rows {
				p := problems(row, accepted)
				if len(p) > 1 {
					t.Errorf("data row %d %q has %d errors %v, want at most 1", i+1, row, len(p), p)
				}
				wantInvalid := tc.opt.InvalidEvery > 0 && (i+1)%tc.opt.InvalidEvery == 0
				if wantInvalid != (len(p) > 0) {
					t.Errorf("data row %d %q: errors %v, want invalid = %v", i+1, row, p, wantInvalid)
				}
				if len(p) == 0 {
					got.Valid++
					accepted[row[0]] = true
				} else {
					got.Invalid++
					got.ByCode[p[0]]++
				}
				if len(p) == 0 || p[0] != KindUniqueError && p[0] != KindBlankRow {
					if ids[row[0]] {
						t.Errorf("data row %d: order_id %s repeats, though the row is not a unique-error row", i+1, row[0])
					}
					ids[row[0]] = true
				}
			}
			if got.Valid != counts.Valid || got.Invalid != counts.Invalid || len(got.ByCode) != len(counts.ByCode) {
				t.Fatalf("the output holds %+v, Orders returned %+v", got, counts)
			}
			for code, n := range got.ByCode {
				if counts.ByCode[code] != n {
					t.Errorf("%d %s rows in the output, Counts says %d", n, code, counts.ByCode[code])
				}
			}
			if tc.opt.InvalidEvery > 1 && tc.opt.Rows >= 6*tc.opt.InvalidEvery {
				for _, kind := range InvalidKinds() {
					if counts.ByCode[kind] == 0 {
						t.Errorf("no %s row", kind)
					}
				}
			}
		})
	}
}

func TestOrdersLineEndings(t *testing.T) {
	for _, crlf := range []bool{false, true} {
		var buf bytes.Buffer
		if _, err := Orders(&buf, Options{Rows: 300, Seed: 9, CRLF: crlf}); err != nil {
			t.Fatal(err)
		}
		data := buf.Bytes()
		lf := bytes.Count(data, []byte("\n"))
		crlfs := bytes.Count(data, []byte("\r\n"))
		if crlf && crlfs != lf || !crlf && crlfs != 0 || lf < 301 {
			t.Errorf("CRLF %v: %d LF, %d CRLF", crlf, lf, crlfs)
		}
		if !bytes.HasSuffix(data, []byte("\n")) {
			t.Errorf("CRLF %v: the last row has no line terminator", crlf)
		}
	}
}

func TestOrdersQuotedNotes(t *testing.T) {
	const rows = 20000
	var buf bytes.Buffer
	if _, err := Orders(&buf, Options{Rows: rows, Seed: 10}); err != nil {
		t.Fatal(err)
	}
	var withComma, withQuote, withNewline int
	for _, row := range readAll(t, buf.Bytes(), 0)[1:] {
		notes := row[8]
		switch {
		case strings.Contains(notes, ","):
			withComma++
		case strings.Contains(notes, `"`):
			withQuote++
		case strings.Contains(notes, "\n"):
			withNewline++
		}
	}
	quoted := withComma + withQuote + withNewline
	if quoted < rows*7/100 || quoted > rows*13/100 {
		t.Errorf("%d of %d notes need quotes, want about 10%%", quoted, rows)
	}
	if withComma == 0 || withQuote == 0 || withNewline == 0 {
		t.Errorf("quoted notes: %d with a comma, %d with a quote, %d with a newline; want each kind", withComma, withQuote, withNewline)
	}
	if n := bytes.Count(buf.Bytes(), []byte{'"'}); n < 2*quoted {
		t.Errorf("%d quote characters for %d quoted notes", n, quoted)
	}
}

func TestOrdersDeterministic(t *testing.T) {
	gen := func(opt Options) []byte {
		var buf bytes.Buffer
		if _, err := Orders(&buf, opt); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	opt := Options{Rows: 1000, InvalidEvery: 9, Seed: 42}
	a, b := gen(opt), gen(opt)
	if !bytes.Equal(a, b) {
		t.Error("the same Options gave different bytes")
	}
	opt.Seed = 43
	if bytes.Equal(a, gen(opt)) {
		t.Error("different seeds gave the same bytes")
	}
}

func TestOrdersOptionErrors(t *testing.T) {
	tests := []struct {
		name    string
		opt     Options
		wantErr string
	}{
		{name: "quote delimiter", opt: Options{Comma: '"'}, wantErr: "invalid delimiter"},
		{name: "dot delimiter", opt: Options{Comma: '.'}, wantErr: "invalid delimiter"},
		{name: "negative rows", opt: Options{Rows: -1}, wantErr: "invalid Rows"},
		{name: "negative InvalidEvery", opt: Options{InvalidEvery: -2}, wantErr: "invalid InvalidEvery"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Orders(io.Discard, tc.opt)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want one mentioning %q", err, tc.wantErr)
			}
		})
	}
}

// failWriter fails with err after accepting n bytes.
type failWriter struct {
	n   int
	err error
}

func (w *failWriter) Write(p []byte) (int, error) {
	if len(p) > w.n {
		n := w.n
		w.n = 0
		return n, w.err
	}
	w.n -= len(p)
	return len(p), nil
}

func TestOrdersWriteError(t *testing.T) {
	errFull := errors.New("disk full")
	_, err := Orders(&failWriter{n: 100 << 10, err: errFull}, Options{Rows: 10000, Seed: 1})
	if !errors.Is(err, errFull) || !strings.Contains(err.Error(), "row") {
		t.Fatalf("error %v, want one wrapping %v and naming the row", err, errFull)
	}
}

func TestSchema(t *testing.T) {
	var schema struct {
		Fields []struct {
			Name        string         `json:"name"`
			Type        string         `json:"type"`
			Format      string         `json:"format"`
			Constraints map[string]any `json:"constraints"`
		} `json:"fields"`
	}
	if err := json.Unmarshal([]byte(Schema), &schema); err != nil {
		t.Fatalf("Schema is not valid JSON: %v", err)
	}
	var names []string
	for _, f := range schema.Fields {
		names = append(names, f.Name)
	}
	if got := strings.Join(names, ","); got != Header {
		t.Errorf("Schema fields %q, want the header %q", got, Header)
	}
	want := map[string]string{
		"order_id": "integer", "customer_email": "string", "order_date": "date", "shipped_at": "datetime",
		"status": "string", "quantity": "integer", "unit_price": "number", "paid": "boolean", "notes": "string",
	}
	for _, f := range schema.Fields {
		if f.Type != want[f.Name] {
			t.Errorf("field %s has type %q, want %q", f.Name, f.Type, want[f.Name])
		}
	}
	if c := schema.Fields[0].Constraints; c["required"] != true || c["unique"] != true {
		t.Errorf("order_id constraints %v, want required and unique", c)
	}
	if schema.Fields[1].Format != "email" {
		t.Errorf("customer_email format %q, want email", schema.Fields[1].Format)
	}
	if c := schema.Fields[5].Constraints; c["minimum"] != 1.0 || c["maximum"] != 1000.0 {
		t.Errorf("quantity constraints %v, want minimum 1 and maximum 1000", c)
	}
}

func BenchmarkOrders(b *testing.B) {
	b.ReportAllocs()
	var n int64
	for b.Loop() {
		w := &countWriter{}
		if _, err := Orders(w, Options{Rows: 100000, InvalidEvery: 50, Seed: 1}); err != nil {
			b.Fatal(err)
		}
		n = w.n
	}
	b.SetBytes(n)
}

type countWriter struct{ n int64 }

func (w *countWriter) Write(p []byte) (int, error) { w.n += int64(len(p)); return len(p), nil }
