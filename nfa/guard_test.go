package nfa

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/cepd/cepd/event"
	"github.com/cepd/cepd/patterns"
)

// guardedCond is a condition that reads the partial match, with an event-only guard:
// true when the event's name is one of names and the step has so far taken a number of
// events whose parity is odd (when odd is set) or anything (when not). Its guard accepts
// the names in guard, a superset of names (a guard may let more through, never less).
type guardedCond struct {
	step  string
	names string
	odd   bool
	guard string
	noG   bool // no guard at all
}

func (c *guardedCond) Eval(ctx *EvalContext) bool {
	if !strings.Contains(c.names, ctx.Event.Value(0).AsString()) {
		return false
	}
	return !c.odd || len(ctx.Matched(c.step))%2 == 1
}

func (c *guardedCond) Guard() Condition {
	if c.noG {
		return nil
	}
	return dispatchGuard(c.guard)
}

// dispatchGuard is an event-only guard that pins the event's name (value 0) to its
// letters: a Dispatcher, so that the start index can rule out the runs it would
// (StartIndex.Waits).
type dispatchGuard string

func (g dispatchGuard) Eval(ctx *EvalContext) bool {
	return strings.Contains(string(g), ctx.Event.Value(0).AsString())
}

func (g dispatchGuard) Dispatch() (int, []string, bool) {
	var vs []string
	for _, r := range g {
		vs = append(vs, string(r))
	}
	return 0, vs, true
}

// guardedResolve gives every expression a guardedCond drawn from fb.
func guardedResolve(fb *fuzzBytes) Resolver {
	return func(s *patterns.Step, k CondKind) (Condition, error) {
		text := condText(s, k)
		if text == "" {
			return nil, nil
		}
		letters := "abcde"
		names := text + string(letters[fb.n(5)])
		c := &guardedCond{step: s.Name, names: names, odd: fb.n(3) == 0, guard: names + string(letters[fb.n(5)]), noG: fb.n(6) == 0}
		return c, nil
	}
}

// dumpRuns prints a matcher's runs (state, version, times, first event) in heap order.
func dumpRuns(m *Matcher) string {
	var b strings.Builder
	for _, h := range []runHeap{m.partial, m.held()} {
		for _, r := range h {
			seq := uint64(0)
			if r.startEv != nil {
				seq = r.startEv.Seq
			}
			fmt.Fprintf(&b, "%s/%s/%d/%d/%d ", r.st.name, r.ver, r.startTs(), r.prevTs(), seq)
		}
		b.WriteString("| ")
	}
	return b.String()
}

func resultString(r *Result) string {
	var b strings.Builder
	for _, mt := range r.Matches {
		fmt.Fprintf(&b, "match %v\n", stepSeqs(mt))
	}
	for _, to := range r.Timeouts {
		fmt.Fprintf(&b, "timeout %d %v\n", to.At, stepSeqs(to.Match))
	}
	fmt.Fprintf(&b, "dropped %d\n", r.Dropped)
	return b.String()
}

func stepSeqs(m Match) string {
	var b strings.Builder
	for _, s := range m.Steps {
		b.WriteString(s.Step + ":")
		for _, e := range s.Events {
			fmt.Fprintf(&b, "%d,", e.Seq)
		}
		b.WriteString(" ")
	}
	return b.String()
}

// checkGuarded compiles a random pattern twice, with guards and without (the reference:
// every run visited for every event), runs one random stream through both and wants the
// same matches, timeouts and runs (states, versions, times) after every event.
func checkGuarded(t *testing.T, data []byte) { checkGuardedHinted(t, data, nil) }

