//go:build !linux

package csvstream

// mountRoot reports false: only Linux tells whether a file is the root of
// a mount.
func mountRoot(string) bool { return false }
