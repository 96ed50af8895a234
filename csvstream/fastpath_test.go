package csvstream

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// The validation hot path takes shortcuts: the Scanner notes ASCII records
// so that Check can skip the UTF-8 check, dates and times are read without
// loops, and short lists of texts are searched through a small hash table.
// These tests hold each shortcut to the plain code it stands for.

func TestRecordASCII(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		ascii []bool // per record; false is always allowed, true only for ASCII
	}{
		{"plain lines", "h1,h2\na,b\nccccccccc,dddddddddddddddd\n", []bool{false, true, true}},
		{"CRLF", "h\r\nabcdefghij,k\r\n", []bool{false, true}},
		{"high byte in a full word", "h\n\xc3\xa9abcdefgh,x\n", []bool{false, false}},
		{"high byte in the last word", "h\nabcdefgh,\xc3\xa9\n", []bool{false, false}},
		{"high byte at the end of the input", "h\nab,c\xff", []bool{false, false}},
		{"high byte after the end", "h\nabc\nd\xff\n", []bool{false, true, false}},
		{"quoted", "h\n\"a\",b\n\"\xc3\xa9\",b\n", []bool{false, false, false}},
		{"quoted after a plain line", "h\nab\n\"\xc3\xa9\",b\n", []bool{false, true, false}},
		{"last line after a plain line", "h\nab\n\xc3\xa9", []bool{false, true, false}},
		{"empty line", "h\n\n", []bool{false, true}},
		{"last line without a terminator", "h\nab", []bool{false, false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := NewScanner(strings.NewReader(tt.in), ScanOptions{})
			if err != nil {
				t.Fatal(err)
			}
			var got []bool
			for s.Scan() {
				got = append(got, s.Record().ascii)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.ascii) {
				t.Errorf("ascii per record %v, want %v", got, tt.ascii)
			}
		})
	}
}

// TestRecordASCIISound checks on random input that a record marked ASCII
// holds no byte above 0x7F, and that Check reports the same errors as if
// the mark were not there.
func TestRecordASCIISound(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	alphabet := []byte("abc,,\"\r\n\n\x80\xc3\xa9\xff0123456789")
	v := testValidator(t, "", "a", "b", "c")
	marked := 0
	for range 2000 {
		in := make([]byte, rng.IntN(300))
		for i := range in {
			in[i] = alphabet[rng.IntN(len(alphabet))]
			if rng.IntN(4) != 0 {
				in[i] = 'a' + byte(rng.IntN(3))
			}
		}
		s, err := NewScanner(bytes.NewReader(in), ScanOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for s.Scan() {
			rec := s.Record()
			if !rec.ascii {
				continue
			}
			marked++
			for i, c := range rec.Raw {
				if c >= utf8.RuneSelf {
					t.Fatalf("record %q marked ASCII has byte %#x at %d", rec.Raw, c, i)
				}
			}
			with := v.Check(rec, nil)
			rec.ascii = false
			without := v.Check(rec, nil)
			if fmt.Sprint(with) != fmt.Sprint(without) {
				t.Fatalf("record %q: %v with the ASCII mark, %v without", rec.Raw, with, without)
			}
		}
	}
	if marked == 0 {
		t.Error("no record was marked ASCII")
	}
}

// randomText returns n bytes, each from alphabet or, one time in
// plainOdds, the byte plain.
func randomText(rng *rand.Rand, n int, alphabet string, plain byte, plainOdds int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[rng.IntN(len(alphabet))]
		if rng.IntN(plainOdds) == 0 {
			b[i] = plain
		}
	}
	return b
}

// isoYMDReference and clockReference are isoYMD and clock written with
// fixedDigits.
func isoYMDReference(b []byte) (y, m, d int, ok bool) {
	if b[4] != '-' || b[7] != '-' {
		return 0, 0, 0, false
	}
	y, _, ok1 := fixedDigits(b, 0, 4)
	m, _, ok2 := fixedDigits(b, 5, 2)
	d, _, ok3 := fixedDigits(b, 8, 2)
	if !ok1 || !ok2 || !ok3 || m < 1 || m > 12 || d < 1 || d > daysIn(y, m) {
		return 0, 0, 0, false
	}
	return y, m, d, true
}

// clockReference is clock reading HH:MM:SS one digit at a time; what may
// follow it is read by the same clockTail.
func clockReference(b []byte) (sec, nsec, off int, ok bool) {
	if len(b) < 8 || b[2] != ':' || b[5] != ':' {
		return 0, 0, 0, false
	}
	h, _, ok1 := fixedDigits(b, 0, 2)
	m, _, ok2 := fixedDigits(b, 3, 2)
	s, _, ok3 := fixedDigits(b, 6, 2)
	if !ok1 || !ok2 || !ok3 || h > 23 || m > 59 || s > 59 {
		return 0, 0, 0, false
	}
	if nsec, off, ok = clockTail(b); !ok {
		return 0, 0, 0, false
	}
	return h*3600 + m*60 + s, nsec, off, true
}

