package csvstream

import (
	"context"
	"hash/crc64"
	"math"
	"time"
)

// WriterLimits lowers an ObjectWriter's limits for tests, so that an upload
// of thousands of parts stays small and retries and timeouts do not wait
// long.
type WriterLimits struct {
	MinPartSize  int64         // the smallest PartSize accepted
	RetryBackoff time.Duration // the first wait before a part is sent again
	// AttemptTimeout, when set, is a request attempt's whole timeout,
	// whatever the size of its body.
	AttemptTimeout time.Duration
}

// NewObjectWriterWithLimits is NewObjectWriter with lowered limits.
func NewObjectWriterWithLimits(ctx context.Context, api UploadAPI, bucket, key string, opt WriterOptions, lim WriterLimits) (*ObjectWriter, error) {
	l := defaultLimits()
	l.minPartSize, l.retryBackoff = lim.MinPartSize, lim.RetryBackoff
	if lim.AttemptTimeout > 0 {
		l.attemptBase, l.attemptRate = lim.AttemptTimeout, math.MaxInt64
	}
	return newObjectWriter(ctx, api, bucket, key, opt, l)
}

// PartSizeAt exposes the part size schedule.
func PartSizeAt(first int64, n int32) int64 { return partSize(first, n) }

// ChecksumCRC64NVME returns the base64 CRC64NVME of b, as S3 encodes it.
func ChecksumCRC64NVME(b []byte) string {
	return encodeCRC(crc64.Checksum(b, crc64.MakeTable(nvmePoly)))
}
