package main

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cepd/cepd/alerts"
	"github.com/cepd/cepd/engine"
	"github.com/cepd/cepd/event"
	"github.com/cepd/cepd/event/jsondecode"
)

// The card-testing micro-benchmark: one simple rule, three tiny authorisations then a
// large one within ten minutes, run by cepd and by a matcher written by hand for exactly
// this rule, over the same JSON lines decoded by the same decoder.

const microRule = `id: card-testing-micro
name: Card testing (micro-benchmark)
severity: high
within: 10m
skip: past_last_event
pattern:
  - name: probes
    where: e.type == 'auth' && e.amount < 2.0
    times: 3
  - name: large
    where: e.type == 'auth' && e.amount >= 200.0
`

// microRuleSet writes the rule beside the fraud schema in a temporary directory and
// loads it as cepd does.
func microRuleSet(tb testing.TB) *engine.RuleSet {
	tb.Helper()
	dir := tb.TempDir()
	schema, err := os.ReadFile(fraudSchema)
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "schema.yaml"), schema, 0o644); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "card-testing-micro.yaml"), []byte(microRule), 0o644); err != nil {
		tb.Fatal(err)
	}
	rs, err := loadRuleSet(dir, "")
	if err != nil {
		tb.Fatal(err)
	}
	return rs
}

// microEvents returns n card events over the given number of cards in event-time order
// (microRecords), as records over one buffer.
func microEvents(seed uint64, cards, n int) []engine.Record {
	return microRecords(seed, cards, n).records(n)
}

// microStream is a stream of records held without pointers: every record's JSON one
// after another in buf, record i ending at ends[i]. A collection marks it as two objects,
// so a benchmark's forced collection costs nearly nothing however long the stream is
// (1M records of their own are 1M objects to mark: about 1.7k instructions an event of a
// 100k-event run, BenchmarkCardTestingSides).
type microStream struct {
	buf  []byte
	ends []int
}

// records returns the stream's first n records, their values pointing into its buffer.
func (m *microStream) records(n int) []engine.Record {
	recs := make([]engine.Record, n)
	from := 0
	for i := range recs {
		recs[i] = engine.Record{Value: m.buf[from:m.ends[i]:m.ends[i]], Offset: int64(i + 1)}
		from = m.ends[i]
	}
	return recs
}

// microRecords returns n card events over the given number of cards in event-time order:
// authorisations (1% of them tiny probes, 5% large), captures and logins spread evenly
// over about two days, with bursts injected (three probes a minute apart and a large
// authorisation a minute later, on one card) in one of every 1,000 events.
func microRecords(seed uint64, cards, n int) *microStream {
	r := rand.New(rand.NewPCG(seed, 42))
	type raw struct {
		ts     int64
		card   int
		typ    string
		amount float64
	}
	const span = 48 * int64(time.Hour/time.Millisecond)
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	evs := make([]raw, 0, n)
	for len(evs) < n {
		c := r.IntN(cards)
		ts := start + r.Int64N(span)
		if r.IntN(1000) == 0 && len(evs)+4 <= n {
			for i := range 3 {
				evs = append(evs, raw{ts + int64(i)*60_000, c, "auth", 0.5 + float64(r.IntN(150))/100})
			}
			evs = append(evs, raw{ts + 180_000, c, "auth", 200 + float64(r.IntN(200000))/100})
			continue
		}
		e := raw{ts: ts, card: c}
		switch k := r.IntN(10); {
		case k < 7:
			e.typ = "auth"
			switch p := r.IntN(100); {
			case p == 0:
				e.amount = 0.5 + float64(r.IntN(150))/100
			case p < 6:
				e.amount = 200 + float64(r.IntN(200000))/100
			default:
				e.amount = 5 + float64(r.IntN(14500))/100
			}
		case k < 9:
			e.typ, e.amount = "capture", 5+float64(r.IntN(14500))/100
		default:
			e.typ = "login"
		}
		evs = append(evs, e)
	}
	slices.SortStableFunc(evs, func(a, b raw) int { return cmp.Compare(a.ts, b.ts) })
	m := &microStream{ends: make([]int, len(evs))}
	b := m.buf
	for i, e := range evs {
		b = append(b, `{"event_id":"ev`...)
		b = strconv.AppendInt(b, int64(i), 10)
		b = append(b, `","card_id":"card`...)
		b = strconv.AppendInt(b, int64(e.card), 10)
		b = append(b, `","ts":"`...)
		b = time.UnixMilli(e.ts).UTC().AppendFormat(b, "2006-01-02T15:04:05.000Z07:00")
		b = append(b, `","type":"`...)
		b = append(b, e.typ...)
		b = append(b, '"')
		if e.typ != "login" {
			b = append(b, `,"amount":`...)
			b = strconv.AppendFloat(b, e.amount, 'f', 2, 64)
			b = append(b, `,"currency":"EUR","merchant_id":"m`...)
			b = strconv.AppendInt(b, int64(e.card*7%5000), 10)
			b = append(b, `","mcc":"5411","country":"FR","card_present":false,"channel":"ecom"`...)
		} else {
			b = append(b, `,"channel":"web","ip":"10.1.2.3","device_id":"d`...)
			b = strconv.AppendInt(b, int64(e.card), 10)
			b = append(b, '"')
		}
		b = append(b, '}')
		m.ends[i] = len(b)
	}
	m.buf = b
	return m
}

