package csvstream

import (
	"bytes"
	"cmp"
	"math/big"
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
	sign   int
	exp    int64
	bigExp *big.Int // the exponent instead of exp when it does not fit an int64
	digits []byte
}

// maxShortExp is the most digits an exponent may have to be read into an
// int64: with the offset the mantissa adds, which a record's size bounds,
// it cannot overflow. Longer ones are read into a big.Int.
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
	x, _ := new(big.Int).SetString(string(exp), 10)
	if eneg {
		x.Neg(x)
	}
	x.Add(x, big.NewInt(e))
	if x.IsInt64() {
		d.exp = x.Int64() // so that an exponent has one form only
	} else {
		d.bigExp = x
	}
	return d
}

// exponent returns d's exponent as a big.Int.
func (d decimal) exponent() *big.Int {
	if d.bigExp != nil {
		return d.bigExp
	}
	return big.NewInt(d.exp)
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
	var c int
	if x.bigExp == nil && y.bigExp == nil {
		c = cmp.Compare(x.exp, y.exp)
	} else {
		c = x.exponent().Cmp(y.exponent())
	}
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
		dst = d.bigExp.Append(dst, 10)
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
