package engine

import (
	"iter"
	"math"
	"math/bits"
	"sync/atomic"

	"github.com/cepd/cepd/alerts"
	"github.com/cepd/cepd/event"
	"github.com/cepd/cepd/nfa"
	"github.com/cepd/cepd/rules"
)

// Per-key order. A key's events are matched the moment they arrive when they are at
// least as new as the key's newest matched event: the out-of-orderness never delays
// them. With out-of-orderness the key also keeps a journal: its events not yet behind its
// partition's watermark (max event time − out-of-orderness), and its matchers as they
// were before them (the base). An event older than its key's newest matched event but
// not behind the watermark is re-matched: the base is cloned,
// the journal replayed with the event in its (time, arrival) place, and the result
// becomes the key's state. Alerts the corrected order derives and the first order did
// not are delivered; alerts the first order derived and the corrected one does not were
// already out and are counted as superseded. An event behind the watermark is late.
// Replays rely on the matcher's rule that advancing time later never changes results
// before the next event. The key's timers can run ahead of its next events (an idle
// partition's follow the engine watermark), so a replay advances where they had: each
// journal item keeps the key's timer time when it was matched (item.timed; a re-matched
// event the one of the events before it), the base the one it was advanced to
// (journalBase.to), and the replay advances to an item's before matching it, and to the
// key's (timedTo) at the end (advanceTo).

// journal inserts an event matched in order into the key's journal (as a retained copy),
// taking a base snapshot of the key's matchers when the journal starts.
func (s *shard) journal(ks *keyState, it *item) {
	if ks.base == nil {
		ks.base = s.newBase(len(ks.rs.Rules))
		ks.base.cut = ks.newest // the base holds every event matched so far
		ks.base.to = ks.timedTo
		ks.base.cool = ks.cool.clone()
		s.startVelJournal(ks) // O(1): the velocity state logs its changes from here
		n := int(ks.live)
		var snaps []nfa.Matcher
		if n > len(s.spareSnaps) { // one allocation for the snapshots no dropped base left
			snaps = make([]nfa.Matcher, n-len(s.spareSnaps))
		}
		for ri, m := range ks.m.each() {
			d, ok := popSpare(&s.spareSnaps)
			if !ok {
				d, snaps = &snaps[0], snaps[1:]
			}
			// copied on write: most matchers are not changed by the next events
			m.SnapshotTo(d)
			ks.base.ms[ri] = d
		}
		ks.base.set = ks.m.mask // the rules live (0 when dense: keepBase then reads every entry)
	}
	cp := *it
	if !it.stable {
		cp.ev = s.keep(it.ev)
		cp.stable = true
		// the matchers keep the same copy, so the event is stored once
		it.ev, it.stable = cp.ev, true
	}
	cp.raw, cp.ticket = nil, nil
	cp.timed = ks.timedTo
	s.addJournal(ks, cp)
	if over := len(ks.base.journal) - s.e.cfg.MaxJournal; over > 0 {
		// A key that sends more events within the out-of-orderness than the bound keeps
		// only the newest re-matchable: a re-match replays the journal, so this bounds
		// its cost (and the journal's memory) per event.
		s.foldOldest(ks, over)
	}
}

// addJournal inserts a stable item into the key's journal (its base is set) and keeps
// the journal heap entry at its earliest time.
func (s *shard) addJournal(ks *keyState, it item) {
	b := ks.base
	if b.journal == nil { // a journal starts: in an array an ended one left (keepJournal)
		b.journal, _ = popSpare(&s.spareJournals)
	}
	b.journal = insertItem(b.journal, it)
	if t := b.journal[0].ev.Time; t < b.at {
		b.at = t
		ks.part.jour.push(t, ks)
	}
}

// insertItem inserts it into items keeping (time, seq) order; arrivals are mostly in
// order, so it scans from the end.
func insertItem(items []item, it item) []item {
	i := len(items)
	for i > 0 && after(items[i-1].ev, it.ev) {
		i--
	}
	if i == len(items) { // the newest: nothing moves
		return append(items, it)
	}
	items = append(items, item{})
	copy(items[i+1:], items[i:])
	items[i] = it
	return items
}