// handMatcher is card testing written by hand for this one rule: per card, the tiny
// authorisations of the last ten minutes since the card's last match. A large
// authorisation with three or more of them matches the first three (the earliest
// partial match; skip past_last_event then drops every other one).
type handMatcher struct {
	dec          *jsondecode.Decoder
	ev           event.Event
	typ, amount  int
	cards        map[string]*handCard
	matches      []string // key and event ids of each match
	countOnly    bool
	matchesCount int
}

type handCard struct {
	ts  []int64
	ids []string
}

func newHandMatcher(schema *event.Schema, countOnly bool) *handMatcher {
	h := &handMatcher{dec: jsondecode.NewDecoder(schema), cards: map[string]*handCard{}, countOnly: countOnly}
	h.typ, _ = schema.Index("type")
	h.amount, _ = schema.Index("amount")
	return h
}

const microWindow = 10 * 60 * 1000

func (h *handMatcher) feed(rec []byte) {
	ev := &h.ev
	if err := h.dec.Decode(rec, ev); err != nil {
		return
	}
	typ, amt := ev.Value(h.typ), ev.Value(h.amount)
	if !typ.Present() || typ.AsString() != "auth" || !amt.Present() {
		return
	}
	a := amt.AsDouble()
	if a >= 2.0 && a < 200.0 {
		return
	}
	c := h.cards[ev.Key]
	if c == nil {
		if a >= 200.0 {
			return
		}
		c = &handCard{}
		h.cards[ev.Key] = c
	}
	drop := 0 // probes whose window closed (at or after ten minutes)
	for drop < len(c.ts) && ev.Time-c.ts[drop] >= microWindow {
		drop++
	}
	c.ts, c.ids = c.ts[drop:], c.ids[drop:]
	if a < 2.0 {
		c.ts, c.ids = append(c.ts, ev.Time), append(c.ids, ev.ID())
		return
	}
	if len(c.ts) < 3 {
		if len(c.ts) == 0 {
			delete(h.cards, ev.Key)
		}
		return
	}
	h.matchesCount++
	if !h.countOnly {
		h.matches = append(h.matches, ev.Key+" "+strings.Join(c.ids[:3], ",")+","+ev.ID())
	}
	delete(h.cards, ev.Key)
}

// cepdMatches runs the rule through the engine (one shard, as written) and returns each
// match as the hand-written matcher writes it.
func cepdMatches(tb testing.TB, rs *engine.RuleSet, recs []engine.Record) []string {
	tb.Helper()
	col := &alerts.Collector{}
	if _, err := runReplay(context.Background(), rs, recs, engine.Config{Shards: 1}, col, &dlqWriter{}, true); err != nil {
		tb.Fatal(err)
	}
	var out []string
	for _, a := range col.Sorted() {
		if a.Kind != "match" {
			continue
		}
		var ids []string
		for _, s := range a.Steps {
			for _, e := range s.Events {
				ids = append(ids, e.ID)
			}
		}
		out = append(out, a.Key+" "+strings.Join(ids, ","))
	}
	return out
}

// TestCardTestingMicroAgrees: cepd and the hand-written matcher find the same matches
// (the same cards and events), so the benchmark compares equal work.
func TestCardTestingMicroAgrees(t *testing.T) {
	rs := microRuleSet(t)
	for seed := uint64(1); seed <= 3; seed++ {
		recs := microEvents(seed, 500, 60000)
		h := newHandMatcher(rs.Schema, false)
		for _, r := range recs {
			h.feed(r.Value)
		}
		got := cepdMatches(t, rs, recs)
		want := h.matches
		slices.Sort(got)
		slices.Sort(want)
		if len(want) < 30 {
			t.Fatalf("seed %d: only %d matches: the stream tests little", seed, len(want))
		}
		if !slices.Equal(got, want) {
			t.Fatalf("seed %d: cepd found %d matches, the hand-written matcher %d; first difference:\n%s",
				seed, len(got), len(want), firstDiff(got, want))
		}
	}
}

func firstDiff(a, b []string) string {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return fmt.Sprintf("cepd %q\nhand %q", a[i], b[i])
		}
	}
	return fmt.Sprintf("lengths %d and %d", len(a), len(b))
}

