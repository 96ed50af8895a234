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

// top reports whether the integer key x is above every key in s, and
// makes x the key s.remember adds. s.ints must be set. It is inlined, so
// that the usual key of an ID column costs no call: only when top is false
// does seenIntBelow need to look further.
func (s *keySet) top(x int64) bool {
	s.pending, s.pendingInt = true, x
	s.pendingTop = s.ranges.above(x)
	return s.pendingTop
}

// seenInt reports whether s holds the integer key x, and makes x the key
// s.remember adds. s.ints must be set. Check spells it out, so that top is
// inlined there.
func (v *Validator) seenInt(s *keySet, x int64) bool {
	return !s.top(x) && v.seenIntBelow(s, x)
}

// seenIntBelow reports whether s holds x, once top(x) is false.
func (v *Validator) seenIntBelow(s *keySet, x int64) bool {
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
	// when it is above the ranges (pendingTop), else pendingHash.
	pending     bool
	pendingTop  bool
	pendingInt  int64
	pendingHash [2]uint64
}

// remember adds the key seenInt or seenKey last looked up, if any.
func (s *keySet) remember() {
	if !s.rememberTop() && s.pending {
		s.pending = false
		s.hashes.add(s.pendingHash)
	}
}

// rememberTop is remember for a key above every key in s, the usual key of
// an ID column, and reports whether that was the key to add. It is inlined,
// so that such a key costs no call.
func (s *keySet) rememberTop() bool {
	if !s.pending || !s.pendingTop {
		return false
	}
	s.pending = false
	s.ranges.push(s.pendingInt)
	return true
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

// hashSet is a set of 128-bit hashes, spread by their top bits over
// hashShards tables of open addressing with linear probing, each a power
// of two in size and doubled on its own when it would be more than 3/4
// full. Doubling one table at a time needs room for a copy of that table
// only, not of the whole set, which matters when a set of millions of keys
// nears the memory limit. The hashes are uniform, so their next bits pick
// the slot; then each table keeps its members roughly in hash order, and
// doubling it reads the old table and writes the new one front to back,
// friendly to caches. The zero hash marks an empty slot and is never
// added. The zero value is an empty set.
type hashSet struct {
	tables [hashShards]hashTable
}

// hashShardBits is log2(hashShards): the top bits of a hash that pick its
// table.
const (
	hashShardBits = 6
	hashShards    = 1 << hashShardBits
)

// hashTable is one table of a hashSet.
type hashTable struct {
	slots [][2]uint64
	shift uint // 64 - log2(len(slots)): the slot is the hash's bits after the table's
	n     int
}

// table returns the table h belongs in.
func (s *hashSet) table(h [2]uint64) *hashTable {
	return &s.tables[h[0]>>(64-hashShardBits)]
}

// first returns the slot of t at which to start looking for h.
func (t *hashTable) first(h [2]uint64) uint64 {
	return h[0] << hashShardBits >> t.shift
}

func (s *hashSet) has(h [2]uint64) bool {
	t := s.table(h)
	if t.n == 0 {
		return false
	}
	mask := uint64(len(t.slots) - 1)
	for i := t.first(h); ; i = (i + 1) & mask {
		switch t.slots[i] {
		case h:
			return true
		case [2]uint64{}:
			return false
		}
	}
}

// add adds h, which must not be zero.
func (s *hashSet) add(h [2]uint64) {
	t := s.table(h)
	if 4*(t.n+1) > 3*len(t.slots) {
		t.grow()
	}
	t.add(h)
}

// len returns the number of members.
func (s *hashSet) len() int {
	n := 0
	for i := range s.tables {
		n += s.tables[i].n
	}
	return n
}

// add adds h, for which t has room.
func (t *hashTable) add(h [2]uint64) {
	mask := uint64(len(t.slots) - 1)
	for i := t.first(h); ; i = (i + 1) & mask {
		switch t.slots[i] {
		case h:
			return
		case [2]uint64{}:
			t.slots[i] = h
			t.n++
			return
		}
	}
}

func (t *hashTable) grow() {
	old := t.slots
	size := max(64, 2*len(old))
	t.slots = make([][2]uint64, size)
	t.shift = uint(64 - bits.TrailingZeros(uint(size)))
	t.n = 0
	for _, h := range old {
		if h != ([2]uint64{}) {
			t.add(h)
		}
	}
}