// after reports whether a comes after b in a key's order of events: by time, then by
// arrival (Seq).
func after(a, b *event.Event) bool {
	return a.Time > b.Time || a.Time == b.Time && a.Seq > b.Seq
}

// fold makes the key's live matchers its whole state: the journal and its base are
// dropped, and no event older than the newest matched can be re-matched any more (it is
// late). A late event matched anyway (LateProcess) and a rule reload fold a key, because
// a replay from the base would not reproduce what they did to the live matchers: the
// late event is in no journal, and events before a reload were matched by the old rules.
func (s *shard) fold(ks *keyState) {
	if ks.base == nil {
		return
	}
	s.endJournal(ks) // nothing older than newest can be re-matched: no journal, no cut
}

// endJournal empties the key's journal and drops its base. The base's snapshots were
// the only ones sharing the live matchers' run arrays (journal): the live matchers own
// them again, so their next change does not copy them. The base's slot array and its
// matchers (snapshots, or matchers the base started while folding) are referred to from
// nowhere else: they are kept, emptied, for the next journal's base (newBase, journal),
// and so is the journal's array (keepJournal).
func (s *shard) endJournal(ks *keyState) {
	s.endVelJournal(ks)
	if b := ks.base; b != nil {
		s.keepJournal(b.journal)
		s.keepBase(b)
		ks.base = nil
	}
	for _, m := range ks.m.each() {
		m.Thaw()
	}
}

// anySet marks every entry of the base's ms as possibly non-nil (journalBase.set).
func (b *journalBase) anySet() { b.set = ^uint64(0) }

// keepBase keeps a dropped base (b, nil: none) with its slot array and matchers, emptied,
// for the next journals' bases. Every matcher is emptied, kept or not: it may share its
// allocation with matchers still used (journal takes a base's snapshots in one), which
// would keep what it held (run arrays, buffer entries, events) reachable.
func (s *shard) keepBase(b *journalBase) {
	if b == nil {
		return
	}
	if b.set == ^uint64(0) || len(b.ms) > maxSparse {
		for ri := range b.ms {
			s.dropSnapshot(b, ri)
		}
	} else {
		for w := b.set; w != 0; w &= w - 1 {
			s.dropSnapshot(b, bits.TrailingZeros64(w))
		}
	}
	if len(b.ms) == len(s.rules.Rules) && len(s.spareBases) < maxSpare { // not a base of older rules (current)
		*b = journalBase{ms: b.ms, at: math.MaxInt64} // nothing of the key it was (every entry of ms is nil)
		s.spareBases = append(s.spareBases, b)
	}
}

// dropSnapshot empties rule ri's matcher of the dropped base b (if any) and keeps it for
// the next journals' bases.
func (s *shard) dropSnapshot(b *journalBase, ri int) {
	m := b.ms[ri]
	if m == nil {
		return
	}
	b.ms[ri] = nil
	// Emptied, it holds nothing (its arrays are the live matchers' or garbage) unless it
	// is a matcher the base started (nfa.Matcher.Forget).
	if m.Forget() && len(s.spareSnaps) < maxSpareSnaps {
		s.spareSnaps = append(s.spareSnaps, m)
	}
}

// maxSpareJournal bounds the capacity, in items, of an ended journal's array the shard
// keeps (keepJournal): a key's burst may have grown it.
const maxSpareJournal = 16

// keepJournal keeps an ended journal's array (j), cleared, for the next journal of any
// key (addJournal), up to maxSpare of them: a key between journals holds none. Most keys
// of a stream whose keys' events are further apart than the out-of-orderness are between
// journals at any time; each held its last journal's array (96 bytes for one item) until
// its next, 84 bytes a key on the 1M reference workload. Nothing else refers to the array
// (checkpoints, Inspect and replays read the journal synchronously).
func (s *shard) keepJournal(j []item) {
	if c := cap(j); c > 0 && c <= maxSpareJournal && len(s.spareJournals) < maxSpare {
		clear(j[:c])
		s.spareJournals = append(s.spareJournals, j[:0])
	}
}

