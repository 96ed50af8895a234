package csvstream

import (
	"bytes"
	"cmp"
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
		{"inf", "+INF", 0},
		{"-Inf", "-INF", 0},
		{".5", "5.", -1},
		{"1e99999999999999999999", "1e99999999999999999998", 1},
		{"1e-99999999999999999999", "1e-99999999999999999998", -1},
		{"1e99999999999999999999", "10e99999999999999999998", 0},
		{"1e1099511627777", "10e1099511627776", 0},
		{"-1e99999999999999999999", "-1e9", -1},
		{"1e-99999999999999999999", "0", 1},
		{"1e100000000000000000", "0.1e100000000000000001", 0},
		{"123456789012345678901234567890", "123456789012345678901234567891", -1},
		// The mantissa's offset carries into, or borrows from, an exponent
		// of more than 18 digits.
		{"100e999999999999999999", "1e1000000000000000001", 0},
		{"0.001e1000000000000000000", "1e999999999999999997", 0},
		{"1000e-1000000000000000000", "1e-999999999999999997", 0},
		{"0.01e-999999999999999999", "1e-1000000000000000001", 0},
		{"1e1000000000000000000", "1e999999999999999999", 1},
		{"-1e1000000000000000000", "-1e999999999999999999", -1},
		{"1e-1000000000000000000", "1e-999999999999999999", -1},
		{"INF", "1e99999999999999999999", 1},
		// An exponent of 17 digits is read into an int64, one of 18 or
		// more digit by digit.
		{"10e99999999999999999", "1e100000000000000000", 0},
		{"1e100000000000000000", "100e99999999999999999", -1},
		// A carry out of the low 18 digits into a 9, and into a digit below 9.
		{"100e9999999999999999999", "1e10000000000000000001", 0},
		{"100e1999999999999999999", "1e2000000000000000001", 0},
		// A borrow from the digits above the low 18.
		{"0.001e2000000000000000000", "1e1999999999999999997", 0},
		// A borrow of exactly one, which leaves the low 18 digits at -1.
		{"0.01e1000000000000000000", "1e999999999999999998", 0},
		// Leading zeros make an exponent long, not large.
		{"100e-0000000000000000000001", "10", 0},
		{"0.01e+0000000000000000000003", "10", 0},
		// The exponent's sign is part of the key.
		{"1e99999999999999999999", "1e-100000000000000000001", 1},
		{"-1e99999999999999999999", "-1e-100000000000000000001", -1},
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
	if a, b := appendDecimal(nil, []byte("NaN")), appendDecimal(nil, []byte("nan")); !bytes.Equal(a, b) {
		t.Errorf("NaN and nan have keys %q and %q, want one", a, b)
	}
	// Keys are joined for keys of several columns: a key must never be
	// the start of another.
	words := []string{"NaN", "INF", "-INF", "0", "-1e16", "1", "-1", "12", "1.2", "1e99999999999999999999", "-1e-99999999999999999999"}
	for _, a := range words {
		for _, b := range words {
			ka, kb := appendDecimal(nil, []byte(a)), appendDecimal(nil, []byte(b))
			if a != b && bytes.HasPrefix(kb, ka) {
				t.Errorf("the key of %s starts the key of %s", a, b)
			}
		}
	}
}

// bigDecimal reads s, a number isNumber accepts other than NaN and INF, as
// m × 10^e with m and e integers.
func bigDecimal(t *testing.T, s string) (m, e *big.Int) {
	mant, exp, _ := strings.Cut(strings.ToLower(s), "e")
	whole, frac, _ := strings.Cut(mant, ".")
	m, ok := new(big.Int).SetString(whole+frac, 10)
	if !ok {
		t.Fatalf("cannot read the digits of %q", s)
	}
	e = new(big.Int)
	if exp != "" {
		if _, ok := e.SetString(exp, 10); !ok {
			t.Fatalf("cannot read the exponent of %q", s)
		}
	}
	return m, e.Sub(e, big.NewInt(int64(len(frac))))
}

