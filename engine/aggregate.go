package engine

import (
	"math"
	"slices"

	"github.com/cepd/cepd/event"
	"github.com/cepd/cepd/nfa"
	"github.com/cepd/cepd/rules"
	"github.com/cepd/cepd/velocity"
)

// Velocity aggregates and rearm policies (patterns.Aggregate, patterns.Rearm) are per-key
// state beside the matchers. Before a key's event is matched, each aggregate of each rule
// takes the event (when its where holds) and its value for the event is computed; the
// rule's conditions read those values (rules.Aggregates through nfa.Scratch.Aux). A
// rule with a rearm hold drops, per key, the matches whose last event comes before the
// end of the hold that its previous alert started. The state follows the key's event
// order exactly as the matchers do: while the key has a journal its changes are logged
// (aggregate_journal.go), so that the base is the state with the log rolled back; an
// older event is re-matched by rolling back and replaying the journal, and the base is
// what is checkpointed, as for the matchers. A rule set without aggregates or rearm
// policies takes none of these paths.

// velPlan is a shard's view of a rule set's velocity rules, with the scratch space for
// one event's values.
type velPlan struct {
	// The fields every event of a key with velocity state reads come first, together.
	rs *RuleSet
	// withAggs lists the rules with aggregates (made with the plan), with what an event's
	// walk over them reads: the only rules whose need observeNeeded sets.
	withAggs []velRule
	// flat holds every rule's values, laid out by lay.off: vals[ri].Values is its
	// part, so that the values an event saw are set back in one copy (setVals).
	flat []event.Value
	// need is observeNeeded's scratch: by rule, whether a condition of the rule may read
	// the values for the event being matched. A rule without them still adds the event to
	// its aggregates, but no window is read, moved or logged for the value. Every rule
	// needs them outside matchRules (a replay or a fold computes or reads them all: observe
	// is given no need).
	need []bool
	// the event the values are for (a match ending with it may read them in emit)
	curTime int64
	curSeq  uint64
	cur     bool
	// withBits has bit ri set for each rule ri with aggregates (aux).
	withBits []uint64
	vals     []rules.Aggregates // by rule: the values for the event being matched
	// sameGate, by place in lay.off, is whether the aggregate admits the events the one
	// before it in its rule admits (rules.Aggregate.SameGate): its answer is taken for
	// it, by observe for a rule without a need and by takes.
	sameGate []bool
	lay      *velLayout
	ctx      nfa.EvalContext      // for the aggregates' where conditions
	aggs     [][]*rules.Aggregate // by rule
	hold     []int64              // by rule: the rearm hold, 0 for none
	// for reuse: the bases and logs of journals that ended (aggregate_journal.go)
	bases []*keyVelocity
	logs  []*velocity.Undo
}

// velRule is a rule with aggregates in a velPlan: its index, its aggregates and the place
// of the first in lay.off (and in velPlan.flat: values).
type velRule struct {
	aggs []*rules.Aggregate
	ri   int32
	off  int32
}

// values returns rule r's part of flat: its values for the event being matched.
func (r *velRule) values(flat []event.Value) []event.Value {
	return flat[r.off : int(r.off)+len(r.aggs)]
}

// velLayout places a rule set's velocity state in a key's flat slices: only the rules
// with aggregates or a rearm hold take room in a key (a rule set has many rules and
// few of them count), and a key's state is a handful of allocations to create or clone.
type velLayout struct {
	off   []int32 // by rule, and one more: rule ri's aggregates are aggs[off[ri]:off[ri+1]]
	hold  []int32 // by rule: its index in quiet, -1 without a rearm hold
	holds []int32 // by index in quiet: the rule
	// spare holds, by place in aggs, aggregates freed by expiry for create to reuse (a
	// layout is its shard's plan's own: one goroutine). Most are freed when a window
	// empties between a key's events and made again at its next one. It also holds the
	// aggregates made in a block with one that was needed (newBlock).
	spare [][]*velocity.Agg
	specs []velocity.Spec // by place: what the aggregate there computes
	rule  []int32         // by place: the rule whose aggregates hold it
	// kvs holds keys' states freed whole for newKeyVelocity to reuse (freeKV).
	kvs []*keyVelocity
	// newBlock's scratch: the places of a block, their specs, the aggregates made
	bplaces []int
	bspecs  []velocity.Spec
	bout    []*velocity.Agg
}

