package engine

import (
	"iter"
	"math/bits"
	"unsafe"

	"github.com/cepd/cepd/nfa"
)

// maxSparse is the most rules a key's matcher slots keep sparsely (one mask bit a rule).
const maxSparse = 64

// inlineSlots is how many live matchers a key's slots keep in the key state itself; more
// spill to an array of their own. On the reference workload 86% of the events and 78% of
// the timers find a key with at most five live matchers (95% and 93% at most six, 76%
// and 60% at most four), and five is what fits the key state in its 192-byte size class
// (TestKeyStateSize): so most touches of a key read no slot array, and most keys allocate
// none.
const inlineSlots = 5

// minSpill is the length of a sparse spilled array when it is made (64 bytes, a size
// class): it doubles as rules go live, up to maxSparse.
const minSpill = 8

// slots are a key's live matchers, by rule index. For a rule set of up to maxSparse rules
// they are sparse: mask has bit ri set exactly when rule ri has a live matcher, and the
// live matchers are kept in rule order, in the slots themselves (in) while they fit and
// no spill array is held, else in the spill array (sp, all of them: in is then empty).
// A key of the reference workload has about 7 rules of 23 live in a burst and one or two
// afterwards, so this costs nothing beyond the key state for most keys, and 8 bytes a
// live rule for the others, not 8 a rule. A larger rule set keeps one slot a rule in the
// spill array (dense, mask unused), which is told by its length: a sparse spill array
// holds at most maxSparse entries. The zero value is a sparse set with nothing live.
// Every read and write of a key's matchers goes through get, set, all, each, list,
// assign and shrink (mask is read as it is for the set of live rules: shard.todo, a
// journal's base).
//
// The pointers come first: in a key state they are then among the key state's pointer
// words (TestKeyStatePointersFirst).
type slots struct {
	in [inlineSlots]*nfa.Matcher // the matchers while sp is nil (nil past the live ones)
	// sp is the first element of the spill array (room entries, nil past the live ones
	// of a sparse set) when the slots have one: an array of its own, like the events'
	// slabs (event.Event), so that a key with few live rules has no slice header to
	// carry.
	sp   **nfa.Matcher
	mask uint64
	room uint32
}

// newSlots returns empty slots for a rule set of n rules.
func newSlots(n int) slots {
	if n > maxSparse {
		return slots{sp: unsafe.SliceData(make([]*nfa.Matcher, n)), room: uint32(n)}
	}
	return slots{}
}

// dense reports whether the slots keep one entry a rule (a rule set of more than
// maxSparse rules).
func (sl *slots) dense() bool { return sl.room > maxSparse }

// arr returns the array the matchers are kept in: the spill array if any, else in.
func (sl *slots) arr() []*nfa.Matcher {
	if sl.sp == nil {
		return sl.in[:]
	}
	return unsafe.Slice(sl.sp, sl.room)
}

// spill moves a sparse set's matchers (n of them) to an array of room entries (room
// >= n), from in or from the spill array it has.
func (sl *slots) spill(n, room int) {
	a := make([]*nfa.Matcher, room)
	copy(a, sl.arr()[:n])
	sl.in = [inlineSlots]*nfa.Matcher{}
	sl.sp, sl.room = unsafe.SliceData(a), uint32(room)
}

// get returns rule ri's live matcher, nil when it has none.
func (sl *slots) get(ri int) *nfa.Matcher {
	a := sl.arr()
	if sl.dense() {
		return a[ri]
	}
	bit := uint64(1) << uint(ri)
	if sl.mask&bit == 0 {
		return nil
	}
	return a[bits.OnesCount64(sl.mask&(bit-1))]
}

// shrink gives back a sparse spill array that is no longer needed: a key keeps live
// rules for a while after its burst of events (about 7 of the reference workload's 23)
// and only one or two afterwards (refund-exceeds-purchase holds a capture for 7 days),
// and an array grown for the burst would stay with it. The matchers go back into the
// slots themselves when they fit (none is then allocated), else to an array of the
// smallest length (minSpill, doubled) that holds them if a quarter of the one they are
// in or less is used. The timers call it once they have closed a key's windows (fire),
// and assign once it has set a re-match's or a restore's matchers: within a burst rules
// go idle and live again, and shrinking at every removal would copy the matchers back
// and forth (an array allocated an event more).
func (sl *slots) shrink() {
	if sl.sp == nil || sl.dense() {
		return
	}
	n := bits.OnesCount64(sl.mask)
	switch {
	case n <= inlineSlots:
		a := sl.arr()
		sl.sp, sl.room = nil, 0
		copy(sl.in[:], a[:n])
	case n <= int(sl.room)/4:
		sl.spill(n, spillRoom(n))
	}
}

