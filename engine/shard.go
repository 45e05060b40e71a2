package engine

import (
	"context"
	"math"
	"math/bits"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/cepd/cepd/event"
	"github.com/cepd/cepd/nfa"
)

type msgKind uint8

const (
	msgItems     msgKind = iota // a batch of events
	msgWatermark                // a partition's watermark moved without events for this shard
	msgIdle                     // a partition became idle or active
	msgFinal                    // end of stream: watermark +infinity
	msgBarrier                  // close done once everything before has been processed
	msgInspect                  // run fn on the shard goroutine
)

type msg struct {
	kind  msgKind
	batch *batch
	part  int32
	wm    int64
	// ingest is, for msgWatermark, the ingest stamp of the call whose events moved the
	// watermark (see unstamped).
	ingest int64
	idle   bool
	done   chan struct{}
	fn     func(s *shard)
}

// unstamped is the ingest stamp of time moved by no ingested event: a partition found
// idle, the end of the stream (Flush), a restore. The one rule for the latency figures:
// an alert carries the ingest stamp (engine clock, Engine.now) of the Ingest or Submit
// call whose event completed it or moved event time past its window (an item's own, or
// a watermark message's for a shard that got no event of the call); alerts made by
// unstamped time are delivered but not sampled (shard.deliver).
const unstamped int64 = -1

// stamp is the ingest stamp of the event the shard is handling (unstamped when none): a
// window the event leaves already closed (a new key's event far behind its partition's
// watermark, a re-matched one) closes at once, and its alert is the event's call's.
func (s *shard) stamp() int64 {
	if s.cur == nil {
		return unstamped
	}
	return s.cur.ingest
}

// keyState is everything the shard holds for one key: a matcher per rule that has
// something live (nil otherwise) and, with out-of-orderness, the key's recent events and
// the matchers as they were before them (order.go).
type keyState struct {
	// The pointer fields come first, so that the collector scans 104 bytes of the 192,
	// not all of them (TestKeyStatePointersFirst): m's inline matchers and spill array
	// are the last.
	rs   *RuleSet     // the rule set m and base are indexed by (moved to the shard's on first touch)
	part *partClock   // the partition the key's events come from
	base *journalBase // the key's journal and its state before it (nil: no journal; see journal)
	cool cooldowns    // the key's cooldowns (cooldown.go)
	// vel is the key's velocity state (aggregate windows, rearm holds; aggregate.go), nil
	// when it has none.
	vel  *keyVelocity
	key  string
	m    slots // the live matchers, by rule (keystate_slots.go): the first few inline
	live int32 // live matchers in m
	idx  int32 // position in the shard's list
	// dl holds the deadlines of the key's first maxKnown live matchers (in rule order) as
	// offsets from newest. While dlOK, dl and mbytes are what a read of every matcher
	// would give, and a timer reads only the matchers due and those after the first
	// maxKnown (fire). settle reads them all and sets it; fire keeps it for the matchers it
	// advances; code that changes a matcher otherwise clears it (stale). (dl and the flags
	// share 24 bytes.)
	dl        knownDeadlines
	dlOK      bool
	released  bool
	budgetCut bool  // the memory budget cut its partial matches (a mark for Inspect)
	newest    int64 // time of the newest event matched in order for the key
	timedTo   int64 // latest time timers advanced the key's matchers to
	timerAt   int64 // deadline registered in the timer queue (timeQueue)
	bytes     int   // what its matchers and velocity log held when last settled (budget.go)
	mbytes    int   // what its matchers hold (nfa Usage bytes), as of the last settle or timer
}

// journalBase is a key's journal and its state as it was before the journal's first
// event, which a replay of the journal starts from: only keys with a journal have one,
// so a key between journals carries none of their fields (keyState is 192 bytes, not
// 240: on the 1M reference workload most keys are between journals at any time).
type journalBase struct {
	ms   []*nfa.Matcher // the matchers, one a rule (nil: the rule had nothing live)
	cool cooldowns      // the cooldowns
	vel  *keyVelocity   // the velocity state (aggregate_journal.go)
	// journal holds the key's events matched in order and not yet behind the partition's
	// clock, sorted by (time, seq), as retained copies; the base is the key's state as it
	// was before journal[0]. A base has a journal of one event at least.
	journal []item
	// set has bit ri set for every rule ri < maxSparse whose entry of ms may be non-nil:
	// the rules live when the journal started, or every bit once the base has matched
	// events (foldOldest) or was restored (keepBase clears only those entries).
	set uint64
	to  int64 // the timer time the base was advanced to
	cut int64 // no event in the base is newer: an event can be re-matched from cut on
	at  int64 // journal[0]'s time as registered in the journal queue
}

