package csvstream

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/csvstream/csvstream/internal/gen"
)

// ordersCSV returns gen.Orders bytes and the parsed gen.Schema.
func ordersCSV(tb testing.TB, rows, invalidEvery int) ([]byte, *Schema) {
	tb.Helper()
	var buf bytes.Buffer
	if _, err := gen.Orders(&buf, gen.Options{Rows: rows, InvalidEvery: invalidEvery, Seed: 1}); err != nil {
		tb.Fatal(err)
	}
	s, err := ParseSchema([]byte(gen.Schema))
	if err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes(), s
}

// validateAll scans data, checks every record and, when out is not nil,
// appends the valid ones to it as JSON Lines. It returns the number of
// rejected records.
func validateAll(tb testing.TB, data []byte, s *Schema, out []byte) (rejected int, _ []byte) {
	sc, err := NewScanner(bytes.NewReader(data), ScanOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	if !sc.Scan() {
		tb.Fatal("no header")
	}
	v, err := NewValidator(s, sc.Record())
	if err != nil {
		tb.Fatal(err)
	}
	errs := make([]FieldError, 0, 16)
	for sc.Scan() {
		rec := sc.Record()
		if errs = v.Check(rec, errs[:0]); len(errs) > 0 {
			rejected++
			continue
		}
		if out != nil {
			out = append(v.AppendJSON(out, rec), '\n')
		}
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	return rejected, out
}

// TestValidateOrders checks the Validator against gen's own counts: every
// row gen makes invalid is rejected, and no other.
func TestValidateOrders(t *testing.T) {
	var buf bytes.Buffer
	counts, err := gen.Orders(&buf, gen.Options{Rows: 5000, InvalidEvery: 7, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	s, err := ParseSchema([]byte(gen.Schema))
	if err != nil {
		t.Fatal(err)
	}
	sc, err := NewScanner(&buf, ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sc.Scan()
	v, err := NewValidator(s, sc.Record())
	if err != nil {
		t.Fatal(err)
	}
	byCode := map[string]int{}
	valid := 0
	var out []byte
	for sc.Scan() {
		errs := v.Check(sc.Record(), nil)
		switch len(errs) {
		case 0:
			valid++
			out = v.AppendJSON(out[:0], sc.Record())
			if !json.Valid(out) {
				t.Fatalf("line %d: invalid JSON %s", sc.Record().Line, out)
			}
		case 1:
			byCode[errs[0].Code]++
		default:
			t.Errorf("line %d: %d errors, gen makes one: %v", sc.Record().Line, len(errs), errs)
		}
	}
	if valid != counts.Valid {
		t.Errorf("%d valid rows, gen wrote %d", valid, counts.Valid)
	}
	for code, n := range counts.ByCode {
		if byCode[code] != n {
			t.Errorf("%d %s rows, gen wrote %d", byCode[code], code, n)
		}
	}
	if len(byCode) != len(counts.ByCode) {
		t.Errorf("rejected by code %v, gen wrote %v", byCode, counts.ByCode)
	}
}

// BenchmarkValidate measures the validation hot path over gen.Orders data,
// step by step: scanning alone, then checking, then writing JSON. (For
// scale, BenchmarkEncodingCSV is the baseline.) The unique order_id set
// grows with the rows, so allocs/op counts its growth, and the rejects'
// messages; valid rows allocate nothing else.
func BenchmarkValidate(b *testing.B) {
	for _, mix := range []struct {
		name         string
		invalidEvery int
	}{{"valid", 0}, {"invalid-1in20", 20}} {
		data, s := ordersCSV(b, 100_000, mix.invalidEvery)
		b.Run(mix.name+"/scan", func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				sc, _ := NewScanner(bytes.NewReader(data), ScanOptions{})
				for sc.Scan() {
				}
			}
		})
		b.Run(mix.name+"/scan+check", func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				validateAll(b, data, s, nil)
			}
		})
		b.Run(mix.name+"/scan+check+json", func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			out := make([]byte, 0, 2*len(data))
			for b.Loop() {
				_, out = validateAll(b, data, s, out[:0])
			}
		})
	}
}

// BenchmarkUniqueMemory reports the heap a unique integer field's set
// holds per million distinct keys, in increasing and in shuffled order (the
// two paths of the set; TestUniqueMemoryOrders checks the bound).
func BenchmarkUniqueMemory(b *testing.B) {
	const n = 1_000_000
	perm := rand.New(rand.NewPCG(1, 1)).Perm(n)
	for _, order := range []struct {
		name string
		key  func(i int) int
	}{{"ordered", func(i int) int { return i }}, {"shuffled", func(i int) int { return perm[i] }}} {
		keys := make([]string, n)
		for i := range keys {
			keys[i] = strconv.Itoa(order.key(i))
		}
		b.Run(order.name, func(b *testing.B) {
			var heap uint64
			for b.Loop() {
				heap = uniqueHeapOf(b, "integer", keys)
			}
			b.ReportMetric(float64(heap)/1e6, "MB/1M-keys")
			b.ReportMetric(float64(heap)/n, "B/key")
		})
	}
}

// BenchmarkRow measures Check and AppendJSON on one typical valid row of
// gen.Orders, over and over; order_id is not unique here, so that the row
// stays valid.
func BenchmarkRow(b *testing.B) {
	s, err := ParseSchema([]byte(gen.Schema))
	if err != nil {
		b.Fatal(err)
	}
	s.Fields[0].Constraints.Unique = false
	v, err := NewValidator(s, testRecord(0, strings.Split(gen.Header, ",")...))
	if err != nil {
		b.Fatal(err)
	}
	row := "9,dara.rossi4@mail.example.net,2021-10-22,2021-10-24T17:05:43Z,paid,6,182.15,false,\"before leave, invoice back\"\n"
	sc, err := NewScanner(strings.NewReader(row), ScanOptions{})
	if err != nil || !sc.Scan() {
		b.Fatal(err)
	}
	rec := sc.Record()
	errs := make([]FieldError, 0, 16)
	if errs = v.Check(rec, errs); len(errs) > 0 {
		b.Fatal(errs)
	}
	b.Run("check", func(b *testing.B) {
		b.SetBytes(int64(len(row)))
		b.ReportAllocs()
		for b.Loop() {
			errs = v.Check(rec, errs[:0])
		}
	})
	b.Run("json", func(b *testing.B) {
		b.SetBytes(int64(len(row)))
		b.ReportAllocs()
		out := make([]byte, 0, 1024)
		for b.Loop() {
			out = v.AppendJSON(out[:0], rec)
		}
	})
}
