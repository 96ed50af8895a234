//go:build amd64 && !purego

package csvstream

import "golang.org/x/sys/cpu"

// hasAVX2 says whether this processor and its operating system support
// AVX2; it is set once, at start.
var hasAVX2 = cpu.X86.HasAVX2

// splitLine splits the start of data at comma, up to the first '\n' or
// '"'. It stores in fields the span of each field a delimiter ends and
// returns how many it stored, the offset stop of that '\n' or '"' (or
// len(data) when there is none), and whether data[:stop] is all ASCII.
// The field running up to stop is left to the caller. fields must have
// room for a span per byte of data.
//
// On amd64 it looks at 64 bytes at a time with AVX2 where the processor
// has it, and otherwise 32 at a time with SSE2, which every amd64
// processor has.
func splitLine(data []byte, comma byte, fields []span) (nf, stop int, ascii bool) {
	if len(data) < 32 {
		return splitLineGeneric(data, comma, fields)
	}
	_ = fields[len(data)-1] // room for a span per byte
	if hasAVX2 && len(data) >= 64 {
		return splitLineAVX2(data, comma, fields)
	}
	return splitLineSSE2(data, comma, fields)
}

//go:noescape
func splitLineSSE2(data []byte, comma byte, fields []span) (nf, stop int, ascii bool)

//go:noescape
func splitLineAVX2(data []byte, comma byte, fields []span) (nf, stop int, ascii bool)
