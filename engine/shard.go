package engine

import (
	"context"
	"math"

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
	idle  bool
	done  chan struct{}
	fn    func(s *shard)
}

// keyState is everything the shard holds for one key: a matcher per rule that has
// something live (nil otherwise) and events waiting for the watermark.
type keyState struct {
	rs       *RuleSet // the rule set m is indexed by (moved to the shard's on first touch)
	key      string
	part     *partClock // the partition the key's events come from
	m        []*nfa.Matcher
	live     int
	pending  []item // sorted by (time, seq); events are retained copies
	pendAt   int64  // earliest pending time registered in the pending heap
	timerAt  int64  // deadline registered in the timer heap
	released bool
	idx      int  // position in the shard's list
	bytes    int  // what its matchers held when last settled (budget.go)
	cut      bool // the memory budget cut its partial matches (a mark for Inspect)
}

type shard struct {
	e     *Engine
	id    int
	rules *RuleSet // the rule set this shard runs (swapped at a barrier on reload)
	in    chan msg
	keys  map[string]*keyState
	list  []*keyState // the keys in no particular order, for walks in bounded steps

	parts  map[int32]*partClock
	global int64 // engine watermark: minimum over active partitions (never goes back)
	sc     *nfa.Scratch
	res    nfa.Result

	retIn, retOut *event.Event // Retain cache for the event being matched
	latency       *histogram
	dirty         map[int32]map[string]struct{} // keys changed since the last checkpoint, by partition (nil: off)
	spare         [][]*nfa.Matcher              // idle matchers kept for reuse, per rule (bounded)
	keepFrom      map[*RuleSet][]int            // per older rule set, which of its rules each current rule keeps

	used  int64 // accounted bytes of the keys' matchers (budget.go)
	share int64 // this shard's part of the engine's memory budget
	blog  budgetLog
}

const maxSpare = 256

// newMatcher returns an idle matcher for rule ri, reusing one when it can.
func (s *shard) newMatcher(ri int) *nfa.Matcher {
	if l := s.spare[ri]; len(l) > 0 {
		m := l[len(l)-1]
		s.spare[ri] = l[:len(l)-1]
		return m
	}
	return s.rules.Rules[ri].Program.NewMatcher()
}

// dropMatcher recycles an idle matcher of rule ri.
func (s *shard) dropMatcher(ri int, m *nfa.Matcher) {
	if len(s.spare[ri]) < maxSpare {
		m.Reset()
		s.spare[ri] = append(s.spare[ri], m)
	}
}

func newShard(e *Engine, id int) *shard {
	s := &shard{e: e, id: id, in: make(chan msg, e.cfg.QueueSize), keys: map[string]*keyState{},
		parts: map[int32]*partClock{}, global: math.MinInt64, sc: nfa.NewScratch(),
		latency: e.stats.latency[id]}
	s.rules = e.rules
	s.sc.Memo = nfa.NewMemo(e.rules.Slots)
	s.sc.Retain = s.retain
	s.sc.Budget = e.cfg.Budget
	s.share = e.cfg.MemoryBudget / int64(e.cfg.Shards)
	s.spare = make([][]*nfa.Matcher, len(e.rules.Rules))
	return s
}