// BenchmarkCardTesting runs the micro-benchmark of issue 13: 1M events over 10k cards,
// through cepd (one shard, decoding in the ingesting goroutine) and through the
// hand-written matcher (one goroutine), alternately in one process. One op is one pass
// over the stream. It reports each side's wall and CPU time per event, the ratios
// hand/cepd (1.0: cepd as fast as the hand-written matcher), the wall time of decoding
// the stream alone on one goroutine (the floor of both), and what each side cost the
// collector: the collections that ended during it (per pass), their CPU time and the
// allocations (per event).
func BenchmarkCardTesting(b *testing.B) {
	rs := microRuleSet(b)
	recs := microEvents(1, 10000, 1_000_000)
	var handWall, handCPU, cepdWall, cepdCPU, decWall int64
	var handGC, cepdGC sideCost
	var handN, cepdN int
	hand := func() {
		w0, c0, g0 := time.Now(), cpuTime(), readCost()
		h := newHandMatcher(rs.Schema, true)
		for i := range recs {
			h.feed(recs[i].Value)
		}
		handWall += int64(time.Since(w0))
		handCPU += cpuTime() - c0
		handGC.add(g0, readCost())
		handN = h.matchesCount
	}
	cepd := func() {
		w0, c0, g0 := time.Now(), cpuTime(), readCost()
		col := &alerts.Collector{}
		if err := backtestReplay(rs, recs, col); err != nil {
			b.Fatal(err)
		}
		cepdWall += int64(time.Since(w0))
		cepdCPU += cpuTime() - c0
		cepdGC.add(g0, readCost())
		cepdN = col.Len()
	}
	decode := func() { // the floor both sides stand on
		w0 := time.Now()
		dec, ev := jsondecode.NewDecoder(rs.Schema), &event.Event{}
		for i := range recs {
			if err := dec.Decode(recs[i].Value, ev); err != nil {
				b.Fatal(err)
			}
		}
		decWall += int64(time.Since(w0))
	}
	b.ResetTimer()
	for i := range b.N { // alternately first, so neither side always inherits the other's garbage
		decode()
		if i%2 == 0 {
			hand()
			cepd()
		} else {
			cepd()
			hand()
		}
	}
	if handN != cepdN {
		b.Fatalf("cepd found %d matches, the hand-written matcher %d", cepdN, handN)
	}
	ev := float64(b.N * len(recs))
	b.ReportMetric(float64(cepdN), "matches")
	b.ReportMetric(float64(decWall)/ev, "decode-ns/event")
	b.ReportMetric(float64(handWall)/ev, "hand-ns/event")
	b.ReportMetric(float64(cepdWall)/ev, "cepd-ns/event")
	b.ReportMetric(float64(handCPU)/ev, "hand-cpu-ns/event")
	b.ReportMetric(float64(cepdCPU)/ev, "cepd-cpu-ns/event")
	b.ReportMetric(float64(handWall)/float64(cepdWall), "wall-ratio")
	b.ReportMetric(float64(handCPU)/float64(cepdCPU), "cpu-ratio")
	handGC.report(b, "hand", b.N, ev)
	cepdGC.report(b, "cepd", b.N, ev)
}

// sideCost sums what the passes of one side of a benchmark cost the collector, read
// from runtime/metrics before and after each pass: the collections that ended during
// it, the collector's CPU time the runtime counted then (it counts a cycle's at its
// end), and the objects and bytes allocated.
type sideCost struct{ cycles, gcCPU, objects, bytes float64 }

// costMetrics are the runtime/metrics a sideCost sums, in its fields' order.
var costMetrics = [...]string{"/gc/cycles/total:gc-cycles", "/cpu/classes/gc/total:cpu-seconds",
	"/gc/heap/allocs:objects", "/gc/heap/allocs:bytes"}

// readCost reads the runtime's running totals of costMetrics.
func readCost() sideCost {
	s := make([]metrics.Sample, len(costMetrics))
	for i, n := range costMetrics {
		s[i].Name = n
	}
	metrics.Read(s)
	v := func(i int) float64 {
		if s[i].Value.Kind() == metrics.KindFloat64 {
			return s[i].Value.Float64()
		}
		return float64(s[i].Value.Uint64())
	}
	return sideCost{v(0), v(1), v(2), v(3)}
}

// add adds the difference between the totals read before a pass and after it.
func (c *sideCost) add(before, after sideCost) {
	c.cycles += after.cycles - before.cycles
	c.gcCPU += after.gcCPU - before.gcCPU
	c.objects += after.objects - before.objects
	c.bytes += after.bytes - before.bytes
}

// report reports the side's collections per pass and its collector CPU and allocations
// per event.
func (c *sideCost) report(b *testing.B, side string, passes int, events float64) {
	b.ReportMetric(c.cycles/float64(passes), side+"-gc/pass")
	b.ReportMetric(c.gcCPU*1e9/events, side+"-gc-cpu-ns/event")
	b.ReportMetric(c.objects/events, side+"-allocs/event")
	b.ReportMetric(c.bytes/events, side+"-B/event")
}

// backtestReplay runs recs through an engine of one shard with no out-of-orderness.
func backtestReplay(rs *engine.RuleSet, recs []engine.Record, col *alerts.Collector) error {
	_, err := runReplay(context.Background(), rs, recs, engine.Config{Shards: 1}, col, &dlqWriter{}, true)
	return err
}
