package nfa

import (
	"fmt"
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/cepd/cepd/event"
	"github.com/cepd/cepd/patterns"
)

// explosivePatterns are the shapes of issue 11: every event is an "auth" that the loops
// take, and the last step waits for a "c" that does not come.
func explosivePatterns() []benchPattern {
	loop := func(greedy bool, inner patterns.Contiguity) *patterns.Quantifier {
		return &patterns.Quantifier{Min: 1, Max: -1, Greedy: greedy, Inner: inner}
	}
	auth := func(name string, c patterns.Contiguity, q *patterns.Quantifier) *patterns.Step {
		return &patterns.Step{Name: name, Where: "auth", Contiguity: c, Quantifier: q}
	}
	return []benchPattern{
		{"greedy_loops", &patterns.Pattern{Steps: []*patterns.Step{
			auth("a", 0, loop(true, 0)), auth("b", patterns.Relaxed, loop(true, 0)), step("c", patterns.Relaxed, nil)}}, ""},
		{"any_loop", &patterns.Pattern{Steps: []*patterns.Step{
			auth("a", 0, loop(false, patterns.Any)), step("c", patterns.Any, nil)}}, ""},
		{"relaxed_loops", &patterns.Pattern{Steps: []*patterns.Step{
			auth("a", 0, loop(false, 0)), auth("b", patterns.Relaxed, loop(false, 0)), step("c", patterns.Relaxed, nil)}}, ""},
		{"strict_greedy_loop", &patterns.Pattern{Steps: []*patterns.Step{
			auth("a", 0, loop(true, patterns.Strict)), step("c", patterns.Relaxed, nil)}}, ""},
	}
}

// authResolve: "auth" steps take auth events, the others their own name.
func authResolve(s *patterns.Step, k CondKind) (Condition, error) {
	if s.Where == "auth" {
		return nameIs("auth"), nil
	}
	return nameIs(s.Name), nil
}

func namedEvent(i int, name string) *event.Event {
	return (&event.Event{Seq: uint64(i + 1), Key: "card", Time: int64(i), Schema: benchSchema}).
		SetValues([]event.Value{event.String(name), event.String("card"), event.Int(int64(i))})
}

var testBudget = Budget{Runs: 500, Nodes: 2000, Digits: 40000, Bytes: 1 << 20, VersionLen: 300}

// TestBudgetBoundsExplosivePatterns reproduces item 1 of issue 11 in the matcher: 2,500
// auth events for one key under a rule whose loops feed each other. Without a budget the
// first pattern holds about 47 MB after 400 events (cubic growth: 2.5k events would need
// about 10 GB) while the run bound (MaxRuns) is never reached. With a budget, what the
// matcher holds stays within it after every event, the cuts are counted, and a "c" after
// the flood still completes a match.
func TestBudgetBoundsExplosivePatterns(t *testing.T) {
	eachExplosive(t, func(t *testing.T, prog *Program) {
		m, sc := budgeted(prog, testBudget)
		var res Result
		cut, peak := 0, Usage{}
		for i := range 2500 {
			m.Process(namedEvent(i, "auth"), sc, &res)
			u := m.Usage()
			if why := testBudget.over(u); why != "" {
				t.Fatalf("event %d: usage %+v exceeds the budget (%s)", i, u, why)
			}
			for _, r := range m.partial {
				if r.ver.n() > testBudget.VersionLen {
					t.Fatalf("event %d: a run kept a version of %d digits", i, r.ver.n())
				}
			}
			peak.Runs, peak.Nodes, peak.Edges = max(peak.Runs, u.Runs), max(peak.Nodes, u.Nodes), max(peak.Edges, u.Edges)
			peak.Digits, peak.Bytes = max(peak.Digits, u.Digits), max(peak.Bytes, u.Bytes)
			cut += res.Cut
			res.Reset()
		}
		if cut == 0 {
			t.Fatalf("2,500 events cut nothing (peak %+v): the pattern is not explosive", peak)
		}
		if !m.WasCut() && m.Live() > 0 {
			t.Errorf("matcher not marked after cuts")
		}
		// A cut may have just emptied the matcher: a few more auth events, then the c.
		// A fresh matcher fed those alone finds matches; the flooded one must too.
		fresh := prog.NewMatcher()
		var fres Result
		for i := 2500; i < 2503; i++ {
			m.Process(namedEvent(i, "auth"), sc, &res)
			fresh.Process(namedEvent(i, "auth"), sc, &fres)
		}
		res.Reset()
		m.Process(namedEvent(2503, "c"), sc, &res)
		fresh.Process(namedEvent(2503, "c"), sc, &fres)
		if len(fres.Matches) > 0 && len(res.Matches) == 0 {
			t.Fatalf("no match after the flood: detection stopped for the key")
		}
		t.Logf("%d partial matches cut; peak %+v; %d matches on the final c", cut, peak, len(res.Matches))
	})
}

