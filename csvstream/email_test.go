package csvstream

import (
	"math/rand/v2"
	"testing"
)

// TestIsEmailAgrees compares isEmail with the portable version and the
// byte-at-a-time reference on addresses of every length up to 80 bytes,
// whole and with a byte replaced by one that can break them, at every
// position.
func TestIsEmailAgrees(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	breakers := []byte{'@', '.', ' ', '\t', 0, 0x7f, 0x80, 0xff, 'a'}
	valid := 0
	for n := range 81 {
		for range 40 {
			b := make([]byte, n)
			for i := range b {
				b[i] = 'a' + byte(rng.IntN(26))
			}
			if n >= 3 { // local@domain.tld-like: an '@' and a later dot
				at := 1 + rng.IntN(n-2)
				b[at] = '@'
				if dot := at + 1 + rng.IntN(n-at-1); dot < n {
					b[dot] = '.'
				}
			}
			texts := [][]byte{b}
			for i := range b {
				m := append([]byte(nil), b...)
				m[i] = breakers[rng.IntN(len(breakers))]
				texts = append(texts, m)
			}
			for _, x := range texts {
				got, generic, want := isEmail(x), isEmailGeneric(x), isEmailReference(x)
				if got != want || generic != want {
					t.Fatalf("%q: isEmail %v, isEmailGeneric %v, reference %v", x, got, generic, want)
				}
				if want {
					valid++
				}
			}
		}
	}
	if valid == 0 {
		t.Fatal("no valid address was generated")
	}
}

// TestEmailUnicodeSpace checks that an address holding a space or a
// control character beyond ASCII, as spreadsheets export a no-break space,
// is refused at every length the checks take a path of their own for, and
// that one of other non-ASCII letters is not.
func TestEmailUnicodeSpace(t *testing.T) {
	for _, local := range []string{"", "abcdefghijklmn", "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklmn"} {
		for _, tt := range []struct {
			name, text string
			want       bool
		}{
			{"no-break space", local + "\u00a0x@example.org", false},
			{"NEL, a C1 control", local + "\u0085x@example.org", false},
			{"a C1 control that is not a space", local + "x@examp\u009ble.org", false},
			{"line separator at the end", local + "x@example.org\u2028", false},
			{"ideographic space in the domain", local + "x@exa\u3000mple.org", false},
			{"accented letters", local + "\u00e9x@exampl\u00e9.org", true},
		} {
			b := []byte(tt.text)
			if got, generic, ref := isEmail(b), isEmailGeneric(b), isEmailReference(b); got != tt.want || generic != tt.want || ref != tt.want {
				t.Errorf("%s, %d bytes: isEmail %v, isEmailGeneric %v, reference %v; want %v", tt.name, len(b), got, generic, ref, tt.want)
			}
			if got := isURI([]byte("https://" + tt.text)); got != tt.want {
				t.Errorf("%s in a URI: isURI %v, want %v", tt.name, got, tt.want)
			}
		}
	}
}
