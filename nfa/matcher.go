package nfa

import (
	"math"

	"github.com/cepd/cepd/event"
	"github.com/cepd/cepd/patterns"
)

// run is a partial match (Flink's ComputationState): the state it waits in, its last
// shared-buffer entry and version, and the first event that bounds its window and orders
// it. Its pointers come first (the version's length after them), so that the collector
// scans 32 bytes of a run array's last run, not 40.
//
// A run keeps no time of its own: its first event's is startEv's (startTs) and its latest
// event's its node's (prevTs), so a run is 40 bytes, not 56. Runs are most of a key's
// heap after its events (refund-exceeds-purchase keeps two for each capture it holds for
// 7 days), and the two times are read only where windows close and, for the first, to
// order runs that are not both in the start state.
type run struct {
	st      *state
	node    *node
	startEv *event.Event // nil for a run that took nothing (the start state)
	ver     dewey
}

// startTs returns the time of the run's first event, -1 for a run that took none (the
// start state, which no window bounds).
func (r *run) startTs() int64 {
	if r.startEv == nil {
		return -1
	}
	return r.startEv.Time
}

// prevTs returns the time of the last event the run took, its node's; startTs for a run
// that took none.
func (r *run) prevTs() int64 {
	if r.node == nil {
		return r.startTs()
	}
	return r.node.ev.Time
}

// Matcher holds one key's partial matches for one Program. Not safe for concurrent use.
type Matcher struct {
	prog      *Program
	partial   runHeap
	completed *runHeap // complete matches held back by a skip strategy (nil: none yet; held)
	deadline  int64    // earliest time Advance has work (see Deadline)
	waiting   uint64   // the states runs wait in (computeDeadline), set with deadline
	acct      account  // memory account (budget.go)
	flags     mflags   // cut, and what of its block a matcher made by NewMatcher may still use (block.go)
	frozen    bool     // partial and completed may be shared with a Snapshot: copy before writing
	expiry    expiry   // what Expires answers from the deadline on (computeDeadline), set with deadline
	stopped   bool     // the start run is gone (computeDeadline): the matcher is never idle again
}

// expiry is what Matcher.Expires(t) answers for t at or after the deadline, decided by
// computeDeadline from the runs it walks anyway, so that the engine's timers decide on a
// due matcher from its header without reading its runs (and their nodes and events). It
// lives in the matcher's padding (TestMatcherLayout: still 80 bytes).
type expiry uint8

const (
	expiryWalk  expiry = iota // unknown (runs close at different times): Expires walks the runs
	expiryAll                 // every run but the start run closes at the deadline, none reporting
	expiryNever               // a run would report, or never closes, or a match is held: false
)

// NewMatcher returns a matcher with no partial match. The matcher, its first run array
// (room for a second run: a matcher is made for an event that can start one) and its
// first shared-buffer entry are one allocation (block.go).
func (p *Program) NewMatcher() *Matcher {
	b := &block{m: Matcher{prog: p, deadline: math.MaxInt64, flags: inBlock | nodeFree}}
	m := &b.m
	b.runs[0] = run{st: p.start, ver: deweyOne}
	m.partial = b.runs[:1:len(b.runs)]
	m.acct.runDigits = 1
	return m
}

// Live returns the number of partial matches in progress (not counting the start state)
// plus complete matches held back by a skip strategy.
func (m *Matcher) Live() int {
	n := len(m.partial) + len(m.held())
	if !m.stopped { // (the start run is gone once a run from it reached the stop state)
		n--
	}
	return n
}

// Idle reports whether the matcher holds nothing but its start state, so that it can be
// discarded and later recreated without changing any result. A matcher whose start run
// is gone (stopped) is never idle: its one run is another, and a recreated matcher would
// have a start run it no longer has.
func (m *Matcher) Idle() bool { return len(m.partial) == 1 && !m.stopped && len(m.held()) == 0 }

