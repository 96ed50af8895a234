package csvstream

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
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
	i := 8
	if i < len(b) && b[i] == '.' {
		if nsec, i, ok = fraction(b, i+1); !ok {
			return 0, 0, 0, false
		}
	}
	if i < len(b) {
		if off, i, ok = zone(b, i, false); !ok {
			return 0, 0, 0, false
		}
	}
	return h*3600 + m*60 + s, nsec, off, i == len(b)
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