// TestBudgetUsageIsExact: the incremental account equals a walk of the live state after
// every call, on the explosive patterns (with cuts), the benchmark patterns and random
// ones, and after a snapshot round trip.
func TestBudgetUsageIsExact(t *testing.T) {
	for _, c := range usageCases(t) {
		m := c.prog.NewMatcher()
		sc := NewScratch()
		sc.Budget = Budget{Runs: 40, Nodes: 500, Digits: 5000, Bytes: 200 << 10, VersionLen: 100}
		var res Result
		check := func(i int, m *Matcher) {
			t.Helper()
			checkUsage(t, fmt.Sprintf("%s event %d", c.name, i), m)
		}
		// As the engine re-matches a key (engine/order.go): a snapshot clone taken before
		// some events, and later a clone of it that replays them and replaces the matcher.
		var base *Matcher
		var since []*event.Event
		for i, ev := range c.evs {
			if i%30 == 3 {
				base, since = m.Clone(), since[:0]
				check(i, base)
			}
			since = append(since, ev)
			m.Advance(ev.Time, sc, &res)
			check(i, m)
			m.Process(ev, sc, &res)
			check(i, m)
			res.Reset()
			if base != nil && i%30 > 6 && len(since) > 3 { // a trim: the base takes the oldest event
				base.Recount()
				e := since[0]
				since = since[1:]
				base.Advance(e.Time, sc, &res)
				base.Process(e, sc, &res)
				res.Reset()
				check(i, base)
				m.Recount()
				check(i, m)
			}
			if i%30 == 20 && base != nil {
				for k := 0; k < 2; k++ { // twice, as a re-match replays before and after
					r := base.Clone()
					for _, e := range since {
						r.Advance(e.Time, sc, &res)
						r.Process(e, sc, &res)
						res.Reset()
					}
					check(i, r)
					m = r
				}
			}
			if i%50 == 49 && hasStart(m) { // (a matcher whose start run stopped cannot be imported)
				m = roundTrip(t, c.prog, m)
				check(i, m)
			}
		}
		m.Advance(math.MaxInt64, sc, &res)
		check(len(c.evs), m)
	}
}

// usageCase is a program and the events TestBudgetUsageIsExact feeds it.
type usageCase struct {
	name string
	prog *Program
	evs  []*event.Event
}

// usageCases are TestBudgetUsageIsExact's programs: the explosive patterns (with cuts),
// the benchmark patterns, trailing absences and random patterns.
func usageCases(t *testing.T) []usageCase {
	var cases []usageCase
	for _, bp := range explosivePatterns() {
		prog := explosiveProgram(t, bp.pat)
		var evs []*event.Event
		for i := range 600 {
			name := "auth"
			if i%97 == 96 {
				name = "c"
			}
			evs = append(evs, namedEvent(i, name))
		}
		cases = append(cases, usageCase{bp.name, prog, evs})
	}
	for _, bp := range benchPatterns() {
		bp.pat.Skip = patterns.Skip{Kind: patterns.SkipPastLastEvent}
		prog, err := Compile(bp.pat, benchResolve, Options{Timeouts: true})
		if err != nil {
			t.Fatal(err)
		}
		cases = append(cases, usageCase{bp.name, prog, benchEvents(bp.mix, 1, 1500)})
	}
	// Trailing absences released by Advance, whose skip prunes the runs started before
	// their last event: Advance's account drops those runs' entries (settle, dropOnly).
	for _, within := range []int64{3, 10, 40} {
		pat := &patterns.Pattern{Skip: patterns.Skip{Kind: patterns.SkipPastLastEvent}, WithinMs: within, Steps: []*patterns.Step{
			{Name: "a", Where: "a"}, {Name: "b", Where: "b"}, {Name: "x", Where: "x", Negation: patterns.NotFollowedBy}}}
		prog, err := Compile(pat, letterResolve, Options{Timeouts: true})
		if err != nil {
			t.Fatal(err)
		}
		cases = append(cases, usageCase{fmt.Sprintf("absence within %d", within), prog, benchEvents("aabzzx", 1, 1500)})
	}
	for seed := range 200 {
		prog, err := seededProgram(seed)
		if err != nil {
			continue
		}
		cases = append(cases, usageCase{fmt.Sprintf("random%d", seed), prog, benchEvents("abcde", 1, 200)})
	}
	return cases
}

// checkUsage fails the test (at what) when m's incremental account differs from a walk
// of its live state.
func checkUsage(t *testing.T, at string, m *Matcher) {
	t.Helper()
	u, f := m.Usage(), m.Footprint()
	runs := len(m.held())
	for _, r := range m.partial {
		if r.st.typ != stStart {
			runs++
		}
	}
	if u.Nodes != f.Nodes || u.Edges != f.Edges || u.Digits != f.Digits || u.Runs != runs {
		t.Fatalf("%s: account %+v, walk %+v (runs %d)", at, u, f, runs)
	}
}