// pending returns the key's journal (nil: none).
func (ks *keyState) pending() []item {
	if ks.base == nil {
		return nil
	}
	return ks.base.journal
}

// journalAt returns the time the key's journal is registered at in the journal queue
// (math.MaxInt64: no journal).
func (ks *keyState) journalAt() int64 {
	if ks.base == nil {
		return math.MaxInt64
	}
	return ks.base.at
}

// velBase returns the key's velocity state as it was before its journal (nil without a
// journal or velocity state).
func (ks *keyState) velBase() *keyVelocity {
	if ks == nil || ks.base == nil {
		return nil
	}
	return ks.base.vel
}

// baseMatchers returns the matchers of the key's base (nil without a journal).
func (ks *keyState) baseMatchers() []*nfa.Matcher {
	if ks.base == nil {
		return nil
	}
	return ks.base.ms
}

type shard struct {
	e     *Engine
	id    int
	rules *RuleSet // the rule set this shard runs (swapped at a barrier on reload)
	in    chan msg
	// waiting is set while the shard's goroutine blocks on an empty queue (run); ingest
	// clears it when it hands the shard a batch early (handOff).
	waiting atomic.Bool
	keys    map[string]*keyState
	list    []*keyState // the keys in no particular order, for walks in bounded steps

	parts  map[int32]*partClock
	plist  []*partClock // parts' values, for the per-event walks (a map walk cost ~0.1 µs)
	global int64        // engine watermark: minimum over active partitions (never goes back)
	sc     *nfa.Scratch
	res    nfa.Result

	retIn, retOut *event.Event // Retain cache for the event being matched
	// kept and seen count the events this shard kept (keep) and matched since it last
	// told the partitions whether most are kept (plain: fewer than half, so their slabs
	// are better allocated without a box; event/box.go).
	kept, seen    int
	plain         atomic.Bool
	cur           *item       // the event being handled (nil while time moves on): decide.go
	starts        *startIndex // for s.rules (rebuilt when the rule set changes)
	latency       *histogram
	queued        *histogram                    // Stats.queued's for this shard
	dirty         map[int32]map[string]struct{} // keys changed since the last checkpoint, by partition (nil: off)
	spare         [][]*nfa.Matcher              // idle matchers kept for reuse, per rule (bounded)
	spareBases    []*journalBase                // dropped journal bases, cleared, for reuse (bounded; order.go)
	spareSnaps    []*nfa.Matcher                // dropped journal bases' matchers, zeroed, for the next bases' snapshots (bounded)
	spareJournals [][]item                      // ended journals' arrays, cleared, for the next journals (bounded; order.go)
	keepFrom      map[*RuleSet][]int            // per older rule set, which of its rules each current rule keeps

	used  int64 // accounted bytes of the keys' matchers (budget.go)
	share int64 // this shard's part of the engine's memory budget
	blog  budgetLog

	// timers counts the key timers fired, the live matchers of those keys, the matchers
	// the timers read (advanced), and of those the ones that produced an alert (a match
	// or timeout), the ones left idle and of those the ones dropped without advancing
	// (nfa.Matcher.Expires), and the most timers one event's move of time fired, for
	// benchmarks (BenchmarkTimers).
	timers struct{ fired, live, read, yielded, idled, expired, peak int64 } // peak: the most fired by one event
	// refiring is the key reschedule fires at once (its deadline already due) while it
	// does; warnedStuck whether stuckTimer has logged.
	refiring    *keyState
	warnedStuck bool

	// matched counts the events matchRules fed since the last countMatched.
	matched uint64

	vplan *velPlan      // the velocity plan of the rule set (aggregate.go)
	vnone *RuleSet      // a rule set known to have no velocity rules
	vkey  **keyVelocity // the velocity state a replay's alerts are admitted against
	vall  bool          // every rule's velocity values for every event (the reference for velPlan.observeNeeded; tests)
	// slowTimers: a timer advances every matcher it reads, even one nfa.Matcher.Expires
	// says it could drop at once (the reference for advanceOne's shortcut; tests).
	slowTimers bool

	// took is, for Config.OnLatency (latencyParts), when the shard took up the message
	// being handled (engine clock) and sent when ingest handed it over; started when the
	// shard took up the event being handled and pos its index in its batch.
	took, sent, started int64
	pos                 int
}