func (s *shard) send(ctx context.Context, m msg) error {
	select {
	case s.in <- m:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *shard) run(ctx context.Context) {
	for {
		select {
		case m, ok := <-s.in:
			if !ok {
				return
			}
			s.handle(m)
		case <-ctx.Done():
			return
		}
	}
}

func (s *shard) handle(m msg) {
	switch m.kind {
	case msgItems:
		for i := range m.batch.items {
			s.event(&m.batch.items[i])
		}
		s.e.putBatch(m.batch)
	case msgWatermark:
		s.observe(s.clock(m.part), m.wm, -1)
	case msgIdle:
		pc := s.clock(m.part)
		pc.idle = m.idle
		s.recomputeGlobal(-1)
		if pc.idle && pc.wm < s.global { // its keys now follow the engine watermark
			s.advance(pc, s.global, -1)
		}
	case msgFinal:
		s.global = math.MaxInt64
		for _, pc := range s.parts {
			s.advance(pc, math.MaxInt64, -1)
		}
	case msgBarrier:
		close(m.done)
	case msgInspect:
		m.fn(s)
		close(m.done)
	}
}

// partClock is a partition's time as one shard sees it, and the keys waiting on it.
type partClock struct {
	id     int32
	wm     int64 // the partition's watermark (max event time − out-of-orderness)
	idle   bool
	timers keyHeap // keys by matcher deadline
	pend   keyHeap // keys by earliest buffered event
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
	pc := s.parts[part]
	if pc == nil {
		pc = &partClock{id: part, wm: math.MinInt64}
		s.parts[part] = pc
	}
	return pc
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
	w, active, all := int64(math.MaxInt64), false, int64(math.MinInt64)
	for _, pc := range s.parts {
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
	for _, pc := range s.parts {
		if pc.idle && pc.wm < w {
			s.advance(pc, w, ingest)
		}
	}
}

// event handles one arriving event: late, matched now, or buffered until its partition's
// time passes it. Keys belong to one partition, so a key's order and lateness depend
// only on that partition: with zero out-of-orderness every in-order event is matched at
// once, whatever other partitions do.
func (s *shard) event(it *item) {
	pc := s.clock(it.part)
	old := pc.now(s.global)
	ev := it.ev
	if ev.Time < old {
		s.e.stats.late.Add(1)
		switch s.e.cfg.Late {
		case LateDeadLetter:
			s.e.stats.deadLetter(ReasonLate)
			s.e.dlq.DeadLetter(DeadLetter{Reason: ReasonLate, Error: "event time is behind the watermark", Raw: it.raw, Partition: int(it.part), Offset: it.offset})
		case LateProcess:
			s.match(s.keys[ev.Key], it)
		}
		s.observe(pc, it.wm, it.ingest)
		return
	}
	// Time moves first (closing windows and draining buffers up to the new watermark),
	// then the event is matched now if nothing of its key waits, or joins its buffer.
	s.observe(pc, it.wm, it.ingest)
	ks := s.keys[ev.Key]
	if ev.Time <= pc.now(s.global) && (ks == nil || len(ks.pending) == 0) {
		s.match(ks, it)
	} else {
		s.buffer(it)
	}
}

func (s *shard) key(k string, part int32) *keyState {
	ks := s.keys[k]
	if ks == nil {
		ks = &keyState{rs: s.rules, key: k, part: s.clock(part), m: make([]*nfa.Matcher, len(s.rules.Rules)), pendAt: math.MaxInt64, timerAt: math.MaxInt64,
			idx: len(s.list)}
		s.keys[k] = ks
		s.list = append(s.list, ks)
	}
	return ks
}

func (s *shard) buffer(it *item) {
	ks := s.key(it.ev.Key, it.part)
	cp := *it
	cp.ev = it.ev.Clone()
	cp.raw = nil
	cp.stable = true
	// insert keeping (time, seq) order; arrivals are mostly in order, so scan from the end
	i := len(ks.pending)
	for i > 0 && (ks.pending[i-1].ev.Time > cp.ev.Time || ks.pending[i-1].ev.Time == cp.ev.Time && ks.pending[i-1].ev.Seq > cp.ev.Seq) {
		i--
	}
	ks.pending = append(ks.pending, item{})
	copy(ks.pending[i+1:], ks.pending[i:])
	ks.pending[i] = cp
	if t := ks.pending[0].ev.Time; t < ks.pendAt {
		ks.pendAt = t
		ks.part.pend.push(t, ks)
	}
	s.touch(ks)
}

// advance moves a partition's keys to time w: buffered events at or before w are matched
// in order, then windows that closed by w fire. ingest is the engine clock of the event
// that moved time (-1 when none), for latency accounting.
func (s *shard) advance(pc *partClock, w int64, ingest int64) {
	for pc.pend.len() > 0 && pc.pend.minAt() <= w {
		at, ks := pc.pend.pop()
		if ks.released || at != ks.pendAt {
			continue
		}
		n := 0
		for n < len(ks.pending) && ks.pending[n].ev.Time <= w {
			n++
		}
		ready := ks.pending[:n:n]
		ks.pending = append([]item(nil), ks.pending[n:]...)
		ks.pendAt = math.MaxInt64
		if len(ks.pending) > 0 {
			ks.pendAt = ks.pending[0].ev.Time
			pc.pend.push(ks.pendAt, ks)
		}
		for i := range ready {
			// Look the key up each time: matching may release its state when it goes
			// idle, and the next event then starts afresh.
			s.match(s.keys[ks.key], &ready[i])
		}
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

// fire advances every matcher of ks to w.
func (s *shard) fire(ks *keyState, w int64, ingest int64) {
	s.current(ks)
	for ri, m := range ks.m {
		if m == nil {
			continue
		}
		m.Advance(w, s.sc, &s.res)
		s.emit(ri, ks.key, ingest)
		if m.Idle() {
			ks.m[ri] = nil
			ks.live--
			s.dropMatcher(ri, m)
		}
	}
	s.settle(ks)
}

// match feeds one in-order event to every rule's matcher for its key. A rule whose first
// step cannot take the event costs nothing for a key without live state.
func (s *shard) match(ks *keyState, it *item) {
	ev := it.ev
	if ks != nil {
		s.current(ks)
	}
	s.sc.Memo.Next()
	s.retIn, s.retOut = nil, nil
	if it.stable { // already the engine's own copy: matchers may keep it as is
		s.retIn, s.retOut = ev, ev
	}
	for ri, c := range s.rules.Rules {
		var m *nfa.Matcher
		if ks != nil {
			m = ks.m[ri]
		}
		if m == nil {
			if !c.Program.CanStart(ev, s.sc) {
				continue
			}
			if ks == nil {
				ks = s.key(ev.Key, it.part)
			}
			m = s.newMatcher(ri)
			ks.m[ri] = m
			ks.live++
		}
		m.Advance(ev.Time, s.sc, &s.res)
		m.Process(ev, s.sc, &s.res)
		s.emit(ri, ks.key, it.ingest)
		if m.Idle() {
			ks.m[ri] = nil
			ks.live--
			s.dropMatcher(ri, m)
		}
	}
	s.e.stats.matched.Add(1)
	if ks != nil {
		s.settle(ks)
	}
}

// settle reschedules the key's timer and releases the key when nothing is left.
func (s *shard) settle(ks *keyState) {
	s.touch(ks)
	s.account(ks)
	if ks.live == 0 && len(ks.pending) == 0 {
		s.release(ks)
		return
	}
	d := int64(math.MaxInt64)
	for _, m := range ks.m {
		if m != nil {
			d = min(d, m.Deadline())
		}
	}
	if d == math.MaxInt64 || d == ks.timerAt {
		return
	}
	if now := ks.part.now(s.global); d <= now { // already due: close the windows now
		s.fire(ks, now, -1)
		return
	}
	ks.timerAt = d
	ks.part.timers.push(d, ks)
}

// release forgets a key: out of the map and the list (the last key takes its place).
func (s *shard) release(ks *keyState) {
	ks.released = true
	s.forget(ks)
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
	s.retIn, s.retOut = ev, ev.Clone()
	return s.retOut
}