// Aggregates freed by expiry are kept for reuse up to these: per place in a key's
// aggs, and the bytes of a kept aggregate's arrays (velocity.Agg.Recycle).
const (
	maxSpareAggs = 64
	keepAggBytes = 256
)

// free keeps aggregate a, just dropped from place i of a key's state, for reuse when
// nothing else can reach it: not while it is logged (velocity.Agg.Recycle).
func (l *velLayout) free(i int, a *velocity.Agg) {
	if l.spare == nil {
		l.spare = make([][]*velocity.Agg, l.off[len(l.off)-1])
	}
	if len(l.spare[i]) < maxSpareAggs && a.Recycle(keepAggBytes) {
		l.spare[i] = append(l.spare[i], a)
	}
}

// take returns an empty aggregate for place i, computing spec: a spare one, else new
// (newBlock).
func (l *velLayout) take(i int, spec velocity.Spec) *velocity.Agg {
	if l.spare == nil {
		l.spare = make([][]*velocity.Agg, l.off[len(l.off)-1])
	}
	if a, ok := popSpare(&l.spare[i]); ok && a.Spec() == spec {
		return a
	}
	return l.newBlock(i, spec)
}

// newBlock returns a new aggregate for place i, computing spec, made in one allocation with one for each
// other place of its rule that has no spare (velocity.NewBlock), which become those
// places' spares: a key's event mostly makes several of a rule's aggregates (they share
// its where), which then take these, and the key's aggregates are one object for the
// collector to visit, not one each.
func (l *velLayout) newBlock(i int, spec velocity.Spec) *velocity.Agg {
	ri := l.rule[i]
	l.bplaces, l.bspecs = l.bplaces[:0], l.bspecs[:0]
	for j := int(l.off[ri]); j < int(l.off[ri+1]); j++ {
		switch {
		case j == i:
			l.bplaces, l.bspecs = append(l.bplaces, j), append(l.bspecs, spec)
		case len(l.spare[j]) == 0:
			l.bplaces, l.bspecs = append(l.bplaces, j), append(l.bspecs, l.specs[j])
		}
	}
	l.bout = slices.Grow(l.bout[:0], len(l.bspecs))[:len(l.bspecs)]
	velocity.NewBlock(l.bspecs, l.bout)
	var a *velocity.Agg
	for k, j := range l.bplaces {
		if j == i {
			a = l.bout[k]
		} else {
			l.spare[j] = append(l.spare[j], l.bout[k])
		}
	}
	clear(l.bout)
	return a
}

func newVelLayout(aggs [][]*rules.Aggregate, hold []int64) *velLayout {
	l := &velLayout{off: make([]int32, len(aggs)+1), hold: make([]int32, len(aggs))}
	for ri := range aggs {
		l.off[ri+1] = l.off[ri] + int32(len(aggs[ri]))
		l.hold[ri] = -1
		if hold[ri] > 0 {
			l.hold[ri] = int32(len(l.holds))
			l.holds = append(l.holds, int32(ri))
		}
		for _, g := range aggs[ri] {
			l.specs, l.rule = append(l.specs, g.Spec), append(l.rule, int32(ri))
		}
	}
	return l
}

