package csvstream_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/csvstream/csvstream/csvstream"
	"github.com/csvstream/csvstream/internal/gen"
	"github.com/csvstream/csvstream/internal/s3test"
)

// BenchmarkCopyFileToS3 measures `csvstream run FILE s3://…` with the
// defaults and no schema: a 256 MiB local orders file scanned, checked for
// well-formedness and uploaded to a real S3 server on loopback in 8 MiB parts.
func BenchmarkCopyFileToS3(b *testing.B) {
	srv := s3test.Start(b)
	bucket := srv.Bucket(b, "copybench")
	path := filepath.Join(b.TempDir(), "orders.csv")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := gen.Orders(f, gen.Options{Rows: 2_600_000, Seed: 3}); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	client := srv.Client(csvstream.ClientOptions)
	b.SetBytes(st.Size())
	b.ReportAllocs()
	for b.Loop() {
		sum, err := csvstream.Run(context.Background(), client, csvstream.Job{
			Source:      csvstream.Location{Path: path},
			Destination: csvstream.Location{Bucket: bucket, Key: "copy/orders.csv"},
		})
		if err != nil || sum.BytesOut != st.Size() || sum.Parts < 2 {
			b.Fatalf("summary %+v, err %v", sum, err)
		}
	}
}
