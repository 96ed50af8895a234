package csvstream

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"math"
	"strconv"
	"unicode"
	"unicode/utf8"
)

// parseResult says whether a value has its field's type.
type parseResult uint8

const (
	parseOK    parseResult = iota
	parseBad               // not of the type
	parseRange             // an integer beyond 64 bits
)

// parse reads b as a value of column c's type and format.
func (c *column) parse(b []byte) (value, parseResult) {
	switch c.kind {
	case kindString:
		if c.strFormat != formatDefault && !checkStringFormat(c.strFormat, b) {
			return value{}, parseBad
		}
		return value{}, parseOK
	case kindAny:
		return value{}, parseOK
	case kindInteger:
		return parseInteger(b)
	case kindNumber:
		if !isNumber(b) {
			return value{}, parseBad
		}
		return numberValue(b), parseOK
	case kindBoolean:
		i, res := c.parseBoolean(b)
		return value{i: i}, res
	case kindYear:
		y, _, ok := fixedDigits(b, 0, 4)
		if !ok || len(b) != 4 {
			return value{}, parseBad
		}
		return value{i: int64(y)}, parseOK
	case kindDate:
		if c.layout == nil {
			return result(parseISODate(b))
		}
		t, ok := c.layout.parse(b)
		return result(value{i: daysFromCivil(t.year, t.month, t.day)}, ok)
	case kindTime:
		if c.layout == nil {
			return result(parseISOTime(b))
		}
		t, ok := c.layout.parse(b)
		return result(timeValue(t.hour, t.minute, t.sec, t.nsec, t.offset), ok)
	case kindDatetime:
		if c.layout == nil {
			return result(parseISODatetime(b))
		}
		t, ok := c.layout.parse(b)
		return result(datetimeValue(t), ok)
	}
	return value{}, parseBad
}

// parseBoolean reads b as a boolean: 1 for one of c's true values, 0 for
// one of its false values.
func (c *column) parseBoolean(b []byte) (int64, parseResult) {
	for _, t := range c.trueVals {
		if string(b) == string(t) {
			return 1, parseOK
		}
	}
	for _, f := range c.falseVals {
		if string(b) == string(f) {
			return 0, parseOK
		}
	}
	return 0, parseBad
}

// textSet finds which of a few texts a value is, with one comparison: the
// value's length and three of its bytes, hashed, pick the one item it may
// be. When no multiplier in a short search gives each item a slot of its
// own, or there are too many items, it compares the items in order.
type textSet struct {
	items [][]byte
	mul   uint32    // the hash multiplier; 0 to search in order
	slot  [64]uint8 // 1 + the index in items of the item hashing here, or 0
	// lo and hi hold each item of up to 16 bytes as the two words
	// shortWords reads, so that index compares such an item without a loop.
	lo, hi []uint64
}

// maxTextSet is the most items a textSet hashes.
const maxTextSet = 16

// newTextSet returns a textSet of items; an item repeating an earlier one
// is never found, as the earlier one is.
func newTextSet(items [][]byte) textSet {
	s := textSet{items: items}
	if len(items) > maxTextSet {
		return s
	}
	s.lo, s.hi = make([]uint64, len(items)), make([]uint64, len(items))
	for k, it := range items {
		if len(it) <= 16 {
			s.lo[k], s.hi[k] = shortWords(it)
		}
	}
	// The multipliers tried are fixed, so that a schema always compiles
	// to the same set.
	mul := uint32(0x9e3779b1)
	for range 1000 {
		s.slot = [64]uint8{}
		ok := true
		for k, it := range items {
			h := textHash(it, mul)
			switch j := s.slot[h]; {
			case j == 0:
				s.slot[h] = uint8(k + 1)
			case string(items[j-1]) != string(it):
				ok = false // two items share a slot
			}
		}
		if ok {
			s.mul = mul
			return s
		}
		mul = mul*0x2c1b3c6d + 0x297a2d39 | 1
	}
	s.slot = [64]uint8{}
	return s
}

