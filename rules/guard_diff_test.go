package rules

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/cepd/cepd/event"
	"github.com/cepd/cepd/nfa"
)

// randomGuardedRule writes a random rule whose steps' conditions mix event-only terms
// (which become guards, and let the matcher carry over the runs they rule out) with
// terms reading the partial match, in every contiguity, quantifier, skip strategy and
// release order. The first step loops, repeats or is optional at times, and later steps
// read first(match.a) at times: a match then starts in step a or not (the matcher reads
// first(match.a) from the run's start event only when every match starts in a).
func randomGuardedRule(g *exprGen, i int) string {
	r := g.r
	evOnly := func() string {
		if r.IntN(6) == 0 {
			return g.leaf() // anything exprGen makes, errors included
		}
		return g.pick("e.country == 'FR'", "e.country != 'US'", "e.mcc in ['1', '2']", "e.amount > 100.0",
			"e.vip", "has(e.device)", "e.mcc == '1'", "e.country in ['FR', 'DE']",
			"e.vip == false && e.amount >= 50.0", "150.0 > e.amount && e.country != 'DE'", "e.amount <= 50.0 && e.mcc != '3'",
			"e.device == 'FR'", "e.lat < 150.0") // the same tests as others, of other fields
	}
	reads := func(step string) string {
		t := g.pick("e.country == first(match.S).country", "e.mcc != last(match.S).mcc",
			"sum(match.S.map(x, x.amount)) + e.amount <= 300.0", "!(e.device in match.S.map(x, x.device))",
			"size(match.S) < 3", "e.ts - last(match.S).ts < duration('10s')", "e.country == last(match.S).country")
		return strings.ReplaceAll(t, "S", step)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "id: r%d\n", i)
	if r.IntN(3) > 0 {
		fmt.Fprintf(&b, "within: %ds\n", 5+r.IntN(30))
	}
	fmt.Fprintf(&b, "skip: %s\nrelease: %s\n", g.pick("no_skip", "to_next", "past_last_event", "to_first:a"),
		g.pick("at_completion", "in_start_order"))
	if r.IntN(2) == 0 {
		b.WriteString("timeouts: true\n")
	}
	b.WriteString("pattern:\n  - name: a\n    where: \"" + evOnly() + "\"\n")
	switch r.IntN(4) {
	case 0:
		b.WriteString("    times: 1+\n")
	case 1:
		b.WriteString("    times: 2..3\n")
	case 2:
		b.WriteString("    optional: true\n")
	}
	steps := 2 + r.IntN(2)
	for k := 1; k < steps; k++ {
		name := string(rune('a' + k))
		prev := string(rune('a' + r.IntN(k)))
		where := evOnly()
		if r.IntN(3) == 0 {
			where += " && " + reads("a")
		}
		switch r.IntN(5) {
		case 0: // no guard: the whole condition reads match
			where = "(" + where + " || " + reads(prev) + ")"
		case 1: // event-only
		default:
			where += " && " + reads(prev)
		}
		fmt.Fprintf(&b, "  - name: %s\n    where: \"%s\"\n", name, where)
		if c := g.pick("", "relaxed", "any", "strict"); c != "" {
			fmt.Fprintf(&b, "    contiguity: %s\n", c)
		}
		switch r.IntN(4) {
		case 0:
			b.WriteString("    times: 1+\n")
		case 1:
			b.WriteString("    times: 1..3\n    optional: true\n")
		}
	}
	return b.String()
}

