package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/cepd/cepd/alerts"
	"github.com/cepd/cepd/internal/workload"
	"github.com/cepd/cepd/rules"
)

// checkTimers reads every matcher of every key of s and reports the first key whose
// known deadlines and bytes (keyState.dl, the first maxKnown, and mbytes, while dlOK)
// differ from the read, or
// whose registered timer comes after its earliest deadline, and a shard total that is not
// the sum of its keys' accounted bytes. It counts the keys with known deadlines.
func checkTimers(s *shard, known *int) error {
	var used int64
	for _, ks := range s.list {
		used += int64(ks.bytes)
		if !ks.dlOK {
			continue
		}
		*known++
		var dl []int64
		b := 0
		for ri, m := range ks.m.all() {
			if m.Idle() {
				return fmt.Errorf("key %s: rule %d's matcher is idle while its deadlines are known", ks.key, ri)
			}
			dl = append(dl, m.Deadline())
			b += m.Usage().Bytes
		}
		var kept []int64
		for j := range min(len(dl), maxKnown) {
			kept = append(kept, ks.dl.get(j, ks.newest))
		}
		if !slices.Equal(dl[:len(kept)], kept) || b != ks.mbytes || int(ks.live) != len(dl) {
			return fmt.Errorf("key %s: known deadlines %v and %d bytes (%d live), its matchers have %v and %d", ks.key, kept, ks.mbytes, ks.live, dl, b)
		}
		if len(dl) > 0 && slices.Min(dl) < ks.timerAt {
			return fmt.Errorf("key %s: timer at %d, after its earliest deadline %d", ks.key, ks.timerAt, slices.Min(dl))
		}
	}
	if used != s.used {
		return fmt.Errorf("shard %d: %d bytes accounted, its keys hold %d", s.id, s.used, used)
	}
	return nil
}

// timerRun feeds evs to an engine with the rules srcs and cfg in chunks of chunk records, swapping to the
// rule set with one rule left out and back twice on the way (the keys' matchers are
// re-bound), and after each chunk checks every key (checkTimers) when check is set, or
// makes every key's deadlines unknown when it is not (so that its timers read every
// matcher). It returns the alerts in order, the engine's accounted bytes at the end and
// how many keys had known deadlines across the checks.
func timerRun(t *testing.T, srcs []string, cfg Config, evs []testEvent, chunk int, check bool) ([]string, int64, int) {
	t.Helper()
	all, fewer := testRulesOf(t, srcs...), testRulesOf(t, srcs[1:]...)
	sink := &sinkCollector{}
	cfg.Log = slog.New(slog.DiscardHandler) // the budget cases cut often
	eng, ctx, stop := startEngine(t, cfg, all, sink, &dlqCollector{})
	defer stop()
	recs := records(evs)
	known, step := 0, len(recs)/chunk/5+1 // swaps after chunks step, 2·step, 3·step, 4·step
	for i, n := 0, 0; i < len(recs); i, n = i+chunk, n+1 {
		if _, err := eng.Ingest(ctx, 0, recs[i:min(i+chunk, len(recs))]); err != nil {
			t.Fatal(err)
		}
		if k := n / step; n%step == 0 && k >= 1 && k <= 4 {
			if _, err := eng.SwapRules(ctx, []*RuleSet{all, fewer}[k%2]); err != nil {
				t.Fatal(err)
			}
		}
		checkShardTimers(t, ctx, eng, &known, !check, fmt.Sprintf("after %d records", min(i+chunk, len(recs))))
	}
	if err := eng.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	sink.mu.Lock()
	defer sink.mu.Unlock()
	var out []string
	for _, a := range sink.all {
		out = append(out, fmt.Sprintf("%s %s %s %v", a.RuleID, a.Key, a.ID, a.LastEventTime.UnixMilli()))
	}
	return out, eng.Stats().Snapshot().MemoryBytes, known
}

// checkShardTimers runs checkTimers on every shard of eng (counting the keys with known
// deadlines into known) and fails the test, saying where, on the first disagreement.
// With forget, it first makes every key's deadlines unknown, so that its next timer reads
// every matcher (the reference runs).
func checkShardTimers(t *testing.T, ctx context.Context, eng *Engine, known *int, forget bool, where string) {
	t.Helper()
	var bad error
	if err := eng.onShards(ctx, func(s *shard) {
		if forget {
			for _, ks := range s.list {
				ks.dlOK = false
			}
		}
		if err := checkTimers(s, known); err != nil && bad == nil {
			bad = err
		}
	}); err != nil {
		t.Fatal(err)
	}
	if bad != nil {
		t.Fatalf("%s: %v", where, bad)
	}
}

