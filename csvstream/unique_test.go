package csvstream

import (
	"bytes"
	"fmt"
	"hash/maphash"
	"math"
	"math/rand/v2"
	"runtime"
	"strconv"
	"testing"
)

// keyStep is one row's integer key: looked up, then remembered unless the
// row is invalid for another reason.
type keyStep struct {
	x       int64
	invalid bool // the row is rejected for another reason: look up only
	seen    bool // want: an earlier valid row holds x
}

func TestKeySetInts(t *testing.T) {
	const maxI, minI = math.MaxInt64, math.MinInt64
	tests := []struct {
		name   string
		steps  []keyStep
		ranges [][2]int64 // want afterwards
		hashed int        // want afterwards: keys remembered as hashes
	}{
		{
			name: "in order",
			steps: []keyStep{
				{x: 1}, {x: 2}, {x: 3}, {x: 4}, {x: 5},
				{x: 1, seen: true}, {x: 3, seen: true}, {x: 5, seen: true}, {x: 6},
			},
			ranges: [][2]int64{{1, 6}},
		},
		{
			name: "gaps",
			steps: []keyStep{
				{x: 1}, {x: 2}, {x: 3}, {x: 10}, {x: 11}, {x: 20},
				{x: 1, seen: true}, {x: 3, seen: true}, {x: 10, seen: true}, {x: 11, seen: true}, {x: 20, seen: true},
				{x: 0, invalid: true}, {x: 4, invalid: true}, {x: 9, invalid: true}, {x: 12, invalid: true}, {x: 19, invalid: true}, {x: 21, invalid: true},
			},
			ranges: [][2]int64{{1, 3}, {10, 11}, {20, 20}},
		},
		{
			name: "range edges and interiors",
			steps: []keyStep{
				{x: 10}, {x: 11}, {x: 12}, {x: 13}, {x: 20}, {x: 21}, {x: 22},
				{x: 10, seen: true}, {x: 13, seen: true}, {x: 12, seen: true}, {x: 20, seen: true}, {x: 22, seen: true}, {x: 21, seen: true},
				{x: 9}, {x: 14}, {x: 19}, // just outside: new, and below the top, so hashed
				{x: 9, seen: true}, {x: 14, seen: true}, {x: 19, seen: true},
				{x: 23}, // just above the top extends the last range
			},
			ranges: [][2]int64{{10, 13}, {20, 23}},
			hashed: 3,
		},
		{
			name: "out of order",
			steps: []keyStep{
				{x: 10}, {x: 5}, {x: 7}, {x: 5, seen: true}, {x: 6}, {x: 7, seen: true},
				{x: 8, invalid: true}, {x: 11}, {x: 6, seen: true}, {x: 10, seen: true},
			},
			ranges: [][2]int64{{10, 11}},
			hashed: 3,
		},
		{
			name: "descending",
			steps: []keyStep{
				{x: 5}, {x: 4}, {x: 3}, {x: 2}, {x: 1},
				{x: 5, seen: true}, {x: 3, seen: true}, {x: 1, seen: true}, {x: 0, invalid: true}, {x: 6},
			},
			ranges: [][2]int64{{5, 6}},
			hashed: 4,
		},
		{
			name: "fallback mixing",
			steps: []keyStep{
				{x: 1}, {x: 2}, {x: 3}, {x: 100}, {x: 50}, {x: 4}, {x: 101},
				{x: 50, seen: true}, {x: 4, seen: true}, {x: 3, seen: true}, {x: 100, seen: true}, {x: 101, seen: true},
				{x: 5, invalid: true}, {x: 99, invalid: true}, {x: 102},
			},
			ranges: [][2]int64{{1, 3}, {100, 102}},
			hashed: 2,
		},
		{
			name: "invalid rows are not remembered",
			steps: []keyStep{
				{x: 1}, {x: 2, invalid: true}, {x: 2}, {x: 3, invalid: true}, {x: 5, invalid: true},
				{x: 2, seen: true}, {x: 3}, {x: 3, seen: true, invalid: true}, {x: 4},
			},
			ranges: [][2]int64{{1, 4}},
		},
		{
			name: "negative and extreme keys",
			steps: []keyStep{
				{x: minI}, {x: minI + 1}, {x: -1}, {x: 0}, {x: 1}, {x: maxI - 1}, {x: maxI},
				{x: minI, seen: true}, {x: minI + 1, seen: true}, {x: 0, seen: true}, {x: maxI, seen: true}, {x: maxI - 1, seen: true},
				{x: minI + 2}, {x: -2}, {x: 2}, {x: maxI - 2},
				{x: minI + 2, seen: true}, {x: -2, seen: true}, {x: 2, seen: true}, {x: maxI - 2, seen: true},
			},
			ranges: [][2]int64{{minI, minI + 1}, {-1, 1}, {maxI - 1, maxI}},
			hashed: 4,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := &Validator{seed1: maphash.MakeSeed(), seed2: maphash.MakeSeed()}
			s := keySet{ints: true}
			for i, st := range tt.steps {
				if got := v.seenInt(&s, st.x); got != st.seen {
					t.Fatalf("step %d: key %d seen = %v, want %v", i+1, st.x, got, st.seen)
				}
				if st.invalid || st.seen {
					s.pending = false // as Check does for a rejected row
				}
				s.remember()
			}
			if fmt.Sprint(s.ranges.r) != fmt.Sprint(tt.ranges) {
				t.Errorf("ranges %v, want %v", s.ranges.r, tt.ranges)
			}
			if s.hashes.len() != tt.hashed {
				t.Errorf("%d hashed keys, want %d", s.hashes.len(), tt.hashed)
			}
		})
	}
}