// guardedStream is a random stream of one key's events, one second apart, over few
// distinct values so that equalities with the partial match hold often.
func guardedStream(r *rand.Rand, s *event.Schema, n int) []*event.Event {
	evs := make([]*event.Event, n)
	t := int64(1714557600e3)
	for i := range evs {
		ev := randomEvent(r, s, true)
		t += int64(1+r.IntN(3)) * 1000
		ev.Seq, ev.Time = uint64(i+1), t
		vals := ev.Values()
		set := func(name string, v event.Value) {
			if j, ok := s.Index(name); ok {
				vals[j] = v
			}
		}
		set("card_id", event.String("c"))
		set("ts", event.TimestampNanos(t*1e6))
		set("country", event.String([]string{"FR", "US", "DE"}[r.IntN(3)]))
		set("mcc", event.String([]string{"1", "2", "3"}[r.IntN(3)]))
		set("amount", event.Double([]float64{10, 50, 150, 250}[r.IntN(4)]))
		ev.SetValues(vals)
		evs[i] = ev
	}
	return evs
}

func resultText(res *nfa.Result) string {
	var b strings.Builder
	one := func(kind string, m nfa.Match) {
		b.WriteString(kind)
		for _, st := range m.Steps {
			b.WriteString(" " + st.Step + ":")
			for _, e := range st.Events {
				fmt.Fprintf(&b, "%d,", e.Seq)
			}
		}
		b.WriteString("\n")
	}
	for _, m := range res.Matches {
		one("match", m)
	}
	for _, to := range res.Timeouts {
		one(fmt.Sprintf("timeout@%d", to.At), to.Match)
	}
	fmt.Fprintf(&b, "dropped %d cut %d\n", res.Dropped, res.Cut)
	return b.String()
}

// TestGuardedRulesMatchReference compiles random rules twice, with event-only guards
// (the matcher carries over the runs they rule out without visiting them) and with
// EnvOptions.NoGuards (the reference: every run visited for every event), runs random
// streams through both, and wants the same matches, timeouts, live runs and memory
// account after every event.
func TestGuardedRulesMatchReference(t *testing.T) {
	s, fastEnv, refEnv := guardEnvs(t)
	r := rand.New(rand.NewPCG(13, 5))
	g := &exprGen{r: r}
	n := 250
	if testing.Short() {
		n = 60
	}
	compiled, matches := 0, 0
	for i := range n {
		text := randomGuardedRule(g, i)
		rule := parseRule(t, "random.yaml", text)
		fast, err := Compile(rule, fastEnv, NewRegistry())
		if err != nil {
			continue // a random leaf that does not type-check
		}
		ref, err := Compile(parseRule(t, "random.yaml", text), refEnv, NewRegistry())
		if err != nil {
			t.Fatalf("compiles with guards, not without: %v\n%s", err, text)
		}
		compiled++
		mf, mr := fast.Program.NewMatcher(), ref.Program.NewMatcher()
		sf, sr := nfa.NewScratch(), nfa.NewScratch()
		sf.Memo, sr.Memo = nfa.NewMemo(8), nfa.NewMemo(8)
		var rf, rr nfa.Result
		for j, ev := range guardedStream(r, s, 100) {
			for _, x := range []struct {
				m  *nfa.Matcher
				sc *nfa.Scratch
				r  *nfa.Result
			}{{mf, sf, &rf}, {mr, sr, &rr}} {
				x.sc.Memo.Next()
				x.m.Advance(ev.Time, x.sc, x.r)
				x.m.Process(ev, x.sc, x.r)
			}
			if a, b := resultText(&rf), resultText(&rr); a != b {
				t.Fatalf("rule %d, event %d: guarded gives\n%s\nreference gives\n%s\nrule:\n%s", i, j+1, a, b, text)
			}
			if mf.Live() != mr.Live() || mf.Usage() != mr.Usage() {
				t.Fatalf("rule %d, event %d: %d live runs (account %+v), reference %d (%+v)\nrule:\n%s", i, j+1, mf.Live(), mf.Usage(), mr.Live(), mr.Usage(), text)
			}
			matches += len(rf.Matches)
			rf.Reset()
			rr.Reset()
		}
		mf.Advance(math.MaxInt64, sf, &rf)
		mr.Advance(math.MaxInt64, sr, &rr)
		if a, b := resultText(&rf), resultText(&rr); a != b {
			t.Fatalf("rule %d, at the end: guarded gives\n%s\nreference gives\n%s\nrule:\n%s", i, a, b, text)
		}
	}
	if compiled < n/2 || matches == 0 {
		t.Fatalf("%d of %d random rules compiled, %d matches: the test tests little", compiled, n, matches)
	}
	t.Logf("%d random rules compiled, %d matches agree", compiled, matches)
}

