package engine

import (
	"math"
	"unsafe"

	"github.com/cepd/cepd/event"
	"github.com/cepd/cepd/velocity"
)

// A key's velocity state while it has a journal (order.go). The base is not a copy: the
// live state logs its changes (velocity.Undo) from the journal's start, one segment per
// journal event, so the base is the live state with the log rolled back. Starting a
// journal costs the base's rearm holds (a few words), never the windows; a re-match
// rolls back what the journal changed and replays it; a fold forgets the log's oldest
// segments. Each journal event also keeps the values it saw, so that folding it into the
// base matchers, and replaying the journal as it was (to know which alerts the first
// order derived), read them instead of recomputing them.
//
// The live state's aggregates change only as the journal's events are matched (in
// order, or replayed in order from the base), and by expiry, which is logged too; a rule's
// rearm holds are not logged (time moves them between events, which a replay from the
// base must not see): the base keeps its own, moved as its matchers take the events it
// folds.

// velJournal is what a key's velocity base (keyState.velBase(), a keyVelocity holding the
// base's rearm holds) keeps of the journal.
//
// A base with no aggregates (none) is rolled back to by dropping the live state, not by
// its log: the journal's first event is then matched without a log, and the live state
// is adopted (logged) from the second event's changes on, which only a fold of the first
// event needs (the base becomes the state the log rolls back to). Most journals end with
// one event and are never re-matched: the log's cost is then never paid.
type velJournal struct {
	live  *keyVelocity   // the state whose log rolls back to the base (none: to after the journal's first event; nil: no state adopted)
	log   *velocity.Undo // live's changes since the base (nil with live)
	marks []int          // by journal event: the log's length before its changes
	vals  []event.Value  // by journal event: the values it saw (the layout's count each)
	none  bool           // the base holds no aggregate: the live state is dropped, not rolled back
}

// startVelJournal makes the key's velocity base as its journal starts (nothing without
// velocity rules).
func (s *shard) startVelJournal(ks *keyState) {
	if p := s.velocity(); p != nil {
		ks.base.vel = p.newBase(ks.vel)
	}
}

// Bases and logs of ended journals are reused (most keys start and end a journal per
// event when their events are further apart than the out-of-orderness), up to these.
const (
	maxSpareBases = 256
	keepLog       = 64 << 10 // bytes a reused log's, or base's, arrays may take (velocity.Undo.Footprint, velJournal.footprint)
)

// newBase returns a base for the live state kv (nil: none), whose changes are logged
// from now on.
func (p *velPlan) newBase(kv *keyVelocity) *keyVelocity {
	b, ok := popSpare(&p.bases)
	if !ok {
		b = &keyVelocity{lay: p.lay, at: math.MinInt64, soon: math.MinInt64, jour: &velJournal{}}
		b.setQuiet(len(p.lay.holds))
	}
	b.jour.none = kv == nil
	if kv == nil {
		for i := range b.quiet {
			b.quiet[i] = math.MinInt64
		}
		return b
	}
	copy(b.quiet, kv.quiet)
	b.jour.adopt(p, kv)
	return b
}

// footprint is the bytes the journal's own arrays take (their capacity).
func (j *velJournal) footprint() int {
	return cap(j.marks)*int(unsafe.Sizeof(0)) + cap(j.vals)*int(unsafe.Sizeof(event.Value{}))
}

// velLogBytes is what the velocity log of ks's journal takes (0 without one).
func (ks *keyState) velLogBytes() int {
	b := ks.velBase()
	if b == nil || b.jour == nil {
		return 0
	}
	n := b.jour.footprint()
	if b.jour.log != nil {
		n += b.jour.log.Footprint()
	}
	return n
}

// recycle keeps an ended journal's base and log for reuse.
func (p *velPlan) recycle(b *keyVelocity) {
	j := b.jour
	if j.log != nil {
		p.putLog(j.log)
	}
	if len(p.bases) >= maxSpareBases || b.lay != p.lay {
		return
	}
	clear(j.vals)
	j.live, j.log, j.marks, j.vals = nil, nil, j.marks[:0], j.vals[:0]
	if j.footprint() > keepLog {
		j.marks, j.vals = nil, nil
	}
	p.bases = append(p.bases, b)
}