// compareBig orders a and b with math/big: exactly, for exponents of any
// size, as long as their digits are few.
func compareBig(t *testing.T, a, b string) int {
	ma, ea := bigDecimal(t, a)
	mb, eb := bigDecimal(t, b)
	if c := cmp.Compare(ma.Sign(), mb.Sign()); c != 0 || ma.Sign() == 0 {
		return c
	}
	// Bring both to the smaller exponent; a gap wider than the digits
	// can make up decides alone.
	d := new(big.Int).Sub(ea, eb)
	if d.CmpAbs(big.NewInt(40)) > 0 {
		return d.Sign() * ma.Sign()
	}
	shift := new(big.Int).Exp(big.NewInt(10), new(big.Int).Abs(d), nil)
	if d.Sign() > 0 {
		ma.Mul(ma, shift)
	} else {
		mb.Mul(mb, shift)
	}
	return ma.Cmp(mb)
}

// TestLongExponent compares numbers whose exponents are as long as a
// record may be: they are read digit by digit, in time linear in their
// length, where math/big takes time quadratic in it.
func TestLongExponent(t *testing.T) {
	nines := strings.Repeat("9", 1<<20)
	a := "1e" + nines
	b := "10e" + nines[1:] + "8" // the same number
	c := "1e1" + nines[1:]       // an exponent as long as a's, and less
	if got := compareDecimal([]byte(a), []byte(b)); got != 0 {
		t.Errorf("compareDecimal(1e9…9, 10e9…8) = %d, want 0", got)
	}
	if got := compareDecimal([]byte(a), []byte(c)); got != 1 {
		t.Errorf("compareDecimal(1e9…9, 1e19…9) = %d, want 1", got)
	}
	if !bytes.Equal(appendDecimal(nil, []byte(a)), appendDecimal(nil, []byte(b))) {
		t.Error("1e9…9 and 10e9…8 have different keys")
	}
}

// TestCompareDecimalReference holds compareDecimal and appendDecimal to
// math/big on random decimals, many of them equal in value but not in text,
// some with exponents beyond an int64.
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
			// Short exponents, some beyond an int64, and some next to a
			// power of ten, which the mantissa's offset carries across.
			n := 1 + rng.IntN(2)
			switch rng.IntN(6) {
			case 0, 1:
				n = 18 + rng.IntN(3)
			case 2:
				b.WriteString(strings.Repeat("9", 16+rng.IntN(4)))
			case 3:
				b.WriteString("1" + strings.Repeat("0", 16+rng.IntN(4)))
			}
			for range n {
				b.WriteByte("0123456789"[rng.IntN(10)])
			}
		}
		return b.String()
	}
	for range 200_000 {
		a, b := random(), random()
		if !isNumber([]byte(a)) || !isNumber([]byte(b)) {
			continue
		}
		want := compareBig(t, a, b)
		if got := compareDecimal([]byte(a), []byte(b)); got != want {
			t.Fatalf("compareDecimal(%s, %s) = %d, want %d", a, b, got, want)
		}
		if same := string(appendDecimal(nil, []byte(a))) == string(appendDecimal(nil, []byte(b))); same != (want == 0) {
			t.Fatalf("appendDecimal(%s) and (%s) equal: %v, want %v", a, b, same, want == 0)
		}
	}
}

// TestDecimalKeysPrefixFree checks appendDecimal's promise that keys can be
// joined: no key starts another, even where one's exponent or digit count
// runs into the other's.
func TestDecimalKeysPrefixFree(t *testing.T) {
	words := []string{"1", "1.1111111111", "1e1000000000000000000000", "0.11111111111e100000000000000000000",
		// A long exponent, then a digit count: 1000000000000000000009 and
		// 1 run together as 100000000000000000000 and 91 would, unless
		// what ends the exponent is not a digit.
		"1e1000000000000000000008", "0." + strings.Repeat("1", 91) + "e100000000000000000000"}
	for _, a := range words {
		for _, b := range words {
			ka, kb := appendDecimal(nil, []byte(a)), appendDecimal(nil, []byte(b))
			if a != b && bytes.HasPrefix(kb, ka) {
				t.Errorf("the key of %s starts the key of %s", a, b)
			}
		}
	}
}
