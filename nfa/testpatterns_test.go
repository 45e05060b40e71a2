package nfa

import (
	"fmt"
	"testing"

	"github.com/cepd/cepd/event"
	"github.com/cepd/cepd/patterns"
)

// fuzzPattern reads a random pattern from fb (steps, an optional window of either type,
// any skip strategy); the fuzzers and the guard check share it so that one input means
// the same pattern to both.
func fuzzPattern(fb *fuzzBytes) *patterns.Pattern {
	names := 0
	pat := &patterns.Pattern{Steps: fb.steps(1+fb.n(4), 0, &names)}
	if w := fb.n(4); w > 0 {
		pat.WithinMs = int64(w * 4)
		pat.WithinType = patterns.WithinType(fb.n(2))
	}
	pat.Skip.Kind = patterns.SkipKind(fb.n(5))
	if pat.Skip.Kind >= patterns.SkipToFirst {
		pat.Skip.Step = fmt.Sprintf("s%d", 1+fb.n(names))
	}
	return pat
}

// seededProgram compiles the random pattern of seed over letterResolve (steps, a short
// window, a skip strategy without a step), or returns the compile error (some random
// patterns are invalid; callers skip them).
func seededProgram(seed int) (*Program, error) {
	fb := &fuzzBytes{b: []byte(fmt.Sprintf("%x%x", seed*7919, seed*104729))}
	names := 0
	pat := &patterns.Pattern{Steps: fb.steps(1+fb.n(4), 0, &names)}
	pat.WithinMs = int64(fb.n(3) * 5)
	pat.Skip.Kind = patterns.SkipKind(fb.n(3))
	return Compile(pat, letterResolve, Options{Timeouts: true, MaxRuns: 64})
}

// exportList snapshots m as a checkpoint does: the events it holds listed once each, in
// the order the snapshot first refers to them.
func exportList(m *Matcher) (*Snapshot, []*event.Event) {
	var list []*event.Event
	idx := map[*event.Event]int32{}
	snap := m.Export(func(e *event.Event) int32 {
		if j, ok := idx[e]; ok {
			return j
		}
		idx[e] = int32(len(list))
		list = append(list, e)
		return idx[e]
	})
	return snap, list
}

// explosiveProgram compiles one of explosivePatterns over authResolve.
func explosiveProgram(tb testing.TB, pat *patterns.Pattern) *Program {
	tb.Helper()
	prog, err := Compile(pat, authResolve, Options{})
	if err != nil {
		tb.Fatal(err)
	}
	return prog
}

// eachExplosive runs f on each of explosivePatterns, compiled, as a subtest (or
// sub-benchmark) named for the pattern.
func eachExplosive[T interface {
	testing.TB
	Run(string, func(T)) bool
}](tb T, f func(T, *Program)) {
	for _, bp := range explosivePatterns() {
		tb.Run(bp.name, func(tb T) { f(tb, explosiveProgram(tb, bp.pat)) })
	}
}

// budgeted returns a new matcher of prog and a scratch that holds it to b (the zero
// Budget: the defaults).
func budgeted(prog *Program, b Budget) (*Matcher, *Scratch) {
	sc := NewScratch()
	sc.Budget = b
	return prog.NewMatcher(), sc
}

// fuzzStream returns n events of a random stream read from fb: names a–f, times rising
// by 0–3 ms, one key (the streams of the expiry and stopped-start checks).
func fuzzStream(fb *fuzzBytes, n int) []*event.Event {
	evs := make([]*event.Event, 0, n)
	ts := int64(0)
	for i := 0; i < n; i++ {
		ts += int64(fb.n(4))
		name := string(rune('a' + fb.n(6)))
		evs = append(evs, (&event.Event{Seq: uint64(i + 1), Time: ts, Schema: benchSchema}).
			SetValues([]event.Value{event.String(name), event.String("k"), event.Int(ts)}))
	}
	return evs
}

// appendResults appends res's matches and then its timeouts to out as strings
// (matchString; a timeout prefixed "timeout:") and resets res.
func appendResults(out []string, res *Result) []string {
	for _, mt := range res.Matches {
		out = append(out, matchString(mt))
	}
	for _, to := range res.Timeouts {
		out = append(out, "timeout:"+matchString(to.Match))
	}
	res.Reset()
	return out
}