func TestISODatesAndTimes(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	var dates, clocks, datetimes []string
	for y := 1999; y <= 2001; y++ {
		for m := 0; m <= 13; m++ {
			for d := 0; d <= 32; d++ {
				dates = append(dates, fmt.Sprintf("%04d-%02d-%02d", y, m, d))
			}
		}
	}
	dates = append(dates, "2024-02-29", "2023-02-29", "2000-02-29", "1900-02-29", "2024/01/01", "2024-1-01 ", "２０２４-01")
	for range 100000 {
		dates = append(dates, string(randomText(rng, 10, "0123456789-/:a\xff", "0123456789-"[rng.IntN(11)], 2)))
		clocks = append(clocks, string(randomText(rng, 8+rng.IntN(12), "0123456789:.+-Zz \xff", "0123456789:"[rng.IntN(11)], 2)))
		clocks = append(clocks, fmt.Sprintf("%02d:%02d:%02d", rng.IntN(26), rng.IntN(62), rng.IntN(62)))
	}
	clocks = append(clocks, "23:59:59", "24:00:00", "12:00:00.5", "12:00:00.1234567891", "12:00:00Z", "12:00:00+01:30", "12:00:00+0130", "12:00:00-23:59", "12:00:00+24:00")
	for _, c := range dates {
		b := []byte(c)
		y, m, d, ok := isoYMD(b)
		wy, wm, wd, wok := isoYMDReference(b)
		if y != wy || m != wm || d != wd || ok != wok {
			t.Fatalf("isoYMD(%q) = %d %d %d %v; want %d %d %d %v", c, y, m, d, ok, wy, wm, wd, wok)
		}
		if got := isISODate(b); got != wok {
			t.Fatalf("isISODate(%q) = %v, want %v", c, got, wok)
		}
	}
	for _, c := range clocks {
		sec, ns, off, ok := clock([]byte(c))
		wsec, wns, woff, wok := clockReference([]byte(c))
		if sec != wsec || ns != wns || off != woff || ok != wok {
			t.Fatalf("clock(%q) = %d %d %d %v; want %d %d %d %v", c, sec, ns, off, ok, wsec, wns, woff, wok)
		}
		datetimes = append(datetimes, dates[rng.IntN(len(dates))]+string("Tt x"[rng.IntN(4)])+c)
	}
	datetimes = append(datetimes, "", "2024-01-01", "2024-01-01T12:00:0", "2024-01-01T12:00:00", "2024-01-01 12:00:00.5+01:00")
	for _, c := range datetimes {
		_, want := parseISODatetime([]byte(c))
		if got := isISODatetime([]byte(c)); got != want {
			t.Fatalf("isISODatetime(%q) = %v, want %v", c, got, want)
		}
	}
}

// TestDaysFromCivil holds the day count that dates and datetimes compare
// and repeat by to the time package's, over every day a four-digit year
// can name: a day off would make two dates one value, such as 0000-02-29
// and 0000-03-01 in the era before year 1.
func TestDaysFromCivil(t *testing.T) {
	day := time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC)
	for day.Year() <= 9999 {
		y, m, d := day.Date()
		if got, want := daysFromCivil(y, int(m), d), day.Unix()/86400; got != want {
			t.Fatalf("daysFromCivil(%04d-%02d-%02d) = %d, want %d", y, m, d, got, want)
		}
		day = day.AddDate(0, 0, 1)
	}
}

func TestTextSet(t *testing.T) {
	many := make([]string, maxTextSet+1)
	for i := range many {
		many[i] = fmt.Sprint("item", i)
	}
	tests := []struct {
		name   string
		items  []string
		hashed bool
	}{
		{"booleans", []string{"true", "True", "TRUE", "1", "false", "False", "FALSE", "0"}, true},
		{"statuses", []string{"pending", "paid", "shipped", "cancelled"}, true},
		{"with the empty text", []string{"", "a", "b"}, true},
		{"repeats", []string{"x", "y", "x", "z", "y"}, true},
		{"same length, ends and middle", []string{"abcde", "axcde", "a"}, false},
		{"many", many[:maxTextSet], true},
		{"too many", many, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var items [][]byte
			for _, it := range tt.items {
				items = append(items, []byte(it))
			}
			s := newTextSet(items)
			if hashed := s.mul != 0; hashed != tt.hashed {
				t.Errorf("hashed = %v, want %v", hashed, tt.hashed)
			}
			first := map[string]int{}
			for k, it := range tt.items {
				if _, ok := first[it]; !ok {
					first[it] = k
				}
			}
			for it, k := range first {
				if got := s.index([]byte(it)); got != k {
					t.Errorf("index(%q) = %d, want %d", it, got, k)
				}
			}
			for _, other := range []string{"", "b", "abd", "abxde", "tru", "truE", "items", "item", "pend", "paid ", "\xff"} {
				want := -1
				if k, ok := first[other]; ok {
					want = k
				}
				if got := s.index([]byte(other)); got != want {
					t.Errorf("index(%q) = %d, want %d", other, got, want)
				}
			}
		})
	}
}