// newBase returns an empty base for a journal, with n nil matcher slots: a dropped base
// (endJournal; nothing else refers to it) when one of that length is kept, else a new
// one. Most events start a journal, so this saves allocations an event.
func (s *shard) newBase(n int) *journalBase {
	if l := len(s.spareBases); l > 0 && len(s.spareBases[l-1].ms) == n {
		b, _ := popSpare(&s.spareBases)
		return b
	}
	return &journalBase{ms: make([]*nfa.Matcher, n), at: math.MaxInt64}
}

// popSpare takes the last of the spares kept in *l for reuse, clearing its slot so the
// spare list does not keep it reachable once it is used (ok false: none is kept).
func popSpare[T any](l *[]T) (x T, ok bool) {
	n := len(*l)
	if n == 0 {
		return x, false
	}
	x = (*l)[n-1]
	var zero T // a store, not clear's call for one element
	(*l)[n-1] = zero
	*l = (*l)[:n-1]
	return x, true
}

// trim folds the key's journal events older than w into its base: they can no longer be
// re-matched, nor can anything older than them (cut). A journal that empties drops its base (the live matchers are then the
// key's state after every event).
func (s *shard) trim(ks *keyState, w int64) {
	s.current(ks)
	n, journal := 0, ks.pending() // none when current folded it (a reload)
	for n < len(journal) && journal[n].ev.Time < w {
		n++
	}
	switch {
	case n == len(journal):
		s.endJournal(ks)
		s.resettle(ks)
		return
	case n == 0: // nothing behind w (the heap entry is at most journal[0]'s time, so rare)
		ks.base.at = journal[0].ev.Time
		ks.part.jour.push(ks.base.at, ks)
		return
	}
	s.foldOldest(ks, n)
}

// resettle settles a key whose live matchers have not changed since they were last read
// (a journal ended: it only thawed them). While the key's deadlines are known, ks.dl and
// ks.mbytes are what scan would read (see keyState.dl), so it reads only the deadlines of
// the matchers after the first maxKnown: most keys of a stream whose keys' events are
// further apart than the out-of-orderness end a journal an event, and their matchers are
// cold by then. Otherwise it is settle.
func (s *shard) resettle(ks *keyState) {
	if !ks.dlOK {
		s.settle(ks)
		return
	}
	next := int64(math.MaxInt64)
	for j := range min(int(ks.live), maxKnown) {
		d := ks.dl.get(j, ks.newest)
		if d == math.MinInt64 { // not read since a drop: read them all
			s.settle(ks)
			return
		}
		next = min(next, d)
	}
	if ks.live > maxKnown {
		j := 0
		for _, m := range ks.m.each() {
			if j >= maxKnown {
				next = min(next, m.Deadline())
			}
			j++
		}
	}
	s.reschedule(ks, next)
}

// foldOldest folds the key's n oldest journal events (0 < n < len(journal)) into its
// base: they, and anything older, can no longer be re-matched.
func (s *shard) foldOldest(ks *keyState, n int) {
	// The memory account's reference counts live in the nodes the base shares with the
	// live matchers: the base takes them over while it processes, then gives them back.
	recount(denseAll(ks.base.ms))
	var vf *velFeed // the values the events saw; the base's holds move, its aggregates are the log's
	if b := ks.velBase(); b != nil {
		vf = &velFeed{kv: b, stored: true, vals: b.jour.vals}
	}
	// feeding may start matchers of other rules
	ks.base.anySet()
	base := ks.base
	base.to = s.feedTimed(base.ms, vf, base.journal[:n], base.to, nil, &base.cool) // its holds are the base's
	if b := ks.velBase(); b != nil {
		b.jour.forget(n, b.lay)
	}
	recount(ks.m.all())
	ks.dlOK = false // the live matchers' accounts are rebuilt: what they hold may differ
	base.cut = max(base.cut, base.journal[n-1].ev.Time)
	base.journal = append(base.journal[:0], base.journal[n:]...)
	clear(base.journal[len(base.journal):cap(base.journal)])
	base.at = base.journal[0].ev.Time
	ks.part.jour.push(base.at, ks)
}