// Scratch is per-goroutine working memory for matchers; one per shard, reused for every
// key and rule. Memo, if set, is handed to conditions.
type Scratch struct {
	Memo *Memo
	// Retain, if set, is called when a matcher stores an event in its shared buffer and
	// returns the pointer to store: the caller may feed events from reusable memory and
	// copy only the ones a matcher keeps. It must return the same pointer for the same
	// event until the next event is processed.
	Retain func(*event.Event) *event.Event
	// Budget bounds what each matcher run with this scratch holds (zero fields: the
	// defaults); see Budget.
	Budget Budget
	// Aux is what the caller hands the conditions of the matcher it runs next, through
	// EvalContext.Aux (the rules package: a key's aggregate values). The matcher never
	// reads it.
	Aux any

	ctx      EvalContext
	edges    []outEdge
	stack    []*state
	fstack   []*state
	next     []run
	newRuns  runHeap
	potent   runHeap
	nodes    []*node
	exStack  []extraction
	leafGen  uint32
	leafSeen []uint32
	leafVal  []bool
	// hint is the states whose runs hintEv may change for a matcher of hintProg (Hint).
	hintProg *Program
	hintEv   *event.Event
	hint     uint64
	probe    bool // computeGuards: every leaf is false, and recorded in probed
	probed   []int
	fpStack  []fpEntry // firstPath
	fpBuf    []*node
	fpOut    []*node
	oldNodes []*node // budget.go: the entries of the runs that left the heaps during the call
	relStack []*node
	cutIdx   []int
	eff      Budget // Budget with defaults, computed from effOf (budget.go)
	effOf    Budget
	effOK    bool
}

type outEdge struct {
	e   *edge
	src *state
}

// NewScratch returns scratch memory for matchers.
func NewScratch() *Scratch { return &Scratch{} }

// ForgetPrograms drops the scratch's references to the programs it served: a step
// leaves its decision edges and state stacks beyond their lengths (never read, and not
// cleared on the hot path: they are the program's), which would keep a program the
// caller has dropped (a reloaded rule set) from the collector; so would the evaluation
// context's last matcher and run (set again by every step). Call it when the programs
// change; the next step grows the lists again.
func (sc *Scratch) ForgetPrograms() {
	sc.ctx.m, sc.ctx.run = nil, nil
	clear(sc.edges[:cap(sc.edges)])
	clear(sc.stack[:cap(sc.stack)])
	clear(sc.fstack[:cap(sc.fstack)])
}

// Process feeds one event to the matcher. The caller advances time first (Advance) when
// windows matter; Process itself does not look at the clock. Matches found are appended
// to res.
//
// Runs waiting in a state the event's guards rule out (guard.go) are carried over as they
// are: their edges are not visited, their shared-buffer entries not touched (the account
// is kept incrementally, settle), and they are offered to the new heap in the same order
// as every other run, so the heap's layout, the bound on runs and the emission order are
// those of the reference path.
func (m *Matcher) Process(ev *event.Event, sc *Scratch, res *Result) {
	skip := m.ruledOutStates(ev, sc)
	if skip != 0 && skip == m.waiting && !m.overBudget(sc) {
		return // every state a run waits in is ruled out: nothing changes
	}
	sc.nodes = sc.nodes[:0]
	sc.oldNodes = sc.oldNodes[:0]
	newRuns := sc.newRuns[:0]
	potential := sc.potent[:0]
	max := m.prog.opts.MaxRuns
	for i := range m.partial {
		cs := &m.partial[i]
		if skip>>min(cs.st.id, 63)&1 != 0 { // what computeNext would give: cs unchanged
			if len(newRuns) >= max && cs.st.typ != stStart {
				res.Dropped++
				sc.leave(cs)
				continue
			}
			newRuns.offer(cs)
			continue
		}
		sc.leave(cs)
		next := m.computeNext(cs, ev, sc, sc.next[:0])
		m.offerNext(next, &newRuns, &potential, res)
		clearRuns(next)
		sc.next = next[:0]
	}
	if !m.prog.opts.NoGuards && len(sc.nodes) == 0 && m.unchanged(newRuns, potential, sc) {
		return
	}
	m.endStep(newRuns, potential, sc, sc.nodes, res)
	clearNodes(sc.nodes)
}