// TestTimersReadOnlyDue: a key's timer reads only its matchers due (keyState.dl), and the
// deadlines and bytes it keeps for the others agree with a read of every matcher after
// every chunk of random streams (in order and up to 1.5 s late within a key, with the
// engine budget cutting keys, with rule swaps re-binding matchers, with more live
// matchers than a key keeps deadlines of and deadlines too far to keep); the alerts, in order,
// and the accounted bytes are those of the same run whose timers read every matcher.
func TestTimersReadOnlyDue(t *testing.T) {
	// more rules than a key keeps deadlines of (their windows closing make alerts), and
	// a window too long for them
	many := slices.Clip(testRules)
	for i, w := range []string{"3s", "7s", "11s", "17s", "23s"} {
		many = append(many, fmt.Sprintf(`
id: quiet-%d
within: %s
pattern:
  - name: a
    where: e.kind == 'auth'
  - name: b
    not: followed_by
    where: e.kind == 'capture' && e.amount > %d.0
`, i, w, i))
	}
	long := append(slices.Clip(testRules), longRefundRule)
	for _, c := range []struct {
		name  string
		srcs  []string
		cfg   Config
		late  bool
		chunk int
	}{
		{"in-order", testRules, Config{Shards: 1}, false, 7},
		{"late", testRules, Config{Shards: 1, OutOfOrderness: 2 * time.Second}, true, 5},
		{"budget", testRules, Config{Shards: 1, Budget: testBudget, MemoryBudget: 24 << 10}, false, 3},
		{"late-budget", testRules, Config{Shards: 1, OutOfOrderness: 2 * time.Second, MemoryBudget: 24 << 10}, true, 1},
		{"two-shards", testRules, Config{Shards: 2, OutOfOrderness: time.Second}, true, 11},
		{"many-rules", many, Config{Shards: 1, OutOfOrderness: time.Second}, true, 4},
		{"many-rules-budget", many, Config{Shards: 1, MemoryBudget: 48 << 10}, false, 2},
		{"long-window", long, Config{Shards: 1, OutOfOrderness: time.Second}, true, 3},
		// late events matched anyway (the key folded, a matcher fed an event older than
		// the key's newest), or dropped
		{"late-process", testRules, Config{Shards: 1, OutOfOrderness: 300 * time.Millisecond, Late: LateProcess}, true, 3},
		{"late-drop", testRules, Config{Shards: 1, OutOfOrderness: 300 * time.Millisecond, Late: LateDrop}, true, 5},
		// journals folded as they grow (foldOldest recounts the live matchers)
		{"short-journal", testRules, Config{Shards: 1, OutOfOrderness: 2 * time.Second, MaxJournal: 2}, true, 3},
		{"short-journal-budget", testRules, Config{Shards: 1, OutOfOrderness: 2 * time.Second, MaxJournal: 3, MemoryBudget: 24 << 10}, true, 2},
		// velocity rules (keys with velocity state and no matcher, rearm holds)
		{"velocity", append(slices.Clip(velocityRules), testRules...), Config{Shards: 1, OutOfOrderness: time.Second}, true, 4},
		{"velocity-budget", append(slices.Clip(velocityRules), many...), Config{Shards: 1, OutOfOrderness: time.Second, MemoryBudget: 32 << 10, Late: LateProcess}, true, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			for seed := range uint64(3) {
				evs := genEvents(40+seed, 6+int(seed)*9, 1500)
				if c.late {
					delayWithinKey(evs)
				}
				got, gotBytes, known := timerRun(t, c.srcs, c.cfg, evs, c.chunk, true)
				want, wantBytes, _ := timerRun(t, c.srcs, c.cfg, evs, c.chunk, false)
				if known == 0 {
					t.Fatalf("seed %d: no key ever had its deadlines known", seed)
				}
				if c.cfg.Shards == 1 && !slices.Equal(got, want) || c.cfg.Shards > 1 && !slices.Equal(slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(want))) {
					t.Fatalf("seed %d: %d alerts, %d when timers read every matcher\n%v\n%v", seed, len(got), len(want), got, want)
				}
				if gotBytes != wantBytes || len(got) == 0 {
					t.Fatalf("seed %d: %d bytes accounted, %d when timers read every matcher; %d alerts", seed, gotBytes, wantBytes, len(got))
				}
			}
		})
	}
}