const maxSpare = 256

// maxSpareSnaps bounds shard.spareSnaps (a zeroed matcher is 96 bytes: nfa.TestMatcherSize).
const maxSpareSnaps = 1024

// newMatcher returns an idle matcher for rule ri, reusing one when it can.
func (s *shard) newMatcher(ri int) *nfa.Matcher {
	if m, ok := popSpare(&s.spare[ri]); ok {
		return m
	}
	return s.rules.Rules[ri].Program.NewMatcher()
}

// dropMatcher recycles an idle matcher of rule ri, when emptied it holds nothing of
// what it held (nfa.Matcher.Reusable).
func (s *shard) dropMatcher(ri int, m *nfa.Matcher) {
	if len(s.spare[ri]) < maxSpare {
		if m.Reset(); m.Reusable() {
			s.spare[ri] = append(s.spare[ri], m)
		}
	}
}

func newShard(e *Engine, id int) *shard {
	s := &shard{e: e, id: id, in: make(chan msg, e.cfg.QueueSize), keys: map[string]*keyState{},
		parts: map[int32]*partClock{}, global: math.MinInt64, sc: nfa.NewScratch(),
		latency: e.stats.latency[id], queued: e.stats.queued[id]}
	s.rules = e.rules
	s.sc.Memo = nfa.NewMemo(e.rules.Slots)
	s.sc.Retain = s.retain
	s.sc.Budget = e.cfg.Budget
	s.share = e.cfg.MemoryBudget / int64(e.cfg.Shards)
	s.spare = make([][]*nfa.Matcher, len(e.rules.Rules))
	return s
}

func (s *shard) send(ctx context.Context, m msg) error {
	e := s.e
	e.sendMu.RLock()
	defer e.sendMu.RUnlock()
	if e.queuesClosed {
		return ErrClosed
	}
	select {
	case s.in <- m:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-e.stopped: // the workers returned (their context ended): nothing reads the queue
		return ErrClosed
	}
}

func (s *shard) run(ctx context.Context) {
	for {
		var m msg
		var ok bool
		select {
		case m, ok = <-s.in:
		case <-ctx.Done(): // watched at every message: a backlog must not keep the shard on
			return
		default: // nothing queued: tell ingest to hand over work as it comes (handOff)
			s.waiting.Store(true)
			select {
			case m, ok = <-s.in:
			case <-ctx.Done():
				return
			}
			s.waiting.Store(false)
		}
		if !ok {
			return
		}
		s.handle(m)
	}
}

// handOff reports whether a batch being filled for the shard should go now rather than
// when full or at the end of the ingest call: the shard waits on an empty queue, so the
// events already decoded would only wait for the rest of the call. It claims the shard
// (one early batch until the shard waits again): what arrives while the shard works on
// it is batched as before, so a busy shard gets full batches.
func (s *shard) handOff() bool {
	return s.waiting.Load() && s.waiting.CompareAndSwap(true, false)
}

