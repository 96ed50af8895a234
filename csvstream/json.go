package csvstream

import (
	"encoding/binary"
	"unicode/utf8"
)

// AppendJSON appends rec as one JSON object keyed by the header labels, with
// no trailing newline. With a schema, integers, numbers and years become
// JSON numbers (NaN, INF and -INF, which JSON lacks, stay strings), booleans
// become true or false, missing values become null, and other values stay
// strings; without one, every value is a string. It is meant for records
// Check accepted: an absent cell becomes null, an extra cell is dropped, and
// a value not of its type is written as a string.
func (v *Validator) AppendJSON(dst []byte, rec *Record) []byte {
	if len(v.keys) == 0 {
		return append(dst, "{}"...)
	}
	fields := rec.fields
	if rec.Err != nil {
		fields = nil
	}
	for i, key := range v.keys {
		dst = append(dst, key...) // '{' or ',', then `"label":`
		if i >= len(fields) {
			dst = append(dst, "null"...)
			continue
		}
		var b []byte
		if f := fields[i]; f.start >= 0 {
			b = rec.raw[f.start:f.end:f.end]
		} else {
			b = rec.esc[^f.start:f.end:f.end]
		}
		if v.cols == nil {
			dst = appendJSONString(dst, b)
			continue
		}
		if len(b) <= v.maxMissing && v.isMissing(b) {
			dst = append(dst, "null"...)
			continue
		}
		c := &v.cols[i]
		switch c.kind {
		case kindInteger:
			if jsonInteger(b) {
				dst = append(dst, b...)
				continue
			}
			if _, res := parseInteger(b); res == parseOK {
				dst = appendJSONDigits(dst, b)
				continue
			}
		case kindYear:
			if _, res := c.parse(b); res == parseOK {
				dst = appendJSONDigits(dst, b)
				continue
			}
		case kindNumber:
			if jsonNumber(b) {
				dst = append(dst, b...)
				continue
			}
			if isNumber(b) && !isNumberWord(b) {
				dst = appendJSONNumber(dst, b)
				continue
			}
		case kindBoolean:
			if k := c.bools.index(b); k >= 0 {
				if k < len(c.trueVals) {
					dst = append(dst, "true"...)
				} else {
					dst = append(dst, "false"...)
				}
				continue
			}
		}
		dst = appendJSONString(dst, b)
	}
	return append(dst, '}')
}

// jsonInteger reports whether b, an integer of up to 18 digits without a
// sign or leading zeros, can be written as a JSON number as it is.
func jsonInteger(b []byte) bool {
	if len(b) == 0 || len(b) > 18 || b[0] == '0' && len(b) > 1 {
		return false
	}
	for _, c := range b {
		if c-'0' > 9 {
			return false
		}
	}
	return true
}

// jsonNumber reports whether b, digits with an optional fraction and no
// sign, exponent or leading zeros, can be written as a JSON number as it is.
func jsonNumber(b []byte) bool {
	i := 0
	for i < len(b) && b[i]-'0' <= 9 {
		i++
	}
	if i == 0 || b[0] == '0' && i > 1 {
		return false
	}
	if i < len(b) && b[i] == '.' {
		j := i + 1
		for j < len(b) && b[j]-'0' <= 9 {
			j++
		}
		if j == i+1 {
			return false
		}
		i = j
	}
	return i == len(b)
}

// appendJSONDigits writes an optionally signed integer as a JSON number:
// without a plus sign or leading zeros.
func appendJSONDigits(dst, b []byte) []byte {
	if b[0] == '+' || b[0] == '-' {
		if b[0] == '-' {
			dst = append(dst, '-')
		}
		b = b[1:]
	}
	for len(b) > 1 && b[0] == '0' {
		b = b[1:]
	}
	return append(dst, b...)
}

// appendJSONNumber writes a number isNumber accepted as a JSON number: the
// same digits, without a plus sign or leading zeros, with a zero before a
// bare decimal point and no point without digits after it.
func appendJSONNumber(dst, b []byte) []byte {
	i := 0
	if b[0] == '+' || b[0] == '-' {
		if b[0] == '-' {
			dst = append(dst, '-')
		}
		i = 1
	}
	j := i
	for j < len(b) && b[j]-'0' <= 9 {
		j++
	}
	whole := b[i:j]
	for len(whole) > 1 && whole[0] == '0' {
		whole = whole[1:]
	}
	if len(whole) == 0 {
		dst = append(dst, '0')
	}
	dst = append(dst, whole...)
	if j < len(b) && b[j] == '.' {
		k := j + 1
		for k < len(b) && b[k]-'0' <= 9 {
			k++
		}
		if k > j+1 {
			dst = append(dst, b[j:k]...)
		}
		j = k
	}
	return append(dst, b[j:]...) // the exponent, already valid JSON
}

const hexDigits = "0123456789abcdef"

// plainJSON8 reports whether none of the eight bytes in w needs care in a
// JSON string: each is ASCII, not a control character, not '"' or '\\'.
func plainJSON8(w uint64) bool { return jsonCare(w) == 0 }

// jsonCare returns the high bit of each byte of w that needs care in a JSON
// string, and of none when no byte does. A byte that needs care may also
// mark the bytes above it.
func jsonCare(w uint64) uint64 {
	quote := w ^ (ones * '"')
	bslash := w ^ (ones * '\\')
	return (w | (w - ones*0x20) | (quote-ones)&^quote | (bslash-ones)&^bslash) & highs
}

// plainTail reports whether none of the last eight bytes of b needs care
// in a JSON string, or, when b is shorter, none of its bytes, looking at
// them all at once: b is then read zero-padded, and the padding masked out.
func plainTail(b []byte) bool {
	if len(b) >= 8 {
		return plainJSON8(binary.LittleEndian.Uint64(b[len(b)-8:]))
	}
	return jsonCare(shortWord(b))&(1<<(8*len(b))-1) == 0
}

// appendJSONString writes b as a JSON string, escaping quotes, backslashes,
// control characters, U+2028 and U+2029, and replacing invalid UTF-8 with
// U+FFFD.
func appendJSONString(dst, b []byte) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(b); {
		for i+8 <= len(b) && plainJSON8(binary.LittleEndian.Uint64(b[i:])) {
			i += 8
		}
		if i == len(b) || i+8 > len(b) && plainTail(b) {
			break
		}
		c := b[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, b[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, b[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, b[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, b[start:]...)
	return append(dst, '"')
}
