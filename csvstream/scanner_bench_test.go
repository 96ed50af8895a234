package csvstream

import (
	"bytes"
	"encoding/csv"
	"io"
	"testing"

	"github.com/csvstream/csvstream/internal/gen"
)

// benchRows makes the benchmark input about 32 MiB.
const benchRows = 335_000

// benchInput returns the orders CSV both benchmarks read, so that their
// numbers compare the same bytes: about 100 bytes a row, one row in ten
// with a quoted note, one in fifty invalid.
func benchInput(b *testing.B) []byte {
	b.Helper()
	var buf bytes.Buffer
	if _, err := gen.Orders(&buf, gen.Options{Rows: benchRows, InvalidEvery: 50, Seed: 1}); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

// BenchmarkScanner reads every record and every field of the input.
func BenchmarkScanner(b *testing.B) {
	data := benchInput(b)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		total := 0
		records := scanEach(b, data, func(rec *Record) {
			for i := range rec.NumFields() {
				total += len(rec.Field(i))
			}
		})
		if records != benchRows+1 || total == 0 {
			b.Fatalf("read %d records (%d field bytes)", records, total)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*(benchRows+1)), "ns/record")
}

// BenchmarkEncodingCSV is the baseline: a bare encoding/csv loop over the
// same bytes, reusing its record and checking nothing.
func BenchmarkEncodingCSV(b *testing.B) {
	data := benchInput(b)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	var r bytes.Reader
	for b.Loop() {
		r.Reset(data)
		cr := csv.NewReader(&r)
		cr.ReuseRecord = true
		cr.FieldsPerRecord = -1
		records, total := 0, 0
		for {
			rec, err := cr.Read()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			for _, f := range rec {
				total += len(f)
			}
			records++
		}
		if records != benchRows+1 || total == 0 {
			b.Fatalf("read %d records (%d field bytes)", records, total)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*(benchRows+1)), "ns/record")
}

// BenchmarkScannerDamaged reads about 4 MiB of lines from each of which a
// record runs on over the next lines, with the default size bound: every
// record is cut back to its first line, and the Scanner must not scan the
// bytes after it once per line. In "wide", every ninth line holds 256 KiB
// of quoted fields, each of which must not cost a search to the line's end.
func BenchmarkScannerDamaged(b *testing.B) {
	bad := []byte("x\",y,\"z\n")
	wide := append(bytes.Repeat([]byte(`"a",`), 64<<10), "\"z\n"...)
	for _, tc := range []struct {
		name  string
		block []byte
		n     int
	}{
		{"lines", bad, 4 << 20 / len(bad)},
		{"wide", append(bytes.Repeat(bad, 8), wide...), 16},
	} {
		b.Run(tc.name, func(b *testing.B) {
			data := append([]byte("a,b,c\n"), bytes.Repeat(tc.block, tc.n)...)
			lines := bytes.Count(data, []byte{'\n'}) - 1
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				bad := 0
				records := scanEach(b, data, func(rec *Record) {
					if rec.Err != nil {
						bad++
					}
				})
				if records != lines+1 || bad != lines {
					b.Fatalf("read %d records, %d with errors", records, bad)
				}
			}
		})
	}
}

// scanEach scans data with the default options, calls f with each record,
// and returns how many there were.
func scanEach(b *testing.B, data []byte, f func(*Record)) int {
	s, err := NewScanner(bytes.NewReader(data), ScanOptions{})
	if err != nil {
		b.Fatal(err)
	}
	records := 0
	for s.Scan() {
		f(s.Record())
		records++
	}
	if err := s.Err(); err != nil {
		b.Fatal(err)
	}
	return records
}
