package rules

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/cepd/cepd/event"
	"github.com/cepd/cepd/nfa"
)

// TestStartIndexEqualsPinByPin: for random rule sets whose first steps test the
// dispatch field (country) with ==, in, != and ||, alone or with pins on other fields,
// with few (the scan) and many (the map) values, MayStart gives exactly the verdict
// worked out from each program's StartDispatch and StartPins with every pin tested one
// by one (Pin.Fails), for events whose country is indexed, unindexed, empty, of
// another kind or missing: the verdicts the start index records for the pins on its
// field from the value it looked up (StartIndex.decided) are the pins' own.
func TestStartIndexEqualsPinByPin(t *testing.T) {
	s, env, _ := guardEnvs(t)
	r := rand.New(rand.NewPCG(21, 4))
	countries := []string{"FR", "US", "DE", "IT", "ES", "PT", "NL", "BE", "AT", "PL", "SE", ""}
	cmpc := func() string {
		c := countries[r.IntN(len(countries)-1)]
		switch r.IntN(4) {
		case 0:
			return "e.country != '" + c + "'"
		case 1:
			return fmt.Sprintf("e.country in ['%s', '%s']", c, countries[r.IntN(len(countries)-1)])
		}
		return "e.country == '" + c + "'"
	}
	other := func() string {
		return []string{"e.amount > 100.0", "e.mcc == '1'", "e.vip == false", "e.mcc in ['1', '2']", "has(e.device)", "e.amount <= 50.0"}[r.IntN(6)]
	}
	first := func() string {
		terms := []string{cmpc()}
		for range r.IntN(3) {
			if r.IntN(2) == 0 {
				terms = append(terms, cmpc())
			} else {
				terms = append(terms, other())
			}
		}
		r.Shuffle(len(terms), func(i, j int) { terms[i], terms[j] = terms[j], terms[i] })
		op := " && "
		if r.IntN(4) == 0 {
			op = " || "
		}
		return strings.Join(terms, op)
	}
	compared, ruledOut, batches := 0, 0, 40
	for b := range batches {
		reg := NewRegistry()
		var progs []*nfa.Program
		var texts []string
		n := 1 + r.IntN(12)
		for i := 0; len(progs) < n && i < 100; i++ {
			text := fmt.Sprintf("id: r%d\npattern:\n  - name: a\n    where: \"%s\"\n  - name: b\n    where: \"e.amount > 1.0\"\n", i, first())
			c, err := Compile(parseRule(t, "pins.yaml", text), env, reg)
			if err != nil {
				continue
			}
			progs, texts = append(progs, c.Program), append(texts, text)
		}
		x := nfa.NewStartIndex(progs)
		field := dispatchField(progs)
		ci, _ := s.Index("country")
		for j := range 300 {
			ev := randomEvent(r, s, j%5 != 0) // untyped: country of another kind at times
			vals := ev.Values()
			switch r.IntN(6) {
			case 0: // as randomEvent made it
			case 1:
				vals[ci] = event.Value{} // missing
			default:
				vals[ci] = event.String(countries[r.IntN(len(countries))])
			}
			if mj, ok := s.Index("mcc"); ok && r.IntN(2) == 0 {
				vals[mj] = event.String([]string{"1", "2", "3"}[r.IntN(3)])
			}
			ev.SetValues(vals)
			cand := x.Candidates(ev)
			for pi, p := range progs {
				got, want := x.MayStart(cand, pi), pinByPin(p, field, ev)
				if got != want {
					t.Fatalf("batch %d, event %v, rule %d: MayStart %v, pin by pin %v\nrules:\n%s", b, ev.Values(), pi, got, want, strings.Join(texts, "---\n"))
				}
				compared++
				if !got {
					ruledOut++
				}
			}
		}
	}
	if ruledOut == 0 || ruledOut == compared {
		t.Fatalf("%d of %d verdicts rule out: the test tests little", ruledOut, compared)
	}
	t.Logf("%d verdicts agree, %d rule out", compared, ruledOut)
}

// dispatchField is the field most programs' first steps dispatch on (the lowest index
// among equals), -1 when none: StartIndex's first level.
func dispatchField(progs []*nfa.Program) int {
	count := map[int]int{}
	for _, p := range progs {
		if f, _, ok := p.StartDispatch(); ok {
			count[f]++
		}
	}
	field := -1
	for f, n := range count {
		if field < 0 || n > count[field] || n == count[field] && f < field {
			field = f
		}
	}
	return field
}

// pinByPin is MayStart by its definition for program p: the first level (p dispatches
// on field to values the event's string there is not among) or every start guard having
// a failing pin, each pin tested by Pin.Fails, rules it out.
func pinByPin(p *nfa.Program, field int, ev *event.Event) bool {
	if f, vals, ok := p.StartDispatch(); ok && f == field {
		if v := ev.Value(field); v.Kind == event.KindString && !slices.Contains(vals, v.AsString()) {
			return false
		}
	}
	guards, ok := p.StartPins()
	if !ok {
		return true
	}
	for _, g := range guards {
		fails := false
		for i := range g {
			fails = fails || g[i].Fails(ev)
		}
		if !fails {
			return true
		}
	}
	return false
}
