//go:build !amd64 || purego

package csvstream

// archSplitters returns nothing: splitLine is the portable version here.
func archSplitters() []splitter { return nil }