// TestTextSetWords checks the word comparison of textSet.index on items of
// every length from 0 to 17, against values that differ from an item in
// one byte (first, middle or last), by one byte of length, or by a byte
// at or above 0x80.
func TestTextSetWords(t *testing.T) {
	for n := 0; n <= 17; n++ {
		item := []byte("abcdefghijklmnopq"[:n])
		other := []byte("ABCDEFGHIJKLMNOPQR"[:min(n+1, 17)])
		s := newTextSet([][]byte{item, other})
		if s.mul == 0 {
			t.Fatalf("length %d: not hashed", n)
		}
		if k := s.index(item); k != 0 {
			t.Errorf("index(%q) = %d, want 0", item, k)
		}
		if k := s.index(other); k != 1 {
			t.Errorf("index(%q) = %d, want 1", other, k)
		}
		var misses [][]byte
		for _, at := range []int{0, n / 2, n - 1} {
			if n == 0 {
				break
			}
			for _, c := range []byte{'z', 0, 0x80, 0xff, item[at] ^ 0x20} {
				b := bytes.Clone(item)
				b[at] = c
				misses = append(misses, b)
			}
		}
		misses = append(misses, append(bytes.Clone(item), 0), append(bytes.Clone(item), 'r'))
		if n > 0 {
			misses = append(misses, item[:n-1], item[1:])
		}
		for _, b := range misses {
			if k := s.index(b); k >= 0 {
				t.Errorf("index(%q) = %d, want -1", b, k)
			}
		}
	}
}

// TestShortWords checks that shortWords gives equal words exactly for equal
// texts of the same length, on texts of lengths 0 to 16 that share all but
// one byte.
func TestShortWords(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for range 20000 {
		n := rng.IntN(17)
		a := randomText(rng, n, "ab\x00\x80\xff", 'a', 2)
		b := bytes.Clone(a)
		if n > 0 && rng.IntN(2) == 0 {
			b[rng.IntN(n)] = "ab\x00\x80\xff"[rng.IntN(5)]
		}
		alo, ahi := shortWords(a)
		blo, bhi := shortWords(b)
		if (alo == blo && ahi == bhi) != bytes.Equal(a, b) {
			t.Fatalf("shortWords(%q) = %#x %#x, shortWords(%q) = %#x %#x", a, alo, ahi, b, blo, bhi)
		}
	}
}

// TestASCIIOnly checks asciiOnly on every length from 0 to 40 with a high
// byte at every position, and with none.
func TestASCIIOnly(t *testing.T) {
	for n := 0; n <= 40; n++ {
		b := bytes.Repeat([]byte{0x7f}, n)
		if !asciiOnly(b) {
			t.Errorf("asciiOnly(%d bytes of 0x7f) = false", n)
		}
		for i := range n {
			b[i] = 0x80
			if asciiOnly(b) {
				t.Errorf("asciiOnly with 0x80 at %d of %d = true", i, n)
			}
			b[i] = 0x7f
		}
	}
}

// TestShapes checks the word checks of dates and clocks byte by byte: each
// byte of a valid text, set to each of its 256 values, is accepted exactly
// when the reference accepts it.
func TestShapes(t *testing.T) {
	for _, valid := range []string{"2024-02-29", "1999-12-31", "0001-01-01"} {
		for i := range len(valid) {
			for c := range 256 {
				b := []byte(valid)
				b[i] = byte(c)
				_, _, _, got := isoYMD(b)
				_, _, _, want := isoYMDReference(b)
				if got != want {
					t.Fatalf("isoYMD(%q) = %v, want %v", b, got, want)
				}
			}
		}
	}
	for _, valid := range []string{"23:59:59", "00:00:00", "19:09:50"} {
		for i := range len(valid) {
			for c := range 256 {
				b := []byte(valid)
				b[i] = byte(c)
				sec, _, _, got := clock(b)
				wsec, _, _, want := clockReference(b)
				if got != want || sec != wsec {
					t.Fatalf("clock(%q) = %d %v, want %d %v", b, sec, got, wsec, want)
				}
				dt := []byte("2024-02-29T" + string(b) + "Z")
				if got, want := isISODatetime(dt), want; got != want {
					t.Fatalf("isISODatetime(%q) = %v, want %v", dt, got, want)
				}
			}
		}
	}
}

// TestTextSetLengths checks that a textSet never takes a text for an item
// of another length whose words it shares: a run of one byte, longer or
// shorter, and an item padded with NUL bytes.
func TestTextSetLengths(t *testing.T) {
	var items [][]byte
	for c := byte('a'); c < 'a'+8; c++ {
		items = append(items, bytes.Repeat([]byte{c}, 9), []byte{c})
	}
	s := newTextSet(items)
	if s.mul == 0 {
		t.Fatal("the items are not hashed")
	}
	for _, it := range items {
		for n := 1; n <= 16; n++ {
			for _, other := range [][]byte{bytes.Repeat(it[:1], n), append(bytes.Clone(it), make([]byte, n)...)} {
				want := -1
				for k, x := range items {
					if bytes.Equal(x, other) {
						want = k
						break
					}
				}
				if got := s.index(other); got != want {
					t.Errorf("index(%q) = %d, want %d", other, got, want)
				}
			}
		}
	}
}