// BenchmarkTimers: the 17 fraud rules on the first b.N events of the reference workload
// (`cepd gen --seed 1 --cards 100000`, whose last events jump two days of event time),
// one shard, 5 s of out-of-orderness: key timers fired, the live matchers of those keys
// (what a timer reading every matcher reads), the matchers the timers read, and of those
// the ones that made an alert and the ones left idle, per event, beside the CPU per
// event; and the most timers one event fired.
//
//	go test ./engine -run '^$' -bench Timers -benchtime 100000x
func BenchmarkTimers(b *testing.B) {
	rs, err := LoadRuleSet("../testdata/fraud", "../testdata/fraud/schema.yaml", rules.EnvOptions{})
	if err != nil {
		b.Fatal(err)
	}
	eng, ctx := runReference(b, rs)
	var fired, live, read, yielded, idled, expired, peak int64
	if err := eng.onShards(ctx, func(s *shard) {
		fired, live, read = fired+s.timers.fired, live+s.timers.live, read+s.timers.read
		yielded, idled, peak = yielded+s.timers.yielded, idled+s.timers.idled, max(peak, s.timers.peak)
		expired += s.timers.expired
	}); err != nil {
		b.Fatal(err)
	}
	n := float64(b.N)
	b.ReportMetric(float64(fired)/n, "timers/event")
	b.ReportMetric(float64(live)/n, "live/event")
	b.ReportMetric(float64(read)/n, "read/event")
	b.ReportMetric(float64(yielded)/n, "yielded/event") // reads that made an alert
	b.ReportMetric(float64(idled)/n, "idled/event")     // reads that left the matcher idle
	b.ReportMetric(float64(expired)/n, "expired/event") // of those, dropped without Advance
	b.ReportMetric(float64(peak), "most-timers/event")  // the most timers one event fired
}

// referenceRecords are the first n events of the reference workload (`cepd gen --seed 1
// --cards 100000`) as records.
func referenceRecords(b *testing.B, n int) []Record {
	cfg := workload.DefaultConfig()
	cfg.Events, cfg.Cards = int64(n), 100000
	return generatedRecords(b, cfg)
}

// generatedRecords are the events the workload generator makes with cfg, as records.
func generatedRecords(tb testing.TB, cfg workload.Config) []Record {
	g, err := workload.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	var recs []Record
	for i := int64(1); ; i++ {
		line, ok := g.Next(nil)
		if !ok {
			break
		}
		recs = append(recs, Record{Value: bytes.TrimSpace(line), Offset: i})
	}
	return recs
}

// longRefundRule waits for a refund up to 40 days after an authorisation over 100: its
// deadlines lie far past a key's newest event.
const longRefundRule = `
id: long-refund
within: 960h
pattern:
  - name: auth
    where: e.kind == 'auth' && e.amount > 100.0
  - name: refund
    contiguity: any
    where: e.kind == 'refund'
`

// TestTimersFarDeadline: a matcher whose next deadline, once its earliest run expires,
// is too far to keep (2³¹−1 ms or more after the key's newest event) makes the key's
// deadlines unknown, and the timer after reads every matcher.
func TestTimersFarDeadline(t *testing.T) {
	rs := testRulesOf(t, longRefundRule)
	eng, ctx, stop := startEngine(t, Config{Shards: 1}, rs, &sinkCollector{}, &dlqCollector{})
	defer stop()
	const t0, day = int64(1_700_000_000_000), int64(24 * 3600 * 1000)
	evs := []testEvent{
		{ID: "a1", Card: "c1", TS: t0, Kind: "auth", Amount: 200},
		{ID: "a2", Card: "c1", TS: t0 + 30*day, Kind: "auth", Amount: 200},      // a second run; the first's deadline fits
		{ID: "x", Card: "c2", TS: t0 + 40*day + 1000, Kind: "login", Amount: 1}, // the first run expires
	}
	fired := int64(0)
	for i, e := range evs {
		rec := records([]testEvent{e})
		rec[0].Offset = int64(i)
		if _, err := eng.Ingest(ctx, 0, rec); err != nil {
			t.Fatal(err)
		}
		if err := eng.Barrier(ctx); err != nil {
			t.Fatal(err)
		}
		var bad error
		if err := eng.onShards(ctx, func(s *shard) {
			known := 0
			bad = checkTimers(s, &known)
			if ks := s.keys["c1"]; ks == nil || ks.live != 1 || i == 1 && !ks.dlOK {
				bad = fmt.Errorf("key c1 after event %d: %+v", i, ks)
			}
			fired = s.timers.fired
		}); err != nil {
			t.Fatal(err)
		}
		if bad != nil {
			t.Fatal(bad)
		}
	}
	if fired != 1 {
		t.Fatalf("%d key timers fired, want 1", fired)
	}
}

