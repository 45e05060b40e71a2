package engine

import (
	"math"

	"github.com/cepd/cepd/nfa"
)

// maxKnown is how many live matchers' deadlines a key keeps (keyState.dl): the first
// maxKnown in rule order; a timer reads those due and every one after them. On the
// reference workload 79% of the keys whose timer fires have at most five live matchers.
const maxKnown = 5

// noDeadline is the offset of a matcher without deadline (nfa.Matcher.Deadline is
// math.MaxInt64); unknown that of an entry not read yet (advanceDue, after a drop).
const (
	noDeadline = math.MaxInt32
	unknown    = -1
)

// knownDeadlines are a key's live matchers' deadlines in 32 bits each: offsets in event
// time from the key's newest event (keyState.newest, which changes only with an event,
// and the key's matchers are read again after one). A matcher's deadline is after the
// newest event it was advanced to; one before the key's newest event (after a late event
// matched anyway) or 2³¹−1 or more after it cannot be kept, and the key's deadlines are
// then unknown.
type knownDeadlines struct {
	off [maxKnown]int32
}

// get is entry j's deadline, with at the key's newest event.
func (k *knownDeadlines) get(j int, at int64) int64 {
	switch k.off[j] {
	case noDeadline:
		return math.MaxInt64
	case unknown:
		return math.MinInt64
	}
	return at + int64(k.off[j])
}

// set keeps d as entry j, with at the key's newest event, and reports whether it could.
func (k *knownDeadlines) set(j int, d, at int64) bool {
	switch {
	case d == math.MaxInt64:
		k.off[j] = noDeadline
	case uint64(d)-uint64(at) >= noDeadline: // also when d < at
		return false
	default:
		k.off[j] = int32(d - at)
	}
	return true
}

// drop removes entry j (< maxKnown) of n: the entry freed at the end is unknown until set.
func (k *knownDeadlines) drop(j, n int) {
	n = min(n, maxKnown)
	copy(k.off[j:n-1], k.off[j+1:n])
	k.off[n-1] = unknown
}

// scan reads every matcher of ks: what they hold into ks.mbytes (and the shard's peaks),
// the first maxKnown deadlines into ks.dl, known (ks.dlOK) unless a matcher is idle (a
// timer would drop it) or a deadline does not fit. It returns the earliest deadline.
func (s *shard) scan(ks *keyState) int64 {
	var top nfa.Usage // each measure's largest over the matchers: one note for the key
	b, n, ok, next := 0, 0, true, int64(math.MaxInt64)
	for _, m := range ks.m.list() {
		if m == nil {
			continue
		}
		u := m.Usage()
		top = nfa.Usage{Runs: max(top.Runs, u.Runs), Nodes: max(top.Nodes, u.Nodes), Digits: max(top.Digits, u.Digits), Bytes: max(top.Bytes, u.Bytes)}
		b += u.Bytes
		d := m.Deadline()
		next = min(next, d)
		ok = ok && !m.Idle()
		if n < maxKnown { // (entries set after ok turned false are never read)
			ok = ks.dl.set(n, d, ks.newest) && ok
			n++
		}
	}
	if n > 0 {
		s.e.stats.shard[s.id].peak.note(top)
	}
	ks.mbytes = b
	ks.dlOK = ok
	return next
}

// advanceDue advances to w the matchers of ks that ks.dl says are due by then and the
// live matchers after the first maxKnown, and reads no other. Those would not change
// (nfa.Matcher.Advance before a matcher's deadline does nothing, and none is idle while
// ks.dlOK). It keeps ks.dl and ks.mbytes (ks.dlOK is cleared when a new deadline does not
// fit) and returns the key's matchers' earliest deadline.
func (s *shard) advanceDue(ks *keyState, w int64, ingest int64) int64 {
	next := int64(math.MaxInt64)
	n, j := int(ks.live), 0
	for ri, m := range ks.m.all() {
		if j >= n {
			break
		}
		if j < maxKnown {
			if d := ks.dl.get(j, ks.newest); d > w {
				next = min(next, d)
				j++
				continue
			}
		}
		had := m.Usage().Bytes
		if s.advanceOne(ks, ri, m, w, ingest) {
			ks.mbytes -= had
			if j < maxKnown {
				ks.dl.drop(j, n)
			}
			n--
			continue
		}
		u := m.Usage()
		s.e.stats.shard[s.id].peak.note(u) // (most matchers read are dropped: no note)
		ks.mbytes += u.Bytes - had
		d := m.Deadline()
		next = min(next, d)
		if j < maxKnown && !ks.dl.set(j, d, ks.newest) {
			ks.dlOK = false
		}
		j++
	}
	return next
}

// advanceOne advances rule ri's matcher m of ks to w for a timer, counts it (and whether
// it produced a match or a timeout, before emit takes them), emits what it produced and
// drops it when it is idle now; it reports whether it dropped it.
func (s *shard) advanceOne(ks *keyState, ri int, m *nfa.Matcher, w int64, ingest int64) bool {
	s.timers.read++
	if !s.slowTimers && m.Expires(w) { // Advance would only drop its runs: drop the matcher at once
		s.timers.idled++
		s.timers.expired++
		s.idle(ks, ri, m)
		return true
	}
	m.Advance(w, s.sc, &s.res)
	if len(s.res.Matches) > 0 || len(s.res.Timeouts) > 0 {
		s.timers.yielded++
	}
	s.emit(ri, ks.key, ingest)
	if !m.Idle() {
		return false
	}
	s.timers.idled++
	s.idle(ks, ri, m)
	return true
}

// idle drops rule ri's matcher m of ks, idle now.
func (s *shard) idle(ks *keyState, ri int, m *nfa.Matcher) {
	ks.m.set(ri, nil)
	ks.live--
	s.dropMatcher(ri, m)
}
