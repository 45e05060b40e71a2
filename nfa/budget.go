package nfa

import (
	"cmp"
	"math"
	"slices"
	"unsafe"
)

// Budget bounds the memory one matcher (one key and one rule) holds. A zero field takes
// its default (DefaultBudget). The limits are checked after every Process and Advance
// against an exact account of the matcher's state (see Usage); what exceeds them is cut
// (see Matcher.enforce): the result depends only on the matcher's state and the event, so
// replays, shard counts and restarts give the same cuts.
//
// Why a bound on runs (Options.MaxRuns) is not enough: every event a run takes appends a
// digit to its Dewey version, and every shared-buffer edge stores a full copy of the
// version it was made with. A run that has taken L events holds versions of about L
// digits, R such runs add about R·L digits per event, and every edge stays reachable as
// long as its entry is (edges of dead runs included: a newer run's entry for the same
// event and step keeps them). Two greedy `1+` loops before a step that never matches
// give R ≈ L ≈ the events seen: memory grows with the cube of the key's event count while
// the run count stays small. Digits, entries and bytes are therefore bounded directly.
type Budget struct {
	// Runs bounds the partial matches (and held complete matches) kept after an event.
	// Options.MaxRuns is a second, coarser guard inside one event: the partial matches
	// one event would create beyond it are not created.
	Runs int
	// Nodes bounds the shared-buffer entries reachable from live runs.
	Nodes int
	// Digits bounds the Dewey digits held: live runs' versions and the versions of the
	// reachable entries' edges. A matcher holds it to at most MaxBudgetDigits whatever
	// is asked: the account counts in int32, and the digits bound its every count.
	Digits int
	// Bytes bounds the accounted bytes (Usage.Bytes).
	Bytes int
	// VersionLen bounds one run's version (about one digit per event the run took): a
	// run whose version grows longer is cut. A checkpoint cannot store longer versions
	// (the state package refuses them), so it must stay at or below 4096.
	VersionLen int
}

// Default budget per key and rule. The reference workload's largest key and rule holds 37
// partial matches, 19 entries, 280 digits and 4.4 KB (README, "Memory budget"): these
// leave 14 times the runs and two to three orders of magnitude of the rest, while keeping
// what one event of a key held at its budget costs to about 0.1 ms (BenchmarkBudgetCapped).
const (
	DefaultBudgetRuns       = 1 << 9
	DefaultBudgetNodes      = 1 << 14
	DefaultBudgetDigits     = 1 << 15
	DefaultBudgetBytes      = 2 << 20
	DefaultBudgetVersionLen = 4096
)

// MaxBudgetDigits is the largest Digits budget a key and rule may be given: a
// checkpoint holds all of a key's rules and the state package decodes at most 1<<24
// digits per key (16 rules at this budget).
const MaxBudgetDigits = 1 << 20

// DefaultBudget returns the default budget per key and rule.
func DefaultBudget() Budget {
	return Budget{Runs: DefaultBudgetRuns, Nodes: DefaultBudgetNodes, Digits: DefaultBudgetDigits, Bytes: DefaultBudgetBytes, VersionLen: DefaultBudgetVersionLen}
}

// WithDefaults returns b with zero (or negative) fields set to the defaults.
func (b Budget) WithDefaults() Budget {
	d := DefaultBudget()
	if b.Runs <= 0 {
		b.Runs = d.Runs
	}
	if b.Nodes <= 0 {
		b.Nodes = d.Nodes
	}
	if b.Digits <= 0 {
		b.Digits = d.Digits
	}
	if b.Bytes <= 0 {
		b.Bytes = d.Bytes
	}
	if b.VersionLen <= 0 {
		b.VersionLen = d.VersionLen
	}
	return b
}

// Usage is the exact account of what a matcher holds. It is kept incrementally (each
// shared-buffer entry counts the edges and runs that reach it, as Flink's SharedBuffer
// locks do) and equals what a walk of the live state finds (Footprint).
type Usage struct {
	Runs   int // partial matches plus held complete matches (the start state excluded)
	Nodes  int // shared-buffer entries reachable from live runs
	Edges  int // edges of those entries
	Digits int // Dewey digits of live runs' versions and of those edges' versions
	Bytes  int // the accounted bytes: matcher, runs, entries, edges and digits (not the events)
}

const (
	runBytes  = int(unsafe.Sizeof(run{}))
	nodeBytes = int(unsafe.Sizeof(node{}))
	edgeBytes = int(unsafe.Sizeof(bufEdge{}))
	mBytes    = int(unsafe.Sizeof(Matcher{}))
)

