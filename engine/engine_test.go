package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cepd/cepd/alerts"
	"github.com/cepd/cepd/event"
	"github.com/cepd/cepd/event/eventtest"
	"github.com/cepd/cepd/rules"
)

// testSchema is the schema of testEvent.
var testSchema = eventtest.CardSchema("ts: int", "kind: string", "amount: double")

// smallThenLarge is the body of a rule for two or more small authorisations then a large
// one within 20 s (testRules' small-then-large, keySpaceRules' card-small-then-large).
const smallThenLarge = `within: 20s
skip: past_last_event
pattern:
  - name: small
    where: e.kind == 'auth' && e.amount < 5.0
    times: 2+
  - name: large
    where: e.kind == 'auth' && e.amount > 500.0
`

// authNoCapture is the pattern of a rule for an authorisation over 100 that no capture
// follows (testRules' auth-no-capture, keySpaceRules' device-absence; their windows are
// their own).
const authNoCapture = `pattern:
  - name: auth
    where: e.kind == 'auth' && e.amount > 100.0
  - name: capture
    not: followed_by
    where: e.kind == 'capture'
`

var testRules = []string{`
id: small-then-large
` + smallThenLarge + `emit:
  n: size(match.small)
`, `
id: auth-no-capture
within: 30s
` + authNoCapture, `
id: three-in-a-row
pattern:
  - name: a
    where: e.kind == 'auth'
  - name: b
    contiguity: strict
    where: e.kind == 'auth'
  - name: c
    contiguity: strict
    where: e.kind == 'auth'
`, `
id: refunds
within: 60s
timeouts: true
pattern:
  - name: buy
    where: e.kind == 'capture'
  - name: refund
    contiguity: any
    where: e.kind == 'refund' && e.amount <= first(match.buy).amount
`}

func testRuleSet(t testing.TB) *RuleSet {
	t.Helper()
	return testRulesOf(t, testRules...)
}

