package csvstream

import (
	"bytes"
	"encoding/binary"
	"encoding/csv"
	"io"
	"math/bits"
	"testing"

	"github.com/csvstream/csvstream/internal/gen"
)

// benchRows makes the benchmark input about 32 MiB.
const benchRows = 300_000

// benchInput returns the orders CSV both benchmarks read, so that their
// numbers compare the same bytes.
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
	var r bytes.Reader
	records := 0
	for b.Loop() {
		r.Reset(data)
		s, err := NewScanner(&r, ScanOptions{})
		if err != nil {
			b.Fatal(err)
		}
		records, total := 0, 0
		for s.Scan() {
			rec := s.Record()
			for i := range rec.NumFields() {
				total += len(rec.Field(i))
			}
			records++
		}
		if err := s.Err(); err != nil || records != benchRows+1 || total == 0 {
			b.Fatalf("read %d records (%d field bytes), err %v", records, total, err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*(benchRows+1)), "ns/record")
	_ = records
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

func BenchmarkTmpNoQuotes(b *testing.B) {
	data := benchInput(b)
	data = bytes.ReplaceAll(data, []byte{'"'}, []byte{'x'})
	b.SetBytes(int64(len(data)))
	var r bytes.Reader
	for b.Loop() {
		r.Reset(data)
		s, _ := NewScanner(&r, ScanOptions{})
		n := 0
		for s.Scan() {
			n += s.Record().NumFields()
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*(benchRows+1)), "ns/record")
}

func BenchmarkTmpIndexByte(b *testing.B) {
	data := benchInput(b)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		d := data
		n := 0
		for {
			i := bytes.IndexByte(d, '\n')
			if i < 0 {
				break
			}
			n++
			d = d[i+1:]
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*(benchRows+1)), "ns/record")
}

func BenchmarkTmpSWARCount(b *testing.B) {
	data := benchInput(b)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		n := 0
		cm := uint64(',') * lo8
		for j := 0; j+8 <= len(data); j += 8 {
			w := binary.LittleEndian.Uint64(data[j : j+8])
			for m := zeroBytes(w^cm) | zeroBytes(w^(lo8*'\n')); m != 0; m &= m - 1 {
				n += bits.TrailingZeros64(m)
			}
		}
		if n == 0 {
			b.Fatal()
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*(benchRows+1)), "ns/record")
}

func BenchmarkTmpByteLoop(b *testing.B) {
	data := benchInput(b)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		n := 0
		for j, c := range data {
			if c == ',' || c == '\n' {
				n += j
			}
		}
		if n == 0 {
			b.Fatal()
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*(benchRows+1)), "ns/record")
}

func BenchmarkTmpSWARBranchless(b *testing.B) {
	data := benchInput(b)
	b.SetBytes(int64(len(data)))
	seps := make([]int32, len(data)+16)
	for b.Loop() {
		p := 0
		cm := uint64(',') * lo8
		for j := 0; j+8 <= len(data); j += 8 {
			w := binary.LittleEndian.Uint64(data[j : j+8])
			m := zeroBytes(w^cm) | zeroBytes(w^(lo8*'\n'))
			c := bits.OnesCount64(m)
			seps[p] = int32(j + bits.TrailingZeros64(m)>>3)
			m &= m - 1
			seps[p+1] = int32(j + bits.TrailingZeros64(m)>>3)
			if c > 2 {
				for k := p + 2; k < p+c; k++ {
					m &= m - 1
					seps[k] = int32(j + bits.TrailingZeros64(m)>>3)
				}
			}
			p += c
		}
		if p == 0 {
			b.Fatal()
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*(benchRows+1)), "ns/record")
}

func BenchmarkTmpSWARNoBits(b *testing.B) {
	data := benchInput(b)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		var p uint64
		cm := uint64(',') * lo8
		for j := 0; j+8 <= len(data); j += 8 {
			w := binary.LittleEndian.Uint64(data[j : j+8])
			m := zeroBytes(w^cm) | zeroBytes(w^(lo8*'\n'))
			p += m
		}
		if p == 0 {
			b.Fatal()
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*(benchRows+1)), "ns/record")
}
