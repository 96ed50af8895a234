package csvstream

import (
	"hash/maphash"
	"math/bits"
)

// sum hashes a key to 128 bits, never all zero.
func (v *Validator) sum(key []byte) [2]uint64 {
	h := [2]uint64{maphash.Bytes(v.seed1, key), maphash.Bytes(v.seed2, key)}
	if h == ([2]uint64{}) {
		h[1] = 1
	}
	return h
}

// seenInt reports whether s holds the integer key x, and makes x the key
// s.remember adds. s.ints must be set.
func (v *Validator) seenInt(s *keySet, x int64) bool {
	s.pending, s.pendingInt = true, x
	if s.ranges.above(x) {
		return false // every key in s is below x: the common case
	}
	if s.ranges.has(x) {
		return true
	}
	s.pendingHash = v.sum(appendUint64(v.keyBuf[:0], uint64(x)))
	return s.hashes.has(s.pendingHash)
}

// seenKey reports whether s holds key, and makes it the key s.remember
// adds. s.ints must not be set.
func (v *Validator) seenKey(s *keySet, key []byte) bool {
	s.pending = true
	s.pendingHash = v.sum(key)
	return s.hashes.has(s.pendingHash)
}

// keySet remembers the keys of one unique column, or of the primary key.
// When every key is one integer (ints is set), keys above all the others
// go to a list of ranges and only the rest are hashed, so that an ID
// column in increasing order costs next to nothing; otherwise every key is
// hashed. Each key is in ranges or in hashes, never in both, and every
// hashed integer is below the top of the ranges.
type keySet struct {
	ints   bool
	ranges rangeSet
	hashes hashSet

	// The key of the row being checked, which remember adds: pendingInt
	// when ints is set and the key is above the ranges, else pendingHash.
	pending     bool
	pendingInt  int64
	pendingHash [2]uint64
}

// remember adds the key seenInt or seenKey last looked up, if any.
func (s *keySet) remember() {
	if !s.pending {
		return
	}
	s.pending = false
	if s.ints && s.ranges.above(s.pendingInt) {
		s.ranges.push(s.pendingInt)
		return
	}
	s.hashes.add(s.pendingHash)
}

// rangeSet is a set of integers kept as sorted, disjoint, non-adjacent
// inclusive ranges, which grows only at the top: adding the integer just
// above the last range extends it, and one further above starts a new
// range. The zero value is an empty set.
type rangeSet struct {
	r [][2]int64 // r[k][0] <= r[k][1] < r[k+1][0]-1
}

// above reports whether x is above every member of s.
func (s *rangeSet) above(x int64) bool {
	return len(s.r) == 0 || x > s.r[len(s.r)-1][1]
}

// has reports whether x is a member of s.
func (s *rangeSet) has(x int64) bool {
	// Find the first range ending at or above x.
	lo, hi := 0, len(s.r)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if s.r[m][1] < x {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo < len(s.r) && s.r[lo][0] <= x
}

// push adds x, which must be above every member of s.
func (s *rangeSet) push(x int64) {
	if n := len(s.r); n > 0 && x-1 == s.r[n-1][1] {
		s.r[n-1][1] = x
		return
	}
	s.r = append(s.r, [2]int64{x, x})
}

// hashSet is a set of 128-bit hashes: open addressing with linear probing
// in a power-of-two table, doubled when it would be more than 3/4 full. The
// hashes are uniform, so their top bits pick the slot; then the table keeps
// its members roughly in hash order, and doubling it reads the old table
// and writes the new one front to back, friendly to caches. The zero hash
// marks an empty slot and is never added. The zero value is an empty set.
type hashSet struct {
	slots [][2]uint64
	shift uint // 64 - log2(len(slots))
	n     int
}

func (s *hashSet) has(h [2]uint64) bool {
	if s.n == 0 {
		return false
	}
	mask := uint64(len(s.slots) - 1)
	for i := h[0] >> s.shift; ; i = (i + 1) & mask {
		switch s.slots[i] {
		case h:
			return true
		case [2]uint64{}:
			return false
		}
	}
}

// add adds h, which must not be zero.
func (s *hashSet) add(h [2]uint64) {
	if 4*(s.n+1) > 3*len(s.slots) {
		s.grow()
	}
	mask := uint64(len(s.slots) - 1)
	for i := h[0] >> s.shift; ; i = (i + 1) & mask {
		switch s.slots[i] {
		case h:
			return
		case [2]uint64{}:
			s.slots[i] = h
			s.n++
			return
		}
	}
}

func (s *hashSet) grow() {
	old := s.slots
	size := max(1024, 2*len(old))
	s.slots = make([][2]uint64, size)
	s.shift = uint(64 - bits.TrailingZeros(uint(size)))
	s.n = 0
	for _, h := range old {
		if h != ([2]uint64{}) {
			s.add(h)
		}
	}
}