// unchanged ends a Process step that left every run as it was: the runs offered to
// newRuns are m.partial's, in the same places (a run carried over or computed to itself
// is offered in heap order, so an unchanged heap is rebuilt identically), and the step
// completed nothing, made no entry and holds no complete match back. The matcher then
// keeps its state as is (a frozen one keeps sharing its array with its snapshot, no copy)
// and the account's references are put back: every run computeNext visited listed its
// entry to leave (sc.leave) and its unchanged copy took a reference to the same entry
// (enter), so the two cancel. endStep would give the same state: setPartial copies equal
// runs, the deadline and waiting states follow from the runs, and settle finds the same
// account. settle would also enforce the budget: the step is not taken when the matcher
// is over it (overBudget). Process asks only after a step that made no entry (sc.nodes
// empty: the test is its, so a step that made one makes no call).
func (m *Matcher) unchanged(newRuns, potential runHeap, sc *Scratch) bool {
	if len(potential) != 0 || len(m.held()) != 0 || len(newRuns) != len(m.partial) {
		return false
	}
	for i := range newRuns {
		if newRuns[i] != m.partial[i] {
			return false
		}
	}
	if m.overBudget(sc) {
		return false
	}
	for i, n := range sc.oldNodes {
		n.refs--
		sc.oldNodes[i] = nil
	}
	sc.oldNodes = sc.oldNodes[:0]
	clearRuns(newRuns)
	sc.newRuns = newRuns[:0]
	return true
}

// offerNext offers what computeNext gave for one run: complete matches to potential, the
// rest to newRuns (none when the run reached the stop state), within the bound on runs.
// Each run offered takes its reference to its entry (settle).
func (m *Matcher) offerNext(next []run, newRuns, potential *runHeap, res *Result) {
	discard := false
	for j := range next {
		switch next[j].st.typ {
		case stFinal:
			potential.offer(&next[j])
			enter(&next[j])
		case stStop:
			discard = true
		}
	}
	if discard {
		return
	}
	max := m.prog.opts.MaxRuns
	for j := range next {
		if t := next[j].st.typ; t == stFinal || t == stStop {
			continue
		}
		if len(*newRuns) >= max && next[j].st.typ != stStart {
			res.Dropped++
			continue
		}
		newRuns.offer(&next[j])
		enter(&next[j])
	}
}

// Advance moves the matcher's clock to t: partial matches whose window has closed are
// discarded (reported in res.Timeouts when the program asks for timeouts), and partial
// matches that only waited for a trailing notFollowedBy window complete.
func (m *Matcher) Advance(t int64, sc *Scratch, res *Result) {
	p := m.prog
	if t < m.deadline {
		return
	}
	// Advance only drops runs (or moves them to the completed heap), so the account
	// unreferences the dropped runs' entries and touches no other (settle).
	sc.oldNodes = sc.oldNodes[:0]
	newRuns := sc.newRuns[:0]
	potential := sc.potent[:0]
	for i := range m.partial {
		cs := &m.partial[i]
		prevTO, firstTO := p.closed(cs, t)
		if !prevTO && !firstTO {
			newRuns.offer(cs)
			continue
		}
		if cs.st.typ == stPending {
			potential.offer(cs)
			continue
		}
		if p.opts.Timeouts {
			var to Timeout
			if prevTO {
				to.At = cs.prevTs() + cs.st.window
			} else {
				to.At = cs.startTs() + p.window
			}
			if paths := sc.paths(cs.node, cs.ver, 1); len(paths) > 0 {
				to.Match = p.match(paths[0])
			}
			res.Timeouts = append(res.Timeouts, to)
		}
		sc.leave(cs)
	}
	m.endStep(newRuns, potential, sc, nil, res)
}

// closed reports, for Advance and Expires, whether run cs's windows have closed by t:
// the window since its previous event (its state's) and the rule's since its first. A
// start run has none.
func (p *Program) closed(cs *run, t int64) (prev, first bool) {
	if cs.st.typ == stStart {
		return false, false
	}
	return cs.st.window > 0 && t-cs.prevTs() >= cs.st.window, p.window > 0 && t-cs.startTs() >= p.window
}

// Expires reports whether Advance(t) would leave the matcher idle (Idle) with nothing to
// report: no complete match held back, and of the runs whose window closes by t none
// waiting in a pending state (it would complete) and none reported as a timeout (timeouts
// asked for), with one run left. (A held match whose entries are gone would also leave
// nothing: Expires says false, and the caller advances the matcher.) The caller may then
// discard the matcher (or Reset it) instead of calling Advance: the runs' shared-buffer
// entries are not released from the account, which the matcher then no longer needs
// (another matcher sharing them recounts first: Clone). Before the deadline it reads
// the matcher's header alone (Idle); at or after it, the answer computeDeadline left
// (m.expiry) when it could decide, else the runs as Advance does, and nothing else.
func (m *Matcher) Expires(t int64) bool {
	if t < m.deadline {
		return m.Idle()
	}
	switch m.expiry {
	case expiryAll:
		return true
	case expiryNever:
		return false
	}
	return m.expiresWalk(t)
}

