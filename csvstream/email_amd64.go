//go:build amd64 && !purego

package csvstream

// isEmail is a sane direct check: one @, a non-empty local part, a domain
// with an inner dot, no part that starts or ends with a dot or holds two
// in a row, and no spaces or control characters.
//
// On amd64 a text of 16 to 64 bytes, the usual length of an address, is
// classified sixteen bytes at a time with SSE2; others take isEmailGeneric.
func isEmail(b []byte) bool {
	if len(b) < 16 || len(b) > 64 {
		return isEmailGeneric(b)
	}
	at, dot, bad, ascii := emailMasks(b)
	if bad != 0 || at <= 1 || at&(at-1) != 0 {
		return false // a space or control byte, no '@', '@' first, or two
	}
	if !ascii && hasUnicodeSpaceOrControl(b) {
		return false
	}
	// The domain, after the '@', has a dot, but not as its first or its
	// last byte; no part starts or ends with a dot, and no two dots meet.
	return dot&^(at<<1-1) != 0 && dot&(at<<1|at>>1|1) == 0 && dot>>(len(b)-1) == 0 && dot&(dot>>1) == 0
}

// emailMasks returns, for b of 16 to 64 bytes, the bit masks of its '@'
// bytes, its '.' bytes, and its spaces, ASCII control characters and DELs:
// bit i is set when b[i] is one. ascii reports whether every byte of b is
// ASCII.
//
//go:noescape
func emailMasks(b []byte) (at, dot, bad uint64, ascii bool)
