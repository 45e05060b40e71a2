package nfa

import (
	"math/rand/v2"
	"reflect"
	"testing"
	"unsafe"

	"github.com/cepd/cepd/event"
	"github.com/cepd/cepd/internal/layout"
)

// TestBlockLayout: NewMatcher's block is 208 bytes, a size class, so that the three
// parts cost what they did apart (80 + 80 + 48), its pointers end at byte 168 (the
// matcher's non-pointer fields last, the collector reads no further), and blockOf finds
// the block of a new matcher.
func TestBlockLayout(t *testing.T) {
	if n := unsafe.Sizeof(block{}); n != 208 {
		t.Fatalf("a block is %d bytes: want 208", n)
	}
	if end := layout.PointerEnd(reflect.TypeFor[block]()); end != 168 {
		t.Fatalf("a block's pointers end at byte %d: want 168", end)
	}
	var p Program
	m := p.NewMatcher()
	if b := m.blockOf(); &b.m != m || unsafe.SliceData(m.partial) != &b.runs[0] {
		t.Fatal("blockOf does not find a new matcher's block")
	}
}

// blockRun is one matcher of a random program run two ways over a random stream, for
// TestBlockMatchesPlain: a made by NewMatcher (its block's run array and node in use and
// reused) and b a plain copy that never has a block (a Clone is none), with snapshots,
// clones, cuts, resets and small budgets in between. They must give the same results
// and the same state; every snapshot and clone of a must stay what b's was.
type blockRun struct {
	t    *testing.T
	seed int
	r    *rand.Rand
	sc   *Scratch // shared by every matcher, as a shard's is
	idx  map[*event.Event]int32
	a, b *Matcher
	// a snapshot of a (as a journal's base: a is frozen) and b's state at that moment,
	// and a clone of a run beside a clone of b
	snap, snapWant *Matcher
	ca, cb         *Matcher
	// reused counts the nodes put took from a block after the block's node was freed
	reused int
}

func (br *blockRun) same(what string, x, y *Matcher) {
	br.t.Helper()
	if gx, gy := export(x, br.idx), export(y, br.idx); !reflect.DeepEqual(gx, gy) {
		br.t.Fatalf("seed %d: %s differ:\n got %+v\nwant %+v", br.seed, what, gx, gy)
	}
}

// step feeds ev to x and y (Advance, Process) and wants the same results, usage and
// state; x's usage must be exact (Footprint).
func (br *blockRun) step(what string, x, y *Matcher, ev *event.Event) {
	br.t.Helper()
	var rx, ry Result
	x.Advance(ev.Time, br.sc, &rx)
	x.Process(ev, br.sc, &rx)
	y.Advance(ev.Time, br.sc, &ry)
	y.Process(ev, br.sc, &ry)
	if gx, gy := appendResults(nil, &rx), appendResults(nil, &ry); !reflect.DeepEqual(gx, gy) {
		br.t.Fatalf("seed %d: %s: results differ at event %d:\n got %v\nwant %v", br.seed, what, ev.Seq, gx, gy)
	}
	if rx.Cut != ry.Cut || rx.Dropped != ry.Dropped {
		br.t.Fatalf("seed %d: %s: cuts differ at event %d", br.seed, what, ev.Seq)
	}
	if ux, uy := x.Usage(), y.Usage(); ux != uy {
		br.t.Fatalf("seed %d: %s: usage %+v, want %+v", br.seed, what, ux, uy)
	}
	if u, f := x.Usage(), x.Footprint(); u.Nodes != f.Nodes || u.Edges != f.Edges || u.Digits != f.Digits {
		br.t.Fatalf("seed %d: %s: account %+v, footprint %+v", br.seed, what, u, f)
	}
	br.same(what, x, y)
}

// clean wants a's block to hold no stale pointer where it is free: its run array
// (runsFree) and its node (nodeFree).
func (br *blockRun) clean(what string) {
	br.t.Helper()
	if br.a.flags&inBlock == 0 { // given up (Reset)
		return
	}
	b := br.a.blockOf()
	if br.a.flags&runsFree != 0 && b.runs != [2]run{} {
		br.t.Fatalf("seed %d: %s holds runs %+v", br.seed, what, b.runs)
	}
	if br.a.flags&nodeFree != 0 && b.n != (node{}) {
		br.t.Fatalf("seed %d: %s: a free node holds %+v", br.seed, what, b.n)
	}
}