// keyVelocity is one key's velocity state, laid out by lay. A key's base (keyState.velBase())
// is one too, holding only its rearm holds and jour: its aggregates are the live
// state's with the log rolled back.
type keyVelocity struct {
	// The fields a timer of the key reads (expire, deadline) come first, together: log,
	// soon, late, the holds and the layout, in the first 96 bytes (two cache lines).
	log *velocity.Undo // while the key has a journal: where aggs and at log their changes
	// Unless soon is unknown (math.MinInt64), ends[i] is aggs[i]'s EmptyAt (for each
	// aggregate there is: the key's own copy, so that expiry reads none of the aggregates
	// it keeps), soon is at most the earliest and late is the latest (math.MaxInt64 and
	// math.MinInt64 without any): a timer of the key reads nothing of the aggregates
	// before the first can be freed, and then only those it frees (expire, deadline).
	// A new state, which has none, starts with them known (newKeyVelocity); added keeps
	// them as an Add moves an EmptyAt on or a new aggregate is made. What puts aggregates
	// in otherwise (replayFeed rolling aggs back, a restore, a reload) makes soon
	// unknown (unbound), and bounds walks them once.
	soon, late int64
	quiet      []int64 // by lay.hold: matches ending before it are dropped (MinInt64: none)
	lay        *velLayout
	at         int64 // the newest time the aggregates took (late events count there)
	// qbuf holds quiet when the layout has at most as many holds (setQuiet): a key's
	// state is then one allocation fewer, in the room the quiet array's would take.
	qbuf [4]int64
	aggs []*velocity.Agg // by lay.off: nil for an aggregate without state
	ends []int64         // by lay.off, beside aggs (allocKeyVelocity); pointer-free
	jour *velJournal     // on a base only
}

// setQuiet gives kv a quiet array of n holds, none set (MinInt64).
func (kv *keyVelocity) setQuiet(n int) {
	if n <= len(kv.qbuf) {
		kv.quiet = kv.qbuf[:n:n]
	} else {
		kv.quiet = make([]int64, n)
	}
	for i := range kv.quiet {
		kv.quiet[i] = math.MinInt64
	}
}

// ruleAggs returns rule ri's aggregates (empty for a rule without any).
func (kv *keyVelocity) ruleAggs(ri int) []*velocity.Agg {
	return kv.aggs[kv.lay.off[ri]:kv.lay.off[ri+1]]
}

// quietOf returns rule ri's hold end (MinInt64: none).
func (kv *keyVelocity) quietOf(ri int) int64 {
	if h := kv.lay.hold[ri]; h >= 0 {
		return kv.quiet[h]
	}
	return math.MinInt64
}

// create makes aggregate i (by lay.off), missing so far.
func (kv *keyVelocity) create(i int, g *rules.Aggregate) *velocity.Agg {
	a := kv.lay.take(i, g.Spec)
	if kv.log != nil {
		kv.log.Slot(&kv.aggs[i])
		a.Log(kv.log)
	}
	kv.aggs[i] = a
	return a
}

// velocity returns the shard's plan for its rule set, nil when no rule has aggregates or
// a rearm policy.
func (s *shard) velocity() *velPlan {
	if p := s.vplan; p != nil && p.rs == s.rules {
		if p.ctx.Memo != s.sc.Memo {
			p.ctx.Memo = s.sc.Memo // a reload gives the shard a new memo with its rule set
		}
		return p
	}
	if s.vnone == s.rules {
		return nil
	}
	var p *velPlan
	for ri, c := range s.rules.Rules {
		aggs, hold := c.Aggregates(), c.Rule.HoldMs()
		if len(aggs) == 0 && hold == 0 {
			continue
		}
		if p == nil {
			n := len(s.rules.Rules)
			p = &velPlan{rs: s.rules, aggs: make([][]*rules.Aggregate, n), hold: make([]int64, n), vals: make([]rules.Aggregates, n), need: make([]bool, n)}
		}
		p.aggs[ri], p.hold[ri] = aggs, hold
	}
	if p == nil {
		s.vnone = s.rules
		return nil
	}
	p.lay = newVelLayout(p.aggs, p.hold)
	p.flat = make([]event.Value, p.lay.off[len(p.lay.off)-1])
	p.sameGate, p.withBits = make([]bool, len(p.flat)), make([]uint64, (len(p.aggs)+63)/64)
	for ri, aggs := range p.aggs {
		lo, hi := p.lay.off[ri], p.lay.off[ri+1]
		p.vals[ri].Values = p.flat[lo:hi:hi]
		if len(aggs) > 0 {
			p.withAggs = append(p.withAggs, velRule{aggs: aggs, ri: int32(ri), off: lo})
			p.withBits[ri/64] |= 1 << (ri % 64)
		}
		for j := 1; j < len(aggs); j++ {
			p.sameGate[int(lo)+j] = aggs[j].SameGate(aggs[j-1])
		}
	}
	p.ctx.Memo = s.sc.Memo
	s.vplan = p
	return p
}