// checkGuardedHinted is checkGuarded with the start index's hints (StartIndex.Waits,
// Scratch.Hint) given to the guarded matcher for two events of three: every state a
// hint rules out must be one ruledOut rules out, and the matches and runs must stay the
// reference's. hinted counts the states the hints ruled out.
func checkGuardedHinted(t *testing.T, data []byte, hinted *int) {
	fb := &fuzzBytes{b: data}
	pat := fuzzPattern(fb)
	pat.Release = patterns.Release(fb.n(2)) // both emission orders
	maxRuns := 8 + fb.n(40)
	condBytes := &fuzzBytes{b: data, i: fb.i}
	fast, err := Compile(pat, guardedResolve(condBytes), Options{Timeouts: true, MaxRuns: maxRuns})
	if err != nil {
		return
	}
	condBytes = &fuzzBytes{b: data, i: fb.i}
	ref, err := Compile(pat, guardedResolve(condBytes), Options{Timeouts: true, MaxRuns: maxRuns, NoGuards: true})
	if err != nil {
		t.Fatalf("the reference does not compile: %v", err)
	}
	fb.i = condBytes.i
	mf, mr := fast.NewMatcher(), ref.NewMatcher()
	sf, sr := NewScratch(), NewScratch()
	x := NewStartIndex([]*Program{fast})
	var rf, rr Result
	ts := int64(0)
	for i := 0; i < 60; i++ {
		ts += int64(fb.n(3))
		name := string(rune('a' + fb.n(6)))
		ev := (&event.Event{Seq: uint64(i + 1), Time: ts, Schema: benchSchema}).
			SetValues([]event.Value{event.String(name), event.String("k"), event.Int(ts)})
		x.Candidates(ev)
		if i%3 != 0 {
			may := x.Waits(0)
			checkWaits(t, fast, mf, sf, ev, may, hinted)
			sf.Hint(fast, ev, may)
		}
		for _, x := range []struct {
			m  *Matcher
			sc *Scratch
			r  *Result
		}{{mf, sf, &rf}, {mr, sr, &rr}} {
			x.m.Advance(ts, x.sc, x.r)
			x.m.Process(ev, x.sc, x.r)
		}
		if a, b := resultString(&rf), resultString(&rr); a != b {
			t.Fatalf("event %d (%s): guarded gives\n%s\nreference gives\n%s\npattern %s\n%s", i+1, name, a, b, pat, fast)
		}
		if a, b := dumpRuns(mf), dumpRuns(mr); a != b {
			t.Fatalf("event %d (%s): guarded runs\n%s\nreference runs\n%s\n%s", i+1, name, a, b, fast)
		}
		for _, r := range mf.partial { // the allocation-free extraction conditions use
			want := sf.paths(r.node, r.ver, 1)
			got := sf.firstPath(r.node, r.ver)
			if len(want) == 0 && got != nil || len(want) > 0 && !slices.Equal(got, want[0]) {
				t.Fatalf("event %d: firstPath %v, paths %v", i+1, got, want)
			}
		}
		if mf.Deadline() != mr.Deadline() {
			t.Fatalf("event %d: deadlines %d and %d", i+1, mf.Deadline(), mr.Deadline())
		}
		// The account of carried-over runs is kept without touching their entries: it must
		// be the reference's, and what a walk of the buffer finds.
		if u, ur, fp := mf.Usage(), mr.Usage(), mf.Footprint(); u != ur || u.Nodes != fp.Nodes || u.Edges != fp.Edges || u.Digits != fp.Digits {
			t.Fatalf("event %d: account %+v, reference %+v, walk %+v", i+1, u, ur, fp)
		}
		rf.Reset()
		rr.Reset()
	}
	mf.Advance(math.MaxInt64, sf, &rf)
	mr.Advance(math.MaxInt64, sr, &rr)
	if a, b := resultString(&rf), resultString(&rr); a != b {
		t.Fatalf("at the end: guarded gives\n%s\nreference gives\n%s", a, b)
	}
}

// checkWaits wants every state of p whose bit may clears (StartIndex.Waits for ev) to be
// one whose runs ev leaves unchanged by their guards (ruledOut), and counts them.
func checkWaits(t *testing.T, p *Program, m *Matcher, sc *Scratch, ev *event.Event, may uint64, hinted *int) {
	t.Helper()
	ctx := &sc.ctx
	ctx.Event, ctx.Memo, ctx.m, ctx.sc = ev, sc.Memo, m, sc
	ctx.reset(nil)
	for _, s := range p.states {
		if s.id >= 63 || may>>s.id&1 != 0 {
			continue
		}
		if !p.ruledOut(s, sc) {
			t.Fatalf("the hint rules out state %s for event %s, its guards do not\n%s", s.name, ev.Value(0).AsString(), p)
		}
		if hinted != nil {
			*hinted++
		}
	}
}

// FuzzGuardedMatcher: guarded matching is indistinguishable from the reference.
func FuzzGuardedMatcher(f *testing.F) {
	f.Add([]byte{3, 0, 1, 1, 2, 0, 0, 9, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2})
	f.Add([]byte{2, 1, 1, 0, 1, 1, 3, 2, 2, 0, 5, 5, 1, 0, 2, 3, 1, 0, 0, 1, 2, 3})
	f.Fuzz(checkGuarded)
}

// TestGuardedMatchesReference runs checkGuarded over many random inputs (the fuzzer's
// work in a fixed, repeatable form).
func TestGuardedMatchesReference(t *testing.T) {
	n := 4000
	if testing.Short() {
		n = 500
	}
	hinted := 0
	randomInputs(13, n, func(data []byte) { checkGuardedHinted(t, data, &hinted) })
	if hinted < n {
		t.Fatalf("the start index's hints ruled out %d states in %d streams: the check is vacuous", hinted, n)
	}
	t.Logf("states ruled out by hints: %d in %d streams", hinted, n)
}

// randomInputs calls check with n random inputs of 40 to 159 bytes drawn from seed.
func randomInputs(seed uint64, n int, check func(data []byte)) {
	r := rand.New(rand.NewPCG(seed, seed))
	for i := 0; i < n; i++ {
		data := make([]byte, 40+r.IntN(120))
		for j := range data {
			data[j] = byte(r.IntN(256))
		}
		check(data)
	}
}
