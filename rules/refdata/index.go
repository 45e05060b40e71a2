package refdata

import (
	"errors"
	"hash/maphash"
	"math"
)

// Index maps n distinct keys to the ordinals 0..n-1 (their order when built). The keys
// live in one byte arena and the table holds 4-byte ordinals with linear probing at a
// load factor of at most 1/2, so a key costs its bytes, 4 bytes of offset and 8 of table,
// with no pointer the garbage collector must scan. Immutable; safe for concurrent use.
type Index struct {
	arena []byte
	ends  []uint32 // ends[i] is where key i ends in arena; it starts at ends[i-1] (0 for i = 0)
	slots []uint32 // 0 = empty, else ordinal + 1
	mask  uint64
	seed  maphash.Seed
}

// errTooLarge is returned when the keys do not fit the index's 32-bit offsets.
var errTooLarge = errors.New("refdata: the keys take more than 4 GiB")

// newIndex indexes keys. dup, if not nil, is told of each key seen before (its ordinal
// then refers to the first); such keys are not indexed twice.
func newIndex(keys []string, dup func(i int, key string)) (*Index, []int, error) {
	size := 0
	for _, k := range keys {
		size += len(k)
	}
	if size > math.MaxUint32 || len(keys) >= math.MaxUint32/2 {
		return nil, nil, errTooLarge
	}
	n := 8
	for n < 2*len(keys) {
		n <<= 1
	}
	x := &Index{arena: make([]byte, 0, size), ends: make([]uint32, 0, len(keys)), slots: make([]uint32, n), mask: uint64(n - 1), seed: maphash.MakeSeed()}
	kept := make([]int, 0, len(keys)) // kept[ordinal] = position in keys
	for i, k := range keys {
		if _, ok := x.Find(k); ok {
			if dup != nil {
				dup(i, k)
			}
			continue
		}
		x.arena = append(x.arena, k...)
		x.ends = append(x.ends, uint32(len(x.arena)))
		ord := uint32(len(x.ends))
		h := maphash.String(x.seed, k) & x.mask
		for x.slots[h] != 0 {
			h = (h + 1) & x.mask
		}
		x.slots[h] = ord
		kept = append(kept, i)
	}
	return x, kept, nil
}

// Len returns the number of keys.
func (x *Index) Len() int { return len(x.ends) }

// Key returns key i.
func (x *Index) Key(i int) string {
	start := uint32(0)
	if i > 0 {
		start = x.ends[i-1]
	}
	return string(x.arena[start:x.ends[i]])
}

// Find returns the ordinal of key.
func (x *Index) Find(key string) (int, bool) {
	h := maphash.String(x.seed, key) & x.mask
	for {
		s := x.slots[h]
		if s == 0 {
			return 0, false
		}
		i := s - 1
		start := uint32(0)
		if i > 0 {
			start = x.ends[i-1]
		}
		if string(x.arena[start:x.ends[i]]) == key {
			return int(i), true
		}
		h = (h + 1) & x.mask
	}
}

// Bytes returns the memory the index holds.
func (x *Index) Bytes() int { return cap(x.arena) + 4*cap(x.ends) + 4*cap(x.slots) }