// expiresWalk is Expires for t at or after the deadline, from the runs: the slow,
// obviously correct path (TestExpiresCachedMatchesWalk holds m.expiry to it).
func (m *Matcher) expiresWalk(t int64) bool {
	p := m.prog
	if len(m.held()) > 0 {
		return false
	}
	kept, start := 0, false
	for i := range m.partial {
		cs := &m.partial[i]
		if prev, first := p.closed(cs, t); !prev && !first {
			kept++ // as Advance keeps it
			start = start || cs.st.typ == stStart
			continue
		}
		if cs.st.typ == stPending || p.opts.Timeouts {
			return false
		}
	}
	return kept == 1 && start // (Idle: the run kept is the start run)
}

// endStep ends a Process or Advance step: the runs it kept (newRuns) and the completed
// ones waiting for earlier runs (potential) become the matcher's state, matches are
// emitted, the scratch heaps are handed back to sc, and the buffer account settles the
// nodes the step made (made; nil when it made none).
func (m *Matcher) endStep(newRuns, potential runHeap, sc *Scratch, made []*node, res *Result) {
	m.ownCompleted()
	if len(potential) > 0 || len(m.held()) > 0 { // else nothing to release or prune
		m.processMatches(potential, &newRuns, sc, res)
	}
	m.setPartial(newRuns)
	clearRuns(newRuns)
	clearRuns(potential)
	sc.newRuns, sc.potent = newRuns[:0], potential[:0]
	m.deadline = m.computeDeadline()
	m.settle(sc, made, res)
}

// Deadline returns the earliest event time at which Advance would change something
// (a window closing), or math.MaxInt64 when no window is pending. Advance with an
// earlier time returns at once.
func (m *Matcher) Deadline() int64 { return m.deadline }

// computeDeadline returns the matcher's deadline (Deadline) and sets m.waiting, the set
// of states its runs wait in (Process's guards, guard.go): bit i for state i. Bit 63 stands
// for every state with a larger id, and is also set when a completed match is held back
// or the runs exceed the bound (Process could then change something whatever the event).
// 0 means unknown. Either way bit 63 or 0 is never ruled out. It also sets m.expiry, what
// Expires answers from the deadline on, when the runs hold the start run (the one run
// Expires wants kept; it is gone when the start state stopped, and Expires then walks):
// every other run closes at the deadline (each closes at the earlier of its two windows'
// ends) and none would report (a pending state completes, a timeout is reported when
// asked for): true; a held match, a run that would report or one no window closes: false
// (it is kept beside the start run, or reports, at any time). One walk of the runs finds
// all three.
func (m *Matcher) computeDeadline() int64 {
	var w uint64
	if len(m.held()) > 0 || len(m.partial) > m.prog.opts.MaxRuns {
		w = 1 << 63
	}
	d, last := int64(math.MaxInt64), int64(math.MinInt64)
	never, starts := len(m.held()) > 0, 0
	p := m.prog
	for i := range m.partial {
		cs := &m.partial[i]
		w |= 1 << min(cs.st.id, 63)
		if cs.st.typ == stStart {
			starts++
			continue
		}
		c, open := int64(math.MaxInt64), true
		if cs.st.window > 0 {
			c, open = cs.prevTs()+cs.st.window, false
		}
		if p.window > 0 {
			c, open = min(c, cs.startTs()+p.window), false
		}
		d, last = min(d, c), max(last, c)
		never = never || open || cs.st.typ == stPending || p.opts.Timeouts
	}
	m.waiting, m.stopped = w, starts == 0
	switch {
	case starts == 0: // the start state stopped: never idle again (Idle)
		m.expiry = expiryNever
	case starts != 1: // the run kept may be any: walk
		m.expiry = expiryWalk
	case never:
		m.expiry = expiryNever
	case last <= d: // every run closes at d (or there is none but the start run)
		m.expiry = expiryAll
	default:
		m.expiry = expiryWalk
	}
	return d
}