// newKeyVelocity returns an empty velocity state for a key: one freed whole (freeKV),
// else new. Its bounds are known (no aggregate): a caller that puts aggregates in other
// than by create makes them unknown (unbound).
func newKeyVelocity(lay *velLayout) *keyVelocity {
	if kv, ok := popSpare(&lay.kvs); ok {
		return kv
	}
	kv := allocKeyVelocity(int(lay.off[len(lay.off)-1]))
	kv.lay = lay
	kv.setQuiet(len(lay.holds))
	kv.reset()
	return kv
}

// reset sets what a key's state holds besides its aggregates and their ends to nothing,
// as newKeyVelocity hands it out: no time taken, bounds known (none), no hold set.
func (kv *keyVelocity) reset() {
	kv.at, kv.soon, kv.late = math.MinInt64, math.MaxInt64, math.MinInt64
	for i := range kv.quiet {
		kv.quiet[i] = math.MinInt64
	}
}

// freeKV keeps kv, a key's state that expiry emptied (no aggregate, no hold) and that
// nothing else refers to (the key has no journal: no base, no log), for newKeyVelocity
// to reuse, as newKeyVelocity would make it: most keys' states empty between their events
// and are made again at the next.
func (l *velLayout) freeKV(kv *keyVelocity) {
	if len(l.kvs) >= maxSpareAggs || kv.lay != l || kv.log != nil || kv.jour != nil || !kv.empty() {
		return
	}
	kv.reset()
	clear(kv.ends)
	l.kvs = append(l.kvs, kv)
}

// kvWith is a key's velocity state and the arrays of its aggregates and their ends, A, in
// one allocation (the ends after the pointers: the collector scans no further).
type kvWith[A any] struct {
	kv   keyVelocity
	aggs A
}

// Arrays of aggregates and of their ends for kvWith, by size.
type (
	arrays[P, E any] struct {
		p P // the aggregates
		e E // their ends
	}
	aggs4  arrays[[4]*velocity.Agg, [4]int64]
	aggs8  arrays[[8]*velocity.Agg, [8]int64]
	aggs10 arrays[[10]*velocity.Agg, [10]int64]
	aggs12 arrays[[12]*velocity.Agg, [12]int64]
	aggs16 arrays[[16]*velocity.Agg, [16]int64]
)

func (a *aggs4) room() ([]*velocity.Agg, []int64)  { return a.p[:], a.e[:] }
func (a *aggs8) room() ([]*velocity.Agg, []int64)  { return a.p[:], a.e[:] }
func (a *aggs10) room() ([]*velocity.Agg, []int64) { return a.p[:], a.e[:] }
func (a *aggs12) room() ([]*velocity.Agg, []int64) { return a.p[:], a.e[:] }
func (a *aggs16) room() ([]*velocity.Agg, []int64) { return a.p[:], a.e[:] }

// allocKeyVelocity returns a zero keyVelocity with aggs and ends of n (nil and 0 each):
// for a layout of up to 16 aggregates, in one allocation of the size the three would
// take apart, or a size class more.
func allocKeyVelocity(n int) *keyVelocity {
	switch {
	case n <= 4:
		return kvIn[aggs4](n)
	case n <= 8:
		return kvIn[aggs8](n)
	case n <= 10:
		return kvIn[aggs10](n)
	case n <= 12:
		return kvIn[aggs12](n)
	case n <= 16:
		return kvIn[aggs16](n)
	}
	return &keyVelocity{aggs: make([]*velocity.Agg, n), ends: make([]int64, n)}
}