// textHash hashes b's length and its first, middle and last bytes to a
// slot of a textSet.
func textHash(b []byte, mul uint32) uint8 {
	x := uint32(len(b))
	if len(b) > 0 {
		x |= uint32(b[0])<<8 | uint32(b[len(b)/2])<<16 | uint32(b[len(b)-1])<<24
	}
	return uint8((x * mul) >> 26)
}

// index returns the index of the first item equal to b, or -1.
func (s *textSet) index(b []byte) int {
	if s.mul == 0 {
		for k, it := range s.items {
			if string(it) == string(b) {
				return k
			}
		}
		return -1
	}
	k := int(s.slot[textHash(b, s.mul)]) - 1
	if k < 0 || len(s.items[k]) != len(b) {
		return -1
	}
	if len(b) <= 16 {
		if lo, hi := shortWords(b); lo != s.lo[k] || hi != s.hi[k] {
			return -1
		}
	} else if string(s.items[k]) != string(b) {
		return -1
	}
	return k
}

// shortWords reads b, of at most 16 bytes, as two little-endian words:
// two texts of the same length are equal when their words are. Up to 8
// bytes fill lo, zero-padded; more fill lo with the first 8 and hi with
// the last 8.
func shortWords(b []byte) (lo, hi uint64) {
	if n := len(b); n > 8 {
		return binary.LittleEndian.Uint64(b), binary.LittleEndian.Uint64(b[n-8:])
	}
	return shortWord(b), 0
}

// shortWord reads b, of at most 8 bytes, as a zero-padded little-endian
// word. Its two loads may overlap; they then read the same bytes twice,
// which the OR leaves unchanged.
func shortWord(b []byte) uint64 {
	switch n := len(b); {
	case n >= 4:
		return uint64(binary.LittleEndian.Uint32(b)) | uint64(binary.LittleEndian.Uint32(b[n-4:]))<<(8*(n-4))
	case n >= 2:
		return uint64(binary.LittleEndian.Uint16(b)) | uint64(binary.LittleEndian.Uint16(b[n-2:]))<<(8*(n-2))
	case n == 1:
		return uint64(b[0])
	}
	return 0
}

func result(v value, ok bool) (value, parseResult) {
	if !ok {
		return value{}, parseBad
	}
	return v, parseOK
}

// compare orders two values of kind k.
func compare(k kind, a, b value) int {
	switch k {
	case kindNumber:
		return cmp.Compare(a.f, b.f)
	case kindDatetime:
		if c := cmp.Compare(a.i, b.i); c != 0 {
			return c
		}
		return cmp.Compare(a.ns, b.ns)
	}
	return cmp.Compare(a.i, b.i)
}

// parseInteger reads an optionally signed run of decimal digits.
func parseInteger(b []byte) (value, parseResult) {
	x, res := parseInt(b)
	return value{i: x}, res
}

// parseInt is parseInteger returning the integer alone. Up to 18 digits
// cannot overflow, so they are read without checking; longer runs go to
// parseLongInt.
func parseInt(b []byte) (int64, parseResult) {
	digits := b
	if len(b) > 0 && (b[0] == '+' || b[0] == '-') {
		digits = b[1:]
	}
	if len(digits) == 0 || len(digits) > 18 {
		return parseLongInt(b)
	}
	var x int64
	for _, c := range digits {
		d := c - '0'
		if d > 9 {
			return 0, parseBad
		}
		x = x*10 + int64(d)
	}
	if b[0] == '-' {
		x = -x
	}
	return x, parseOK
}

