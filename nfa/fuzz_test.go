package nfa

import (
	"fmt"
	"math"
	"testing"

	"github.com/cepd/cepd/event"
	"github.com/cepd/cepd/patterns"
)

type fuzzBytes struct {
	b []byte
	i int
}

func (f *fuzzBytes) n(k int) int {
	if f.i >= len(f.b) || k <= 0 {
		return 0
	}
	v := int(f.b[f.i]) % k
	f.i++
	return v
}

func (f *fuzzBytes) steps(count, depth int, names *int) []*patterns.Step {
	var out []*patterns.Step
	for i := 0; i < count; i++ {
		*names++
		s := &patterns.Step{Name: fmt.Sprintf("s%d", *names), Where: string(rune('a' + f.n(4)))}
		if i > 0 {
			s.Contiguity = patterns.Contiguity(f.n(4))
			switch f.n(6) {
			case 0:
				s.Negation = patterns.NotNext
			case 1:
				s.Negation = patterns.NotFollowedBy
			}
		}
		if s.Negation == patterns.NotNegated {
			switch f.n(5) {
			case 1:
				s.Quantifier = &patterns.Quantifier{Min: 1 + f.n(2), Max: -1, Greedy: f.n(2) == 0, Optional: f.n(3) == 0, Inner: patterns.Contiguity(f.n(4))}
				if f.n(2) == 0 {
					s.Until = "d"
				}
			case 2:
				lo := f.n(3)
				s.Quantifier = &patterns.Quantifier{Min: lo, Max: lo + f.n(3), Greedy: f.n(2) == 0, Inner: patterns.Contiguity(f.n(4)), WindowMs: int64(f.n(3) * 3)}
				if s.Quantifier.Max == 0 {
					s.Quantifier.Max = 1
				}
			case 3:
				s.Quantifier = &patterns.Quantifier{Min: 1, Max: 1, Optional: true}
			}
			if depth < 2 && f.n(6) == 0 {
				s.Where = ""
				s.Group = f.steps(1+f.n(3), depth+1, names)
			}
		}
		out = append(out, s)
	}
	return out
}

func letterResolve(s *patterns.Step, k CondKind) (Condition, error) {
	if text := condText(s, k); text != "" {
		return nameIs(text), nil
	}
	return nil, nil
}

// condText is the expression a resolver is asked to compile: the step's where, or its
// until for CondUntil.
func condText(s *patterns.Step, k CondKind) string {
	if k == CondUntil {
		return s.Until
	}
	return s.Where
}

// FuzzMatcher compiles random patterns and runs random event streams through them: no
// input may panic, and every match must consist of distinct events in arrival order.
func FuzzMatcher(f *testing.F) {
	f.Add([]byte{3, 0, 1, 1, 2, 0, 0, 9, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2})
	f.Add([]byte{2, 1, 1, 0, 1, 1, 3, 2, 2, 0, 5, 5, 1, 0, 2, 3, 1, 0, 0, 1, 2, 3})
	f.Add([]byte{4, 2, 3, 1, 0, 0, 1, 1, 0, 2, 2, 1, 0, 4, 1, 2, 3, 3, 2, 1, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		fb := &fuzzBytes{b: data}
		pat := fuzzPattern(fb)
		prog, err := Compile(pat, letterResolve, Options{Timeouts: true, MaxRuns: 64})
		if err != nil {
			return
		}
		m := prog.NewMatcher()
		sc := NewScratch()
		if fb.n(2) == 0 { // a small budget, so that cuts happen
			sc.Budget = Budget{Runs: 2 + fb.n(30), Nodes: 4 + fb.n(60), Digits: 20 + 10*fb.n(40)}
		}
		var res Result
		ts := int64(0)
		check := func() {
			for _, mt := range append(res.Matches, timeoutMatches(res.Timeouts)...) {
				last := uint64(0)
				for _, se := range mt.Steps {
					if _, ok := prog.stepIdx[se.Step]; !ok || len(se.Events) == 0 {
						t.Fatalf("bad step %+v", se)
					}
				}
				for _, e := range flatten(mt) {
					if e.Seq <= last {
						t.Fatalf("match events out of order or repeated: %v", flatten(mt))
					}
					last = e.Seq
				}
			}
			if m.Live() > 64+len(m.held()) {
				t.Fatalf("live runs %d exceed the bound", m.Live())
			}
			u, f := m.Usage(), m.Footprint()
			if u.Nodes != f.Nodes || u.Edges != f.Edges || u.Digits != f.Digits {
				t.Fatalf("memory account %+v differs from a walk of the state %+v", u, f)
			}
			if b := sc.Budget.WithDefaults(); b.over(u) != "" {
				t.Fatalf("usage %+v over the budget %+v", u, b)
			}
			res.Reset()
		}
		for i := 0; i < 40; i++ {
			ts += int64(fb.n(3))
			name := string(rune('a' + fb.n(5)))
			ev := (&event.Event{Seq: uint64(i + 1), Time: ts, Schema: benchSchema}).
				SetValues([]event.Value{event.String(name), event.String("k"), event.Int(ts)})
			m.Advance(ts, sc, &res)
			m.Process(ev, sc, &res)
			check()
		}
		m.Advance(math.MaxInt64, sc, &res)
		check()
	})
}

func timeoutMatches(ts []Timeout) []Match {
	out := make([]Match, len(ts))
	for i, t := range ts {
		out[i] = t.Match
	}
	return out
}

func flatten(m Match) []*event.Event {
	var evs []*event.Event
	for _, s := range m.Steps {
		evs = append(evs, s.Events...)
	}
	// order by arrival: steps are in pattern order, which a group repetition interleaves
	for i := 1; i < len(evs); i++ {
		for j := i; j > 0 && evs[j].Seq < evs[j-1].Seq; j-- {
			evs[j], evs[j-1] = evs[j-1], evs[j]
		}
	}
	return evs
}
