package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/cepd/cepd/alerts"
	"github.com/cepd/cepd/event"
	"github.com/cepd/cepd/event/eventtest"
	"github.com/cepd/cepd/event/jsondecode"
	"github.com/cepd/cepd/internal/fraudtest"
)

// keySpaceSchema is testSchema with the optional keys device and merchant.
var keySpaceSchema = eventtest.CardSchema("device: string?", "merchant: int?", "ts: int", "kind: string", "amount: double")

var keySpaceRules = []string{`
id: card-small-then-large
` + smallThenLarge, `
id: device-many-cards
key: device
within: 30s
skip: past_last_event
pattern:
  - name: cards
    where: e.kind == 'auth' && !(e.card in match.cards.map(x, x.card))
    times: 3
`, `
id: merchant-refund-after-large
key: e.merchant
within: 20s
pattern:
  - name: large
    where: e.kind == 'auth' && e.amount > 500.0
  - name: refund
    where: e.kind == 'refund'
`, `
id: device-absence
key: device
within: 5s
` + authNoCapture}

// keySpaceEvents makes n events over 40 cards sharing 12 devices and 5 merchants, a
// tenth without a device, a few malformed.
func keySpaceEvents(seed uint64, n int) (recs []Record, noDevice, malformed int) {
	r := rand.New(rand.NewPCG(seed, 11))
	ts := int64(1_700_000_000_000)
	kinds := []string{"auth", "auth", "auth", "capture", "refund"}
	for i := range n {
		ts += int64(r.IntN(600))
		m := map[string]any{"id": fmt.Sprintf("e%d", i), "card": fmt.Sprintf("c%d", r.IntN(40)), "ts": ts,
			"kind": kinds[r.IntN(len(kinds))], "amount": []float64{1, 2.5, 120, 800}[r.IntN(4)], "merchant": r.IntN(5)}
		without := r.IntN(10) == 0
		switch {
		case without:
			if r.IntN(2) == 0 {
				m["device"] = nil
			}
		default:
			m["device"] = fmt.Sprintf("d%d", r.IntN(12))
		}
		b, _ := json.Marshal(m)
		if r.IntN(100) == 0 {
			malformed++
			b = []byte(`{"id": "bad", "ts": "no"}`)
		} else if without {
			noDevice++ // an accepted event without a device
		}
		recs = append(recs, Record{Value: b, Offset: int64(i + 1)})
	}
	return recs, noDevice, malformed
}

// runKeySpaces feeds recs through KeySpaces in chunks and returns the alerts.
func runKeySpaces(t *testing.T, rs *RuleSet, cfg Config, recs []Record, chunk int) ([]*alerts.Alert, *dlqCollector, *KeySpaces) {
	t.Helper()
	sink, dlq := &sinkCollector{}, &dlqCollector{}
	k, err := NewKeySpaces(cfg, rs, sink, dlq)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	k.Start(ctx)
	for i := 0; i < len(recs); i += chunk {
		if _, err := k.Ingest(ctx, 0, recs[i:min(i+chunk, len(recs))]); err != nil {
			t.Fatal(err)
		}
	}
	if err := k.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	k.Close()
	return sink.all, dlq, k
}

// runKeyedBy runs the rules among rs keyed by field, alone, in an engine whose schema is
// keyed by field, over the records that decode under the original schema: the reference
// for one key space.
func runKeyedBy(t *testing.T, rs *RuleSet, field string, recs []Record) []*alerts.Alert {
	t.Helper()
	s, err := rs.Schema.KeyedBy(field)
	if err != nil {
		t.Fatal(err)
	}
	sub := &RuleSet{Schema: s, Slots: rs.Slots}
	for _, c := range rs.Rules {
		if ruleKey(rs.Schema, c) == field {
			sub.Rules = append(sub.Rules, c)
		}
	}
	dec := jsondecode.NewDecoder(rs.Schema)
	var ev event.Event
	var ok []Record
	for _, r := range recs {
		if dec.Decode(r.Value, &ev) == nil {
			ok = append(ok, r)
		}
	}
	sink, dlq := &sinkCollector{}, &dlqCollector{}
	eng, ctx, stop := startEngine(t, Config{Shards: 1}, sub, sink, dlq)
	ingestFlush(t, ctx, eng, ok)
	stop()
	return sink.all
}