// eightDigits reads the first n (1 to 8) bytes of the little-endian word w,
// whose other bytes are zero, as decimal digits, all at once: it reports
// false if one of them is not a digit.
func eightDigits(w uint64, n int) (uint64, bool) {
	x := w ^ (ones*'0')>>(64-8*n) // digits become 0 to 9
	if !shapeOK(x, ones*0x76) {
		return 0, false
	}
	// Shift the digits to the top, so that the bytes below read as leading
	// zeros, then add neighbours pairwise: 2, 4, then 8 digits at a time.
	x <<= 64 - 8*n
	x = (x * (1 + 10<<8)) >> 8 & 0x00ff00ff00ff00ff
	x = (x * (1 + 100<<16)) >> 16 & 0x0000ffff0000ffff
	return (x * (1 + 10000<<32)) >> 32, true
}

// parseLongInt is parseInt for any length, checking for overflow.
func parseLongInt(b []byte) (int64, parseResult) {
	i := 0
	neg := false
	if len(b) > 0 && (b[0] == '+' || b[0] == '-') {
		neg = b[0] == '-'
		i = 1
	}
	if i == len(b) {
		return 0, parseBad
	}
	const limit = 1 << 63
	var u uint64
	over := false
	for ; i < len(b); i++ {
		d := b[i] - '0'
		if d > 9 {
			return 0, parseBad
		}
		if u > (limit-uint64(d))/10 {
			over = true
		}
		u = u*10 + uint64(d)
	}
	if over || (!neg && u == limit) {
		return 0, parseRange
	}
	if neg {
		return -int64(u), parseOK
	}
	return int64(u), parseOK
}

// isNumber reports whether b is a decimal number: an optional sign, digits
// with an optional decimal point (at least one digit in all), an optional
// exponent; or NaN, INF or -INF in any case.
func isNumber(b []byte) bool {
	i := 0
	if len(b) > 0 && (b[0] == '+' || b[0] == '-') {
		i = 1
	}
	nd := 0
	for i < len(b) && b[i]-'0' <= 9 {
		i++
		nd++
	}
	if i < len(b) && b[i] == '.' {
		i++
		for i < len(b) && b[i]-'0' <= 9 {
			i++
			nd++
		}
	}
	if nd == 0 {
		return isNumberWord(b)
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		ne := 0
		for i < len(b) && b[i]-'0' <= 9 {
			i++
			ne++
		}
		if ne == 0 {
			return false
		}
	}
	return i == len(b)
}

func isNumberWord(b []byte) bool { return numberWord(b) != 0 }

// Words a number may be instead of digits. The infinities' values are the
// signs a decimal gives them (see decimal).
const (
	wordNegInf = -2 // -INF
	wordNaN    = 1  // NaN
	wordInf    = 2  // INF or +INF
)

// numberWord tells which of the words NaN, INF and -INF b is, or returns
// 0 for none. Case does not matter, as the spec has it, so that the nan
// and inf that Python and pandas write are numbers too.
func numberWord(b []byte) int {
	sign := 0 // no sign
	if len(b) == 4 && (b[0] == '-' || b[0] == '+') {
		sign = 1
		if b[0] == '-' {
			sign = -1
		}
		b = b[1:]
	}
	if len(b) != 3 {
		return 0
	}
	// Only 'N' and 'n' become 'n' with the case bit set, and so on.
	switch c0, c1, c2 := b[0]|0x20, b[1]|0x20, b[2]|0x20; {
	case c0 == 'i' && c1 == 'n' && c2 == 'f' && sign < 0:
		return wordNegInf
	case c0 == 'i' && c1 == 'n' && c2 == 'f':
		return wordInf
	case c0 == 'n' && c1 == 'a' && c2 == 'n' && sign == 0:
		return wordNaN
	}
	return 0
}

// numberValue parses b, which isNumber accepted.
func numberValue(b []byte) value {
	if f, ok := simpleFloat(b); ok {
		if f == 0 {
			f = 0 // -0 equals 0
		}
		return value{f: f}
	}
	switch numberWord(b) {
	case wordNaN:
		return value{f: math.NaN()}
	case wordInf:
		return value{f: math.Inf(1)}
	case wordNegInf:
		return value{f: math.Inf(-1)}
	}
	f, _ := strconv.ParseFloat(string(b), 64) // out of range gives ±Inf
	if f == 0 {
		f = 0 // -0 equals 0
	}
	return value{f: f}
}