// kvIn allocates a keyVelocity with aggs and ends of n in the arrays A beside it.
func kvIn[A any, P interface {
	*A
	room() ([]*velocity.Agg, []int64)
}](n int) *keyVelocity {
	x := new(kvWith[A])
	aggs, ends := P(&x.aggs).room()
	x.kv.aggs, x.kv.ends = aggs[:n:n], ends[:n:n]
	return &x.kv
}

// admits reports whether aggregate g, at place k of the layout, admits ev: prev, the
// answer for the aggregate before it, when they share a gate (sameGate), else g's own.
func (p *velPlan) admits(k int, g *rules.Aggregate, ev *event.Event, prev bool) bool {
	if p.sameGate[k] {
		return prev
	}
	return g.Admits(ev, &p.ctx)
}

// takes reports whether an aggregate of the plan takes the event (so a key without
// state needs some).
func (p *velPlan) takes(it *item) bool {
	for i := range p.withAggs {
		r := &p.withAggs[i]
		off, admits := int(r.off), false
		for j, g := range r.aggs {
			if admits = p.admits(off+j, g, it.ev, admits); admits && g.Takes(it.ev, &p.ctx) {
				return true
			}
		}
	}
	return false
}

// observeNeeded returns, in p.need, which rules need their values for an event of the
// key ks (nil: no state) matched by matchRules: rule ri's conditions read its values
// only when the key has a matcher for it, or when the rule's first step may take the
// event (cand, the start index's candidates for it). A rule that cannot start on the
// event is not asked CanStart (the index's MayStart is false only when the start guard
// is false whatever the values), so nothing of it reads them; a replay or fold of the
// event, from the same matchers, reads the same. (Not called while the key's timers are
// past its journal's oldest event: keyState.timedPastJournal.) (The values an event saw
// are also what its journal records: those of a rule that needed none are recorded empty
// and never read.)
func (p *velPlan) observeNeeded(ks *keyState, x *startIndex, cand []bool) []bool {
	for i := range p.withAggs {
		ri := int(p.withAggs[i].ri)
		p.need[ri] = ks != nil && ks.m.has(ri) || x.mayStart(cand, ri)
	}
	return p.need
}

// observe brings kv's aggregates to the event and computes the values the rules see for
// it, for the rules that need them (need, by rule, from observeNeeded; nil: every rule;
// the others' read as no value). kv may be nil (the key has no velocity state and nothing
// takes the event).
func (p *velPlan) observe(kv *keyVelocity, it *item, need []bool) {
	ev := it.ev
	p.curTime, p.curSeq, p.cur = ev.Time, ev.Seq, true
	t := ev.Time
	if kv != nil {
		t = max(t, kv.at) // an event matched out of order (late, processed) counts at the newest time
		if kv.log != nil && t != kv.at {
			kv.log.Int64(&kv.at)
		}
		kv.at = t
	}
	for i := range p.withAggs {
		r := &p.withAggs[i]
		aggs, vals, off := r.aggs, r.values(p.flat), int(r.off)
		need := need == nil || need[r.ri]
		admits := false
		for j, g := range aggs {
			if kv == nil {
				vals[j] = emptyValue(g, ev, need)
				continue
			}
			if !need {
				// Without a need for the value, an aggregate the event is not admitted to
				// (no group, or the where false: not taken) is not touched, and the next
				// aggregate with the same gate is not asked again.
				if admits = p.admits(off+j, g, ev, admits); !admits {
					vals[j] = event.Value{}
					continue
				}
			}
			a := kv.aggs[off+j]
			if a != nil && kv.log != nil {
				a.Log(kv.log) // before it changes (adopt attaches none)
			}
			if a != nil && need {
				in := g.Read(ev, &p.ctx)
				vals[j] = g.Observe(a, in, t)
				if in.Taken() {
					kv.added(off+j, a, false)
				}
				continue
			}
			// An aggregate without state reads as empty until an event adds to it: made
			// only then (most events of a key add to few of its aggregates). Without a
			// need for the value, an aggregate the event does not add to is not touched.
			in := g.Read(ev, &p.ctx)
			if !in.Taken() {
				vals[j] = emptyValue(g, ev, need)
				continue
			}
			created := a == nil
			if created {
				a = kv.create(off+j, g)
			}
			if need {
				vals[j] = g.Observe(a, in, t)
			} else {
				g.Add(a, in, t)
				vals[j] = event.Value{}
			}
			kv.added(off+j, a, created)
		}
	}
}

