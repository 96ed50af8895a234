//go:build !amd64 || purego

package csvstream

// isEmail is a sane direct check: one @, a non-empty local part, a domain
// with an inner dot, no part that starts or ends with a dot or holds two
// in a row, and no spaces or control characters.
func isEmail(b []byte) bool { return isEmailGeneric(b) }