// compileRules compiles rule sources into a rule set for schema.
func compileRules(t testing.TB, schema *event.Schema, srcs []string) *RuleSet {
	t.Helper()
	env, err := rules.NewEnv(schema, rules.EnvOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b := NewRuleSetBuilder(schema, env)
	for i, src := range srcs {
		b.Add(fmt.Sprintf("rule%d.yaml", i), []byte(src), "")
	}
	rs, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

type testEvent struct {
	ID     string  `json:"id"`
	Card   string  `json:"card"`
	TS     int64   `json:"ts"`
	Kind   string  `json:"kind"`
	Amount float64 `json:"amount"`
}

// genEvents makes n events over cards keys with non-decreasing timestamps.
func genEvents(seed uint64, keys, n int) []testEvent {
	r := rand.New(rand.NewPCG(seed, 7))
	kinds := []string{"auth", "auth", "auth", "capture", "refund", "login"}
	out := make([]testEvent, n)
	ts := int64(1_700_000_000_000)
	for i := range out {
		ts += int64(r.IntN(400))
		amt := []float64{1, 2.5, 4, 50, 120, 800}[r.IntN(6)]
		out[i] = testEvent{ID: fmt.Sprintf("e%d", i), Card: fmt.Sprintf("c%d", r.IntN(keys)), TS: ts, Kind: kinds[r.IntN(len(kinds))], Amount: amt}
	}
	return out
}

// records encodes evs as records, each at its index as its offset.
func records(evs []testEvent) []Record {
	recs := make([]Record, len(evs))
	for i, e := range evs {
		b, _ := json.Marshal(e)
		recs[i] = Record{Value: b, Offset: int64(i)}
	}
	return recs
}

type sinkCollector struct {
	mu  sync.Mutex
	all []*alerts.Alert
}

func (s *sinkCollector) Alert(a *alerts.Alert) { s.mu.Lock(); s.all = append(s.all, a); s.mu.Unlock() }

type dlqCollector struct {
	mu  sync.Mutex
	all []DeadLetter
}

func (d *dlqCollector) DeadLetter(x DeadLetter) { d.mu.Lock(); d.all = append(d.all, x); d.mu.Unlock() }

// run feeds recs in chunks of chunk records (Runner) and returns the alerts as sorted JSON lines.
func run(t testing.TB, rs *RuleSet, cfg Config, recs []Record, chunk int) ([]string, *dlqCollector, Snapshot) {
	t.Helper()
	sink, dlq := &sinkCollector{}, &dlqCollector{}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var eng *Engine
	r := Runner{Config: cfg, Rules: rs, Sink: sink, DeadLetters: dlq, Chunk: chunk, EndOfStream: true, Started: func(e *Engine) { eng = e }}
	if err := r.Run(ctx, recs); err != nil {
		t.Fatal(err)
	}
	lines := alertLines(sink.all)
	return lines, dlq, eng.Stats().Snapshot()
}

// TestSameAlertsAnyShardsAnyBatch: the alerts do not depend on the number of shards or on
// how the input is cut into batches.
func TestSameAlertsAnyShardsAnyBatch(t *testing.T) {
	rs := testRuleSet(t)
	recs := records(genEvents(1, 50, 6000))
	want, _, st := run(t, rs, Config{Shards: 1}, recs, 6000)
	if len(want) < 50 {
		t.Fatalf("only %d alerts: the test data is too weak", len(want))
	}
	kinds := map[string]int{}
	for _, l := range want {
		var a alerts.Alert
		_ = json.Unmarshal([]byte(l), &a)
		kinds[a.RuleID+"/"+a.Kind]++
	}
	t.Logf("%d alerts %v, %d events", len(want), kinds, st.Events)
	for _, shards := range []int{1, 2, 8} {
		for _, chunk := range []int{1, 7, 256} {
			for _, bs := range []int{1, 33} {
				got, _, _ := run(t, rs, Config{Shards: shards, BatchSize: bs}, recs, chunk)
				if !slices.Equal(got, want) {
					t.Fatalf("shards=%d chunk=%d batch=%d: %d alerts, want %d", shards, chunk, bs, len(got), len(want))
				}
			}
		}
	}
}

// TestOutOfOrderWithinBound: shuffling events by less than the out-of-orderness bound
// loses nothing: every alert of the sorted input comes out, events out of order for their
// key are re-matched (none is late), and the only extra alerts are the ones counted as
// superseded (delivered before an older event of their key arrived and changed them).
// Events beyond the bound are late and follow the policy.
func TestOutOfOrderWithinBound(t *testing.T) {
	rs := testRuleSet(t)
	evs := genEvents(2, 40, 5000)
	want, _, _ := run(t, rs, Config{Shards: 2, OutOfOrderness: 2 * time.Second}, records(evs), 100)

	// Delay each event by up to 1.5 s of arrival: stable sort by ts + jitter.
	r := rand.New(rand.NewPCG(3, 4))
	shuffled := slices.Clone(evs)
	jit := make(map[string]int64, len(shuffled))
	for _, e := range shuffled {
		jit[e.ID] = e.TS + int64(r.IntN(1500))
	}
	sort.SliceStable(shuffled, func(i, j int) bool { return jit[shuffled[i].ID] < jit[shuffled[j].ID] })
	if slices.EqualFunc(shuffled, evs, func(a, b testEvent) bool { return a.ID == b.ID }) {
		t.Fatal("shuffle did nothing")
	}
	for _, shards := range []int{1, 2, 3} {
		got, dlq, st := run(t, rs, Config{Shards: shards, OutOfOrderness: 2 * time.Second}, records(shuffled), 100)
		if st.Late != 0 || len(dlq.all) != 0 {
			t.Fatalf("%d late events within the bound", st.Late)
		}
		if st.Rematched == 0 {
			t.Fatal("no event was out of order for its key: weak test")
		}
		extra := multisetMinus(got, want)
		if missing := multisetMinus(want, got); len(missing) > 0 {
			t.Fatalf("shards=%d: %d alerts of the sorted input missing, e.g. %s", shards, len(missing), missing[0])
		}
		if uint64(len(extra)) != st.Superseded {
			t.Fatalf("shards=%d: %d extra alerts, %d counted as superseded", shards, len(extra), st.Superseded)
		}
		t.Logf("shards=%d: %d re-matched events, %d superseded alerts of %d", shards, st.Rematched, st.Superseded, len(got))
	}

	// Move a few events far back: they are late, dead-lettered with their bytes, counted.
	late := slices.Clone(evs)
	late = append(late, testEvent{ID: "old1", Card: "c1", TS: evs[0].TS, Kind: "auth", Amount: 1})
	_, dlq, st := run(t, rs, Config{Shards: 2, OutOfOrderness: 2 * time.Second}, records(late), 100)
	if st.Late != 1 || len(dlq.all) != 1 || dlq.all[0].Reason != ReasonLate || len(dlq.all[0].Raw) == 0 {
		t.Fatalf("late handling: late=%d dlq=%+v", st.Late, dlq.all)
	}
	_, dlq, st = run(t, rs, Config{Shards: 2, OutOfOrderness: 2 * time.Second, Late: LateDrop}, records(late), 100)
	if st.Late != 1 || len(dlq.all) != 0 {
		t.Fatalf("drop policy: late=%d dlq=%d", st.Late, len(dlq.all))
	}
}

// TestMalformedEventsDeadLettered: bad input is dead-lettered with its reason and bytes,
// the rest of the batch is matched.
func TestMalformedEventsDeadLettered(t *testing.T) {
	rs := testRuleSet(t)
	good := records(genEvents(5, 5, 200))
	bad := []Record{{Value: []byte(`{"id":"x","card":"c1","ts":"soon","kind":"auth","amount":1}`)},
		{Value: []byte(`not json`)}, {Value: []byte(`{"id":"y","ts":5,"kind":"auth","amount":1}`)},
		{Value: []byte(`[1,2]`)}, {Value: []byte(`{"id":"z","card":"c1","ts":5,"kind":"auth","amount":"lots"}`)}}
	mixed := append(append(slices.Clone(good[:100]), bad...), good[100:]...)
	want, _, _ := run(t, rs, Config{Shards: 2}, good, 50)
	got, dlq, st := run(t, rs, Config{Shards: 2}, mixed, 50)
	if !slices.Equal(got, want) {
		t.Fatalf("malformed events changed the alerts")
	}
	reasons := map[string]int{}
	for _, d := range dlq.all {
		reasons[d.Reason]++
		if len(d.Raw) == 0 {
			t.Errorf("dead letter without its bytes: %+v", d)
		}
	}
	wantReasons := map[string]int{event.ReasonWrongType: 2, event.ReasonBadJSON: 1, event.ReasonMissingKey: 1, event.ReasonNotObject: 1}
	if fmt.Sprint(reasons) != fmt.Sprint(wantReasons) || st.DeadLetter[event.ReasonWrongType] != 2 {
		t.Fatalf("reasons %v, want %v (stats %v)", reasons, wantReasons, st.DeadLetter)
	}
}

// TestPartitionsConcurrent: the same events split by key over several partitions and
// ingested concurrently give the same alerts as one partition; nothing is late.
func TestPartitionsConcurrent(t *testing.T) {
	rs := testRuleSet(t)
	evs := genEvents(9, 60, 6000)
	want, _, _ := run(t, rs, Config{Shards: 2}, records(evs), 64)
	parts := make([][]Record, 3)
	for _, e := range evs {
		var h int
		fmt.Sscanf(e.Card, "c%d", &h)
		b, _ := json.Marshal(e)
		parts[h%3] = append(parts[h%3], Record{Value: b})
	}
	for _, shards := range []int{1, 3} {
		sink, dlq := &sinkCollector{}, &dlqCollector{}
		eng, err := New(Config{Shards: shards}, rs, sink, dlq)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		eng.Start(ctx)
		var wg sync.WaitGroup
		for p, recs := range parts {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < len(recs); i += 50 {
					if _, err := eng.Ingest(ctx, p, recs[i:min(i+50, len(recs))]); err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		if err := eng.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		eng.Close()
		cancel()
		got := alertLines(sink.all)
		if st := eng.Stats().Snapshot(); st.Late != 0 || len(dlq.all) != 0 {
			t.Fatalf("shards=%d: %d late events", shards, st.Late)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("shards=%d: %d alerts over 3 partitions, %d over one", shards, len(got), len(want))
		}
	}
}

// TestHandOverFromSafeOffset: an engine stopped mid-stream and a fresh one re-reading
// from SafeOffset together produce exactly the alerts of one uninterrupted run (an alert
// derived by both is identical): the rebalance contract without external state.
func TestHandOverFromSafeOffset(t *testing.T) {
	rs := testRuleSet(t)
	recs := records(genEvents(11, 30, 4000))
	want, _, _ := run(t, rs, Config{Shards: 2}, recs, 100)
	for _, cut := range []int{1, 1000, 2500, 3999} {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		sink1 := &sinkCollector{}
		e1, err := New(Config{Shards: 2}, rs, sink1, &dlqCollector{})
		if err != nil {
			t.Fatal(err)
		}
		e1.Start(ctx)
		if _, err := e1.Ingest(ctx, 0, recs[:cut]); err != nil {
			t.Fatal(err)
		}
		off, err := e1.SafeOffset(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		if off < 0 || off > int64(cut) {
			t.Fatalf("cut %d: safe offset %d", cut, off)
		}
		if err := e1.RemovePartition(ctx, 0); err != nil {
			t.Fatal(err)
		}
		e1.Close()
		got, _, _ := run(t, rs, Config{Shards: 2}, recs[off:], 100)
		union := map[string]string{}
		for _, a := range sink1.all {
			b, _ := json.Marshal(a)
			union[a.ID] = string(b)
		}
		for _, l := range got {
			var a alerts.Alert
			_ = json.Unmarshal([]byte(l), &a)
			if prev, ok := union[a.ID]; ok && prev != l {
				t.Fatalf("cut %d: alert %s derived twice with different content", cut, a.ID)
			}
			union[a.ID] = l
		}
		var all []string
		for _, l := range union {
			all = append(all, l)
		}
		sort.Strings(all)
		if !slices.Equal(all, want) {
			t.Fatalf("cut %d (safe offset %d): %d alerts, want %d", cut, off, len(all), len(want))
		}
		cancel()
	}
}

// TestIdleKeysCostNothing: events no rule's first step takes create no key state, and
// keys whose partial matches have all ended are released.
func TestIdleKeysCostNothing(t *testing.T) {
	rs := testRuleSet(t)
	eng, ctx, stop := startEngine(t, Config{Shards: 2}, rs, &sinkCollector{}, &dlqCollector{})
	defer stop()
	var evs []testEvent
	for i := 0; i < 1000; i++ { // logins start nothing
		evs = append(evs, testEvent{ID: fmt.Sprint("l", i), Card: fmt.Sprint("c", i), TS: 1000 + int64(i), Kind: "login"})
	}
	if _, err := eng.Ingest(ctx, 0, records(evs)); err != nil {
		t.Fatal(err)
	}
	st, err := eng.Inspect(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	if st.Keys != 0 || st.Bytes != 0 {
		t.Fatalf("events no rule takes created state: %+v", st)
	}
	evs = evs[:0]
	// Captures start a 60s refund window; Inspect walks that many keys in several steps.
	const held = 3*inspectStep + 17
	for i := 0; i < held; i++ {
		evs = append(evs, testEvent{ID: fmt.Sprint("p", i), Card: fmt.Sprint("c", i), TS: 5000 + int64(i), Kind: "capture", Amount: 50})
	}
	if _, err := eng.Ingest(ctx, 0, records(evs)); err != nil {
		t.Fatal(err)
	}
	if st, _ = eng.Inspect(ctx, true); st.Keys != held || st.LiveRuns != held {
		t.Fatalf("%d keys with %d partial matches, want %d with one each", st.Keys, st.LiveRuns, held)
	}
	t.Logf("%d keys with one live partial match each: %d state bytes per key", held, st.Bytes/st.Keys)
	// time moves past every window: the keys are released
	if _, err := eng.Ingest(ctx, 0, records([]testEvent{{ID: "late-login", Card: "zz", TS: 200_000, Kind: "login"}})); err != nil {
		t.Fatal(err)
	}
	if st, _ = eng.Inspect(ctx, false); st.Keys != 0 {
		t.Fatalf("%d keys still held after their windows closed", st.Keys)
	}
	for _, sh := range eng.shards {
		if len(sh.list) != len(sh.keys) {
			t.Fatalf("shard %d lists %d keys and maps %d", sh.id, len(sh.list), len(sh.keys))
		}
	}
}

// multisetMinus returns the elements of a not matched one for one in b.
func multisetMinus(a, b []string) []string {
	n := map[string]int{}
	for _, x := range b {
		n[x]++
	}
	var out []string
	for _, x := range a {
		if n[x] > 0 {
			n[x]--
			continue
		}
		out = append(out, x)
	}
	return out
}

// shuffleAcrossKeys interleaves the keys' events at random while keeping each key's own
// order: the result is what sources that order per key (Kafka partitions, clients
// sending per card) may deliver.
func shuffleAcrossKeys(evs []testEvent, seed uint64) []testEvent {
	r := rand.New(rand.NewPCG(seed, 99))
	byKey := map[string][]testEvent{}
	var keys []string
	for _, e := range evs {
		if byKey[e.Card] == nil {
			keys = append(keys, e.Card)
		}
		byKey[e.Card] = append(byKey[e.Card], e)
	}
	out := make([]testEvent, 0, len(evs))
	for len(keys) > 0 {
		i := r.IntN(len(keys))
		k := keys[i]
		n := 1 + r.IntN(len(byKey[k])) // a run of the key's events at once
		out = append(out, byKey[k][:n]...)
		byKey[k] = byKey[k][n:]
		if len(byKey[k]) == 0 {
			keys = slices.Delete(keys, i, i+1)
		}
	}
	return out
}

// TestCrossKeyShuffle: keys are independent. Events whose per-key order holds are all
// matched at once, whatever the interleaving of keys and with no out-of-orderness: none
// is late or re-matched, and the match alerts are the sorted input's. Timers follow the
// watermark, so with zero out-of-orderness a window of a key the other keys' events have
// run ahead of closes before the key's later events arrive: the timer-driven alerts
// (absence, timeouts) and the matches a closed window cut off can differ then, and are
// the same with an out-of-orderness that covers the disorder.
func TestCrossKeyShuffle(t *testing.T) {
	rs := compileRules(t, testRuleSet(t).Schema, testRules[2:3]) // no window: only the key's own events matter
	evs := genEvents(5, 60, 6000)
	for _, cfg := range []Config{{Shards: 2}, {Shards: 3, OutOfOrderness: time.Second}} {
		want, _, _ := run(t, rs, cfg, records(evs), 200)
		if len(want) < 50 {
			t.Fatalf("only %d alerts: weak test", len(want))
		}
		for seed := uint64(1); seed <= 3; seed++ {
			shuffled := shuffleAcrossKeys(evs, seed)
			got, dlq, st := run(t, rs, cfg, records(shuffled), 1+int(seed)*97)
			if st.Late != 0 || len(dlq.all) != 0 || st.Rematched != 0 {
				t.Fatalf("ooo=%v seed %d: late=%d dead letters=%d rematched=%d for events in order per key", cfg.OutOfOrderness, seed, st.Late, len(dlq.all), st.Rematched)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("ooo=%v seed %d: %d alerts, sorted input %d", cfg.OutOfOrderness, seed, len(got), len(want))
			}
		}
	}
	// Every rule, windows included: with an out-of-orderness covering the disorder (the
	// keys' runs here span at most 3 s of event time) the alerts are the same.
	rs = testRuleSet(t)
	cfg := Config{Shards: 2, OutOfOrderness: time.Hour}
	want, _, _ := run(t, rs, cfg, records(evs), 200)
	got, dlq, st := run(t, rs, cfg, records(shuffleAcrossKeysWithin(evs, 3000, 4)), 150)
	if st.Late != 0 || len(dlq.all) != 0 || st.Rematched != 0 {
		t.Fatalf("late=%d rematched=%d", st.Late, st.Rematched)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("windowed rules: %d alerts, sorted input %d", len(got), len(want))
	}
}

// shuffleAcrossKeysWithin delays each key's events by one random amount below d ms of
// arrival: keys interleave differently, each key's order holds.
func shuffleAcrossKeysWithin(evs []testEvent, d int64, seed uint64) []testEvent {
	r := rand.New(rand.NewPCG(seed, 5))
	lag := map[string]int64{}
	out := slices.Clone(evs)
	for _, e := range out {
		if _, ok := lag[e.Card]; !ok {
			lag[e.Card] = r.Int64N(d)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].TS+lag[out[i].Card] < out[j].TS+lag[out[j].Card] })
	return out
}

// TestRematchSupersedes works one key through a re-match: three authorisations in a row
// alert at once; a login that belongs between the second and third arrives after them,
// within the out-of-orderness: the key is re-matched (the run is no longer strict, the
// alert already out is counted as superseded), and the next authorisations match from
// the corrected state.
func TestRematchSupersedes(t *testing.T) {
	rs := compileRules(t, testRuleSet(t).Schema, testRules[2:3]) // three-in-a-row, strict
	sink := &sinkCollector{}
	eng, ctx, stop := startEngine(t, Config{Shards: 1, OutOfOrderness: 2 * time.Second}, rs, sink, &dlqCollector{})
	defer stop()
	ev := func(id, kind string, ts int64) testEvent {
		return testEvent{ID: id, Card: "c", TS: 1_700_000_000_000 + ts, Kind: kind, Amount: 1}
	}
	out, errs, err := eng.IngestWait(ctx, 0, records([]testEvent{
		ev("a1", "auth", 1000), ev("a2", "auth", 2000), ev("a3", "auth", 3000),
		ev("l", "login", 2500), // out of order for c, within 2 s
		ev("a4", "auth", 4000), ev("a5", "auth", 5000),
		ev("old", "auth", 500), // behind the watermark (5000 − 2000): late
	}))
	if err != nil || len(errs) > 0 {
		t.Fatal(err, errs)
	}
	want := []Outcome{OutcomeMatched, OutcomeMatched, OutcomeMatched, OutcomeRematched, OutcomeMatched, OutcomeMatched, OutcomeLateDeadLettered}
	if !slices.Equal(out, want) {
		t.Fatalf("outcomes %v, want %v", out, want)
	}
	var got []string
	for _, a := range sink.all {
		got = append(got, strings.Join(a.EventIDs(), " "))
	}
	if w := []string{"a1 a2 a3", "a3 a4 a5"}; !slices.Equal(got, w) {
		t.Fatalf("alerts %q, want %q", got, w)
	}
	if st := eng.Stats().Snapshot(); st.Rematched != 1 || st.Superseded != 1 || st.Late != 1 {
		t.Fatalf("stats %+v", st)
	}
}