// recount rebuilds the memory accounts of the matchers ms (nfa.Matcher.Recount).
func recount(ms iter.Seq2[int, *nfa.Matcher]) {
	for _, m := range ms {
		m.Recount()
	}
}

// feed matches one stable event into the matchers ms (a base or a replay's), starting
// matchers for rules that can start, with the velocity values vf gives (nil: the rule
// set has no velocity rules). Matches that the rearm holds keep, and matches and
// timeouts that the cooldowns cool (which they move on) let through, are appended to out
// (as alerts for ks's key) when out is not nil, else discarded.
func (s *shard) feed(ms []*nfa.Matcher, vf *velFeed, it *item, out *replayOut, cool *cooldowns) {
	ev := it.ev
	s.sc.Memo.Next()
	s.retIn, s.retOut = ev, ev
	vp := s.velocity()
	if vp != nil && vf != nil {
		vf.next(vp, it)
		s.vkey = &vf.kv
	}
	for ri, c := range s.rules.Rules {
		m := ms[ri]
		if vp != nil {
			s.sc.Aux = vp.aux(ri)
		}
		if m == nil {
			if !c.Program.CanStart(ev, s.sc) {
				continue
			}
			m = c.Program.NewMatcher()
			ms[ri] = m
		}
		m.Advance(ev.Time, s.sc, &s.res)
		m.Process(ev, s.sc, &s.res)
		out.collect(s, ri, cool)
		if m.Idle() {
			ms[ri] = nil
		}
	}
}

// replayOut collects what a replay derives: alerts with the rule each came from, and,
// while the event being handled collects its alerts (SubmitCollect), the match alerts
// the cooldowns held back, marked so.
type replayOut struct {
	key        string
	alerts     []*alerts.Alert
	rule       []int
	cooled     []*alerts.Alert
	cooledRule []int
}

// collect takes what the last matcher call of rule ri produced (s.res): a match the
// rule's rearm holds drop is dropped, then a match or timeout its cooldown cools (cool
// moves on as delivering would); the rest become alerts in o (nil: they are discarded, but
// the rearm holds and cooldowns still move, as a base's must). The order is the live
// path's (shard.emit): rearm, then cooldown.
func (o *replayOut) collect(s *shard, ri int, cool *cooldowns) {
	r := &s.res
	vp := s.velocity()
	c := s.rules.Rules[ri]
	d := c.Rule.CooldownMs
	for i := range r.Matches {
		m := &r.Matches[i]
		var aggs *rules.Aggregates
		if vp != nil {
			var keep bool
			if keep, aggs = vp.admit(s.vkey, ri, m); !keep {
				continue
			}
		}
		if d > 0 && cool != nil && !cool.pass(c.Rule.ID, matchTime(m, 0), d) {
			if o != nil && s.collecting() {
				a := buildAlert(c, o.key, alerts.KindMatch, *m, 0, aggs)
				a.Suppressed = cooledMark((*cool)[c.Rule.ID])
				o.cooled, o.cooledRule = append(o.cooled, a), append(o.cooledRule, ri)
			}
			continue
		}
		if o != nil {
			o.alerts = append(o.alerts, buildAlert(c, o.key, alerts.KindMatch, *m, 0, aggs))
			o.rule = append(o.rule, ri)
		}
	}
	for i := range r.Timeouts {
		t := &r.Timeouts[i]
		if d > 0 && cool != nil && !cool.pass(c.Rule.ID, matchTime(&t.Match, t.At), d) {
			continue
		}
		if o != nil {
			o.alerts = append(o.alerts, BuildAlert(c, o.key, alerts.KindTimeout, t.Match, t.At))
			o.rule = append(o.rule, ri)
		}
	}
	r.Reset()
}