// roundTrip exports m and imports it again into prog.
func roundTrip(t *testing.T, prog *Program, m *Matcher) *Matcher {
	t.Helper()
	snap, list := exportList(m)
	m2, err := prog.Import(snap, list)
	if err != nil {
		t.Fatal(err)
	}
	return m2
}

// TestBudgetCutsAreDeterministic: the cuts depend only on the state and the events, so a
// run interrupted by snapshot round trips (a restart) cuts the same partial matches and
// gives the same matches as one without.
func TestBudgetCutsAreDeterministic(t *testing.T) {
	eachExplosive(t, func(t *testing.T, prog *Program) {
		run := func(every int) []string {
			m, sc := budgeted(prog, testBudget)
			var res Result
			var out []string
			for i := range 700 {
				name := "auth"
				if i%151 == 150 {
					name = "c"
				}
				m.Process(namedEvent(i, name), sc, &res)
				for _, mt := range res.Matches {
					out = append(out, matchString(mt))
				}
				if res.Cut > 0 {
					out = append(out, fmt.Sprintf("cut %d by %s at %d", res.Cut, res.CutBy, i))
				}
				res.Reset()
				if every > 0 && i%every == every-1 {
					m = roundTrip(t, prog, m)
				}
			}
			return out
		}
		want := run(0)
		if len(want) == 0 {
			t.Fatal("nothing happened")
		}
		for _, every := range []int{3, 100} {
			if got := run(every); !reflect.DeepEqual(got, want) {
				t.Fatalf("restoring every %d events changes the result:\n got %d lines\nwant %d lines", every, len(got), len(want))
			}
		}
	})
}

// TestBudgetBoundsWorkPerEvent: once a key is at its budget, an event costs about what
// the budget allows, not what the key has seen. The time of the last 500 of 2,500 events
// is compared with the time of events 500–1,000 (generous factor: the machine is shared).
func TestBudgetBoundsWorkPerEvent(t *testing.T) {
	m, sc := budgeted(explosiveProgram(t, explosivePatterns()[0].pat), testBudget)
	var res Result
	var early, late time.Duration
	for i := range 2500 {
		t0 := time.Now()
		m.Process(namedEvent(i, "auth"), sc, &res)
		d := time.Since(t0)
		switch {
		case i >= 500 && i < 1000:
			early += d
		case i >= 2000:
			late += d
		}
		res.Reset()
	}
	if late > 5*early+50*time.Millisecond {
		t.Fatalf("the last 500 events took %v, events 500-1000 %v: work per event grows with the key's history", late, early)
	}
	t.Logf("events 500-1000: %v, 2000-2500: %v", early, late)
}

func hasStart(m *Matcher) bool {
	for _, r := range m.partial {
		if r.st.typ == stStart {
			return true
		}
	}
	return false
}

// BenchmarkBudgetCapped: the cost of one event for a key held at the default budget by
// an explosive pattern (after 3,000 warm-up events), against an ordinary pattern's event.
// go test ./nfa -run '^$' -bench BudgetCapped -benchtime 2000x
func BenchmarkBudgetCapped(b *testing.B) {
	eachExplosive(b, func(b *testing.B, prog *Program) {
		m, sc := budgeted(prog, Budget{})
		var res Result
		for i := range 3000 {
			m.Process(namedEvent(i, "auth"), sc, &res)
			res.Reset()
		}
		evs := make([]*event.Event, b.N)
		for i := range evs {
			evs[i] = namedEvent(3000+i, "auth")
		}
		cut := 0
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			m.Process(evs[i], sc, &res)
			cut += res.Cut
			res.Reset()
		}
		b.ReportMetric(float64(cut)/float64(b.N), "cut/event")
		b.ReportMetric(float64(m.Usage().Digits), "digits")
	})
}

// TestMatcherSize keeps a Matcher in the runtime's 96-byte size class: one is held per
// key and rule, and every base snapshot copies one (account's int32 counts).
func TestMatcherSize(t *testing.T) {
	if mBytes > 96 {
		t.Fatalf("a Matcher is %d bytes, want at most 96", mBytes)
	}
}

// TestBudgetSameCoversFields: Budget.same, the cached budget's check, tells apart two
// budgets that differ in any one field (a field added to Budget and not to same fails).
func TestBudgetSameCoversFields(t *testing.T) {
	var a Budget
	v := reflect.ValueOf(&a).Elem()
	for i := range v.NumField() {
		b := a
		reflect.ValueOf(&b).Elem().Field(i).SetInt(7)
		if a.same(&b) || b.same(&a) {
			t.Fatalf("budgets differing in %s are the same", v.Type().Field(i).Name)
		}
		if !b.same(&b) {
			t.Fatalf("a budget differs from itself")
		}
	}
}
