package nfa

import (
	"fmt"
	"math/bits"
	"math/rand/v2"
	"syscall"
	"testing"

	"github.com/cepd/cepd/event"
	"github.com/cepd/cepd/patterns"
)

var benchSchema, _ = event.NewSchema("bench", []event.Field{
	{Name: "name", Type: event.TypeString}, {Name: "key", Type: event.TypeString}, {Name: "ts", Type: event.TypeInt},
}, "key", "ts", "")

// nameIs is a condition over the event's name field, as a compiled rule's fast path is.
func nameIs(n string) Condition {
	return ConditionFunc(func(ctx *EvalContext) bool { return ctx.Event.Value(0).AsString() == n })
}

func step(name string, c patterns.Contiguity, q *patterns.Quantifier) *patterns.Step {
	return &patterns.Step{Name: name, Where: "e.name == '" + name + "'", Contiguity: c, Quantifier: q}
}

type benchPattern struct {
	name string
	pat  *patterns.Pattern
	mix  string // event names drawn uniformly
}

func benchPatterns() []benchPattern {
	loop := &patterns.Quantifier{Min: 1, Max: -1}
	greedyUntil := &patterns.Quantifier{Min: 1, Max: -1, Greedy: true}
	gu := step("b", patterns.Relaxed, greedyUntil)
	gu.Until = "e.name == 'x'"
	neg := step("n", patterns.ContiguityDefault, nil)
	neg.Negation = patterns.NotFollowedBy
	return []benchPattern{
		{"strict", &patterns.Pattern{Steps: []*patterns.Step{step("a", 0, nil), step("b", patterns.Strict, nil), step("c", patterns.Strict, nil)}}, "abcxyzuvw"},
		{"relaxed_loop", &patterns.Pattern{Steps: []*patterns.Step{step("a", 0, nil), step("b", patterns.Relaxed, loop), step("c", patterns.Relaxed, nil)}, WithinMs: 20}, "abcxyzuvwpqrstlm"},
		{"followed_by_any", &patterns.Pattern{Steps: []*patterns.Step{step("a", 0, nil), step("b", patterns.Any, nil), step("c", patterns.Any, nil)}, WithinMs: 20}, "abcxyzuvwpqrstlm"},
		{"negation", &patterns.Pattern{Steps: []*patterns.Step{step("a", 0, nil), neg, step("c", patterns.Relaxed, nil)}, WithinMs: 20}, "acnxyzuvwpqrstlm"},
		{"greedy_until", &patterns.Pattern{Steps: []*patterns.Step{step("a", 0, nil), gu, step("c", patterns.Relaxed, nil)}, WithinMs: 20}, "abcxyzuvwpqrstlm"},
		{"no_step_matches", &patterns.Pattern{Steps: []*patterns.Step{step("a", 0, nil), step("b", patterns.Relaxed, nil), step("c", patterns.Relaxed, nil)}, WithinMs: 20}, "xyzuvw"},
	}
}

func benchResolve(s *patterns.Step, k CondKind) (Condition, error) {
	if k == CondUntil {
		return nameIs("x"), nil
	}
	return nameIs(s.Name), nil
}

func benchEvents(mix string, keys, n int) []*event.Event {
	r := rand.New(rand.NewPCG(1, 2))
	evs := make([]*event.Event, n)
	for i := range evs {
		name := string(mix[r.IntN(len(mix))])
		k := fmt.Sprintf("k%d", r.IntN(keys))
		evs[i] = (&event.Event{Seq: uint64(i + 1), Key: k, Time: int64(i / keys), Schema: benchSchema}).
			SetValues([]event.Value{event.String(name), event.String(k), event.Int(int64(i / keys))})
	}
	return evs
}

// BenchmarkMatcher runs each pattern over 1,000 keys with one matcher per key; one op is
// one event (advance + process). It reports live partial matches at the end and the heap
// bytes they hold, and the process's CPU time per op (cpu-ns/op).
func BenchmarkMatcher(b *testing.B) {
	for _, bp := range benchPatterns() {
		b.Run(bp.name, func(b *testing.B) {
			prog, err := Compile(bp.pat, benchResolve, Options{})
			if err != nil {
				b.Fatal(err)
			}
			const keys = 1000
			evs := benchEvents(bp.mix, keys, 1<<16)
			ms, live := runStream(b, prog, evs, keys, false)
			b.ReportMetric(float64(live), "live_runs")
			if live > 0 {
				// Idle matchers are dropped by the engine; count the ones holding runs.
				bytes := 0
				for _, m := range ms {
					if !m.Idle() {
						bytes += m.Footprint().Bytes
					}
				}
				idle := prog.NewMatcher().Footprint().Bytes
				b.ReportMetric(float64(bytes)/float64(live), "B/live_run")
				b.ReportMetric(float64(idle), "B/idle_matcher")
			}
		})
	}
}