// TestStartIndexMatchesReference runs random rules as the engine does, many at once: a
// rule's matcher exists only while it has something live, and an idle rule is given an
// event only when the start index (by the field most first steps pin, then by the pins
// of each rule's start guards, each tested once per event for every rule) keeps it and
// CanStart is true; a live matcher is given the index's hint of the states the event
// cannot change (StartIndex.Waits, Scratch.Hint), as the engine gives it. Every rule must
// give what its reference gives (compiled with NoGuards, one matcher always fed), and the
// index must never rule out an event the reference's CanStart takes.
func TestStartIndexMatchesReference(t *testing.T) {
	s, fastEnv, refEnv := guardEnvs(t)
	r := rand.New(rand.NewPCG(13, 8))
	g := &exprGen{r: r}
	batches, ruledOut, second, starts, hinted := 12, 0, 0, 0, 0
	if testing.Short() {
		batches = 4
	}
	for b := range batches {
		rb := compileBatch(t, g, fastEnv, refEnv, 24)
		fast, ref, texts := rb.fast, rb.ref, rb.texts
		x := nfa.NewStartIndex(fast)
		mf, mr := make([]*nfa.Matcher, len(fast)), make([]*nfa.Matcher, len(ref))
		rf, rr := make([]nfa.Result, len(fast)), make([]nfa.Result, len(ref))
		for i, p := range ref {
			mr[i] = p.NewMatcher()
		}
		sf, sr := nfa.NewScratch(), nfa.NewScratch()
		sf.Memo, sr.Memo = nfa.NewMemo(rb.fastSlots), nfa.NewMemo(rb.refSlots)
		for j, ev := range guardedStream(r, s, 200) {
			sf.Memo.Next()
			sr.Memo.Next()
			cand := x.Candidates(ev)
			mask, masked := x.Mask()
			for i := range fast {
				may := x.MayStart(cand, i)
				if masked && may && mask>>i&1 == 0 {
					t.Fatalf("batch %d, event %d: the index's mask leaves out rule %d, which MayStart keeps\nrule:\n%s", b, j+1, i, texts[i])
				}
				if !may && ref[i].CanStart(ev, sr) {
					t.Fatalf("batch %d, event %d: the index rules out rule %d, whose reference starts with it\nrule:\n%s", b, j+1, i, texts[i])
				}
				if mf[i] == nil {
					if !may {
						ruledOut++
						if cand == nil || cand[i] {
							second++ // by the pins, not by the first level
						}
						continue
					}
					if !fast[i].CanStart(ev, sf) {
						continue
					}
					starts++
					mf[i] = fast[i].NewMatcher()
				}
				mf[i].Advance(ev.Time, sf, &rf[i])
				if w := x.Waits(i); w != ^uint64(0) {
					hinted++
				}
				sf.Hint(fast[i], ev, x.Waits(i)) // as the engine does (shard.matchRule)
				mf[i].Process(ev, sf, &rf[i])
				if mf[i].Idle() {
					mf[i] = nil
				}
			}
			for i := range ref {
				mr[i].Advance(ev.Time, sr, &rr[i])
				mr[i].Process(ev, sr, &rr[i])
				if a, b2 := resultText(&rf[i]), resultText(&rr[i]); a != b2 {
					t.Fatalf("batch %d, rule %d, event %d: indexed gives\n%s\nreference gives\n%s\nrule:\n%s", b, i, j+1, a, b2, texts[i])
				}
				rf[i].Reset()
				rr[i].Reset()
			}
		}
	}
	if second == 0 || starts == 0 {
		t.Fatalf("the index ruled out %d idle rules' events (%d by the pins) and %d started: the test tests little", ruledOut, second, starts)
	}
	if hinted == 0 {
		t.Fatal("no live matcher was given a hint that rules out a state: the test tests little")
	}
	t.Logf("%d idle rules' events ruled out by the index (%d by the pins), %d starts agree, %d hints", ruledOut, second, starts, hinted)
}