// TestKeySetModel checks keySet against a map on mostly increasing keys
// with gaps, repeats, and keys out of order.
func TestKeySetModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	v := &Validator{seed1: maphash.MakeSeed(), seed2: maphash.MakeSeed()}
	s := keySet{ints: true}
	model := map[int64]bool{}
	next := int64(-1000)
	for i := range 200000 {
		var x int64
		switch r := rng.IntN(100); {
		case r < 70:
			x = next
			next++
		case r < 80:
			next += 1 + rng.Int64N(50)
			x = next
		default:
			x = next - 2000 + rng.Int64N(2100) // a repeat or an old gap
		}
		if got := v.seenInt(&s, x); got != model[x] {
			t.Fatalf("step %d: key %d seen = %v, want %v", i+1, x, got, model[x])
		}
		if model[x] || rng.IntN(20) == 0 {
			s.pending = false // rejected: not remembered
		} else {
			model[x] = true
		}
		s.remember()
	}
	if n := len(model); n != s.hashes.len()+rangeCount(s.ranges) {
		t.Errorf("%d keys, set holds %d hashed and %d in ranges", n, s.hashes.len(), rangeCount(s.ranges))
	}
	for k := 1; k < len(s.ranges.r); k++ {
		if s.ranges.r[k][0] <= s.ranges.r[k-1][1]+1 || s.ranges.r[k][0] > s.ranges.r[k][1] {
			t.Fatalf("ranges %v and %v overlap, touch or are reversed", s.ranges.r[k-1], s.ranges.r[k])
		}
	}
}

func rangeCount(s rangeSet) int {
	n := 0
	for _, r := range s.r {
		n += int(r[1]-r[0]) + 1
	}
	return n
}

func TestRangeSet(t *testing.T) {
	var s rangeSet
	if !s.above(math.MinInt64) || s.has(0) {
		t.Fatal("empty set: want every integer above it and none in it")
	}
	for _, x := range []int64{-5, -4, -3, 0, 1, 7, 9, 10} {
		s.push(x)
	}
	want := [][2]int64{{-5, -3}, {0, 1}, {7, 7}, {9, 10}}
	if fmt.Sprint(s.r) != fmt.Sprint(want) {
		t.Fatalf("ranges %v, want %v", s.r, want)
	}
	in := map[int64]bool{-5: true, -4: true, -3: true, 0: true, 1: true, 7: true, 9: true, 10: true}
	for x := int64(-8); x <= 12; x++ {
		if got := s.has(x); got != in[x] {
			t.Errorf("has(%d) = %v, want %v", x, got, in[x])
		}
		if got := s.above(x); got != (x > 10) {
			t.Errorf("above(%d) = %v, want %v", x, got, x > 10)
		}
	}
}