func (s *shard) handle(m msg) {
	defer s.countMatched()
	switch m.kind {
	case msgItems:
		s.took, s.sent = s.e.now(), m.batch.sent
		s.queued.record(s.took - s.sent)
		for i := range m.batch.items {
			s.pos = i
			s.event(&m.batch.items[i])
		}
		if t := m.batch.ticket; t != nil {
			s.countMatched() // in the stats before the waiting call returns
			t.finish()
		}
		s.e.putBatch(m.batch)
	case msgWatermark:
		if s.e.cfg.OnLatency != nil {
			s.took = s.e.now()
			s.sent, s.started, s.pos = s.took, s.took, 0
		}
		s.observe(s.clock(m.part), m.wm, m.ingest)
	case msgIdle:
		pc := s.clock(m.part)
		pc.idle = m.idle
		s.recomputeGlobal(unstamped)
		if pc.idle && pc.wm < s.global { // its keys now follow the engine watermark
			s.advance(pc, s.global, unstamped)
		}
	case msgFinal:
		s.global = math.MaxInt64
		for _, pc := range s.plist {
			s.advance(pc, math.MaxInt64, unstamped)
		}
	case msgBarrier:
		close(m.done)
	case msgInspect:
		m.fn(s)
		close(m.done)
	}
}

// countMatched adds the events matched since the last call to the shard's statistics:
// once a message, not once an event (an atomic add each would cost more than the count).
// It also tells the partitions, once the shard has matched keepWindow events since it
// last did, whether most of them were kept.
func (s *shard) countMatched() {
	if s.matched > 0 {
		s.e.stats.shard[s.id].matched.Add(s.matched)
		if s.seen += int(s.matched); s.seen >= keepWindow {
			s.plain.Store(2*s.kept < s.seen)
			s.kept, s.seen = 0, 0
		}
		s.matched = 0
	}
}

// partClock is a partition's time as one shard sees it, and the keys waiting on it.
type partClock struct {
	id     int32
	wm     int64 // the partition's watermark (max event time − out-of-orderness)
	idle   bool
	timers timeQueue // keys by matcher deadline
	jour   timeQueue // keys by earliest journal event
}

// now is the time of the partition's keys: its own watermark while it is active; once it
// is idle, the engine watermark carries its time on (so its keys' windows close).
func (pc *partClock) now(global int64) int64 {
	if pc.idle {
		return max(pc.wm, global)
	}
	return pc.wm
}

func (s *shard) clock(part int32) *partClock {
	if len(s.plist) == 1 && s.plist[0].id == part { // one partition: no map lookup per event
		return s.plist[0]
	}
	pc := s.parts[part]
	if pc == nil {
		pc = &partClock{id: part, wm: math.MinInt64}
		s.parts[part] = pc
		s.plist = append(s.plist, pc)
	}
	return pc
}

// dropClock forgets a partition's clock (its keys are gone).
func (s *shard) dropClock(part int32) {
	delete(s.parts, part)
	s.plist = slices.DeleteFunc(s.plist, func(pc *partClock) bool { return pc.id == part })
}

// observe records a partition watermark and moves time on for the partition's keys and,
// when the engine watermark rises, for lagging partitions.
func (s *shard) observe(pc *partClock, wm int64, ingest int64) {
	if wm <= pc.wm {
		return
	}
	before := pc.now(s.global)
	pc.wm = wm
	if now := pc.now(s.global); now > before {
		s.advance(pc, now, ingest)
	}
	s.recomputeGlobal(ingest)
}

// recomputeGlobal sets the engine watermark to the minimum over active partitions (the
// maximum when all are idle); it never goes back. Partitions behind it catch up.
func (s *shard) recomputeGlobal(ingest int64) {
	if len(s.plist) == 1 { // one partition: the engine's watermark is its own, idle or not
		s.global = max(s.global, s.plist[0].wm)
		return
	}
	w, active, all := int64(math.MaxInt64), false, int64(math.MinInt64)
	for _, pc := range s.plist {
		all = max(all, pc.wm)
		if !pc.idle {
			w, active = min(w, pc.wm), true
		}
	}
	if !active {
		w = all
	}
	if w <= s.global {
		return
	}
	s.global = w
	for _, pc := range s.plist {
		if pc.idle && pc.wm < w {
			s.advance(pc, w, ingest)
		}
	}
}