// replay runs journal from a clone of the key's base (its cooldowns too) and then to
// the time the key's timers reached, returning the matchers, the cooldowns, the velocity
// state and, when out is set, what they derived. The velocity state is the key's own,
// rolled back to the base and logged again as the journal replays (replayFeed): it
// becomes the key's live state.
func (s *shard) replay(ks *keyState, journal []item, out *replayOut) ([]*nfa.Matcher, cooldowns, *keyVelocity) {
	return s.replayFrom(ks, journal, out, s.replayFeed(ks))
}

// replayFrom is replay with the velocity values vf gives.
func (s *shard) replayFrom(ks *keyState, journal []item, out *replayOut, vf *velFeed) ([]*nfa.Matcher, cooldowns, *keyVelocity) {
	ms := make([]*nfa.Matcher, len(ks.base.ms))
	for ri, m := range ks.base.ms {
		if m != nil {
			ms[ri] = m.Clone()
		}
	}
	cool := ks.base.cool.clone()
	to := s.feedTimed(ms, vf, journal, ks.base.to, out, &cool)
	s.byTime(vf)
	if ks.timedTo > to {
		s.advanceTo(ks.timedTo, ms, vf, out, &cool)
	}
	if vf == nil {
		return ms, cool, nil
	}
	return ms, cool, vf.kv
}

// feedTimed feeds the items, in order, to the matchers ms advanced by timers to time to
// (a base or a replay's; see feed), first advancing them to each item's timer time where
// it is later (advanceTo), as the key's timers had; it returns the timer time they end at.
func (s *shard) feedTimed(ms []*nfa.Matcher, vf *velFeed, items []item, to int64, out *replayOut, cool *cooldowns) int64 {
	for i := range items {
		if it := &items[i]; it.timed > to {
			to = it.timed
			s.advanceTo(to, ms, vf, out, cool)
		}
		s.feed(ms, vf, &items[i], out, cool)
	}
	return to
}

// byTime readies the velocity plan for matches that time completes in matchers whose
// velocity state vf observes (nil: none, and nothing changes): they read no aggregate
// values, and their rearm holds are admitted against vf's state.
func (s *shard) byTime(vf *velFeed) {
	if vp := s.velocity(); vp != nil && vf != nil {
		vp.cur = false
		s.vkey = &vf.kv
	}
}

// advanceTo advances the matchers ms (a base or a replay's) to the timer time w where the
// key's timers had advanced its live ones (fire): the runs they ended end, the cooldowns
// they pruned go, the matches it completes are admitted against vf's holds, and the
// velocity state vf observes (nil: none; a stored feed's, its holds only) frees what
// fire freed (kept even empty: the key has a journal). Timers run ahead of a key's events only while
// its partition is idle (they follow the engine watermark), so a replay advances at the
// journal position where they had, not once at its end: a run started by an event matched
// after the timers ran is not ended by them.
func (s *shard) advanceTo(w int64, ms []*nfa.Matcher, vf *velFeed, out *replayOut, cool *cooldowns) {
	s.byTime(vf)
	for ri, m := range ms {
		if m == nil {
			continue
		}
		m.Advance(w, s.sc, &s.res)
		out.collect(s, ri, cool)
		if m.Idle() {
			ms[ri] = nil
		}
	}
	cool.prune(w)
	switch {
	case vf == nil || vf.kv == nil:
	case vf.stored: // its aggregates are the log's; its holds go where fire freed them
		vf.kv.expireHolds(w, denseHas(ms))
	default:
		vf.kv.expire(w, denseHas(ms))
	}
}