// emptyValue is what aggregate g reads as for ev while it holds nothing: empty, or no
// value for a rule that does not need its values (velPlan.observe).
func emptyValue(g *rules.Aggregate, ev *event.Event, need bool) event.Value {
	if need {
		return g.Empty(ev)
	}
	return event.Value{}
}

// hasAggs reports whether rule ri has aggregates (from withBits: one word read for every
// 64 rules, on every event's rule walk).
func (p *velPlan) hasAggs(ri int) bool {
	u := uint(ri)
	return p.withBits[u/64]>>(u%64)&1 != 0
}

// aux is what rule ri's conditions read as agg: its values, or nil.
func (p *velPlan) aux(ri int) any {
	if !p.hasAggs(ri) {
		return nil
	}
	return &p.vals[ri]
}

// admit applies rule ri's rearm hold to a match for the key whose velocity state is
// *kvp (created when the hold starts), and returns the aggregate values an emit
// expression may read: those of the event being matched when the match ends with it.
func (p *velPlan) admit(kvp **keyVelocity, ri int, m *nfa.Match) (keep bool, aggs *rules.Aggregates) {
	last := lastEvent(m)
	if hold := p.hold[ri]; hold > 0 && last != nil {
		kv := *kvp
		if kv != nil && last.Time < kv.quietOf(ri) {
			return false, nil
		}
		if kv == nil {
			kv = newKeyVelocity(p.lay)
			*kvp = kv
		}
		kv.quiet[p.lay.hold[ri]] = satAdd(last.Time, hold)
	}
	if p.cur && last != nil && last.Time == p.curTime && last.Seq == p.curSeq && p.hasAggs(ri) {
		return true, &p.vals[ri]
	}
	return true, nil
}

func lastEvent(m *nfa.Match) *event.Event {
	var last *event.Event
	for _, st := range m.Steps {
		for _, ev := range st.Events {
			if last == nil || after(ev, last) {
				last = ev
			}
		}
	}
	return last
}

// bounds walks the aggregates for their ends, soon and late.
func (kv *keyVelocity) bounds() {
	kv.soon, kv.late = math.MaxInt64, math.MinInt64
	for i, a := range kv.aggs {
		if a != nil {
			e := a.EmptyAt()
			kv.ends[i] = e
			kv.soon, kv.late = min(kv.soon, e), max(kv.late, e)
		}
	}
}

// unbound makes soon and late unknown, for aggregates put in other than by create.
func (kv *keyVelocity) unbound() { kv.soon = math.MinInt64 }

// bounded reports whether soon and late are known.
func (kv *keyVelocity) bounded() bool { return kv.soon != math.MinInt64 }

// added notes that aggregate i, a, took an event (its EmptyAt moved on); created that
// it is new.
func (kv *keyVelocity) added(i int, a *velocity.Agg, created bool) {
	if !kv.bounded() {
		return
	}
	e := a.EmptyAt()
	kv.ends[i] = e
	kv.late = max(kv.late, e)
	if created {
		kv.soon = min(kv.soon, e)
	}
}

