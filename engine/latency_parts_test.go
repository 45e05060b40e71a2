package engine

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/cepd/cepd/alerts"
)

// slowSink sleeps pause in its first slow Alert calls: the shard's delivery of those
// alerts takes at least pause, and the events after them wait for it.
type slowSink struct {
	pause time.Duration
	slow  int
	n     int // alerts seen (the shard goroutine only: one shard)
}

func (s *slowSink) Alert(*alerts.Alert) {
	if s.n++; s.n <= s.slow {
		time.Sleep(s.pause)
	}
}

// partsLog records what Config.OnLatency is told.
type partsLog struct {
	mu    sync.Mutex
	parts []LatencyParts
}

func (l *partsLog) observe(p LatencyParts) {
	l.mu.Lock()
	l.parts = append(l.parts, p)
	l.mu.Unlock()
}

func (l *partsLog) get() []LatencyParts {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]LatencyParts(nil), l.parts...)
}

// TestLatencyPartsSumToLatency: each sampled alert's parts (Config.OnLatency) are never
// negative and add up to the latency OnAlert is told, and they put the time where it
// went. The first call's match is delivered slowly (its own part holds the sink's
// pause); the second call comes while the shard is still in that delivery, so its
// events go in one batch: its second match waits in its batch (before part) for the
// first one's slow delivery, and its position is that of its event. Alerts time made (a
// third call's watermark closes the absence windows) are marked timed.
func TestLatencyPartsSumToLatency(t *testing.T) {
	const pause = 30 * time.Millisecond
	rs := testRulesOf(t, "id: small-then-large\n"+smallThenLarge, "id: auth-no-capture\nwithin: 30s\n"+authNoCapture)
	since, parts := &sinceLog{}, &partsLog{}
	eng, ctx, stop := startEngine(t, Config{Shards: 1, OnAlert: since.observe, OnLatency: parts.observe}, rs, &slowSink{pause: pause, slow: 2}, &dlqCollector{})
	defer stop()
	const t0 = 1_700_000_000_000
	off := 0
	rec := func(card, kind string, ts int64, amount float64) Record {
		off++
		return Record{Offset: int64(off), Value: fmt.Appendf(nil, `{"id":"e%d","card":%q,"ts":%d,"kind":%q,"amount":%g}`, off, card, ts, kind, amount)}
	}
	match := func(card string, ts int64) []Record { // small, small, large (no capture follows it either)
		return []Record{rec(card, "auth", ts, 1), rec(card, "auth", ts+1, 1), rec(card, "auth", ts+2, 600)}
	}
	second := append(append(match("a", t0+10), match("b", t0+20)...), rec("c", "auth", t0+100, 200))
	for i, recs := range [][]Record{match("z", t0), second, {rec("d", "login", t0+40_000, 1)}} {
		if _, err := eng.Ingest(ctx, 0, recs); err != nil {
			t.Fatal(i, err)
		}
	}
	if err := eng.Barrier(ctx); err != nil {
		t.Fatal(err)
	}
	rules, lat := since.get()
	ps := parts.get()
	if len(rules) != 7 || len(ps) != 7 {
		t.Fatalf("alerts %v, %d latency parts; want 7 of each", rules, len(ps))
	}
	for i, p := range ps {
		if p.Ingest < 0 || p.Queue < 0 || p.Before < 0 || p.Own < 0 {
			t.Fatalf("alert %d (%s): negative part %+v", i, rules[i], p)
		}
		if sum := p.Ingest + p.Queue + p.Before + p.Own; sum != lat[i] {
			t.Fatalf("alert %d (%s): parts %+v add up to %v, latency %v", i, rules[i], p, sum, lat[i])
		}
		if absence := rules[i] == "auth-no-capture"; p.Timed != absence || absence != (i >= 3) {
			t.Fatalf("alert %d of %v: timed %v; want the three matches first, not timed, and the absences timed", i, rules, p.Timed)
		}
	}
	if ps[0].Own < pause {
		t.Fatalf("first alert: own part %v, want the sink's %v in it (parts %+v)", ps[0].Own, pause, ps[0])
	}
	if p := ps[2]; p.Before < pause || p.Own >= pause || p.Position != 5 {
		t.Fatalf("third alert: before %v (want at least %v), own %v (want less), position %d (want 5): %+v", p.Before, pause, p.Own, p.Position, p)
	}
}