// evGuarded is a condition that reads the partial match, with an event-only guard (the
// shape of a compiled rule's `e.type == 'refund' && e.auth_id == first(match.p).auth_id`).
type evGuarded struct {
	name string
	step string // "": reads only the event
}

func (c *evGuarded) Eval(ctx *EvalContext) bool {
	if ctx.Event.Value(0).AsString() != c.name {
		return false
	}
	if c.step == "" {
		return true
	}
	m := ctx.Matched(c.step)
	return len(m) > 0 && m[0].Value(2).AsInt()%3 == ctx.Event.Value(2).AsInt()%3
}

func (c *evGuarded) Guard() Condition { return nameIs(c.name) }

// BenchmarkMatcherGuarded is refund-exceeds-purchase's shape: every capture ("c") opens a
// partial match that waits for refunds ("r", rare) of the same purchase, so a key holds
// many runs that most events cannot change. 100 keys, 262,144 events, then the same
// again from scratch; one op is one event (advance + process); cpu-ns/op is the process's CPU time per op (steadier than wall time on a
// shared machine).
func BenchmarkMatcherGuarded(b *testing.B) {
	loop := &patterns.Quantifier{Min: 1, Max: -1, Optional: true}
	pat := &patterns.Pattern{WithinMs: 60, Steps: []*patterns.Step{
		step("purchase", 0, nil), step("partial", patterns.Relaxed, loop), step("excess", patterns.Relaxed, nil)}}
	conds := map[string]Condition{"purchase": &evGuarded{name: "c"}, "partial": &evGuarded{name: "r", step: "purchase"},
		"excess": &evGuarded{name: "r", step: "purchase"}}
	prog, err := Compile(pat, func(s *patterns.Step, k CondKind) (Condition, error) { return conds[s.Name], nil }, Options{})
	if err != nil {
		b.Fatal(err)
	}
	const keys = 100
	evs := benchEvents("aaaaacxxxxxxxxxxxxxxr", keys, 1<<18)
	_, live := runStream(b, prog, evs, keys, true)
	b.ReportMetric(float64(live)/keys, "live_runs/key")
}

// runStream runs b.N events through a matcher of prog for each key (evs: a power of two
// of events with keys "k0", "k1", …): evs over and over, each pass's times 1,000 s after
// the last's, or with fresh each pass on new matchers (the stream again from scratch).
// One op is one event (advance + process). It stops the timer, reports CPU time per op
// and matches per event, and returns the matchers and the partial matches live at the end.
func runStream(b *testing.B, prog *Program, evs []*event.Event, keys int, fresh bool) ([]*Matcher, int) {
	keyIdx, ms := benchMatchers(prog, evs, keys)
	passShift := bits.Len(uint(len(evs))) - 1
	if fresh {
		passShift = 63 // each pass's times start over, as its matchers do (i>>63 is 0)
	}
	sc := NewScratch()
	var res Result
	matches := 0
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuNanos()
	for i := 0; i < b.N; i++ {
		j := i & (len(evs) - 1)
		if fresh && j == 0 && i > 0 {
			for k := range ms {
				ms[k] = prog.NewMatcher()
			}
		}
		ev := evs[j]
		m := ms[keyIdx[j]]
		m.Advance(ev.Time+int64(i>>passShift)*1e6, sc, &res)
		m.Process(ev, sc, &res)
		matches += len(res.Matches)
		res.Reset()
	}
	b.StopTimer()
	b.ReportMetric(float64(cpuNanos()-cpu0)/float64(b.N), "cpu-ns/op")
	b.ReportMetric(float64(matches)/float64(b.N), "matches/event")
	live := 0
	for _, m := range ms {
		live += m.Live()
	}
	return ms, live
}

// cpuNanos is the process's user + system CPU time.
func cpuNanos() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// benchMatchers returns the key index of each of evs (keys "k0", "k1", …) and a new
// matcher of prog for each of the keys.
func benchMatchers(prog *Program, evs []*event.Event, keys int) ([]int, []*Matcher) {
	keyIdx := make([]int, len(evs))
	for i, e := range evs {
		fmt.Sscanf(e.Key, "k%d", &keyIdx[i])
	}
	ms := make([]*Matcher, keys)
	for i := range ms {
		ms[i] = prog.NewMatcher()
	}
	return keyIdx, ms
}
