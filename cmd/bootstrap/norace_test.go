//go:build !race

package main

// raceEnabled reports whether the tests run with the race detector, so the
// function binary they build is built with it too.
const raceEnabled = false
