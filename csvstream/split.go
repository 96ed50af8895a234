package csvstream

import (
	"bytes"
	"encoding/binary"
	"math/bits"
)

// splitLineGeneric is the portable splitLine: after an IndexByte for the
// line end and one for the first quote, it finds the delimiters eight bytes
// at a time, the last few bytes included.
func splitLineGeneric(data []byte, comma byte, fields []span) (nf, stop int, ascii bool) {
	stop = len(data)
	if i := bytes.IndexByte(data, '\n'); i >= 0 {
		stop = i
	}
	if i := bytes.IndexByte(data[:stop], '"'); i >= 0 {
		stop = i
	}
	cm := uint64(comma) * ones
	var or uint64 // every byte before j ORed in, to learn whether all are ASCII
	start := 0
	j := 0
	for ; j+8 <= stop; j += 8 {
		w := binary.LittleEndian.Uint64(data[j : j+8])
		or |= w
		for m := zeroBytes(w ^ cm); m != 0; m &= m - 1 {
			k := j + bits.TrailingZeros64(m)>>3
			fields[nf] = span{int32(start), int32(k)}
			nf++
			start = k + 1
		}
	}
	if j < stop {
		// The last few bytes: when the line has eight, read the eight that
		// end at stop and shift out those already seen; else byte by byte.
		var w uint64
		if stop >= 8 {
			w = binary.LittleEndian.Uint64(data[stop-8:stop]) >> (8 * (8 - (stop - j)))
		} else {
			for k := stop - 1; k >= j; k-- {
				w = w<<8 | uint64(data[k])
			}
		}
		or |= w
		m := zeroBytes(w^cm) & (1<<(8*(stop-j)) - 1)
		for ; m != 0; m &= m - 1 {
			k := j + bits.TrailingZeros64(m)>>3
			fields[nf] = span{int32(start), int32(k)}
			nf++
			start = k + 1
		}
	}
	return nf, stop, or&highs == 0
}

// Words for reading eight bytes at a time, in the splitter and the
// validator.
const (
	ones  = 0x0101010101010101 // 1 in each byte
	lows  = 0x7f7f7f7f7f7f7f7f // the low seven bits of each byte
	highs = 0x8080808080808080 // the high bit of each byte
)

// zeroBytes returns x with the high bit of each zero byte set and every
// other bit clear.
func zeroBytes(x uint64) uint64 {
	return ^((x&lows + lows) | x | lows)
}