func (m *Matcher) computeNext(cs *run, ev *event.Event, sc *Scratch, out []run) []run {
	ctx := &sc.ctx
	ctx.Event, ctx.Memo, ctx.m, ctx.sc = ev, sc.Memo, m, sc
	ctx.reset(cs)
	sc.newLeafGen(len(m.prog.leaves))

	// The decision graph: every take / ignore edge reachable through proceed edges
	// whose conditions hold.
	edges := sc.edges[:0]
	stack := append(sc.stack[:0], cs.st)
	takes, ignores := 0, 0
	for len(stack) > 0 {
		s := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for i := range s.edges {
			e := &s.edges[i]
			if !m.eval(e.cond, sc) {
				continue
			}
			switch e.act {
			case actProceed:
				stack = append(stack, e.target)
			case actIgnore:
				edges = append(edges, outEdge{e, s})
				if e.target != cs.st {
					ignores++
				}
			case actTake:
				edges = append(edges, outEdge{e, s})
				takes++
			}
		}
	}
	sc.stack = stack[:0]

	start := cs.st.typ == stStart
	takeToVisit := max(0, takes-1)
	ignoreToVisit := ignores
	takeToSkip := max(0, takes-1)
	for _, oe := range edges {
		e := oe.e
		switch e.act {
		case actIgnore:
			if start {
				continue
			}
			var ver dewey
			if e.target == cs.st {
				ver = cs.ver.increase(selfIncrease(ignores, takes))
			} else {
				ver = cs.ver.increaseAndAddStage(takeToSkip + ignoreToVisit)
				ignoreToVisit--
			}
			out = append(out, run{st: e.target, node: cs.node, ver: ver, startEv: cs.startEv})
		case actTake:
			cur := cs.ver.increase(takeToVisit)
			next := cur.addStage()
			takeToVisit--
			n := sc.put(m, oe.src.step, ev, cs.node, cur)
			startEv := cs.startEv
			if start {
				startEv = n.ev // the retained copy, never the caller's memory
			}
			out = append(out, run{st: e.target, node: n, ver: next, startEv: startEv})
			if f := m.finalAfterProceed(e.target, sc); f != nil {
				out = append(out, run{st: f, node: n, ver: next, startEv: startEv})
			}
		}
	}
	sc.edges = edges[:0] // (not cleared: an edge and its state are the program's, as sc.stack's are)
	if start {
		out = append(out, run{st: cs.st, ver: cs.ver.increase(selfIncrease(ignores, takes))})
	}
	return out
}

func selfIncrease(ignores, takes int) int {
	if takes == 0 && ignores == 0 {
		return 0
	}
	return ignores + max(1, takes)
}

// finalAfterProceed returns the final state if one is reachable from s through proceed
// edges whose conditions hold for the current event (evaluated against the partial match
// before it took the event, as Flink does). A state whose walk evaluates nothing has its
// answer from Compile (proceed.go).
func (m *Matcher) finalAfterProceed(s *state, sc *Scratch) *state {
	if s.staticProceed {
		return s.afterProceed
	}
	stack := append(sc.fstack[:0], s)
	for len(stack) > 0 {
		cur := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for i := range cur.edges {
			e := &cur.edges[i]
			if e.act != actProceed || !m.eval(e.cond, sc) {
				continue
			}
			if e.target.typ == stFinal {
				sc.fstack = stack[:0]
				return e.target
			}
			stack = append(stack, e.target)
		}
	}
	sc.fstack = stack[:0]
	return nil
}

func (sc *Scratch) newLeafGen(n int) {
	if len(sc.leafSeen) < n {
		sc.leafSeen = make([]uint32, n+8)
		sc.leafVal = make([]bool, n+8)
	}
	sc.leafGen++
	if sc.leafGen == 0 {
		clear(sc.leafSeen)
		sc.leafGen = 1
	}
}

// eval evaluates an edge condition; each leaf is evaluated at most once per run and
// event. A true condition (most ignore edges) is answered without the call.
func (m *Matcher) eval(c *cond, sc *Scratch) bool { return c.op == opTrue || m.prog.eval(c, sc) }

func (p *Program) eval(c *cond, sc *Scratch) bool {
	switch c.op {
	case opTrue:
		return true
	case opNot:
		return !p.eval(c.a, sc)
	case opAnd:
		return p.eval(c.a, sc) && p.eval(c.b, sc)
	}
	i := c.leaf
	if sc.probe {
		sc.probed = append(sc.probed, i)
		return false
	}
	if sc.leafSeen[i] == sc.leafGen {
		return sc.leafVal[i]
	}
	v := p.leaves[i].c.Eval(&sc.ctx)
	sc.leafSeen[i] = sc.leafGen
	sc.leafVal[i] = v
	return v
}

