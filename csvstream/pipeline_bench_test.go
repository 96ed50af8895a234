package csvstream

import (
	"bytes"
	"context"
	"io"
	"path/filepath"
	"testing"

	"github.com/csvstream/csvstream/internal/gen"
)

// BenchmarkPipeline is the product's hot path end to end: Run over the same
// bytes as BenchmarkEncodingCSV, scanning, validating every row against
// gen.Schema, writing the valid rows to a buffered output and the rejects
// (one row in fifty) to a file. Compare its MB/s with BenchmarkEncodingCSV's
// under -cpu 1.
func BenchmarkPipeline(b *testing.B) {
	data := benchInput(b)
	schema, err := ParseSchema([]byte(gen.Schema))
	if err != nil {
		b.Fatal(err)
	}
	rejects := Location{Path: filepath.Join(b.TempDir(), "rejects.csv")}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	var r bytes.Reader
	for b.Loop() {
		r.Reset(data)
		sum, err := Run(context.Background(), nil, Job{
			Source: Stdio, Destination: Stdio, Rejects: rejects,
			Schema: schema, Stdin: &r, Stdout: io.Discard,
		})
		if err != nil || sum.Rows != benchRows || sum.Rejected == 0 || sum.Valid == 0 {
			b.Fatalf("summary %+v, err %v", sum, err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*(benchRows+1)), "ns/record")
}