// exactPow10 holds the powers of ten a float64 represents exactly. It is a
// read-only table.
var exactPow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
	1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// simpleFloat parses the common number quickly: a sign, digits with at
// most 15 significant and 22 after the decimal point, no exponent. Both the
// digits and the power of ten are exact as float64, so one division rounds
// correctly. It reports false for anything else.
func simpleFloat(b []byte) (float64, bool) {
	i := 0
	neg := false
	if len(b) > 0 && (b[0] == '+' || b[0] == '-') {
		neg = b[0] == '-'
		i = 1
	}
	var mant uint64
	sig := 0 // digits from the first nonzero one
	whole := i
	i, mant, sig = digitRun(b, i, mant, sig)
	nd, frac := i-whole, 0
	if i < len(b) && b[i] == '.' {
		i++
		point := i
		i, mant, sig = digitRun(b, i, mant, sig)
		frac = i - point
		nd += frac
	}
	// mant may have overflowed when sig > 15, but it is then not used.
	if i != len(b) || nd == 0 || sig > 15 || frac >= len(exactPow10) {
		return 0, false
	}
	f := float64(mant)
	if frac > 0 {
		f /= exactPow10[frac]
	}
	if neg {
		f = -f
	}
	return f, true
}

// digitRun reads the decimal digits at b[i:] into mant, counting in sig
// those from the first nonzero digit of mant on, and returns where they
// end.
func digitRun(b []byte, i int, mant uint64, sig int) (int, uint64, int) {
	for ; i < len(b); i++ {
		d := b[i] - '0'
		if d > 9 {
			break
		}
		mant = mant*10 + uint64(d)
		if mant != 0 {
			sig++
		}
	}
	return i, mant, sig
}

// parseISODate reads YYYY-MM-DD.
func parseISODate(b []byte) (value, bool) {
	if len(b) != 10 {
		return value{}, false
	}
	days, ok := isoDate(b)
	return value{i: days}, ok
}

// isoDate reads YYYY-MM-DD at the start of b, which has at least 10 bytes,
// as days since 1970-01-01.
func isoDate(b []byte) (int64, bool) {
	y, m, d, ok := isoYMD(b)
	if !ok {
		return 0, false
	}
	return daysFromCivil(y, m, d), true
}

// isISODate reports whether b starts with a valid YYYY-MM-DD; b has at
// least 10 bytes.
func isISODate(b []byte) bool {
	_, _, _, ok := isoYMD(b)
	return ok
}

// Fixed-shape texts, such as the YYYY-MM-DD of a date, are checked eight
// bytes at a time. XOR with a shape word, which holds '0' where the text
// has a digit and the text's own byte elsewhere, leaves each digit as 0 to
// 9 and each other byte as 0; adding the matching limit word, which holds
// 0x76 for a digit and 0x7f for another byte, then sets a byte's high bit
// exactly when the byte was out of range. The bytes' low seven bits are
// added, so no carry crosses into the next byte.
const (
	dateShape  = 0x2d30302d30303030 // "0000-00-", little-endian
	dateLimit  = 0x7f76767f76767676
	clockShape = 0x30303a30303a3030 // "00:00:00"
	clockLimit = 0x76767f76767f7676
)

// shapeOK reports whether the word x, XORed with a shape word, fits the
// shape's limit word.
func shapeOK(x, limit uint64) bool {
	return (x&lows+limit|x)&highs == 0
}

