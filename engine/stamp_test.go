package engine

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/cepd/cepd/alerts"
)

// sinceLog records what Config.OnAlert is told: each alert's rule and latency.
type sinceLog struct {
	mu    sync.Mutex
	rule  []string
	since []time.Duration
}

func (l *sinceLog) observe(a *alerts.Alert, since time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.rule = append(l.rule, a.RuleID)
	l.since = append(l.since, since)
}

func (l *sinceLog) get() ([]string, []time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.rule...), append([]time.Duration(nil), l.since...)
}

// wantOneSampled waits until the engine has handled everything ingested so far (a
// barrier) and fails unless exactly one alert was made, its latency was sampled, and the
// engine counts one latency sample.
func (l *sinceLog) wantOneSampled(ctx context.Context, t *testing.T, eng *Engine, when string) {
	t.Helper()
	if err := eng.Barrier(ctx); err != nil {
		t.Fatal(err)
	}
	if rule, since := l.get(); len(since) != 1 || since[0] < 0 {
		t.Fatalf("%s: alerts %v, latencies %v; want one, sampled", when, rule, since)
	}
	if n := eng.Stats().Snapshot().LatencyN; n != 1 {
		t.Fatalf("%s: latency samples %d, want 1", when, n)
	}
}

// TestWatermarkAlertSampled: an absence alert that an ingested event makes due carries
// that Ingest call's stamp, and its latency is sampled, also on a shard that got none
// of the call's events (it hears of the watermark in a watermark message); one the end
// of the stream makes due carries none and is not sampled (unstamped).
func TestWatermarkAlertSampled(t *testing.T) {
	rs := testRulesOf(t, "id: auth-no-capture\nwithin: 30s\n"+authNoCapture)
	log := &sinceLog{}
	eng, ctx, stop := startEngine(t, Config{Shards: 2, OnAlert: log.observe}, rs, &sinkCollector{}, &dlqCollector{})
	defer stop()
	other := "b"
	for i := 0; eng.shardOf(other) == eng.shardOf("a"); i++ {
		other = fmt.Sprintf("b%d", i)
	}
	rec := func(off int, card string, ts int64, kind string, amount float64) []Record {
		return []Record{{Offset: int64(off), Value: fmt.Appendf(nil, `{"id":"e%d","card":%q,"ts":%d,"kind":%q,"amount":%g}`, off, card, ts, kind, amount)}}
	}
	const t0 = 1_700_000_000_000
	for i, r := range [][]Record{
		rec(1, "a", t0, "auth", 200),
		rec(2, other, t0+40_000, "login", 1), // a's window closed: its shard got no event
	} {
		if _, err := eng.Ingest(ctx, 0, r); err != nil {
			t.Fatal(i, err)
		}
	}
	log.wantOneSampled(ctx, t, eng, "after the watermark passed the window")
	if _, err := eng.Ingest(ctx, 0, rec(3, "a", t0+41_000, "auth", 300)); err != nil {
		t.Fatal(err)
	}
	if err := eng.Flush(ctx); err != nil { // the end of the stream closes the window
		t.Fatal(err)
	}
	if rule, since := log.get(); len(since) != 2 || since[1] >= 0 {
		t.Fatalf("after the end of the stream: alerts %v, latencies %v; want a second one, not sampled", rule, since)
	}
	if n := eng.Stats().Snapshot().LatencyN; n != 1 {
		t.Fatalf("latency samples %d after the end of the stream, want still 1", n)
	}
}