func (br *blockRun) event(ev *event.Event) {
	r := br.r
	freeBefore := br.a.flags&nodeFree != 0
	usedOnce := br.a.flags&(inBlock|shared) == inBlock
	br.step("a and b", br.a, br.b, ev)
	if usedOnce && freeBefore && br.a.flags&nodeFree == 0 {
		br.reused++
	}
	if br.ca != nil { // the clones go on beside them (each recounted before it steps)
		br.ca.Recount()
		br.cb.Recount()
		br.step("clones", br.ca, br.cb, ev)
		br.a.Recount()
		br.b.Recount()
		if r.IntN(8) == 0 {
			br.ca, br.cb = nil, nil
		}
	}
	br.clean("a block")
	if br.snap != nil {
		br.same("snapshot and b's state when it was taken", br.snap, br.snapWant)
		if r.IntN(6) == 0 { // the base and its clones are dropped: a owns its arrays and nodes again
			br.snap, br.snapWant, br.ca, br.cb = nil, nil, nil, nil
			br.a.Recount()
			br.a.Thaw()
			br.b.Thaw()
			br.clean("a thawed block")
		}
	}
	switch r.IntN(24) {
	case 0:
		if br.snap == nil {
			br.snap, br.snapWant = new(Matcher), br.b.Clone()
			br.a.SnapshotTo(br.snap)
			br.a.Recount()
			br.b.Recount()
		}
	case 1:
		br.ca, br.cb = br.a.Clone(), br.b.Clone()
		br.a.Recount()
		br.b.Recount()
	case 2:
		var rx, ry Result
		br.a.CutAll("test", br.sc, &rx)
		br.b.CutAll("test", br.sc, &ry)
		if rx.Cut != ry.Cut {
			br.t.Fatalf("seed %d: CutAll cut %d and %d", br.seed, rx.Cut, ry.Cut)
		}
		br.same("a and b after CutAll", br.a, br.b)
	}
	// The engine drops an idle matcher (or one whose runs all expire) and recycles it
	// (Reset); the plain one is made again.
	if t := ev.Time + int64(r.IntN(12)); br.a.Expires(t) || br.a.Idle() && r.IntN(2) == 0 {
		if br.b.Expires(t) != br.a.Expires(t) {
			br.t.Fatalf("seed %d: Expires(%d) differs", br.seed, t)
		}
		br.a.Reset()
		br.b = br.a.prog.NewMatcher().Clone()
		br.same("a reset and a new matcher", br.a, br.b)
		if r.IntN(2) == 0 {
			// Recycled for another key whose journal ends at once: a is thawed while its
			// old snapshot (the first key's base) is still used.
			br.a.Thaw()
		}
	}
}

// TestBlockMatchesPlain holds matchers made by NewMatcher, whose first run array and a
// node live in their block and whose node is reused once freed (block.go), to plain
// matchers that never have a block, over random programs and streams with snapshots
// (frozen matchers, thawed), clones, cuts, resets and small budgets in between: the same
// results, the same state, exact accounts, and snapshots and clones left as they were.
func TestBlockMatchesPlain(t *testing.T) {
	reused := 0
	eachSeededProgram(300, 400, func(seed int, prog *Program, evs []*event.Event) {
		r := rand.New(rand.NewPCG(uint64(seed), 7))
		evs = evs[:len(evs)-r.IntN(len(evs)/2)]
		br := &blockRun{t: t, seed: seed, r: r, sc: NewScratch(), idx: map[*event.Event]int32{}}
		if seed%3 == 0 { // small budgets: the budget cuts and releases as it goes
			br.sc.Budget = Budget{Runs: 2 + r.IntN(8), Nodes: 3 + r.IntN(12), Digits: 20 + r.IntN(80)}
		}
		br.a = prog.NewMatcher()
		br.b = prog.NewMatcher().Clone()
		for _, ev := range evs {
			br.event(ev)
		}
		reused += br.reused
	})
	if reused == 0 {
		t.Fatal("no block node was reused: the test does not reach freeNode")
	}
	t.Logf("block nodes reused %d times", reused)
}

// TestBlockReusable: a matcher that Reset empties holds nothing of what it held (its
// block's node and array cleared where free, its array holding the start run alone) or
// it gave its block up and is not Reusable, which only a copy can make it; Forget lets
// only a Matcher alone be reused.
func TestBlockReusable(t *testing.T) {
	given := 0
	eachSeededProgram(60, 60, func(seed int, prog *Program, evs []*event.Event) {
		for _, copyIt := range []bool{false, true} {
			m, sc := prog.NewMatcher(), NewScratch()
			var res Result
			for i, ev := range evs {
				m.Advance(ev.Time, sc, &res)
				m.Process(ev, sc, &res)
				if copyIt && i%7 == 3 {
					m.Snapshot()
				}
			}
			m.Reset()
			switch {
			case !m.Reusable() && !copyIt:
				t.Fatalf("seed %d: a matcher never copied gave its block up", seed)
			case !m.Reusable():
				given++
				if m.flags&inBlock != 0 {
					t.Fatalf("seed %d: a matcher not Reusable still uses its block", seed)
				}
			default:
				b := m.blockOf()
				if m.flags&nodeFree == 0 || b.n != (node{}) {
					t.Fatalf("seed %d: a reset matcher's block node holds %+v", seed, b.n)
				}
				if inUse := &m.partial[0] == &b.runs[0]; inUse && b.runs[1] != (run{}) || !inUse && b.runs != [2]run{} {
					t.Fatalf("seed %d: a reset matcher's block holds %+v", seed, b.runs)
				}
			}
			if m.Forget() {
				t.Fatalf("seed %d: a matcher made by NewMatcher may be reused as a plain one", seed)
			}
			if s := prog.NewMatcher().Snapshot(); !s.Forget() {
				t.Fatalf("seed %d: a snapshot may not be reused", seed)
			}
		}
	})
	if given == 0 {
		t.Fatal("no matcher gave its block up: the test does not test what it should")
	}
}
