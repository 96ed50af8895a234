package csvstream

import (
	"bytes"
	"context"
	"fmt"
	"hash/crc64"
	"testing"

	"github.com/csvstream/csvstream/internal/s3test"
)

// BenchmarkObjectWriter writes 64 MiB in 4 KiB records to a real S3 server
// on loopback, in 8 MiB parts.
func BenchmarkObjectWriter(b *testing.B) {
	srv := s3test.Start(b)
	bucket := srv.Bucket(b, "writer-bench")
	client := srv.Client(ClientOptions)
	const size = 64 << 20
	rec := bytes.Repeat([]byte("0123456789,abcdef,"), 4096/18+1)[:4096]
	rec[len(rec)-1] = '\n'
	b.SetBytes(size)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		w, err := NewObjectWriter(context.Background(), client, bucket, fmt.Sprintf("bench-%d.csv", i), WriterOptions{})
		if err != nil {
			b.Fatal(err)
		}
		for range size / len(rec) {
			if _, err := w.Write(rec); err != nil {
				b.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkObjectChecksum compares the two ways to get a 64 MiB object's
// CRC64NVME once its eight 8 MiB parts have theirs: hashing every byte
// again, or combining the parts' checksums, which is what Close does.
func BenchmarkObjectChecksum(b *testing.B) {
	const parts, partLen = 8, 8 << 20
	tab := crc64.MakeTable(nvmePoly)
	data := make([]byte, parts*partLen)
	for i := range data {
		data[i] = byte(i * 7)
	}
	sums := make([]uint64, parts)
	for i := range sums {
		sums[i] = crc64.Checksum(data[i*partLen:(i+1)*partLen], tab)
	}
	b.Run("rehash", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			crc64.Checksum(data, tab)
		}
	})
	b.Run("combine", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			var crc uint64
			for _, s := range sums {
				crc = crc64Combine(crc, s, partLen)
			}
		}
	})
}
