package rules

import (
	"math/rand/v2"
	"testing"

	"github.com/cepd/cepd/event"
	"github.com/cepd/cepd/nfa"
)

// TestMemoTermsErrorsCounted: rules of one registry share event-only terms through the
// memo's term slots, one of them erroring for some events (e.extra > 1 when extra is a
// string); each rule must give the matches and count the evaluation errors it does
// alone (its own registry and memo: no term shared with another rule), whichever rule
// evaluates the shared term first for the event.
func TestMemoTermsErrorsCounted(t *testing.T) {
	s, fastEnv, _ := guardEnvs(t)
	texts := []string{
		"id: ra\nwithin: 20s\npattern:\n  - name: a\n    where: \"e.extra > 1 && e.country == 'FR'\"\n  - name: b\n    where: \"e.extra > 1 || e.amount > 100.0\"\n",
		"id: rb\npattern:\n  - name: a\n    where: \"e.country == 'FR' && e.extra > 1\"\n    times: 1+\n  - name: b\n    where: \"!(e.extra > 1) && e.country != 'FR'\"\n",
		"id: rc\nwithin: 10s\npattern:\n  - name: a\n    where: \"e.amount > 100.0 || e.extra > 1\"\n  - name: b\n    where: \"(e.extra > 1 || e.country == 'US') && e.amount > last(match.a).amount\"\n",
	}
	reg := NewRegistry()
	var fast, ref []*Compiled
	for _, text := range texts {
		f, err := Compile(parseRule(t, "r.yaml", text), fastEnv, reg)
		if err != nil {
			t.Fatal(err)
		}
		r, err := Compile(parseRule(t, "r.yaml", text), fastEnv, NewRegistry())
		if err != nil {
			t.Fatal(err)
		}
		fast, ref = append(fast, f), append(ref, r)
	}
	sf := nfa.NewScratch()
	sf.Memo = nfa.NewMemo(reg.Slots())
	sr := make([]*nfa.Scratch, len(texts)) // one memo a rule
	for i := range sr {
		sr[i] = nfa.NewScratch()
		sr[i].Memo = nfa.NewMemo(8)
	}
	mf, mr := make([]*nfa.Matcher, len(texts)), make([]*nfa.Matcher, len(texts))
	for i := range texts {
		mf[i], mr[i] = fast[i].Program.NewMatcher(), ref[i].Program.NewMatcher()
	}
	r := rand.New(rand.NewPCG(3, 14))
	x, _ := s.Index("extra")
	for j, ev := range guardedStream(r, s, 400) {
		vals := ev.Values()
		vals[x] = []event.Value{{}, event.String("s"), event.Int(0), event.Int(5), event.Double(2)}[r.IntN(5)]
		ev.SetValues(vals)
		sf.Memo.Next()
		for _, sc := range sr {
			sc.Memo.Next()
		}
		for _, i := range r.Perm(len(texts)) { // whichever rule reads the shared term first
			var rf, rr nfa.Result
			mf[i].Advance(ev.Time, sf, &rf)
			mf[i].Process(ev, sf, &rf)
			mr[i].Advance(ev.Time, sr[i], &rr)
			mr[i].Process(ev, sr[i], &rr)
			if a, b := resultText(&rf), resultText(&rr); a != b {
				t.Fatalf("rule %d, event %d: with shared term slots\n%s\nalone\n%s", i, j+1, a, b)
			}
			if a, b := fast[i].EvalErrors(), ref[i].EvalErrors(); a != b {
				t.Fatalf("rule %d, event %d: %d evaluation errors counted, alone %d", i, j+1, a, b)
			}
		}
	}
	for i := range texts {
		if fast[i].EvalErrors() == 0 {
			t.Fatalf("rule %d: no evaluation error: the test tests little", i)
		}
	}
}