// uniqueIDSchema has a unique integer id and a bounded integer n, which
// rejects a row without touching its id.
const uniqueIDSchema = `{"fields": [
	{"name": "id", "type": "integer", "constraints": {"unique": true}},
	{"name": "n", "type": "integer", "constraints": {"maximum": 10}}]}`

// TestUniqueIntegerKeys checks the Validator's unique and primary-key
// checks where integer keys take the fast path: values compare parsed,
// only valid rows count, and keys arrive in and out of order.
func TestUniqueIntegerKeys(t *testing.T) {
	t.Run("unique", func(t *testing.T) {
		v := testValidator(t, uniqueIDSchema, "id", "n")
		checkRows(t, v,
			[][]string{
				{"1", "1"},
				{"2", "1"},
				{"02", "1"}, // 02 is 2, the top of the ranges
				{"+1", "1"}, // +1 is 1, inside them
				{"3", "99"}, // invalid: 3 is not remembered
				{"4", "1"},  // a gap at 3
				{"3", "1"},  // so 3 is new, and below the top: hashed
				{"3", "1"},  // and then a repeat
				{"-0", "1"}, // out of order, new
				{"0", "1"},  // -0 is 0
				{"5", "x"},  // type error elsewhere: not remembered
				{"5", "1"},
				{"5", "1"},
				{"9223372036854775807", "1"},
				{"9223372036854775807", "1"},
				{"6", "1"},
				{"6", "1"},
			},
			[][]string{
				nil,
				nil,
				{CodeUniqueError},
				{CodeUniqueError},
				{CodeConstraintError},
				nil,
				nil,
				{CodeUniqueError},
				nil,
				{CodeUniqueError},
				{CodeTypeError},
				nil,
				{CodeUniqueError},
				nil,
				{CodeUniqueError},
				nil,
				{CodeUniqueError},
			})
	})
	t.Run("a rejected row's key is not remembered later", func(t *testing.T) {
		v := testValidator(t, uniqueIDSchema, "id", "n")
		checkRows(t, v,
			[][]string{
				{"1", "1"},
				{"2", "99"}, // rejected: 2 is looked up, not remembered
				{"", "1"},   // valid, with no key to remember
				{"2", "1"},  // so 2 is still new
				{"2", "1"},
			},
			[][]string{nil, {CodeConstraintError}, nil, nil, {CodeUniqueError}})
	})
	t.Run("primary key", func(t *testing.T) {
		v := testValidator(t, `{"fields": [{"name": "id", "type": "integer"}, {"name": "s"}], "primaryKey": "id"}`, "id", "s")
		checkRows(t, v,
			[][]string{{"10", "a"}, {"11", "b"}, {"010", "c"}, {"9", "d"}, {"9", "e"}, {"", "f"}, {"12", "g"}, {"+12", "h"}},
			[][]string{nil, nil, {CodePrimaryKeyError}, nil, {CodePrimaryKeyError}, {CodeConstraintError}, nil, {CodePrimaryKeyError}})
	})
	t.Run("a unique primary key keeps one list of ranges", func(t *testing.T) {
		v := testValidator(t, `{"fields": [{"name": "id", "type": "integer", "constraints": {"unique": true}}], "primaryKey": ["id"]}`, "id")
		checkRows(t, v,
			[][]string{{"1"}, {"2"}, {"3"}, {"5"}, {"2"}, {"6"}},
			[][]string{nil, nil, nil, nil, {CodeUniqueError, CodePrimaryKeyError}, nil})
		if len(v.uniq) != 1 || v.uniq[0].seen != &v.pkSet {
			t.Fatal("the unique column that is the whole primary key has a set of its own")
		}
		// Each key is added once: a run of keys takes one range.
		if want := [][2]int64{{1, 3}, {5, 6}}; fmt.Sprint(v.pkSet.ranges.r) != fmt.Sprint(want) {
			t.Errorf("ranges %v, want %v", v.pkSet.ranges.r, want)
		}
	})
	t.Run("composite primary key is hashed", func(t *testing.T) {
		v := testValidator(t, `{"fields": [{"name": "a", "type": "integer"}, {"name": "b", "type": "integer"}], "primaryKey": ["a", "b"]}`, "a", "b")
		checkRows(t, v,
			[][]string{{"1", "1"}, {"1", "2"}, {"2", "1"}, {"01", "02"}},
			[][]string{nil, nil, nil, {CodePrimaryKeyError}})
		if v.pkSet.ints || len(v.pkSet.ranges.r) != 0 {
			t.Errorf("a two-column key took the integer path")
		}
	})
	t.Run("dates and times", func(t *testing.T) {
		v := testValidator(t, `{"fields": [
			{"name": "d", "type": "date", "constraints": {"unique": true}},
			{"name": "t", "type": "time", "constraints": {"unique": true}}]}`, "d", "t")
		checkRows(t, v,
			[][]string{
				{"2024-01-01", "00:00:00+01:00"}, // 23:00:00Z of the day before
				{"2024-01-02", "00:00:00Z"},
				{"2024-01-03", "21:00:00-01:00"},
				{"2023-12-31", "01:00:00+01:00"}, // 00:00:00Z again
				{"2024-01-02", "12:00:00"},
				{"2024-01-04", "01:00:00+02:00"}, // the first row's, in another zone
				{"2024-01-05", "23:00:00Z"},      // the first row's clock time, a day later
			},
			[][]string{nil, nil, nil, {CodeUniqueError}, {CodeUniqueError}, {CodeUniqueError}, nil})
	})
}