// account is a matcher's running Usage: the shared buffer's part is kept incrementally,
// the runs' part recomputed after every call (the call visits every run anyway). The
// counts are int32, so that a Matcher fits the runtime's 96-byte size class (it is held
// per key and rule): the budget bounds them far below. After a call every count is at
// most the digits (a run's version and an edge's have one at least, an entry an edge),
// at most MaxBudgetDigits (2^20; Scratch.budget caps it); what one call adds is at most
// the digits of the runs it started with times the edges one state reaches (a few
// hundred at MaxSteps), below 2^29.
type account struct {
	nodes, edges, edgeDigits int32 // reachable shared-buffer entries
	runs, runDigits          int32
}

// Usage returns the matcher's exact memory account.
func (m *Matcher) Usage() Usage {
	a := &m.acct
	u := Usage{Runs: int(a.runs), Nodes: int(a.nodes), Edges: int(a.edges), Digits: int(a.edgeDigits) + int(a.runDigits)}
	u.Bytes = usageBytes(u.Runs, u.Nodes, u.Edges, u.Digits)
	return u
}

// usageBytes returns Usage.Bytes for the other counts of a Usage.
func usageBytes(runs, nodes, edges, digits int) int {
	return mBytes + (runs+1)*runBytes + nodes*nodeBytes + (edges-nodes)*edgeBytes + 4*digits
}

// WasCut reports whether the budget has cut this matcher's partial matches since it was
// created (or last Reset): the key and rule are marked.
func (m *Matcher) WasCut() bool { return m.flags&flagCut != 0 }

// exceeded reports whether a matcher whose longest run version has longest digits and
// whose account is a is over the budget: the test after every call (settle), which the
// steps that change nothing make too (Matcher.overBudget). It is over's test (is any
// limit exceeded) made on the account, without building its Usage
// (TestBudgetExceededIsOver holds the two together). Written as over's switch on the
// counts (overCounts, bytes computed first) it cost about 100 instructions an event more
// (FraudPaths/fast 44,276 and 44,281 against 44,198 and 44,154).
func (b *Budget) exceeded(longest int, a *account) bool {
	runs, nodes, digits := int(a.runs), int(a.nodes), int(a.edgeDigits)+int(a.runDigits)
	return longest > b.VersionLen || runs > b.Runs || nodes > b.Nodes || digits > b.Digits ||
		usageBytes(runs, nodes, int(a.edges), digits) > b.Bytes
}

// overBudget reports whether m, as it stands between calls, is over the budget of sc. It
// can be only when the budget is not the one its last call ran under: a matcher restored
// from a checkpoint taken under a larger budget, or run with a scratch whose budget was
// lowered. The full step cuts such a matcher at its next event, whatever the event does
// (settle), so Process takes none of its shortcuts for a step that changes nothing
// (every waiting state ruled out, Matcher.unchanged) while this is true. The runs are
// walked for the longest version only when all their digits together exceed the bound.
func (m *Matcher) overBudget(sc *Scratch) bool {
	b := sc.budget()
	longest := 0
	if int(m.acct.runDigits) > b.VersionLen {
		for _, h := range [2]runHeap{m.partial, m.held()} {
			for i := range h {
				longest = max(longest, h[i].ver.n())
			}
		}
	}
	return b.exceeded(longest, &m.acct)
}

// over names the first limit u exceeds ("" when none).
func (b *Budget) over(u Usage) string {
	switch {
	case u.Runs > b.Runs:
		return "runs"
	case u.Nodes > b.Nodes:
		return "nodes"
	case u.Digits > b.Digits:
		return "digits"
	case u.Bytes > b.Bytes:
		return "bytes"
	}
	return ""
}

// The account is kept incrementally: a run holds one reference to its last entry while it
// is in the partial or completed heap. A run entering a heap during a call takes its
// reference at once (enter); a run leaving one is listed (leave) and its reference dropped
// by settle, after the entries made by the call took theirs. A run Process carries over
// unchanged, or that moves from the partial to the completed heap, keeps the reference it
// holds, and its entry is not touched.

// enter takes the reference of a run entering a heap.
func enter(r *run) {
	if r.node != nil {
		r.node.refs++
	}
}

// leave lists a run leaving the heaps; settle drops its reference.
func (sc *Scratch) leave(r *run) {
	if r.node != nil {
		sc.oldNodes = append(sc.oldNodes, r.node)
	}
}

