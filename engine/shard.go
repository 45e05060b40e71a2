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
	key      string
	m        []*nfa.Matcher
	live     int
	pending  []item // sorted by (time, seq); events are retained copies
	pendAt   int64  // earliest pending time registered in the pending heap
	timerAt  int64  // deadline registered in the timer heap
	released bool
}

type shard struct {
	e    *Engine
	id   int
	in   chan msg
	keys map[string]*keyState

	timers keyHeap // by matcher deadline
	pend   keyHeap // by earliest pending event
	pwm    map[int32]int64
	pidle  map[int32]bool
	wm     int64
	sc     *nfa.Scratch
	res    nfa.Result

	retIn, retOut *event.Event // Retain cache for the event being matched
	latency       *histogram
}

func newShard(e *Engine, id int) *shard {
	s := &shard{e: e, id: id, in: make(chan msg, e.cfg.QueueSize), keys: map[string]*keyState{},
		pwm: map[int32]int64{}, pidle: map[int32]bool{}, wm: math.MinInt64, sc: nfa.NewScratch(),
		latency: e.stats.latency[id]}
	s.sc.Memo = nfa.NewMemo(e.rules.Slots)
	s.sc.Retain = s.retain
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
		old := s.wm
		s.observe(m.part, m.wm)
		if s.wm > old {
			s.advance(s.wm, -1)
		}
	case msgIdle:
		old := s.wm
		s.pidle[m.part] = m.idle
		s.recompute()
		if s.wm > old {
			s.advance(s.wm, -1)
		}
	case msgFinal:
		s.wm = math.MaxInt64
		s.advance(math.MaxInt64, -1)
	case msgBarrier:
		close(m.done)
	case msgInspect:
		m.fn(s)
		close(m.done)
	}
}

func (s *shard) observe(part int32, wm int64) {
	if old, ok := s.pwm[part]; ok && old >= wm {
		return
	}
	s.pwm[part] = wm
	s.recompute()
}

// recompute sets the shard's watermark to the minimum over active partitions (the
// maximum when all are idle). It never goes back.
func (s *shard) recompute() {
	w, active := int64(math.MaxInt64), false
	all := int64(math.MinInt64)
	for p, pw := range s.pwm {
		all = max(all, pw)
		if !s.pidle[p] {
			w, active = min(w, pw), true
		}
	}
	if !active {
		w = all
	}
	if w > s.wm {
		s.wm = w
	}
}

// event handles one arriving event: late, matched now, or buffered until the watermark
// passes it.
func (s *shard) event(it *item) {
	old := s.wm
	s.observe(it.part, it.wm)
	ev := it.ev
	switch {
	case ev.Time < old:
		s.e.stats.late.Add(1)
		switch s.e.cfg.Late {
		case LateDeadLetter:
			s.e.stats.deadLetter(ReasonLate)
			s.e.dlq.DeadLetter(DeadLetter{Reason: ReasonLate, Error: "event time is behind the watermark", Raw: it.raw, Partition: int(it.part), Offset: it.offset})
		case LateProcess:
			s.match(s.keys[ev.Key], it)
		}
	default:
		// Matched now only when nothing of the key waits: otherwise it joins the key's
		// buffer, which the watermark drains in event-time order.
		ks := s.keys[ev.Key]
		if ev.Time <= s.wm && (ks == nil || len(ks.pending) == 0) {
			s.match(ks, it)
		} else {
			s.buffer(it)
		}
	}
	if s.wm > old {
		s.advance(s.wm, it.ingest)
	}
}

func (s *shard) key(k string) *keyState {
	ks := s.keys[k]
	if ks == nil {
		ks = &keyState{key: k, m: make([]*nfa.Matcher, len(s.e.rules.Rules)), pendAt: math.MaxInt64, timerAt: math.MaxInt64}
		s.keys[k] = ks
	}
	return ks
}

func (s *shard) buffer(it *item) {
	ks := s.key(it.ev.Key)
	cp := *it
	cp.ev = it.ev.Clone()
	cp.raw = nil
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
		s.pend.push(t, ks)
	}
}

// advance moves the shard's time to w: buffered events at or before w are matched in
// order, then windows that closed by w fire. ingest is the engine clock of the event that
// moved the watermark (-1 when none), for latency accounting.
func (s *shard) advance(w int64, ingest int64) {
	for s.pend.len() > 0 && s.pend.minAt() <= w {
		at, ks := s.pend.pop()
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
			s.pend.push(ks.pendAt, ks)
		}
		for i := range ready {
			// Look the key up each time: matching may release its state when it goes
			// idle, and the next event then starts afresh.
			s.match(s.keys[ks.key], &ready[i])
		}
	}
	for s.timers.len() > 0 && s.timers.minAt() <= w {
		at, ks := s.timers.pop()
		if ks.released || at != ks.timerAt {
			continue
		}
		ks.timerAt = math.MaxInt64
		s.fire(ks, w, ingest)
	}
}

// fire advances every matcher of ks to w.
func (s *shard) fire(ks *keyState, w int64, ingest int64) {
	for ri, m := range ks.m {
		if m == nil {
			continue
		}
		m.Advance(w, s.sc, &s.res)
		s.emit(ri, ks.key, ingest)
		if m.Idle() {
			ks.m[ri] = nil
			ks.live--
		}
	}
	s.settle(ks)
}

// match feeds one in-order event to every rule's matcher for its key. A rule whose first
// step cannot take the event costs nothing for a key without live state.
func (s *shard) match(ks *keyState, it *item) {
	ev := it.ev
	s.sc.Memo.Next()
	s.retIn, s.retOut = nil, nil
	for ri, c := range s.e.rules.Rules {
		var m *nfa.Matcher
		if ks != nil {
			m = ks.m[ri]
		}
		if m == nil {
			if !c.Program.CanStart(ev, s.sc) {
				continue
			}
			if ks == nil {
				ks = s.key(ev.Key)
			}
			m = c.Program.NewMatcher()
			ks.m[ri] = m
			ks.live++
		}
		m.Advance(ev.Time, s.sc, &s.res)
		m.Process(ev, s.sc, &s.res)
		s.emit(ri, ks.key, it.ingest)
		if m.Idle() {
			ks.m[ri] = nil
			ks.live--
		}
	}
	s.e.stats.matched.Add(1)
	if ks != nil {
		s.settle(ks)
	}
}

// settle reschedules the key's timer and releases the key when nothing is left.
func (s *shard) settle(ks *keyState) {
	if ks.live == 0 && len(ks.pending) == 0 {
		ks.released = true
		delete(s.keys, ks.key)
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
	if d <= s.wm { // already due: close the windows now
		s.fire(ks, s.wm, -1)
		return
	}
	ks.timerAt = d
	s.timers.push(d, ks)
}

// retain copies an event a matcher keeps out of the reusable batch memory, once.
func (s *shard) retain(ev *event.Event) *event.Event {
	if ev == s.retIn {
		return s.retOut
	}
	s.retIn, s.retOut = ev, ev.Clone()
	return s.retOut
}