// spillRoom is the length of a sparse spill array made for n live matchers.
func spillRoom(n int) int {
	room := minSpill
	for room < n {
		room *= 2
	}
	return room
}

// has reports whether rule ri has a live matcher.
func (sl *slots) has(ri int) bool { return sl.get(ri) != nil }

// set makes m rule ri's live matcher (nil: none).
func (sl *slots) set(ri int, m *nfa.Matcher) {
	a := sl.arr()
	if sl.dense() {
		a[ri] = m
		return
	}
	bit := uint64(1) << uint(ri)
	i := bits.OnesCount64(sl.mask & (bit - 1))
	switch {
	case sl.mask&bit != 0 && m != nil:
		a[i] = m
	case sl.mask&bit != 0: // remove
		n := bits.OnesCount64(sl.mask)
		copy(a[i:n], a[i+1:n])
		a[n-1] = nil
		sl.mask &^= bit
	case m != nil: // insert
		n := bits.OnesCount64(sl.mask)
		if n == len(a) {
			a = sl.grow(n)
		}
		copy(a[i+1:n+1], a[i:n])
		a[i] = m
		sl.mask |= bit
	}
}

// grow moves a sparse set's n matchers, which fill their array, to a larger spill array
// (spillRoom: minSpill entries from in, else twice as many) and returns it. It is rare,
// and kept out of set's code, which every matcher's start and end runs.
//
//go:noinline
func (sl *slots) grow(n int) []*nfa.Matcher {
	sl.spill(n, spillRoom(n+1))
	return sl.arr()
}

// all iterates over the live matchers in rule order. The body may set (or clear) the
// rule it is given; it must not add other rules.
func (sl *slots) all() iter.Seq2[int, *nfa.Matcher] {
	return func(yield func(int, *nfa.Matcher) bool) {
		if sl.dense() {
			denseAll(sl.arr())(yield)
			return
		}
		a := sl.arr() // the body removes no entry but its own, and adds none: a stays
		k := 0        // rule ri's matcher's place in a: one for each earlier rule still live
		for b := sl.mask; b != 0; b &= b - 1 {
			ri := bits.TrailingZeros64(b)
			if !yield(ri, a[k]) {
				return
			}
			if sl.mask&(1<<uint(ri)) != 0 { // not cleared by the body
				k++
			}
		}
	}
}

// list returns the live matchers in rule order, for a walk that needs no rule index and
// changes no slot: a sparse set's are all live, a dense set's array has nil where a rule
// has none.
func (sl *slots) list() []*nfa.Matcher {
	if sl.dense() {
		return sl.arr()
	}
	return sl.arr()[:bits.OnesCount64(sl.mask)]
}

// each iterates over the live matchers in rule order, like all, for a body that does
// not change the slots: a sparse set's matchers are read in order, not looked up.
func (sl *slots) each() iter.Seq2[int, *nfa.Matcher] {
	return func(yield func(int, *nfa.Matcher) bool) {
		if sl.dense() {
			denseAll(sl.arr())(yield)
			return
		}
		b := sl.mask
		for _, m := range sl.list() {
			ri := bits.TrailingZeros64(b)
			b &= b - 1
			if !yield(ri, m) {
				return
			}
		}
	}
}

// assign makes the non-nil entries of ms (by rule index, one a rule) the live matchers,
// reusing the slots' spill array unless they then fit without it or use a quarter of it
// or less (shrink), and returns how many there are.
func (sl *slots) assign(ms []*nfa.Matcher) int {
	if !sl.dense() && len(ms) <= maxSparse {
		clear(sl.arr())
		sl.mask = 0
	} else {
		*sl = newSlots(len(ms))
	}
	live := 0
	for ri, m := range ms {
		if m != nil {
			sl.set(ri, m)
			live++
		}
	}
	sl.shrink()
	return live
}

// copyTo writes the live matchers into ms (one entry a rule, nil where none is live).
func (sl *slots) copyTo(ms []*nfa.Matcher) {
	for ri, m := range sl.all() {
		ms[ri] = m
	}
}

// bytes is what the slots' spill array holds (the slots themselves are the key state's).
func (sl *slots) bytes() int {
	if sl.sp == nil {
		return 0
	}
	return 8 * int(sl.room)
}

// denseAll iterates over the non-nil matchers of ms (one entry a rule: a base's or a
// replay's) in rule order.
func denseAll(ms []*nfa.Matcher) iter.Seq2[int, *nfa.Matcher] {
	return func(yield func(int, *nfa.Matcher) bool) {
		for ri, m := range ms {
			if m != nil && !yield(ri, m) {
				return
			}
		}
	}
}

// denseHas tells whether ms (one entry a rule) has a matcher for rule ri.
func denseHas(ms []*nfa.Matcher) func(ri int) bool {
	return func(ri int) bool { return ri < len(ms) && ms[ri] != nil }
}