// settle brings the account up to date after a call: the entries made while processing
// the event (made; nil from Advance) join it, and the entries of the runs that left the
// heaps (sc.oldNodes) lose their reference, leaving the account when no run or entry
// reaches them any more. Then the budget is enforced. The work is proportional to the runs
// (their versions are counted; their entries are not read) and to the entries made or
// released, never to the whole buffer.
func (m *Matcher) settle(sc *Scratch, made []*node, res *Result) {
	a := &m.acct
	for _, n := range made {
		a.nodes++
		a.edges += int32(n.numEdges())
		for i := 0; i < n.numEdges(); i++ {
			e := n.edge(i)
			a.edgeDigits += int32(e.ver.n())
			if e.prev != nil {
				e.prev.refs++
			}
		}
	}
	a.runs, a.runDigits = 0, 0
	longest := a.countRuns(m.held(), a.countRuns(m.partial, 0))
	for _, n := range made {
		if n.refs == 0 {
			m.release(n, sc)
		}
	}
	for i, n := range sc.oldNodes {
		m.unref(n, sc)
		sc.oldNodes[i] = nil
	}
	sc.oldNodes = sc.oldNodes[:0]
	b := sc.budget()
	if b.exceeded(longest, &m.acct) {
		m.enforce(b, sc, res)
		m.deadline = m.computeDeadline()
	}
}

// countRuns adds the runs of h (not counting the start state's) and their versions'
// digits to the account, and returns the longest of those versions and longest.
func (a *account) countRuns(h runHeap, longest int) int {
	for i := range h {
		r := &h[i]
		n := r.ver.n()
		a.runDigits += int32(n)
		longest = max(longest, n)
		if r.st.typ != stStart {
			a.runs++
		}
	}
	return longest
}

// budget returns the scratch's budget with the defaults filled in (cached: it is read
// after every call).
func (sc *Scratch) budget() *Budget {
	if !sc.effOK || !sc.effOf.same(&sc.Budget) {
		sc.eff, sc.effOf, sc.effOK = sc.Budget.WithDefaults(), sc.Budget, true
		sc.eff.Digits = min(sc.eff.Digits, MaxBudgetDigits) // the account's int32 (Budget.Digits)
	}
	return &sc.eff
}

// same reports whether b and o are equal, field by field: b != o calls memequal, and
// budget is asked after every step (TestBudgetSameCoversFields checks every field).
func (b *Budget) same(o *Budget) bool {
	return b.Runs == o.Runs && b.Nodes == o.Nodes && b.Digits == o.Digits && b.Bytes == o.Bytes &&
		b.VersionLen == o.VersionLen
}

// unref drops one reference to n, releasing it when none is left.
func (m *Matcher) unref(n *node, sc *Scratch) {
	if n.refs--; n.refs == 0 {
		m.release(n, sc)
	}
}

// release takes n out of the account and drops its references to its predecessors,
// releasing those no one else reaches (iteratively: chains can be thousands long). The
// matcher's block's node, when no other matcher can reach it, is free again (freeNode).
func (m *Matcher) release(n *node, sc *Scratch) {
	a := &m.acct
	own := m.ownNode()
	stack := append(sc.relStack[:0], n)
	for len(stack) > 0 {
		x := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		x.refs = -1 // released: never counted again
		a.nodes--
		a.edges -= int32(x.numEdges())
		for i := 0; i < x.numEdges(); i++ {
			e := x.edge(i)
			a.edgeDigits -= int32(e.ver.n())
			if p := e.prev; p != nil {
				if p.refs--; p.refs == 0 {
					stack = append(stack, p)
				}
			}
		}
		if x == own {
			m.freeNode()
		}
	}
	sc.relStack = stack[:0]
}

// dropRun takes a run the budget cut out of the account.
func (m *Matcher) dropRun(r *run, sc *Scratch, res *Result) {
	a := &m.acct
	a.runDigits -= int32(r.ver.n())
	a.runs--
	if r.node != nil {
		m.unref(r.node, sc)
	}
	res.Cut++
	m.flags |= flagCut
}

