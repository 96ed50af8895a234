package csvstream

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func TestSplitLine(t *testing.T) {
	tests := []struct {
		name  string
		data  string
		spans []span
		stop  int
		ascii bool
	}{
		{name: "empty", data: "", stop: 0, ascii: true},
		{name: "newline only", data: "\n", stop: 0, ascii: true},
		{name: "one field", data: "abc\nxyz", stop: 3, ascii: true},
		{name: "fields", data: "a,bb,,c\n", spans: []span{{0, 1}, {2, 4}, {5, 5}}, stop: 7, ascii: true},
		{name: "stops at quote", data: `a,b,"c,d"` + "\n", spans: []span{{0, 1}, {2, 3}}, stop: 4, ascii: true},
		{name: "no stop", data: "a,b,c", spans: []span{{0, 1}, {2, 3}}, stop: 5, ascii: true},
		{name: "non-ASCII before stop", data: "é,x\n", spans: []span{{0, 2}}, stop: 4},
		{name: "non-ASCII after stop", data: "a,x\né", spans: []span{{0, 1}}, stop: 3, ascii: true},
		{name: "long line", data: "0123456789,0123456789,0123456789,0123456789,0123456789\r\nnext,row\n",
			spans: []span{{0, 10}, {11, 21}, {22, 32}, {33, 43}}, stop: 55, ascii: true},
		{name: "stop in last partial block", data: "0123456789012345678901234567890123456789,x\n",
			spans: []span{{0, 40}}, stop: 42, ascii: true},
		{name: "stop in third 64-byte block", data: strings.Repeat("0123456789,", 13) + "é\n",
			spans: func() []span {
				var s []span
				for i := range 13 {
					s = append(s, span{int32(11 * i), int32(11*i + 10)})
				}
				return s
			}(), stop: 145},
		{name: "delimiter at every byte", data: ",,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,\n",
			spans: func() []span {
				var s []span
				for i := range 35 {
					s = append(s, span{int32(i), int32(i)})
				}
				return s
			}(), stop: 35, ascii: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, split := range splitters {
				fields := make([]span, len(tt.data)+1)
				nf, stop, ascii := split.fn([]byte(tt.data), ',', fields)
				if !slices.Equal(fields[:nf], tt.spans) || stop != tt.stop || ascii != tt.ascii {
					t.Errorf("%s: got spans %v, stop %d, ascii %v; want %v, %d, %v", split.name, fields[:nf], stop, ascii, tt.spans, tt.stop, tt.ascii)
				}
			}
		})
	}
}

// splitter is an implementation of splitLine to compare.
type splitter struct {
	name string
	fn   func([]byte, byte, []span) (int, int, bool)
}

// splitters are splitLine, the portable version, and each kernel of this
// architecture that this processor can run (archSplitters).
var splitters = append([]splitter{
	{"splitLine", splitLine},
	{"splitLineGeneric", splitLineGeneric},
}, archSplitters()...)

// TestSplitLineAgrees compares splitLine and each kernel with the portable
// version on random lines of every length up to a few blocks, in every
// dialect, with the stop and the delimiters at every offset and bytes
// above 0x7f.
func TestSplitLineAgrees(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, comma := range []byte{',', ';', '\t', '|'} {
		alphabet := []byte{'a', '0', ' ', comma, comma, '\r', '\n', '"', 0x80, 0xff}
		for n := range 200 {
			for range 50 {
				data := make([]byte, n)
				for i := range data {
					if rng.IntN(4) == 0 {
						data[i] = alphabet[rng.IntN(len(alphabet))]
					} else {
						data[i] = 'x'
					}
				}
				want := make([]span, n+1)
				got := make([]span, n+1)
				wn, ws, wa := splitLineGeneric(data, comma, want)
				for _, split := range splitters {
					gn, gs, ga := split.fn(data, comma, got)
					if gn != wn || gs != ws || ga != wa || !slices.Equal(got[:gn], want[:wn]) {
						t.Fatalf("comma %q, data %q:\n%s: %d %d %v %v\nsplitLineGeneric: %d %d %v %v", comma, data, split.name, gn, gs, ga, got[:gn], wn, ws, wa, want[:wn])
					}
				}
			}
		}
	}
}

// splitLineReference is splitLine one byte at a time.
func splitLineReference(data []byte, comma byte) (spans []span, stop int, ascii bool) {
	stop = len(data)
	for i, c := range data {
		if c == '\n' || c == '"' {
			stop = i
			break
		}
	}
	ascii = true
	start := 0
	for i, c := range data[:stop] {
		if c >= 0x80 {
			ascii = false
		}
		if c == comma {
			spans = append(spans, span{int32(start), int32(i)})
			start = i + 1
		}
	}
	return spans, stop, ascii
}

// TestSplitLineBytesAroundDelimiter checks splitLine and each kernel
// against the byte-at-a-time reference on lines where every byte value
// stands right before and right after a delimiter, at every offset in a
// word, so that a word trick that marks a byte near a delimiter (a borrow
// from it, or a byte that differs from it only in its high bit, as 0xAC in
// "€" does from ',') cannot go unseen.
func TestSplitLineBytesAroundDelimiter(t *testing.T) {
	for _, comma := range []byte{',', ';', '\t', '|'} {
		for v := range 256 {
			for n := 1; n <= 72; n++ {
				for k := range 3 {
					data := make([]byte, n)
					for i := range data {
						if i%3 == k {
							data[i] = comma
						} else {
							data[i] = byte(v)
						}
					}
					want, wantStop, wantASCII := splitLineReference(data, comma)
					got := make([]span, n+1)
					for _, split := range splitters {
						nf, stop, ascii := split.fn(data, comma, got)
						if stop != wantStop || ascii != wantASCII || !slices.Equal(got[:nf], want) {
							t.Fatalf("comma %q, data %q:\n%s: spans %v, stop %d, ascii %v\nwant %v, %d, %v", comma, data, split.name, got[:nf], stop, ascii, want, wantStop, wantASCII)
						}
					}
				}
			}
		}
	}
}

// TestSplitLineFindsOneHighByte puts one byte above 0x7f at each offset of
// lines of every length up to a few blocks. A kernel that loses one byte's
// high bit (one in the upper half of a block, at the first new byte of a
// partial block, say) would call the line ASCII, and the random lines of
// TestSplitLineAgrees seldom hold only that one.
func TestSplitLineFindsOneHighByte(t *testing.T) {
	for n := 1; n <= 200; n++ {
		for p := range n {
			data := []byte(strings.Repeat("x", n) + "\n")
			data[p] = 0xff
			for _, split := range splitters {
				fields := make([]span, len(data)+1)
				if nf, stop, ascii := split.fn(data, ',', fields); nf != 0 || stop != n || ascii {
					t.Fatalf("%s: 0xff at %d of %d bytes: %d fields, stop %d, ascii %v; want 0, %d, false", split.name, p, n, nf, stop, ascii, n)
				}
			}
		}
	}
}
