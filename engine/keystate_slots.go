package engine

import (
	"iter"
	"math/bits"

	"github.com/cepd/cepd/nfa"
)

// maxSparse is the most rules a key's matcher slots keep sparsely (one mask bit a rule).
const maxSparse = 64

// slots are a key's live matchers, by rule index. For a rule set of up to maxSparse rules
// they are sparse: mask has bit ri set exactly when rule ri has a live matcher, and s holds
// those matchers in rule order (a key of the reference workload has about 7 rules of 23
// live, so this costs 8 bytes a live rule, not 8 a rule). A larger rule set keeps one slot a
// rule in s (dense, mask unused), which is told by s's length: a sparse s holds at most
// maxSparse entries. The zero value is a sparse set with nothing live. Every read and
// write of a key's matchers goes through get, set and all.
//
// The array comes first: in a key state its pointer is then among the key state's
// pointer words (TestKeyStatePointersFirst).
type slots struct {
	s    []*nfa.Matcher
	mask uint64
}

// newSlots returns empty slots for a rule set of n rules.
func newSlots(n int) slots {
	if n > maxSparse {
		return slots{s: make([]*nfa.Matcher, n)}
	}
	return slots{}
}

// dense reports whether the slots keep one entry a rule (a rule set of more than
// maxSparse rules).
func (sl *slots) dense() bool { return len(sl.s) > maxSparse }

// get returns rule ri's live matcher, nil when it has none.
func (sl *slots) get(ri int) *nfa.Matcher {
	if sl.dense() {
		return sl.s[ri]
	}
	bit := uint64(1) << uint(ri)
	if sl.mask&bit == 0 {
		return nil
	}
	return sl.s[bits.OnesCount64(sl.mask&(bit-1))]
}

// shrink gives back a sparse array that holds a quarter of its room or less: a key keeps
// live rules for a while after its burst of events (about 7 of the reference workload's
// 23) and only one or two afterwards (refund-exceeds-purchase holds a capture for 7
// days), and an array grown for the burst would stay with it. The array is then exactly
// as long as what it holds (none when nothing is live) and grows again by append as rules
// go live. An array of two slots or fewer is kept as it is (a key's one rule may go idle
// and live in turn). The timers call it once they have closed a key's windows (fire),
// and assign once it has set a re-match's or a restore's matchers: within a burst rules
// go idle and live again, and shrinking at every removal would copy the array back and
// forth (16 bytes allocated an event more on the 300k slice).
func (sl *slots) shrink() {
	switch n := len(sl.s); {
	case sl.dense() || n > cap(sl.s)/4 || cap(sl.s) <= 2:
	case n == 0:
		sl.s = nil
	default:
		sl.s = append([]*nfa.Matcher(nil), sl.s...)
	}
}

// has reports whether rule ri has a live matcher.
func (sl *slots) has(ri int) bool { return sl.get(ri) != nil }

// set makes m rule ri's live matcher (nil: none).
func (sl *slots) set(ri int, m *nfa.Matcher) {
	if sl.dense() {
		sl.s[ri] = m
		return
	}
	bit := uint64(1) << uint(ri)
	i := bits.OnesCount64(sl.mask & (bit - 1))
	switch {
	case sl.mask&bit != 0 && m != nil:
		sl.s[i] = m
	case sl.mask&bit != 0: // remove
		n := len(sl.s)
		copy(sl.s[i:], sl.s[i+1:])
		sl.s[n-1] = nil
		sl.s = sl.s[:n-1]
		sl.mask &^= bit
	case m != nil: // insert
		sl.s = append(sl.s, nil)
		copy(sl.s[i+1:], sl.s[i:])
		sl.s[i] = m
		sl.mask |= bit
	}
}

// all iterates over the live matchers in rule order. The body may set (or clear) the
// rule it is given; it must not add other rules.
func (sl *slots) all() iter.Seq2[int, *nfa.Matcher] {
	return func(yield func(int, *nfa.Matcher) bool) {
		if sl.dense() {
			denseAll(sl.s)(yield)
			return
		}
		k := 0 // rule ri's matcher's place in s: one for each earlier rule still live
		for b := sl.mask; b != 0; b &= b - 1 {
			ri := bits.TrailingZeros64(b)
			if !yield(ri, sl.s[k]) {
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
func (sl *slots) list() []*nfa.Matcher { return sl.s }

// each iterates over the live matchers in rule order, like all, for a body that does
// not change the slots: a sparse set's matchers are read in order, not looked up.
func (sl *slots) each() iter.Seq2[int, *nfa.Matcher] {
	return func(yield func(int, *nfa.Matcher) bool) {
		if sl.dense() {
			denseAll(sl.s)(yield)
			return
		}
		b := sl.mask
		for _, m := range sl.s {
			ri := bits.TrailingZeros64(b)
			b &= b - 1
			if !yield(ri, m) {
				return
			}
		}
	}
}

// assign makes the non-nil entries of ms (by rule index, one a rule) the live matchers,
// reusing the slots' array unless a quarter of it or less is then used (shrink), and
// returns how many there are.
func (sl *slots) assign(ms []*nfa.Matcher) int {
	if !sl.dense() && len(ms) <= maxSparse {
		clear(sl.s)
		sl.s, sl.mask = sl.s[:0], 0
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

// bytes is what the slots' array holds.
func (sl *slots) bytes() int { return 8 * cap(sl.s) }

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