// TestKeySpaceAlertStampedAtCall: an alert of another key space counts its latency from
// when the Ingest call began, as the engine's own key space's do, not from when the key
// spaces before it had handed the call's events on (which took at least pause here: the
// tap, run by the first key space for every event, sleeps on the last one).
func TestKeySpaceAlertStampedAtCall(t *testing.T) {
	const pause = 100 * time.Millisecond
	rs := keySpaceRulesOf(t, keySpaceRules[:2]...) // device-many-cards: 3 cards on a device
	log := &sinceLog{}
	tap := func(_ int, _ string, _ int64, raw []byte) {
		if bytes.Contains(raw, []byte(`"id":"e3"`)) {
			time.Sleep(pause)
		}
	}
	eng, ctx, stop := startEngine(t, Config{Shards: 1, KeySpaces: true, OnAlert: log.observe, Tap: tap}, rs, &sinkCollector{}, &dlqCollector{})
	defer stop()
	var recs []Record
	for i := 1; i <= 3; i++ {
		recs = append(recs, Record{Offset: int64(i), Value: fmt.Appendf(nil, `{"id":"e%d","card":"c%d","device":"d1","ts":%d,"kind":"auth","amount":1.5}`, i, i, 1_700_000_000_000+int64(i))})
	}
	if _, err := eng.Ingest(ctx, 0, recs); err != nil {
		t.Fatal(err)
	}
	if err := eng.Barrier(ctx); err != nil {
		t.Fatal(err)
	}
	rule, since := log.get()
	if len(rule) != 1 || rule[0] != "device-many-cards" {
		t.Fatalf("alerts %v, want one of device-many-cards", rule)
	}
	if since[0] < pause {
		t.Fatalf("latency %v, want at least the %v the call spent in the first key space", since[0], pause)
	}
	if n := eng.Stats().Snapshot().LatencyN; n != 1 {
		t.Fatalf("latency samples %d, want 1", n)
	}
}

// TestBehindWatermarkAlertSampled: an event of a new key far behind its partition's
// watermark starts a window that is already closed; the absence alert it makes at once
// (the key's timer is due when the shard settles the key) is the call's and is sampled,
// as an ingested event made it: neither the end of the stream nor an idle partition.
func TestBehindWatermarkAlertSampled(t *testing.T) {
	rs := testRulesOf(t, "id: auth-no-capture\nwithin: 30s\n"+authNoCapture)
	log := &sinceLog{}
	eng, ctx, stop := startEngine(t, Config{Shards: 1, OnAlert: log.observe}, rs, &sinkCollector{}, &dlqCollector{})
	defer stop()
	const t0 = 1_700_000_000_000
	for i, r := range []string{
		fmt.Sprintf(`{"id":"e1","card":"a","ts":%d,"kind":"login","amount":1}`, t0+40_000),
		fmt.Sprintf(`{"id":"e2","card":"b","ts":%d,"kind":"auth","amount":200}`, t0), // its window closed at t0+30s
	} {
		if _, err := eng.Ingest(ctx, 0, []Record{{Offset: int64(i), Value: []byte(r)}}); err != nil {
			t.Fatal(i, err)
		}
	}
	log.wantOneSampled(ctx, t, eng, "after the event behind the watermark")
}

// TestKeySpaceAddedLaterSharesClock: a key space a rule swap brings in long after the
// engine started measures its alerts on the engine's clock (the call's stamp is the
// parent's): its latency is the time since the call began, not that less the time
// between the engine's start and its own (negative here).
func TestKeySpaceAddedLaterSharesClock(t *testing.T) {
	const pause = 200 * time.Millisecond
	log := &sinceLog{}
	eng, ctx, stop := startEngine(t, Config{Shards: 1, KeySpaces: true, OnAlert: log.observe}, keySpaceRulesOf(t, keySpaceRules[:1]...), &sinkCollector{}, &dlqCollector{})
	defer stop()
	time.Sleep(pause)
	if _, err := eng.SwapRules(ctx, keySpaceRulesOf(t, keySpaceRules[:2]...)); err != nil { // brings in device
		t.Fatal(err)
	}
	var recs []Record
	for i := 1; i <= 3; i++ {
		recs = append(recs, Record{Offset: int64(i), Value: fmt.Appendf(nil, `{"id":"e%d","card":"c%d","device":"d1","ts":%d,"kind":"auth","amount":1.5}`, i, i, 1_700_000_000_000+int64(i))})
	}
	start := time.Now()
	if _, err := eng.Ingest(ctx, 0, recs); err != nil {
		t.Fatal(err)
	}
	if err := eng.Barrier(ctx); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	rule, since := log.get()
	if len(rule) != 1 || rule[0] != "device-many-cards" {
		t.Fatalf("alerts %v, want one of device-many-cards", rule)
	}
	if since[0] < 0 || since[0] > took {
		t.Fatalf("latency %v, want between 0 and the %v the call and the barrier took", since[0], took)
	}
}