// enforce applies the budget after a call, in an order that depends only on the state:
//  1. runs whose version is longer than VersionLen are cut (they could not be
//     checkpointed, and their every new edge costs that many digits);
//  2. beyond Runs, the partial matches with the oldest first events are cut (cutOrder);
//  3. while a limit is still exceeded, the partial match with the oldest first event is
//     cut (cutOrder), then, if only held complete matches are left, the oldest of those.
//
// Cutting the oldest first keeps the newest partial matches, as a window would. Entries
// are shared, so a cut frees only what no remaining run reaches; when a newer run's entry
// reaches everything (the explosive patterns), the cut goes on until the matcher is back
// to its start state and the key and rule start afresh.
func (m *Matcher) enforce(b *Budget, sc *Scratch, res *Result) {
	for _, h := range [2]*runHeap{&m.partial, m.completed} {
		if h == nil { // no held complete matches
			continue
		}
		long := false
		for i := range *h {
			long = long || (*h)[i].ver.n() > b.VersionLen
		}
		if !long {
			continue
		}
		if res.CutBy == "" {
			res.CutBy = "version"
		}
		h.removeIf(func(r *run) bool {
			if r.st.typ == stStart || r.ver.n() <= b.VersionLen {
				return false
			}
			m.dropRun(r, sc, res)
			return true
		})
	}
	why := b.over(m.Usage())
	if why == "" {
		return
	}
	if res.CutBy == "" {
		res.CutBy = why
	}
	if excess := int(m.acct.runs) - b.Runs; excess > 0 {
		m.cutFirst(&m.partial, excess, nil, sc, res)
	}
	over := func() bool { return b.over(m.Usage()) != "" }
	if over() {
		m.cutFirst(&m.partial, len(m.partial), over, sc, res)
	}
	if over() && len(m.held()) > 0 {
		m.cutFirst(m.heldRef(), len(m.held()), over, sc, res)
	}
}

// cutFirst cuts up to n runs of h (never the start state) in cutOrder, stopping early
// once more() is false (nil: cut n). The order is a total order on what the runs hold,
// never their place in the heap's array: that layout depends on when Advance ran, which
// must not change results (timers may fire at any granularity).
func (m *Matcher) cutFirst(h *runHeap, n int, more func() bool, sc *Scratch, res *Result) {
	idx := sc.cutIdx[:0]
	for i := range *h {
		if (*h)[i].st.typ != stStart {
			idx = append(idx, i)
		}
	}
	slices.SortFunc(idx, func(a, b int) int { return cutOrder(&(*h)[a], &(*h)[b]) })
	cut := 0
	for _, i := range idx {
		if cut == n || more != nil && !more() {
			break
		}
		r := &(*h)[i]
		m.dropRun(r, sc, res)
		r.ver = "" // marked: a live run always has a version
		cut++
	}
	sc.cutIdx = idx[:0]
	if cut > 0 {
		h.removeIf(func(r *run) bool { return r.ver == "" })
	}
}

// cutOrder orders runs for the budget's cuts: the oldest first event first (a window
// would drop it first), then by what else the run holds (version, state, latest event),
// so that equal orders only tie runs that are the same.
func cutOrder(a, b *run) int {
	var at, bt int64 = math.MinInt64, math.MinInt64
	var as, bs uint64
	if a.startEv != nil {
		at, as = a.startEv.Time, a.startEv.Seq
	}
	if b.startEv != nil {
		bt, bs = b.startEv.Time, b.startEv.Seq
	}
	if c := cmpEvents(at, as, bt, bs); c != 0 {
		return c
	}
	if c := a.ver.compare(b.ver); c != 0 {
		return c
	}
	if c := cmp.Compare(a.st.id, b.st.id); c != 0 {
		return c
	}
	return cmp.Compare(a.prevTs(), b.prevTs())
}

// accountImported builds the account of a matcher made by Import.
func (m *Matcher) accountImported(nodes []*node) {
	for _, n := range nodes {
		for i := 0; i < n.numEdges(); i++ {
			if p := n.edge(i).prev; p != nil {
				p.refs++
			}
		}
	}
	a := &m.acct
	for _, n := range nodes {
		a.nodes++
		a.edges += int32(n.numEdges())
		for i := 0; i < n.numEdges(); i++ {
			a.edgeDigits += int32(n.edge(i).ver.n())
		}
	}
	for _, h := range [2]runHeap{m.partial, m.held()} {
		for i := range h {
			r := &h[i]
			a.runDigits += int32(r.ver.n())
			if r.st.typ != stStart {
				a.runs++
			}
			if r.node != nil {
				r.node.refs++
			}
		}
	}
	var sc Scratch
	for _, n := range nodes { // entries no run reaches (Export writes none) leave at once
		if n.refs == 0 {
			m.release(n, &sc)
		}
	}
}

// CutAll drops every partial and held complete match, as the engine does to a key when
// the engine's own budget is exceeded; they are counted in res.Cut with res.CutBy = why.
// The matcher is then idle (Idle) unless its start state had stopped.
func (m *Matcher) CutAll(why string, sc *Scratch, res *Result) {
	if res.CutBy == "" {
		res.CutBy = why
	}
	m.ownCompleted()
	m.setPartial(m.partial)
	for _, h := range [2]*runHeap{&m.partial, m.completed} {
		if h == nil { // no held complete matches
			continue
		}
		h.removeIf(func(r *run) bool {
			if r.st.typ == stStart {
				return false
			}
			m.dropRun(r, sc, res)
			return true
		})
	}
	m.deadline = m.computeDeadline()
}