// TestKeySpacesMatchEachKey: rules keyed by device and by merchant see every accepted
// event of their key, whatever card it belongs to, exactly as an engine keyed by that
// field alone does; the card rules are unaffected; events without a key are counted
// per key space, malformed events dead-lettered once; and none of it depends on the
// shard count or the batching.
func TestKeySpacesMatchEachKey(t *testing.T) {
	rs := keySpaceRulesOf(t, keySpaceRules...)
	spaces, err := SplitKeySpaces(rs)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, sp := range spaces {
		got = append(got, fmt.Sprintf("%s:%s:%v", sp.Field, sp.Rules.Schema.KeyField, ruleIDs(sp.Rules)))
	}
	if want := []string{"card:card:[card-small-then-large]", "device:device:[device-absence device-many-cards]",
		"merchant:merchant:[merchant-refund-after-large]"}; !slices.Equal(got, want) {
		t.Fatalf("key spaces %v, want %v", got, want)
	}

	recs, noDevice, malformed := keySpaceEvents(3, 5000)
	var want []*alerts.Alert
	for _, f := range []string{"card", "device", "merchant"} {
		want = append(want, runKeyedBy(t, rs, f, recs)...)
	}
	byRule := map[string]int{}
	crossCard := 0
	for _, a := range want {
		byRule[a.RuleID]++
		cards := map[string]bool{}
		for _, st := range a.Steps {
			for _, e := range st.Events {
				cards[fmt.Sprint(e.Fields["card"])] = true
			}
		}
		if a.RuleID == "device-many-cards" && len(cards) == 3 {
			crossCard++
		}
	}
	for _, id := range []string{"card-small-then-large", "device-many-cards", "merchant-refund-after-large", "device-absence"} {
		if byRule[id] < 10 {
			t.Fatalf("rule %s: %d alerts in the reference, the data is too weak (%v)", id, byRule[id], byRule)
		}
	}
	if crossCard != byRule["device-many-cards"] {
		t.Fatalf("%d of %d device-many-cards alerts span 3 cards", crossCard, byRule["device-many-cards"])
	}
	t.Logf("reference: %v", byRule)
	for _, shards := range []int{1, 2, 4} {
		for _, chunk := range []int{1, 97, 5000} {
			out, dlq, k := runKeySpaces(t, rs, Config{Shards: shards}, recs, chunk)
			if g, w := fraudtest.AlertIDs(out), fraudtest.AlertIDs(want); !slices.Equal(g, w) {
				t.Fatalf("shards %d chunk %d: %d alerts, the keyed engines %d", shards, chunk, len(g), len(w))
			}
			for _, a := range out {
				if a.RuleID == "device-many-cards" && a.Key[0] != 'd' {
					t.Fatalf("device alert keyed %q", a.Key)
				}
			}
			if len(dlq.all) != malformed {
				t.Fatalf("%d dead letters, want the %d malformed events once", len(dlq.all), malformed)
			}
			if m := k.Missing(); m["device"] != uint64(noDevice) || m["merchant"] != 0 || len(m) != 2 {
				t.Fatalf("missing %v, want device %d merchant 0", m, noDevice)
			}
		}
	}
}

// TestEngineRunsItsKeySpace: an Engine given rules keyed by other fields runs only those
// keyed by its schema's key, at start and after a swap.
func TestEngineRunsItsKeySpace(t *testing.T) {
	schema := eventtest.Schema(t, keySpaceSchema)
	rs := compileRules(t, schema, keySpaceRules)
	eng, err := New(Config{Shards: 1}, rs, &sinkCollector{}, &dlqCollector{})
	if err != nil {
		t.Fatal(err)
	}
	ids := func() []string { return ruleIDs(eng.Rules()) }
	if got := ids(); !slices.Equal(got, []string{"card-small-then-large"}) {
		t.Fatalf("runs %v", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	eng.Start(ctx)
	defer eng.Close()
	if _, err := eng.SwapRules(ctx, compileRules(t, schema, keySpaceRules)); err != nil {
		t.Fatal(err)
	}
	if got := ids(); !slices.Equal(got, []string{"card-small-then-large"}) {
		t.Fatalf("after a swap runs %v", got)
	}
}

// TestKeySpaceSkipsKeylessWithoutAllocating: a key space other than the first passes
// over an event without its field (most events, in a workload where few carry a device)
// counting it, with no error text, copy or dead letter made for it.
func TestKeySpaceSkipsKeylessWithoutAllocating(t *testing.T) {
	rs := keySpaceRulesOf(t, keySpaceRules[:2]...)
	dlq := &dlqCollector{}
	eng, ctx, stop := startEngine(t, Config{Shards: 2, KeySpaces: true}, rs, &sinkCollector{}, dlq)
	defer stop()
	var recs []Record
	for i := range 256 {
		recs = append(recs, Record{Value: fmt.Appendf(nil, `{"id":"e%d","card":"c%d","ts":%d,"kind":"auth","amount":1.5}`, i, i%7, 1_700_000_000_000+int64(i)), Offset: int64(i + 1)})
	}
	child := eng.ks.children()[0]
	if child.field != "device" {
		t.Fatalf("key space %s, want device", child.field)
	}
	runs := 20
	allocs := testing.AllocsPerRun(runs, func() {
		if _, err := child.eng.ingestOwn(ctx, 0, recs, nil); err != nil {
			t.Fatal(err)
		}
	})
	if per := allocs / float64(len(recs)); per > 0.05 {
		t.Fatalf("%.2f allocations per keyless event in the device key space, want none", per)
	}
	// The same events as the card key space hands them on (share): rekeyed, not decoded.
	sh := &share{read: true}
	dec := jsondecode.NewDecoder(rs.Schema)
	for _, r := range recs {
		var ev event.Event
		if err := dec.Decode(r.Value, &ev); err != nil {
			t.Fatal(err)
		}
		sh.evs = append(sh.evs, ev)
	}
	allocs = testing.AllocsPerRun(runs, func() {
		if _, err := child.eng.ingestOwn(ctx, 0, recs, sh); err != nil {
			t.Fatal(err)
		}
	})
	if per := allocs / float64(len(recs)); per > 0.05 {
		t.Fatalf("%.2f allocations per keyless event handed on, want none", per)
	}
	if got, want := child.missing.Load(), uint64(2*(runs+1)*len(recs)); got != want {
		t.Fatalf("%d keyless events counted, want %d", got, want)
	}
	if len(dlq.all) != 0 {
		t.Fatalf("%d dead letters, want none", len(dlq.all))
	}
}