// TestTimersAcrossRestore: keys restored from a checkpoint mid-stream (matchers imported,
// journals replayed, their order section read) keep deadlines and bytes that agree with a
// read of every matcher, right after the restore and after every chunk that follows, and
// the alerts of both engines together are those of one uninterrupted run. With many
// rules (more live matchers than a key keeps deadlines of, velocity rules), events out
// of order within a key, and late ones matched anyway.
func TestTimersAcrossRestore(t *testing.T) {
	many := slices.Clip(testRules)
	for i, w := range []string{"3s", "7s", "11s", "17s"} {
		many = append(many, fmt.Sprintf("id: quiet-%d\nwithin: %s\npattern:\n  - name: a\n    where: e.kind == 'auth'\n  - name: b\n    not: followed_by\n    where: e.kind == 'capture' && e.amount > %d.0\n", i, w, i))
	}
	rs := testRulesOf(t, append(slices.Clip(velocityRules), many...)...)
	for _, cfg := range []Config{
		{Shards: 1, OutOfOrderness: 2 * time.Second},
		{Shards: 1, OutOfOrderness: 500 * time.Millisecond, Late: LateProcess}, // one shard: with more, when timers fire varies with the watermark
	} {
		evs := genEvents(51, 25, 3000)
		delayWithinKey(evs)
		recs := records(evs)
		want, _, _ := run(t, rs, cfg, recs, 5)
		if len(want) == 0 {
			t.Fatal("no alerts")
		}
		for _, cut := range []int{400, 1777} {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			dir := t.TempDir()
			var all []*alerts.Alert
			for leg := range 2 {
				store := openStore(t, dir)
				sink := &sinkCollector{}
				cfg.Log = slog.New(slog.DiscardHandler)
				e := startCheckpointed(t, ctx, store, cfg, rs, sink, &dlqCollector{})
				meta, err := e.Restore(ctx, 0, slog.New(slog.DiscardHandler))
				if err != nil {
					t.Fatal(err)
				}
				from, to := 0, cut
				if leg == 1 {
					if !meta.Found || int(meta.Offset)+1 != cut {
						t.Fatalf("cut %d: restored %+v", cut, meta)
					}
					from, to = cut, len(recs)
				}
				known := 0
				check := func(at int) {
					checkShardTimers(t, ctx, e, &known, false, fmt.Sprintf("%+v, cut %d, leg %d, at record %d", cfg, cut, leg, at))
				}
				check(from)
				for i := from; i < to; i += 5 {
					if _, err := e.Ingest(ctx, 0, recs[i:min(i+5, to)]); err != nil {
						t.Fatal(err)
					}
					check(min(i+5, to))
				}
				if leg == 0 {
					barrierCheckpoint(t, ctx, e)
				} else if err := e.Flush(ctx); err != nil {
					t.Fatal(err)
				}
				e.Close()
				store.Close()
				if known == 0 {
					t.Fatalf("cut %d, leg %d: no key had its deadlines known", cut, leg)
				}
				if leg == 1 && e.CheckpointStats().Restored == 0 {
					t.Fatalf("cut %d: nothing restored", cut)
				}
				sink.mu.Lock()
				all = append(all, sink.all...)
				sink.mu.Unlock()
			}
			if got := alertLines(all); !slices.Equal(got, want) {
				t.Fatalf("%+v, cut %d: %d alerts across the restart, %d in one run", cfg, cut, len(got), len(want))
			}
			cancel()
		}
	}
}

