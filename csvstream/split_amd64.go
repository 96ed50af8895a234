//go:build amd64 && !purego

package csvstream

// splitLine splits the start of data at comma, up to the first '\n' or
// '"'. It stores in fields the span of each field a delimiter ends and
// returns how many it stored, the offset stop of that '\n' or '"' (or
// len(data) when there is none), and whether data[:stop] is all ASCII.
// The field running up to stop is left to the caller. fields must have
// room for a span per byte of data.
//
// On amd64 it looks at 32 bytes at a time with SSE2, which every
// amd64 processor has.
func splitLine(data []byte, comma byte, fields []span) (nf, stop int, ascii bool) {
	if len(data) < 32 {
		return splitLineGeneric(data, comma, fields)
	}
	_ = fields[len(data)-1] // room for a span per byte
	return splitLineSSE2(data, comma, fields)
}

//go:noescape
func splitLineSSE2(data []byte, comma byte, fields []span) (nf, stop int, ascii bool)