// event handles one arriving event. Keys belong to one partition, and keys are
// independent: an event as new as its key's newest matched event is matched at once,
// whatever other keys did and whatever the out-of-orderness; an older one is re-matched
// into the key's journal while it is not behind the partition's clock (order.go), else it
// is late. Time then moves on for the partition (windows close, journals shorten).
func (s *shard) event(it *item) {
	pc := s.clock(it.part)
	ev := it.ev
	ks := s.keys[ev.Key]
	if ks != nil {
		s.current(ks) // a reload folds the key's journal: decide on what is left
	}
	s.cur = it
	if s.e.cfg.OnLatency != nil {
		s.started = s.e.now()
	}
	switch {
	case ks == nil || ev.Time >= ks.newest:
		s.match(ks, it)
		it.setOutcome(OutcomeMatched)
	case ks.base != nil && ev.Time >= it.wm && ev.Time >= ks.base.cut:
		s.rematch(ks, it)
		it.setOutcome(OutcomeRematched)
	default:
		s.late(ks, it)
	}
	s.cur = nil
	fired := s.timers.fired
	s.observe(pc, it.wm, it.ingest)
	s.timers.peak = max(s.timers.peak, s.timers.fired-fired)
}

// late applies the late policy to an event older than its key's newest matched event and
// behind what the key's journal can re-match.
func (s *shard) late(ks *keyState, it *item) {
	s.e.stats.late.Add(1)
	switch s.e.cfg.Late {
	case LateDeadLetter:
		s.e.stats.deadLetter(ReasonLate)
		s.e.dlq.DeadLetter(DeadLetter{Reason: ReasonLate, Error: "event time is behind its key's newest event by more than the out-of-orderness", Raw: it.raw, Partition: int(it.part), Offset: it.offset})
		it.setOutcome(OutcomeLateDeadLettered)
	case LateDrop:
		it.setOutcome(OutcomeLateDropped)
	case LateProcess:
		s.fold(ks)
		s.matchRules(ks, it)
		it.setOutcome(OutcomeLateProcessed)
	}
}

func (s *shard) key(k string, part int32) *keyState {
	ks := s.keys[k]
	if ks == nil {
		// k may point into an event's values slab: the map's own copy does not keep the
		// slab alive for as long as the key lives
		k = strings.Clone(k)
		ks = newKeyState(len(s.rules.Rules))
		*ks = keyState{rs: s.rules, key: k, part: s.clock(part), m: ks.m, timerAt: math.MaxInt64,
			newest: math.MinInt64, timedTo: math.MinInt64, idx: int32(len(s.list))}
		s.keys[k] = ks
		s.list = append(s.list, ks)
	}
	return ks
}

// newKeyState returns a zero key state with empty matcher slots for n rules.
func newKeyState(n int) *keyState {
	return &keyState{m: newSlots(n)}
}

// advance moves a partition's keys to time w: journal events behind the partition's own
// watermark are folded into their keys' base matchers, then windows that closed by w
// fire. Journals follow the partition's watermark, not w (which for an idle partition is
// the engine's): an event of the partition is re-matchable exactly when it is not behind
// its partition's watermark. ingest is the stamp of the ingest call that moved time
// (unstamped when none), for latency accounting.
func (s *shard) advance(pc *partClock, w int64, ingest int64) {
	for tw := min(w, pc.wm); pc.jour.len() > 0 && pc.jour.minAt() < tw; {
		at, ks := pc.jour.pop()
		if ks.released || at != ks.journalAt() {
			continue
		}
		s.trim(ks, tw)
	}
	for pc.timers.len() > 0 && pc.timers.minAt() <= w {
		at, ks := pc.timers.pop()
		if ks.released || at != ks.timerAt {
			continue
		}
		ks.timerAt = math.MaxInt64
		s.fire(ks, w, ingest)
	}
}

// fire advances the key's matchers to w and settles the key. With the key's deadlines
// known (keyState.dlOK) it reads only the matchers due by w, else every one.
func (s *shard) fire(ks *keyState, w int64, ingest int64) {
	s.current(ks)
	ks.timedTo = max(ks.timedTo, w)
	p := s.velocity()
	if p != nil {
		p.cur = false // matches completed by time read no aggregate values
	}
	known := ks.dlOK
	s.timers.fired++
	s.timers.live += int64(ks.live)
	next := int64(math.MaxInt64)
	if known {
		next = s.advanceDue(ks, w, ingest)
	} else {
		s.advanceAll(ks, w, ingest)
	}
	// after the matches time completed: the holds they are admitted against stay till then
	if p != nil && ks.vel != nil && ks.vel.expire(w, ks.m.has) {
		if ks.base == nil { // (with a journal, its base or log may refer to it)
			p.lay.freeKV(ks.vel)
		}
		ks.vel = nil
	}
	ks.m.shrink() // the rules whose windows closed leave their slots' room
	if known && ks.dlOK {
		s.reschedule(ks, next)
	} else {
		s.settle(ks)
	}
}

