package csvstream_test

import (
	"context"
	"fmt"
	"io"
	"testing"

	"github.com/csvstream/csvstream/csvstream"
	"github.com/csvstream/csvstream/internal/faultproxy"
	"github.com/csvstream/csvstream/internal/s3test"
)

// BenchmarkObjectReader reads a 64 MiB object from a real S3 server through
// a proxy that sends every response at 32 MiB/s, as one connection to S3
// carries far less than the loopback: one stream against ranges of the
// default 8 MiB fetched several at once. The loopback cases, with no proxy,
// show what the ranges cost where a connection is not the bound.
func BenchmarkObjectReader(b *testing.B) {
	srv := s3test.Start(b)
	bucket := srv.Bucket(b, "readbench")
	data := csvData(64 << 20)
	srv.Put(b, bucket, "big.csv", data)
	for _, bb := range []struct {
		link string
		conc int
	}{{"32MiBps", 1}, {"32MiBps", 4}, {"32MiBps", 8}, {"loopback", 1}, {"loopback", 4}} {
		b.Run(fmt.Sprintf("%s/concurrency=%d", bb.link, bb.conc), func(b *testing.B) {
			client := srv.Client(csvstream.ClientOptions)
			if bb.link != "loopback" {
				p := faultproxy.New(b, srv.Endpoint)
				p.Inject(faultproxy.Fault{Kind: faultproxy.SlowResponse, Rate: 32 << 20, Times: 1 << 30})
				client = s3test.ClientFor(p.URL, csvstream.ClientOptions)
			}
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				r, err := csvstream.NewObjectReader(context.Background(), client, bucket, "big.csv", csvstream.ReaderOptions{Concurrency: bb.conc})
				if err != nil {
					b.Fatal(err)
				}
				n, err := io.Copy(io.Discard, r)
				r.Close()
				if err != nil || n != int64(len(data)) {
					b.Fatalf("read %d bytes: %v", n, err)
				}
			}
		})
	}
}
