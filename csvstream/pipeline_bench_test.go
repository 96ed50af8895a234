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
	schema, err := ParseSchema([]byte(gen.Schema))
	if err != nil {
		b.Fatal(err)
	}
	benchPipeline(b, schema)
}

// BenchmarkPipelineNoSchema is BenchmarkPipeline without a schema: rows are
// only checked for well-formedness, so the difference between the two is
// the cost of the typed checks.
func BenchmarkPipelineNoSchema(b *testing.B) { benchPipeline(b, nil) }

func benchPipeline(b *testing.B, schema *Schema) {
	data := benchInput(b)
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
		if err != nil || sum.Rows != benchRows || sum.Valid == 0 || sum.Rejected == 0 {
			b.Fatalf("summary %+v, err %v", sum, err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*(benchRows+1)), "ns/record")
}