// isoYMD reads YYYY-MM-DD at the start of b, which has at least 10 bytes.
func isoYMD(b []byte) (y, m, d int, ok bool) {
	_ = b[9]
	x := binary.LittleEndian.Uint64(b) ^ dateShape
	z := uint64(binary.LittleEndian.Uint16(b[8:])) ^ 0x3030 // DD
	if !shapeOK(x, dateLimit) || !shapeOK(z, 0x7676) {
		return 0, 0, 0, false
	}
	y = int(x&0xff)*1000 + int(x>>8&0xff)*100 + int(x>>16&0xff)*10 + int(x>>24&0xff)
	m = int(x>>40&0xff)*10 + int(x>>48&0xff)
	d = int(z&0xff)*10 + int(z>>8)
	if m < 1 || m > 12 || d < 1 || d > 28 && d > daysIn(y, m) {
		return 0, 0, 0, false
	}
	return y, m, d, true
}

// clock reads HH:MM:SS with an optional fraction and an optional zone (Z,
// ±HH:MM or ±HH) and nothing after, returning the seconds after midnight, the
// nanoseconds, and the zone's offset in seconds.
func clock(b []byte) (sec, nsec, off int, ok bool) {
	if len(b) < 8 {
		return 0, 0, 0, false
	}
	s, ok := hms(b)
	if !ok {
		return 0, 0, 0, false
	}
	if nsec, off, ok = clockTail(b); !ok {
		return 0, 0, 0, false
	}
	return s, nsec, off, true
}

// clockTail reads what may follow HH:MM:SS in b: an optional fraction and
// an optional zone, and nothing after, returning the nanoseconds and the
// zone's offset in seconds.
func clockTail(b []byte) (nsec, off int, ok bool) {
	i := 8
	if i < len(b) && b[i] == '.' {
		if nsec, i, ok = fraction(b, i+1); !ok {
			return 0, 0, false
		}
	}
	if i < len(b) {
		if off, i, ok = zone(b, i, false); !ok {
			return 0, 0, false
		}
	}
	return nsec, off, i == len(b)
}

// hms reads HH:MM:SS at the start of b, which has at least 8 bytes, as
// seconds after midnight.
func hms(b []byte) (int, bool) {
	x := binary.LittleEndian.Uint64(b) ^ clockShape
	h := int(x&0xff)*10 + int(x>>8&0xff)
	m := int(x>>24&0xff)*10 + int(x>>32&0xff)
	s := int(x>>48&0xff)*10 + int(x>>56)
	if !shapeOK(x, clockLimit) || h > 23 || m > 59 || s > 59 {
		return 0, false
	}
	return h*3600 + m*60 + s, true
}

// parseISOTime reads HH:MM:SS[.fraction][Z|±HH:MM|±HH].
func parseISOTime(b []byte) (value, bool) {
	sec, nsec, off, ok := clock(b)
	return timeValue(0, 0, sec, nsec, off), ok
}

// timeValue is a time of day as XML Schema orders times: in nanoseconds
// after midnight UTC of a reference day. A zone may carry it into the day
// before or after, so that 01:00:00+02:00 is an hour before midnight and
// comes before 00:30:00Z, and times in one zone keep their clock order.
func timeValue(h, m, s, nsec, off int) value {
	sec := h*3600 + m*60 + s - off
	return value{i: int64(sec)*1e9 + int64(nsec)}
}

// isISODatetime reports whether b is an ISO 8601 datetime as
// parseISODatetime reads one, without working out its value.
func isISODatetime(b []byte) bool {
	if len(b) < 19 || (b[10] != 'T' && b[10] != 't' && b[10] != ' ') {
		return false
	}
	if _, _, _, ok := isoYMD(b); !ok {
		return false
	}
	if len(b) == 20 && b[19]|0x20 == 'z' {
		_, ok := hms(b[11:]) // the usual form, in UTC: no fraction
		return ok
	}
	_, _, _, ok := clock(b[11:])
	return ok
}