func (p *velPlan) putLog(u *velocity.Undo) {
	if len(p.logs) < maxSpareBases {
		u.Reset(keepLog) // (detaches its aggregates)
		p.logs = append(p.logs, u)
		return
	}
	u.Detach() // dropped: nothing of it stays attached
}

// adopt makes kv the logged live state: the base's own, or one made since a base that
// had none (every change it holds is then the journal's: the log rolls it back to empty).
func (j *velJournal) adopt(p *velPlan, kv *keyVelocity) {
	if j.live != nil {
		j.live.detach()
	}
	j.live = kv
	if n := len(p.logs); n > 0 {
		j.log, p.logs = p.logs[n-1], p.logs[:n-1]
	} else {
		j.log = velocity.NewUndo()
	}
	kv.log = j.log // (its aggregates are attached as they change: velPlan.observe)
}

// detach stops logging kv's changes: every aggregate attached to its log is detached
// (those that changed since it was adopted; the log is not used again for kv).
func (kv *keyVelocity) detach() {
	if kv.log != nil {
		kv.log.Detach()
	}
	kv.log = nil
}

// blank reports whether kv holds nothing: no aggregate, no hold, no time.
func (kv *keyVelocity) blank() bool { return kv.at == math.MinInt64 && kv.empty() }

// empty reports whether kv holds no aggregate and no hold (what expiry leaves).
func (kv *keyVelocity) empty() bool {
	for _, a := range kv.aggs {
		if a != nil {
			return false
		}
	}
	for _, q := range kv.quiet {
		if q != math.MinInt64 {
			return false
		}
	}
	return true
}

// observe computes the values for the journal's next event on kv (nil: no state),
// logging kv's changes as the event's segment and recording its values. A nil j only
// observes. need is velPlan.observe's.
func (j *velJournal) observe(p *velPlan, kv *keyVelocity, it *item, need []bool) {
	if j == nil {
		p.observe(kv, it, need)
		return
	}
	if kv != nil && j.live != kv && (len(j.marks) > 0 || !j.none) {
		// A state made since a base that had none, or a state the journal's first event
		// changed unlogged (none), or one a fold left unlogged (forget). (The live state
		// is otherwise the base's: expiry keeps a logged state while the key has a
		// journal, and a replay adopts the state it makes. An unlogged one it may free,
		// as without a journal: a none journal's replay starts from no state.)
		j.adopt(p, kv)
	}
	j.mark()
	p.observe(kv, it, need)
	j.keep(p)
}

// record notes an event observed without state (p.observe(nil, …)): nothing to log.
func (j *velJournal) record(p *velPlan) {
	if j == nil {
		return
	}
	j.mark()
	j.keep(p)
}

// mark starts the next event's segment of the log.
func (j *velJournal) mark() {
	m := 0
	if j.log != nil {
		m = j.log.Mark()
	}
	j.marks = append(j.marks, m)
}

// keep records the values the plan computed for the event.
// They are appended rule by rule, not as p.flat at once: the array then grows as it
// always has, and the memory budget, which counts its capacity (footprint), decides as
// before.
func (j *velJournal) keep(p *velPlan) {
	for i := range p.withAggs {
		j.vals = append(j.vals, p.withAggs[i].values(p.flat)...)
	}
}

// forget drops the records of the journal's n oldest events, folded into the base: their
// changes can no longer be rolled back. A base that had no aggregates (none) is now what
// the folded events left: the live state the log rolls back to, or, with no state adopted
// yet, the key's live state as it is, which the next event observed adopts before it
// changes it (the journal's only observed event was its first: any later one adopts the
// state; and a fold that leaves a journal of unobserved events is journal's, before the
// newest event is matched).
func (j *velJournal) forget(n int, lay *velLayout) {
	if j.log != nil {
		j.log.ForgetSegments(j.marks, n)
	}
	j.marks = dropFront(j.marks, min(n, len(j.marks)))
	j.vals = dropFront(j.vals, min(n*int(lay.off[len(lay.off)-1]), len(j.vals)))
	j.none = false
}

