//go:build amd64 && !purego

package csvstream

// archSplitters returns the SSE2 kernel and, where the processor has AVX2,
// the AVX2 kernel, each behind the length checks splitLine makes.
func archSplitters() []splitter {
	s := []splitter{{"splitLineSSE2", func(data []byte, comma byte, fields []span) (int, int, bool) {
		if len(data) < 32 {
			return splitLineGeneric(data, comma, fields)
		}
		return splitLineSSE2(data, comma, fields)
	}}}
	if hasAVX2 {
		s = append(s, splitter{"splitLineAVX2", func(data []byte, comma byte, fields []span) (int, int, bool) {
			if len(data) < 64 {
				return splitLineGeneric(data, comma, fields)
			}
			return splitLineAVX2(data, comma, fields)
		}})
	}
	return s
}