// parseISODatetime reads an ISO 8601 datetime, YYYY-MM-DDTHH:MM:SS with an
// optional fraction and zone (Z, ±HH:MM or ±HH); T may also be t or a space.
// This is RFC 3339 with the zone optional. Without a zone the time is taken
// as UTC.
func parseISODatetime(b []byte) (value, bool) {
	if len(b) < 19 || (b[10] != 'T' && b[10] != 't' && b[10] != ' ') {
		return value{}, false
	}
	days, ok := isoDate(b)
	if !ok {
		return value{}, false
	}
	sec, nsec, off, ok := clock(b[11:])
	if !ok {
		return value{}, false
	}
	return value{i: days*86400 + int64(sec-off), ns: int64(nsec)}, true
}

func datetimeValue(t civil) value {
	days := daysFromCivil(t.year, t.month, t.day)
	return value{i: days*86400 + int64(t.hour*3600+t.minute*60+t.sec-t.offset), ns: int64(t.nsec)}
}

// checkStringFormat checks b against a string format.
func checkStringFormat(f stringFormat, b []byte) bool {
	switch f {
	case formatEmail:
		return isEmail(b)
	case formatURI:
		return isURI(b)
	case formatUUID:
		return isUUID(b)
	}
	return true
}

// isEmailGeneric is the portable isEmail.
func isEmailGeneric(b []byte) bool {
	at := bytes.IndexByte(b, '@')
	if at <= 0 || hasSpaceOrControl(b) {
		return false
	}
	dom := b[at+1:]
	if bytes.IndexByte(dom, '@') >= 0 {
		return false
	}
	dot := bytes.IndexByte(dom, '.')
	return dot > 0 && dom[len(dom)-1] != '.' &&
		b[0] != '.' && b[at-1] != '.' && !bytes.Contains(b, []byte(".."))
}

// hasSpaceOrControl reports whether b holds a space or a control
// character: ASCII ones and DEL, looked for eight bytes at a time, and, in
// text that is not all ASCII, Unicode ones such as the no-break space.
func hasSpaceOrControl(b []byte) bool {
	i, seen := 0, uint64(0)
	for ; i+8 <= len(b); i += 8 {
		w := binary.LittleEndian.Uint64(b[i:])
		if spaceOrControl(w) != 0 {
			return true
		}
		seen |= w
	}
	for ; i < len(b); i++ {
		if b[i] <= ' ' || b[i] == 0x7f {
			return true
		}
		seen |= uint64(b[i])
	}
	return seen&highs != 0 && hasUnicodeSpaceOrControl(b)
}

// hasUnicodeSpaceOrControl reports whether b holds a space or a control
// character beyond ASCII: a no-break space, NEL, a line separator.
func hasUnicodeSpaceOrControl(b []byte) bool {
	for _, r := range string(b) {
		if r >= utf8.RuneSelf && (unicode.IsSpace(r) || unicode.IsControl(r)) {
			return true
		}
	}
	return false
}

// spaceOrControl returns a word that is not zero when one of the eight
// bytes in w is a space, an ASCII control character or DEL. A byte below
// 0x21 borrows into its high bit, unless it had one; a borrow may mark a
// byte above a marked one, but never a byte when none is marked.
func spaceOrControl(w uint64) uint64 {
	del := w ^ (ones * 0x7f)
	return ((w-ones*0x21)&^w | (del-ones)&^del) & highs
}

// isURI checks for a scheme (a letter, then letters, digits, +, - or .), a
// colon, something after it, and no spaces or control characters.
func isURI(b []byte) bool {
	colon := bytes.IndexByte(b, ':')
	if colon < 1 || colon == len(b)-1 {
		return false
	}
	for i, c := range b[:colon] {
		letter := c|0x20 >= 'a' && c|0x20 <= 'z'
		if !letter && (i == 0 || !(c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.')) {
			return false
		}
	}
	return !hasSpaceOrControl(b[colon+1:])
}

// isUUID checks the canonical 8-4-4-4-12 hexadecimal form.
func isUUID(b []byte) bool {
	if len(b) != 36 {
		return false
	}
	for i, c := range b {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c|0x20 >= 'a' && c|0x20 <= 'f') {
				return false
			}
		}
	}
	return true
}
