package csvstream

import (
	"math/big"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestCompareDecimal(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"1", "1.0", 0},
		{"1.5", "15e-1", 0},
		{"0", "-0.0e9", 0},
		{"007.50", "7.5", 0},
		{"1234567890123456789", "1234567890123456788", 1},
		{"0.30000000000000001", "0.3", 1},
		{"-1e-400", "0", -1},
		{"-2", "-10", 1},
		{"1e400", "1e401", -1},
		{"INF", "1e99999999999999999999", 1},
		{"-INF", "-1e400", -1},
		{"INF", "INF", 0},
		{".5", "5.", -1},
	}
	for _, tt := range tests {
		if got := compareDecimal([]byte(tt.a), []byte(tt.b)); got != tt.want {
			t.Errorf("compareDecimal(%s, %s) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
		if got := compareDecimal([]byte(tt.b), []byte(tt.a)); got != -tt.want {
			t.Errorf("compareDecimal(%s, %s) = %d, want %d", tt.b, tt.a, got, -tt.want)
		}
		same := string(appendDecimal(nil, []byte(tt.a))) == string(appendDecimal(nil, []byte(tt.b)))
		if same != (tt.want == 0) {
			t.Errorf("appendDecimal(%s) and (%s) equal: %v, want %v", tt.a, tt.b, same, tt.want == 0)
		}
	}
	if string(appendDecimal(nil, []byte("NaN"))) == string(appendDecimal(nil, []byte("INF"))) {
		t.Error("NaN and INF share a key")
	}
}

// TestCompareDecimalReference holds compareDecimal and appendDecimal to
// math/big on random decimals, many of them equal in value but not in text.
func TestCompareDecimalReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	random := func() string {
		var b strings.Builder
		b.WriteString([]string{"", "-", "+"}[rng.IntN(3)])
		b.WriteString(strings.Repeat("0", rng.IntN(3)))
		for range rng.IntN(4) {
			b.WriteByte("0123456789"[rng.IntN(10)])
		}
		if rng.IntN(2) == 0 {
			b.WriteByte('.')
			for range rng.IntN(4) {
				b.WriteByte("0123456789"[rng.IntN(10)])
			}
		}
		if rng.IntN(3) == 0 {
			b.WriteString([]string{"e", "E", "e-", "e+"}[rng.IntN(4)])
			b.WriteByte("0123456789"[rng.IntN(10)])
		}
		return b.String()
	}
	for range 200_000 {
		a, b := random(), random()
		if !isNumber([]byte(a)) || !isNumber([]byte(b)) {
			continue
		}
		x, okx := new(big.Rat).SetString(a)
		y, oky := new(big.Rat).SetString(b)
		if !okx || !oky {
			t.Fatalf("big.Rat cannot read %q or %q", a, b)
		}
		want := x.Cmp(y)
		if got := compareDecimal([]byte(a), []byte(b)); got != want {
			t.Fatalf("compareDecimal(%s, %s) = %d, want %d", a, b, got, want)
		}
		if same := string(appendDecimal(nil, []byte(a))) == string(appendDecimal(nil, []byte(b))); same != (want == 0) {
			t.Fatalf("appendDecimal(%s) and (%s) equal: %v, want %v", a, b, same, want == 0)
		}
	}
}