// ruleBatch is a rule set of random guarded rules compiled twice: with guards, and with
// NoGuards (the reference); each set shares one registry, so memo slots as an engine's.
type ruleBatch struct {
	fast, ref           []*nfa.Program
	texts               []string
	fastSlots, refSlots int
}

// compileBatch compiles up to n random guarded rules (those that type-check).
func compileBatch(t *testing.T, g *exprGen, fastEnv, refEnv *Env, n int) ruleBatch {
	t.Helper()
	var rb ruleBatch
	reg, refReg := NewRegistry(), NewRegistry()
	for i := 0; len(rb.fast) < n && i < 200; i++ {
		text := randomGuardedRule(g, i)
		f, err := Compile(parseRule(t, "random.yaml", text), fastEnv, reg)
		if err != nil {
			continue
		}
		rf, err := Compile(parseRule(t, "random.yaml", text), refEnv, refReg)
		if err != nil {
			t.Fatalf("compiles with guards, not without: %v\n%s", err, text)
		}
		rb.fast, rb.ref, rb.texts = append(rb.fast, f.Program), append(rb.ref, rf.Program), append(rb.texts, text)
	}
	rb.fastSlots, rb.refSlots = reg.Slots(), refReg.Slots()
	return rb
}

// TestStartIndexPinsDistinct: pins of different constants are different pins in the
// start index, even when one string constant holds the bytes that separate another pin's
// constants (a NUL and the kind of a string): a rule pinned to such a string is kept for
// an event that holds it.
func TestStartIndexPinsDistinct(t *testing.T) {
	env := testEnv(t)
	reg := NewRegistry()
	var progs []*nfa.Program
	for i, where := range []string{`e.country in ['FR', 'DE']`, `e.country == 'FR\x00\x05DE'`, `e.country in ['FR\x00', 'DE']`} {
		text := fmt.Sprintf("id: r%d\npattern:\n  - name: a\n    where: %s\n  - name: b\n    where: e.amount > 1.0\n", i, where)
		progs = append(progs, compileRule(t, env, reg, "pins.yaml", text).Program)
	}
	s := env.schema
	for _, country := range []string{"FR", "FR\x00\x05DE", "FR\x00"} {
		ev := randomEvent(rand.New(rand.NewPCG(1, 2)), s, true)
		vals := ev.Values()
		j, _ := s.Index("country")
		vals[j] = event.String(country)
		ev.SetValues(vals)
		x := nfa.NewStartIndex(progs)
		cand := x.Candidates(ev)
		sc := nfa.NewScratch()
		sc.Memo = nfa.NewMemo(reg.Slots())
		sc.Memo.Next()
		for i, p := range progs {
			if p.CanStart(ev, sc) && !x.MayStart(cand, i) {
				t.Errorf("country %q: the index rules out rule %d, whose CanStart is true", country, i)
			}
		}
	}
}

// guardEnvs returns the test schema with an environment that compiles event-only guards
// and start pins and one that compiles none (EnvOptions.NoGuards, the reference).
func guardEnvs(t *testing.T) (*event.Schema, *Env, *Env) {
	t.Helper()
	s := testSchema(t)
	fastEnv, err := NewEnv(s, EnvOptions{})
	if err != nil {
		t.Fatal(err)
	}
	refEnv, err := NewEnv(s, EnvOptions{NoGuards: true})
	if err != nil {
		t.Fatal(err)
	}
	return s, fastEnv, refEnv
}