// advanceAll advances every matcher of ks to w.
func (s *shard) advanceAll(ks *keyState, w int64, ingest int64) {
	for ri, m := range ks.m.all() {
		s.advanceOne(ks, ri, m, w, ingest)
	}
}

// match feeds an event in order for its key to every rule's matcher for the key, and
// with out-of-orderness keeps it in the key's journal.
func (s *shard) match(ks *keyState, it *item) {
	if s.e.cfg.OutOfOrderness > 0 {
		if ks == nil {
			ks = s.key(it.ev.Key, it.part)
		}
		s.current(ks)
		s.journal(ks, it)
	}
	if ks != nil {
		ks.newest = max(ks.newest, it.ev.Time)
	}
	s.matchRules(ks, it)
}

// matchRules feeds one event to every rule's matcher for its key. A rule whose first
// step cannot take the event costs nothing for a key without live state.
func (s *shard) matchRules(ks *keyState, it *item) {
	ev := it.ev
	if ks != nil {
		s.current(ks)
	}
	s.sc.Memo.Next()
	s.retIn, s.retOut = nil, nil
	if it.stable { // already the engine's own copy: matchers may keep it as is
		s.retIn, s.retOut = ev, ev
	}
	if s.starts == nil || s.starts.rs != s.rules {
		s.starts = newStartIndex(s.rules)
	}
	cand := s.starts.candidates(ev)
	vp := s.velocity()
	if vp != nil {
		var need []bool // nil: every rule
		if !s.vall && !ks.timedPastJournal() {
			need = vp.observeNeeded(ks, s.starts, cand)
		}
		ks = s.observeVelocity(vp, ks, it, need)
	}
	if todo, ok := s.todo(ks); ok {
		for ; todo != 0; todo &= todo - 1 { // in rule order
			ks = s.matchRule(ks, it, bits.TrailingZeros64(todo), cand, vp)
		}
	} else {
		for ri := range s.rules.Rules {
			ks = s.matchRule(ks, it, ri, cand, vp)
		}
	}
	s.matched++
	if ks != nil {
		s.settle(ks)
	}
}

// todo returns the rules matchRules must visit for the event of the last Candidates
// call, as a bit set: the rules with a live matcher for ks and those the start index's
// first level keeps (a rule with neither does nothing: it has no matcher and MayStart is
// false). ok is false for a rule set of more than 64 rules (visit every rule).
func (s *shard) todo(ks *keyState) (todo uint64, ok bool) {
	todo, ok = s.starts.x.Mask()
	if !ok || ks == nil {
		return todo, ok
	}
	if ks.m.dense() {
		return 0, false
	}
	return todo | ks.m.mask, true
}

// matchRule feeds the event to rule ri's matcher for the key ks (nil: none yet), making
// one if the rule can start with it; it returns the key's state (made if need be).
func (s *shard) matchRule(ks *keyState, it *item, ri int, cand []bool, vp *velPlan) *keyState {
	ev := it.ev
	var m *nfa.Matcher
	if ks != nil {
		m = ks.m.get(ri)
	}
	if vp != nil {
		s.sc.Aux = vp.aux(ri)
	}
	if m == nil {
		if !s.starts.mayStart(cand, ri) || !s.rules.Rules[ri].Program.CanStart(ev, s.sc) {
			return ks
		}
		if ks == nil {
			ks = s.key(ev.Key, it.part)
			ks.newest = ev.Time
		}
		m = s.newMatcher(ri)
		ks.m.set(ri, m)
		ks.live++
	}
	m.Advance(ev.Time, s.sc, &s.res)
	s.starts.hint(s.sc, ri, ev)
	m.Process(ev, s.sc, &s.res)
	s.emit(ri, ks.key, it.ingest)
	if m.Idle() {
		s.idle(ks, ri, m)
	}
	return ks
}