// expire frees what the key's windows and holds no longer need at w; it reports whether
// nothing is left. A rule's hold ended by w is kept while the rule has a live matcher (live(ri))
// for the key: time may still complete a match of it whose last event is before the
// hold's end (a not-followed-by at the end of its window), which the hold drops. While
// the key has a journal the state is kept even empty: its log rolls back to the base.
func (kv *keyVelocity) expire(w int64, live func(ri int) bool) bool {
	empty := kv.log == nil
	if !kv.bounded() {
		kv.bounds()
	}
	switch {
	case w < kv.soon: // nothing left its window (none is there when soon is MaxInt64)
		if kv.late != math.MinInt64 {
			empty = false
		}
	default:
		kv.soon = math.MaxInt64
		for i, a := range kv.aggs {
			if a == nil {
				continue
			}
			// Everything left its window: drop it. (Its end is the key's copy: the
			// aggregate is read only when it is freed.)
			e := kv.ends[i]
			if w >= e {
				if kv.log != nil {
					kv.log.Slot(&kv.aggs[i]) // (the old contents: before it changes)
				} else {
					kv.lay.free(i, a)
				}
				kv.aggs[i] = nil
				continue
			}
			kv.soon = min(kv.soon, e)
			empty = false
		}
		if kv.soon == math.MaxInt64 { // (what is left, if any, is after w: late stays)
			kv.late = math.MinInt64
		}
	}
	return kv.expireHolds(w, live) && empty
}

// expireHolds frees the holds ended by w, as expire does, and reports whether none is
// left. A fold's or a stored replay's feed frees only these: its aggregates are the log's.
func (kv *keyVelocity) expireHolds(w int64, live func(ri int) bool) bool {
	empty := true
	for h, q := range kv.quiet {
		if q == math.MinInt64 {
			continue
		}
		if ri := int(kv.lay.holds[h]); q <= w && !live(ri) {
			kv.quiet[h] = math.MinInt64
		} else {
			empty = false
		}
	}
	return empty
}

// deadline is when expire would free everything (math.MaxInt64 when never by itself). The
// hold of a rule with a live matcher (live(ri)) is left out: the matcher's own deadline
// brings the key's timer, and the hold counts again once the matcher is idle.
func (kv *keyVelocity) deadline(live func(ri int) bool) int64 {
	if !kv.bounded() {
		kv.bounds()
	}
	d := kv.late
	for h, q := range kv.quiet {
		if q > d && !live(int(kv.lay.holds[h])) { // (live is asked only of a hold that would count)
			d = q
		}
	}
	if d == math.MinInt64 {
		return math.MaxInt64
	}
	return d
}

// rebindVelocity maps a key's velocity state to the shard's rule set by keep (see
// current): the state of a rule whose fingerprint is unchanged carries over.
func (s *shard) rebindVelocity(kv *keyVelocity, keep []int) *keyVelocity {
	p := s.velocity()
	if kv == nil || p == nil {
		return nil
	}
	nk := newKeyVelocity(p.lay)
	nk.at = kv.at
	old := kv.lay
	for ni, oi := range keep {
		if oi < 0 || oi >= len(old.hold) {
			continue
		}
		// an unchanged fingerprint keeps the rule's aggregates and hold
		if n, o := nk.lay.off[ni], old.off[oi]; nk.lay.off[ni+1]-n == old.off[oi+1]-o {
			copy(nk.aggs[n:nk.lay.off[ni+1]], kv.aggs[o:old.off[oi+1]])
		}
		if h := nk.lay.hold[ni]; h >= 0 {
			nk.quiet[h] = kv.quietOf(oi)
		}
	}
	nk.unbound()
	return nk
}

// observeVelocity computes the velocity values for an event of the key ks (nil: no state
// yet), creating the key's state when an aggregate takes the event. With a journal the
// event is the journal's newest: its changes and values are recorded for the base. need
// is velPlan.observe's.
func (s *shard) observeVelocity(p *velPlan, ks *keyState, it *item, need []bool) *keyState {
	var j *velJournal
	if b := ks.velBase(); b != nil {
		j = b.jour
	}
	if ks == nil || ks.vel == nil {
		if !p.takes(it) {
			p.observe(nil, it, need)
			j.record(p)
			return ks
		}
		if ks == nil {
			ks = s.key(it.ev.Key, it.part)
			ks.newest = it.ev.Time
		}
		ks.vel = newKeyVelocity(p.lay)
	}
	j.observe(p, ks.vel, it, need)
	return ks
}
