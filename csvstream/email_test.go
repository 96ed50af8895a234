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
