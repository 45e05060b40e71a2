package nfa

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"
	"unsafe"

	"github.com/cepd/cepd/event"
)

// Differential tests of the step's fast paths against the code they replace.

// TestStaticProceedMatchesWalk: for every state of random programs whose proceed walk is
// decided at compile time (proceed.go), the walk itself (finalAfterProceed with the
// compiled answer switched off) evaluates no leaf and returns the compiled answer. The
// walk runs in probe mode: every leaf it evaluates is recorded and false. The programs
// are compatStream's (patterns of 256 random bytes: untils, stops, optional steps), whose
// proceed edges include constant false ones (a step without an until: true && !true).
func TestStaticProceedMatchesWalk(t *testing.T) {
	var progs []*Program
	for seed := range 1500 {
		if p, _, _, err := compatStream(seed); err == nil {
			progs = append(progs, p)
		}
	}
	static, finals, walked, constFalse := 0, 0, 0, 0
	for _, p := range progs {
		for _, s := range p.states {
			for _, e := range s.edges {
				if v, ok := constCond(e.cond); e.act == actProceed && ok && !v {
					constFalse++
				}
			}
		}
		m := &Matcher{prog: p}
		sc := NewScratch()
		sc.probe = true
		sc.ctx.Event = &event.Event{}
		for _, s := range p.states {
			if !s.staticProceed {
				walked++
				continue
			}
			static++
			if s.afterProceed != nil {
				finals++
			}
			sc.probed = sc.probed[:0]
			sc.newLeafGen(len(p.leaves))
			s.staticProceed = false
			got := m.finalAfterProceed(s, sc)
			s.staticProceed = true
			if got != s.afterProceed || len(sc.probed) != 0 {
				t.Fatalf("state %s: the walk gives %v evaluating leaves %v, compiled %v\n%s", s.name, got, sc.probed, s.afterProceed, p)
			}
		}
	}
	if static == 0 || finals == 0 || walked == 0 || constFalse == 0 {
		t.Fatalf("%d static states (%d reaching the final state), %d walked, %d constant false proceed edges: weak test", static, finals, walked, constFalse)
	}
}

// refWith is dewey.with as it was before its table shortcut (smallWith): the bytes built,
// then deweyFrom.
func refWith(d dewey, n int, stage bool) dewey {
	b := []byte(d)
	last := len(b) - 4
	binary.LittleEndian.PutUint32(b[last:], uint32(int32(binary.LittleEndian.Uint32(b[last:]))+int32(n)))
	if stage {
		b = append(b, 0, 0, 0, 0)
	}
	return deweyFrom(b)
}

// inTable reports whether d's bytes are the table's (smallDeweys), not a string of its own.
func inTable(d dewey) bool {
	p, t := uintptr(unsafe.Pointer(unsafe.StringData(string(d)))), uintptr(unsafe.Pointer(unsafe.StringData(smallDeweys)))
	return p >= t && p < t+uintptr(len(smallDeweys))
}

// TestDeweyWithSmallTable: with gives what refWith gives, the table's copy exactly when
// refWith's is, for versions of one to four digits around the table's bounds (negative
// digits and increases that overflow included).
func TestDeweyWithSmallTable(t *testing.T) {
	near := func(bound uint32) []int32 {
		return []int32{0, 1, int32(bound) - 2, int32(bound) - 1, int32(bound), int32(bound) + 1, -1, -2, 1<<31 - 1}
	}
	var ds []dewey
	for _, x := range near(small1) {
		ds = append(ds, deweyOf(x))
	}
	for _, x := range near(small2a) {
		for _, y := range near(small2b) {
			ds = append(ds, deweyOf(x, y))
		}
	}
	for _, x := range near(small3a) {
		for _, y := range near(small3b) {
			for _, z := range near(small3b) {
				ds = append(ds, deweyOf(x, y, z))
				ds = append(ds, deweyOf(x, y, z, 0))
			}
		}
	}
	inTables := 0
	for _, d := range ds {
		for _, n := range []int{0, 1, 2, 3, 7, 8, 1 << 12} {
			for _, stage := range []bool{false, true} {
				got, want := d.with(n, stage), refWith(d, n, stage)
				if got != want || inTable(got) != inTable(want) {
					t.Fatalf("%v with(%d, %v) = %v (table %v), want %v (table %v)", d, n, stage, got, inTable(got), want, inTable(want))
				}
				if inTable(got) {
					inTables++
				}
			}
		}
	}
	if inTables == 0 {
		t.Fatal("no result from the table: weak test")
	}
}

// TestBudgetExceededIsOver: exceeded, the test settle makes after every call on the
// account, says what over says of the account's Usage (any limit exceeded), with the
// longest version's bound, for random accounts and budgets near each other.
func TestBudgetExceededIsOver(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	for range 200000 {
		a := account{nodes: r.Int32N(40), edgeDigits: r.Int32N(400), runs: r.Int32N(40), runDigits: r.Int32N(400)}
		a.edges = a.nodes + r.Int32N(20)
		u := (&Matcher{acct: a}).Usage()
		b := Budget{Runs: r.IntN(40), Nodes: r.IntN(40), Digits: r.IntN(800), Bytes: r.IntN(u.Bytes * 2), VersionLen: r.IntN(40)}
		longest := r.IntN(40)
		want := longest > b.VersionLen || b.over(u) != ""
		if got := b.exceeded(longest, &a); got != want {
			t.Fatalf("account %+v (usage %+v), budget %+v, longest %d: exceeded %v, want %v", a, u, b, longest, got, want)
		}
	}
}

// refOffer is runHeap.offer as java.util.PriorityQueue.offer is written (siftUpComparable).
func refOffer(h *runHeap, r run) {
	*h = append(*h, r)
	k := len(*h) - 1
	q := *h
	for k > 0 {
		parent := (k - 1) >> 1
		if cmpRuns(&r, &q[parent]) >= 0 {
			break
		}
		q[k] = q[parent]
		k = parent
	}
	q[k] = r
}

// TestOfferMatchesPriorityQueue: offer lays runs out as PriorityQueue.offer does, for
// random sequences of runs with equal and distinct first events, and start runs (which
// took nothing and sort last).
func TestOfferMatchesPriorityQueue(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	evs := make([]*event.Event, 6)
	for i := range evs {
		evs[i] = &event.Event{Time: int64(i / 2), Seq: uint64(i % 3)}
	}
	st := &state{}
	for range 20000 {
		var got, want runHeap
		for i := range 1 + r.IntN(20) {
			x := run{st: st, ver: deweyOf(int32(i))} // the version tells runs apart
			if k := r.IntN(len(evs) + 2); k < len(evs) {
				x.startEv = evs[k]
			}
			got.offer(&x)
			refOffer(&want, x)
		}
		if len(got) != len(want) {
			t.Fatalf("%d runs, want %d", len(got), len(want))
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("run %d: %+v, want %+v", i, got[i], want[i])
			}
		}
	}
}
