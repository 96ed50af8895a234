package csvstream

import (
	"bytes"
	"cmp"
)

// Number values are decimals, as Table Schema has them, but Check holds
// them as float64 for speed. Two different decimals may round to the same
// float64 (1234567890123456789 and 1234567890123456788 do), so where that
// matters, for a value equal to a bound as a float64 and for unique keys
// and number enums, the decimal text decides.

// decimal is a number as a sign, its significant digits and an exponent:
// sign × 0.digits × 10^exp, digits without leading or trailing zeros. The
// words INF and -INF have sign ±2 and no digits; zero has sign 0.
type decimal struct {
	sign   int
	exp    int64
	digits []byte
}

// maxDecimalExp bounds the exponents decimal keeps, far beyond float64's,
// so that the sums that make them cannot overflow.
const maxDecimalExp = 1 << 40

// parseDecimal reads b, which isNumber accepted and which is not NaN,
// appending its significant digits to buf for d.digits.
func parseDecimal(b, buf []byte) decimal {
	var d decimal
	neg := len(b) > 0 && b[0] == '-'
	if len(b) > 0 && (b[0] == '+' || b[0] == '-') {
		b = b[1:]
	}
	if string(b) == "INF" {
		d.sign = 2
		if neg {
			d.sign = -2
		}
		return d
	}
	mant, exp, _ := bytes.Cut(b, []byte("e"))
	if len(exp) == 0 {
		mant, exp, _ = bytes.Cut(b, []byte("E"))
	}
	whole, frac, _ := bytes.Cut(mant, []byte("."))
	start := len(buf)
	buf = append(append(buf, whole...), frac...)
	digits := bytes.TrimLeft(buf[start:], "0")
	// 0.digits × 10^e: the whole part's digits left after its leading
	// zeros, less the fraction's leading zeros when the whole part has
	// none.
	e := int64(len(digits)) - int64(len(frac))
	digits = bytes.TrimRight(digits, "0")
	if len(digits) == 0 {
		return d
	}
	d.sign, d.digits = 1, digits
	if neg {
		d.sign = -1
	}
	var x int64
	eneg := len(exp) > 0 && exp[0] == '-'
	if len(exp) > 0 && (exp[0] == '+' || exp[0] == '-') {
		exp = exp[1:]
	}
	for _, c := range exp {
		if x = x*10 + int64(c-'0'); x > maxDecimalExp {
			x = maxDecimalExp
		}
	}
	if eneg {
		x = -x
	}
	d.exp = e + x
	return d
}

// compareDecimal orders the numbers a and b, which isNumber accepted and
// which are not NaN, exactly: -1, 0 or +1.
func compareDecimal(a, b []byte) int {
	var abuf, bbuf [32]byte
	x, y := parseDecimal(a, abuf[:0]), parseDecimal(b, bbuf[:0])
	switch {
	case x.sign != y.sign:
		return cmp.Compare(x.sign, y.sign)
	case x.sign == 0 || x.sign == 2 || x.sign == -2:
		return 0
	}
	c := cmp.Compare(x.exp, y.exp)
	if c == 0 {
		c = bytes.Compare(x.digits, y.digits)
	}
	return c * x.sign
}

// appendDecimal appends a key for the number b, which isNumber accepted:
// two numbers have the same key exactly when they are equal as decimals
// (1.50, 1.5 and 15e-1; 0 and -0), and every NaN has the same one. A key
// is self-delimiting, so keys can be joined.
func appendDecimal(dst, b []byte) []byte {
	if isNaNWord(b) {
		return append(dst, 'N')
	}
	var buf [32]byte
	d := parseDecimal(b, buf[:0])
	switch d.sign {
	case 0:
		return append(dst, '0')
	case 2:
		return append(dst, 'I')
	case -2:
		return append(dst, 'i')
	}
	dst = append(dst, byte('0'+d.sign+1)) // '0' or '2'
	dst = appendUint64(dst, uint64(d.exp))
	dst = appendUint64(dst, uint64(len(d.digits)))
	return append(dst, d.digits...)
}

// isNaNWord reports whether b is the word NaN, which isNumber accepts.
func isNaNWord(b []byte) bool { return string(b) == "NaN" }