// TestTimerShortcutMatchesAdvance: the timers' shortcut (a matcher whose runs all expire
// dropped without Matcher.Advance) against the reference that advances every matcher it
// reads (shard.slowTimers): the reference workload's generator with the fraud rules
// (absence and timeout alerts among them), and the test rules with windows of seconds
// over 40 keys with events milliseconds apart, out of order, one and two shards. The
// same alerts (in the same order with one shard), and with one shard the same state for
// every key before the end of the stream (each matcher's account and deadline, the key's
// timer and bytes; with two, when a shard sees its partition's watermark move depends on
// the batches, and so does the state there, run to run).
func TestTimerShortcutMatchesAdvance(t *testing.T) {
	fraud, err := LoadRuleSet("../testdata/fraud", "../testdata/fraud/schema.yaml", rules.EnvOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := workload.DefaultConfig()
	cfg.Events, cfg.Cards, cfg.Seed, cfg.FraudRate = 20000, 1500, 14, 0.1
	recs := generatedRecords(t, cfg)
	short := testRulesOf(t, append(slices.Clone(testRules), shortWindowRules...)...)
	dense := records(arriveWithin(genEvents(990, 40, 6000), rand.New(rand.NewPCG(0, 37)), 3*time.Second))
	for _, c := range []struct {
		name string
		rs   *RuleSet
		recs []Record
	}{{"fraud", fraud, recs}, {"short", short, dense}} {
		for _, shards := range []int{1, 2} {
			checkTimerShortcut(t, fmt.Sprintf("%s, %d shards", c.name, shards), c.rs, c.recs, shards)
		}
	}
}

// checkTimerShortcut runs recs through rs with the timers' shortcut and without
// (TestTimerShortcutMatchesAdvance).
func checkTimerShortcut(t *testing.T, name string, rs *RuleSet, recs []Record, shards int) {
	run := func(slow bool) (alerts, state []string, expired int64) {
		sink := &sinkCollector{}
		eng, ctx, stop := startEngine(t, Config{Shards: shards, OutOfOrderness: 3 * time.Second}, rs, sink, &dlqCollector{})
		defer stop()
		if err := eng.onShards(ctx, func(s *shard) { s.slowTimers = slow }); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < len(recs); i += 500 {
			if _, err := eng.Ingest(ctx, 0, recs[i:min(i+500, len(recs))]); err != nil {
				t.Fatal(err)
			}
		}
		if err := eng.onShards(ctx, func(s *shard) {
			expired += s.timers.expired
			state = append(state, fmt.Sprintf("shard %d: used %d, %d keys", s.id, s.used, len(s.keys)))
			for k, ks := range s.keys {
				line := fmt.Sprintf("%s: timer %d, bytes %d", k, ks.timerAt, ks.mbytes)
				for ri, m := range ks.m.all() {
					line += fmt.Sprintf("; %d %+v %d", ri, m.Usage(), m.Deadline())
				}
				state = append(state, line)
			}
		}); err != nil {
			t.Fatal(err)
		}
		if err := eng.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		sink.mu.Lock()
		defer sink.mu.Unlock()
		for _, a := range sink.all {
			b, _ := json.Marshal(a)
			alerts = append(alerts, string(b))
		}
		if shards > 1 { // the shards' alerts interleave at random
			slices.Sort(alerts)
		}
		slices.Sort(state)
		return alerts, state, expired
	}
	want, wantState, _ := run(true)
	got, gotState, expired := run(false)
	if len(want) < 50 || expired < int64(len(recs))/20 {
		t.Fatalf("%s: %d alerts, %d matchers dropped by the shortcut: weak test", name, len(want), expired)
	}
	if i := firstDiff(got, want); i >= 0 {
		t.Fatalf("%s: alert %d of %d (reference %d):\n%s\nreference:\n%s", name, i, len(got), len(want), at(got, i), at(want, i))
	}
	if i := firstDiff(gotState, wantState); shards == 1 && i >= 0 {
		t.Fatalf("%s: key states differ:\n%s\nreference:\n%s", name, at(gotState, i), at(wantState, i))
	}
}

// firstDiff is the first index where a and b differ (-1: equal).
func firstDiff(a, b []string) int {
	for i := range max(len(a), len(b)) {
		if i >= len(a) || i >= len(b) || a[i] != b[i] {
			return i
		}
	}
	return -1
}

// at is a[i], or "(none)" past its end.
func at(a []string, i int) string {
	if i < len(a) {
		return a[i]
	}
	return "(none)"
}