// timedPastJournal reports whether the key's timers advanced its live matchers past
// the oldest event of its journal (ks nil: no state). That happens when the key's
// partition is idle and its timers follow the engine watermark, and the key's next
// events are before that time: a matcher the timer dropped is still there in a replay
// of the journal from the base (order.go), and its conditions read values the live
// matchers did not need. While it holds every rule's values are computed
// (velPlan.observeNeeded assumes replays meet the live matchers).
func (ks *keyState) timedPastJournal() bool {
	return ks != nil && ks.base != nil && ks.timedTo > ks.base.journal[0].ev.Time
}

// settle reads every matcher of the key (scan), then reschedules the key's timer and
// releases the key when nothing is left (reschedule).
func (s *shard) settle(ks *keyState) {
	s.reschedule(ks, s.scan(ks))
}

// reschedule accounts the key (what ks.mbytes says its matchers hold), reschedules its
// timer at its next deadline (next, its matchers' earliest; its velocity state's and its
// cooldowns') and releases the key when nothing is left.
func (s *shard) reschedule(ks *keyState, next int64) {
	s.touch(ks)
	s.account(ks, &next)
	d := int64(math.MaxInt64)
	if ks.cool != nil {
		d = ks.cool.prune(max(ks.part.now(s.global), ks.timedTo))
	}
	if ks.live == 0 && ks.base == nil && len(ks.cool) == 0 && ks.vel == nil {
		s.release(ks)
		return
	}
	if ks.vel != nil {
		d = min(d, ks.vel.deadline(ks.m.has))
	}
	d = min(d, next)
	if d == math.MaxInt64 || d == ks.timerAt {
		return
	}
	if now := ks.part.now(s.global); d <= now { // already due: close the windows now
		if s.refiring == ks { // still due after firing at now: a deadline that does not move
			s.stuckTimer(ks, d, now)
			return
		}
		prev := s.refiring
		s.refiring = ks
		s.fire(ks, now, s.stamp())
		s.refiring = prev
		return
	}
	ks.timerAt = d
	ks.part.timers.push(d, ks)
}

// stuckTimer is reschedule's way out when a key is still due at now right after a fire at
// now: a deadline that firing does not move (a bug: a matcher's or velocity state's bound
// left stale on some path) would fire again and again, without end. The key keeps no timer
// until its next event settles it again, and the engine says so once a shard.
func (s *shard) stuckTimer(ks *keyState, d, now int64) {
	if !s.warnedStuck {
		s.warnedStuck = true
		s.e.log.Error("engine: a key is still due right after its timer fired; it keeps no timer until its next event (a bug: please report it)",
			"key", ks.key, "deadline", d, "now", now)
	}
}

// release forgets a key: out of the map and the list (the last key takes its place).
func (s *shard) release(ks *keyState) {
	ks.released = true
	s.forget(ks)
	s.keepBase(ks.base) // a partition's keys go with their journals (dropPartition)
	ks.base = nil
	delete(s.keys, ks.key)
	last := s.list[len(s.list)-1]
	s.list[ks.idx], last.idx = last, ks.idx
	s.list[len(s.list)-1] = nil
	s.list = s.list[:len(s.list)-1]
}

// retain copies an event a matcher keeps out of the reusable batch memory, once.
func (s *shard) retain(ev *event.Event) *event.Event {
	if ev == s.retIn {
		return s.retOut
	}
	s.retIn, s.retOut = ev, s.keep(ev)
	return s.retOut
}

// keepWindow is how many events a shard counts (at least: countMatched adds a message's
// at a time) before it tells the partitions again whether most are kept.
const keepWindow = 4096

// keep copies an event out of the reusable batch memory (Event.Keep) and counts it: every
// copy the shard keeps goes through here, at most once an event.
func (s *shard) keep(ev *event.Event) *event.Event {
	s.kept++
	return ev.Keep()
}

// boxSlabs reports whether the events decoded next should have their slabs boxed: unless
// every shard kept fewer than half of its recent events.
func (e *Engine) boxSlabs() bool {
	for _, s := range e.shards {
		if !s.plain.Load() {
			return true
		}
	}
	return false
}