// processMatches releases complete matches, applying the after-match skip strategy
// (Flink's processMatchesAccordingToSkipStrategy). Matches that complete together leave
// in the order of their first events. With a skip strategy and release in_start_order a
// match also waits, as in Flink, until no partial match started before it; with
// release at_completion (the default) it leaves at once. Either way a released match
// prunes only runs that started at or after its own first event (see prune), which in
// start order is every run there is.
func (m *Matcher) processMatches(potential runHeap, partial *runHeap, sc *Scratch, res *Result) {
	completed := m.heldRef() // endStep calls it only with something to offer or held
	for i := range potential {
		completed.offer(&potential[i])
	}
	skip := m.prog.skip.Kind != patterns.NoSkip
	startOrder := skip && m.prog.release == patterns.InStartOrder
	for len(*completed) > 0 {
		earliest := &(*completed)[0]
		if startOrder && len(*partial) > 0 && cmpRuns(earliest, &(*partial)[0]) > 0 {
			break
		}
		done := completed.poll()
		sc.leave(&done)
		limit := 1 // the match is the first path; a skip strategy prunes by all of them
		if skip {
			limit = maxPaths
		}
		paths := sc.paths(done.node, done.ver, limit)
		if len(paths) == 0 {
			continue
		}
		if skip {
			m.prune(partial, &done, paths, sc)
			m.prune(completed, &done, paths, sc)
		}
		res.Matches = append(res.Matches, m.prog.match(paths[0]))
	}
}

// prune discards the runs the skip strategy rules out after the match done, whose event
// sequences are paths: the runs whose first event is at or after done's first event and
// before the strategy's skip point (at or before it, for to_next and past_last_event).
// The skip point is the match's earliest event (to_next), its latest (past_last_event),
// or the first or last event of the named step (to_first, to_last; the latest such event
// over the paths, and no pruning when the step took nothing). Runs that started before
// done are never pruned: in start order there are none, at completion they go on and
// are released when they complete.
func (m *Matcher) prune(h *runHeap, done *run, paths [][]*node, sc *Scratch) {
	sk := m.prog.skip
	var pt int64
	var ps uint64
	found := false
	better := func(ev *event.Event, wantMax bool) {
		if !found {
			pt, ps, found = ev.Time, ev.Seq, true
			return
		}
		c := cmpEvents(ev.Time, ev.Seq, pt, ps)
		if (wantMax && c > 0) || (!wantMax && c < 0) {
			pt, ps = ev.Time, ev.Seq
		}
	}
	step := -1
	if sk.Kind == patterns.SkipToFirst || sk.Kind == patterns.SkipToLast {
		step = m.prog.stepIdx[sk.Step]
	}
	for _, path := range paths {
		switch sk.Kind {
		case patterns.SkipToNext: // the match's first event (Flink: the least of each step's first)
			for _, n := range path {
				better(n.ev, false)
			}
		case patterns.SkipPastLastEvent:
			for _, n := range path {
				better(n.ev, true)
			}
		case patterns.SkipToFirst, patterns.SkipToLast:
			var pick *node
			for _, n := range path {
				if int(n.step) == step {
					if pick == nil || sk.Kind == patterns.SkipToLast {
						pick = n
					}
				}
			}
			if pick != nil {
				better(pick.ev, true)
			}
		}
	}
	if !found {
		return
	}
	inclusive := sk.Kind == patterns.SkipToNext || sk.Kind == patterns.SkipPastLastEvent
	h.removeIf(func(r *run) bool {
		if r.startEv == nil || cmpRuns(r, done) < 0 {
			return false
		}
		c := cmpEvents(r.startEv.Time, r.startEv.Seq, pt, ps)
		drop := c < 0 || (inclusive && c == 0)
		if drop {
			sc.leave(r)
		}
		return drop
	})
}

// Reset returns an idle matcher (Idle() is true) to its initial state so it can be reused
// for another key of the same program, keeping its memory.
func (m *Matcher) Reset() {
	m.keepBlock()
	if m.frozen { // the arrays belong to a snapshot too
		m.partial, m.completed, m.frozen = nil, nil, false
	}
	clearRuns(m.partial)
	m.partial = append(m.partial[:0], run{st: m.prog.start, ver: deweyOne})
	if m.ownNode() != nil { // idle: none of its runs reaches a node
		m.freeNode()
	}
	if h := m.completed; h != nil {
		clearRuns(*h)
		*h = (*h)[:0]
	}
	m.deadline = math.MaxInt64
	m.waiting, m.expiry, m.stopped = 0, expiryWalk, false
	m.acct, m.flags = account{runDigits: 1}, m.flags&^flagCut
}