// rematch puts an event that is older than its key's newest matched event, and not
// behind the journal, in its place: the key's state becomes what matching the journal in
// the corrected order gives, and the alerts that order adds are delivered.
func (s *shard) rematch(ks *keyState, it *item) {
	s.current(ks)
	before := replayOut{key: ks.key}
	s.replayFrom(ks, ks.base.journal, &before, s.storedFeed(ks)) // the values the events saw
	cp := *it
	cp.ev = s.keep(it.ev)
	cp.stable = true
	cp.raw, cp.ticket = nil, nil
	// matched in its place: with the timer time the events before it were matched at
	cp.timed = ks.base.to
	for i := range ks.base.journal {
		if j := &ks.base.journal[i]; !after(j.ev, cp.ev) {
			cp.timed = j.timed
		}
	}
	s.addJournal(ks, cp)
	after := replayOut{key: ks.key}
	ms, cool, kv := s.replay(ks, ks.base.journal, &after)
	ks.vel = kv

	out := make(map[string]bool, len(before.alerts))
	for _, a := range before.alerts {
		out[a.ID] = true
	}
	for i, a := range after.alerts {
		if out[a.ID] {
			delete(out, a.ID)
			continue
		}
		s.deliver(after.rule[i], a, it.ingest)
	}
	for i, a := range after.cooled { // those the event completed are its own
		s.complete(after.cooledRule[i], a)
	}
	st := s.e.stats
	st.rematched.Add(1)
	st.superseded.Add(uint64(len(out)))
	st.shard[s.id].matched.Add(1)

	for ri, m := range ks.m.all() {
		s.dropMatcher(ri, m)
	}
	ks.live, ks.cool = int32(ks.m.assign(ms)), cool
	ks.timerAt = 0 // the replaced matchers' deadlines are gone: settle reschedules
	s.settle(ks)
}

// Outcome is what happened to one ingested event.
type Outcome uint8

// Outcomes. The zero value is OutcomeRejected: an event the shards never saw (it could
// not be decoded).
const (
	OutcomeRejected         Outcome = iota // not decoded: see the RecordError
	OutcomeMatched                         // in order for its key: matched at once
	OutcomeRematched                       // out of order for its key, within the out-of-orderness: the key re-matched with it in place
	OutcomeLateDeadLettered                // behind its key's journal: sent to the dead-letter sink (reason "late")
	OutcomeLateDropped                     // behind its key's journal: discarded
	OutcomeLateProcessed                   // behind its key's journal: matched anyway, out of order
)

var outcomeNames = [...]string{"rejected", "matched", "rematched", "late_dead_lettered", "late_dropped", "late_processed"}

// String returns the outcome's name as the ingest API writes it.
func (o Outcome) String() string {
	if int(o) < len(outcomeNames) {
		return outcomeNames[o]
	}
	return "unknown"
}

// MarshalText writes the outcome's name.
func (o Outcome) MarshalText() ([]byte, error) { return []byte(o.String()), nil }

// Tally counts outcomes as an ingest answer reports them: accepted are the events
// matched (in order, re-matched, or late and processed); late the ones not matched for
// being too late (dead-lettered or dropped). Rejected events count in neither.
func Tally(out []Outcome) (accepted, late int) {
	for _, o := range out {
		switch o {
		case OutcomeMatched, OutcomeRematched, OutcomeLateProcessed:
			accepted++
		case OutcomeLateDeadLettered, OutcomeLateDropped:
			late++
		}
	}
	return accepted, late
}

// ticket collects the outcomes of one IngestWait call: the shards write each event's
// outcome at its index (distinct indexes, no lock) and count their batches done.
type ticket struct {
	out       []Outcome
	completed [][]Completed // per event, the alerts it completed (SubmitCollect only)
	left      atomic.Int32  // batches not yet handled, plus one while the ingest call sends
	done      chan struct{}
}

func newTicket(n int) *ticket {
	t := &ticket{out: make([]Outcome, n), done: make(chan struct{})}
	t.left.Store(1)
	return t
}

// finish marks one batch (or the sending call) done.
func (t *ticket) finish() {
	if t.left.Add(-1) == 0 {
		close(t.done)
	}
}

// setOutcome records what happened to the item's event, for the ingest call that waits.
func (it *item) setOutcome(o Outcome) {
	if it.ticket != nil {
		it.ticket.out[it.idx] = o
	}
}
