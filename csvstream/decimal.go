package csvstream

import (
	"bytes"
	"cmp"
	"strconv"
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
	sign int
	exp  int64
	// bigExp holds the exponent's magnitude instead of exp when it has
	// more than 18 digits, as decimal digits without leading zeros;
	// bigNeg is its sign. Such exponents are rare, and digits keep
	// reading and comparing them linear in their length.
	bigExp []byte
	bigNeg bool
	digits []byte
}

// maxShortExp is the most digits an exponent may have to be read into an
// int64: with the offset the mantissa adds, which a record's size bounds,
// it cannot overflow. Longer ones are added to it digit by digit.
const maxShortExp = 17

// parseDecimal reads b, which isNumber accepted and which is not NaN,
// appending its significant digits to buf for d.digits.
func parseDecimal(b, buf []byte) decimal {
	var d decimal
	if w := numberWord(b); w != 0 {
		d.sign = w // INF or -INF: b is not NaN
		return d
	}
	neg := len(b) > 0 && b[0] == '-'
	if len(b) > 0 && (b[0] == '+' || b[0] == '-') {
		b = b[1:]
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
	eneg := len(exp) > 0 && exp[0] == '-'
	if len(exp) > 0 && (exp[0] == '+' || exp[0] == '-') {
		exp = exp[1:]
	}
	exp = bytes.TrimLeft(exp, "0")
	if len(exp) <= maxShortExp {
		var x int64
		for _, c := range exp {
			x = x*10 + int64(c-'0')
		}
		if eneg {
			x = -x
		}
		d.exp = e + x
		return d
	}
	// |exp| >= 1e17 > |e|: the sign is exp's, the magnitude |exp| ± e,
	// worked out on the digits in linear time (big.Int's SetString is
	// quadratic in the length).
	delta := e
	if eneg {
		delta = -e
	}
	mag := addSmall(exp, delta)
	if len(mag) <= 18 {
		var x int64
		for _, c := range mag {
			x = x*10 + int64(c-'0')
		}
		if eneg {
			x = -x
		}
		d.exp = x // so that an exponent has one form only
		return d
	}
	d.bigExp, d.bigNeg = mag, eneg
	return d
}

// addSmall returns the decimal digits of mag + delta, without leading
// zeros; mag has at least 18 digits and is above |delta|.
func addSmall(mag []byte, delta int64) []byte {
	const base = 1_000_000_000_000_000_000 // 1e18
	n := len(mag)
	var low int64
	for _, c := range mag[n-18:] {
		low = low*10 + int64(c-'0')
	}
	low += delta
	carry := 0
	for low >= base {
		low -= base
		carry++
	}
	for low < 0 {
		low += base
		carry--
	}
	out := make([]byte, 0, n+1)
	out = append(out, mag[:n-18]...)
	for ; carry > 0; carry-- {
		i := len(out) - 1
		for i >= 0 && out[i] == '9' {
			out[i] = '0'
			i--
		}
		if i < 0 {
			out = append([]byte{'1'}, out...)
		} else {
			out[i]++
		}
	}
	for ; carry < 0; carry++ {
		i := len(out) - 1
		for out[i] == '0' {
			out[i] = '9'
			i--
		}
		out[i]--
	}
	l := strconv.AppendInt(nil, low, 10)
	for range 18 - len(l) {
		out = append(out, '0')
	}
	out = append(out, l...)
	return bytes.TrimLeft(out, "0")
}

// compareExp orders the exponents of x and y.
func compareExp(x, y decimal) int {
	switch xb, yb := x.bigExp != nil, y.bigExp != nil; {
	case !xb && !yb:
		return cmp.Compare(x.exp, y.exp)
	case xb && !yb:
		if x.bigNeg {
			return -1
		}
		return 1
	case !xb && yb:
		if y.bigNeg {
			return 1
		}
		return -1
	}
	if x.bigNeg != y.bigNeg {
		if x.bigNeg {
			return -1
		}
		return 1
	}
	c := cmp.Compare(len(x.bigExp), len(y.bigExp))
	if c == 0 {
		c = bytes.Compare(x.bigExp, y.bigExp)
	}
	if x.bigNeg {
		c = -c
	}
	return c
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
	c := compareExp(x, y)
	if c == 0 {
		c = bytes.Compare(x.digits, y.digits)
	}
	return c * x.sign
}

// appendDecimal appends a key for the number b, which isNumber accepted:
// two numbers have the same key exactly when they are equal as decimals
// (1.50, 1.5 and 15e-1; 0 and -0), and every NaN has the same one. Each
// kind of key starts with a byte of its own and says where it ends, so
// keys can be joined.
func appendDecimal(dst, b []byte) []byte {
	if isNaNWord(b) {
		return append(dst, '?')
	}
	var buf [32]byte
	d := parseDecimal(b, buf[:0])
	switch d.sign {
	case 0:
		return append(dst, '0')
	case 2:
		return append(dst, '>')
	case -2:
		return append(dst, '<')
	}
	tag := byte('+')
	if d.sign < 0 {
		tag = '-'
	}
	if d.bigExp != nil {
		// An exponent beyond an int64 is written out in decimal, ended by
		// a byte that is not a digit.
		dst = append(dst, tag, 'E')
		if d.bigNeg {
			dst = append(dst, '-')
		}
		dst = append(dst, d.bigExp...)
		dst = append(dst, ';')
	} else {
		dst = append(dst, tag)
		dst = appendUint64(dst, uint64(d.exp))
	}
	dst = strconv.AppendInt(dst, int64(len(d.digits)), 10)
	dst = append(dst, ';')
	return append(dst, d.digits...)
}

// isNaNWord reports whether b is the word NaN, in any case, which
// isNumber accepts.
func isNaNWord(b []byte) bool { return numberWord(b) == wordNaN }