// uniqueHeapOf returns the heap bytes a Validator holds after remembering
// keys, the values of one unique field of type typ.
func uniqueHeapOf(tb testing.TB, typ string, keys []string) uint64 {
	tb.Helper()
	var data []byte
	data = append(data, "k\n"...)
	for _, k := range keys {
		data = append(append(data, k...), '\n')
	}
	v := testValidator(tb, `{"fields": [{"name": "k", "type": "`+typ+`", "constraints": {"unique": true}}]}`, "k")
	sc, err := NewScanner(bytes.NewReader(data), ScanOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	sc.Scan()
	var before, after runtime.MemStats
	// Two collections: a second frees what the first only readied
	// (sync.Pool victim caches, objects with finalizers) after earlier
	// tests, so that the heap hardly shrinks below before while the keys
	// are added; where it still does, the sets count as taking nothing,
	// not as a wrapped-around difference.
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&before) // the Validator is made; its sets are empty
	for sc.Scan() {
		if errs := v.Check(sc.Record(), nil); errs != nil {
			tb.Fatal(errs)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(v)
	runtime.KeepAlive(sc)
	if after.HeapAlloc < before.HeapAlloc {
		return 0 // the sets took less than the collections freed
	}
	return after.HeapAlloc - before.HeapAlloc
}

// TestUniqueMemoryOrders checks the documented bound, 43 MB per million
// distinct keys (43 bytes a key), whichever path the keys take.
func TestUniqueMemoryOrders(t *testing.T) {
	const n = 250_000
	ints := func(f func(i int) int64) []string {
		keys := make([]string, n)
		for i := range keys {
			keys[i] = strconv.FormatInt(f(i), 10)
		}
		return keys
	}
	perm := rand.New(rand.NewPCG(1, 1)).Perm(n)
	tests := []struct {
		name, typ string
		keys      []string
		atMost    float64 // bytes per key this path should need, at most
	}{
		{"in order", "integer", ints(func(i int) int64 { return int64(i) }), 1},
		{"every other", "integer", ints(func(i int) int64 { return 2 * int64(i) }), 21},
		{"shuffled", "integer", ints(func(i int) int64 { return int64(perm[i]) }), 43},
		{"descending", "integer", ints(func(i int) int64 { return int64(n - i) }), 43},
		{"strings", "string", ints(func(i int) int64 { return int64(perm[i]) }), 43},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			heap := uniqueHeapOf(t, tt.typ, tt.keys)
			perKey := float64(heap) / n
			t.Logf("%d distinct keys: %.1f MB (%.1f bytes each)", n, float64(heap)/1e6, perKey)
			if perKey > 43 {
				t.Errorf("%d distinct keys hold %d bytes; the documented bound is 43 MB per million", n, heap)
			}
			if perKey > tt.atMost {
				t.Errorf("%.1f bytes per key, want at most %.0f on this path", perKey, tt.atMost)
			}
		})
	}
}