// dropFront removes s's first n elements by slicing past them (cleared first), so that a
// fold costs what it folds, not what the journal keeps (velocity.Undo.Forget likewise).
func dropFront[T any](s []T, n int) []T {
	clear(s[:n])
	return s[n:]
}

// endVelJournal drops the key's velocity base as its journal ends: the live state is the
// key's whole state, no longer logged (nil when it holds nothing).
func (s *shard) endVelJournal(ks *keyState) {
	b := ks.velBase()
	if b != nil {
		ks.base.vel = nil
	}
	if b == nil || b.jour == nil {
		return
	}
	if kv := b.jour.live; kv != nil {
		kv.detach()
	}
	if kv := ks.vel; kv != nil {
		if kv != b.jour.live { // (mostly the same state)
			kv.detach()
		}
		if kv.empty() {
			ks.vel = nil
		}
	}
	if p := s.velocity(); p != nil {
		p.recycle(b)
	}
}

// setVals gives the rules the values recorded for an event (velJournal.keep).
func (p *velPlan) setVals(vals []event.Value, it *item) {
	p.curTime, p.curSeq, p.cur = it.ev.Time, it.ev.Seq, true
	copy(p.flat, vals)
}

// velFeed is where a replay or a fold of journal events takes their velocity values
// from, and where the rearm holds their matches start go (kv).
type velFeed struct {
	kv     *keyVelocity  // holds, and when observing the aggregates (nil: no state yet)
	stored bool          // values from vals, else observed on kv
	vals   []event.Value // the values recorded for the events to come, in order
	j      *velJournal   // when observing: records each event (nil: none)
}

// next gives the rules the values for the next event fed.
func (f *velFeed) next(p *velPlan, it *item) {
	if f.stored {
		n := int(p.lay.off[len(p.lay.off)-1])
		p.setVals(f.vals[:n], it)
		f.vals = f.vals[n:]
		return
	}
	if f.kv == nil && p.takes(it) {
		f.kv = newKeyVelocity(p.lay)
	}
	if f.kv == nil {
		p.observe(nil, it, nil)
		f.j.record(p)
		return
	}
	f.j.observe(p, f.kv, it, nil)
}

// storedFeed replays the journal as it was matched: the values its events saw, and a
// copy of the base's holds.
func (s *shard) storedFeed(ks *keyState) *velFeed {
	b := ks.velBase()
	if b == nil || b.jour == nil {
		return nil
	}
	q := &keyVelocity{lay: b.lay, quiet: append([]int64(nil), b.quiet...), at: math.MinInt64, soon: math.MinInt64}
	return &velFeed{kv: q, stored: true, vals: b.jour.vals}
}

// replayFeed readies the key's velocity state for replaying the whole journal from the
// base: the live state with its log rolled back (nil when the base has none), logged
// again as the replay goes. On a restore the base is the restored state itself (or nil),
// which becomes the logged live state.
func (s *shard) replayFeed(ks *keyState) *velFeed {
	p := s.velocity()
	if p == nil {
		return nil
	}
	b := ks.velBase()
	switch {
	case b == nil || b.jour == nil: // a restore
		b = p.newBase(b)
		ks.base.vel = b
	case b.jour.none: // the base has no aggregate: the live state is dropped, not rolled back
	default:
		j := b.jour
		if j.log != nil {
			j.log.Undo()
		}
		if j.live != nil {
			copy(j.live.quiet, b.quiet)
			j.live.unbound() // the aggregates are the base's again
		}
	}
	j := b.jour
	j.marks, j.vals = j.marks[:0], j.vals[:0]
	kv := j.live
	if kv != nil && (j.none || kv.blank()) { // start from none, as a key without state does
		kv.detach()
		p.putLog(j.log)
		j.live, j.log, kv = nil, nil, nil
	}
	if kv == nil && !b.empty() {
		// No live state, but the base has rearm holds (a fold moved them; the key's
		// timers may since have freed the live state's, ahead of the journal when its
		// partition is idle): the replay starts from them, as the journal's stored
		// replay (storedFeed) does, logged from its first event.
		kv = newKeyVelocity(p.lay)
		copy(kv.quiet, b.quiet)
	}
	if kv == nil {
		j.none = true // (the replay's first event is matched unlogged: velJournal)
	}
	return &velFeed{kv: kv, j: j}
}
