package state_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"testing"

	"github.com/cepd/cepd/event"
	"github.com/cepd/cepd/nfa"
	"github.com/cepd/cepd/patterns"
	"github.com/cepd/cepd/state"
)

// cardSchema is a realistic 15-field card-transaction schema.
var cardSchema = mustSchema(event.NewSchema("card_transaction", []event.Field{
	{Name: "txn_id", Type: event.TypeString},
	{Name: "card_id", Type: event.TypeString},
	{Name: "ts", Type: event.TypeTimestamp},
	{Name: "amount", Type: event.TypeDouble},
	{Name: "currency", Type: event.TypeString},
	{Name: "merchant_id", Type: event.TypeString},
	{Name: "mcc", Type: event.TypeInt},
	{Name: "country", Type: event.TypeString},
	{Name: "channel", Type: event.TypeString},
	{Name: "device_id", Type: event.TypeString, Optional: true},
	{Name: "ip", Type: event.TypeString, Optional: true},
	{Name: "is_3ds", Type: event.TypeBool},
	{Name: "response_code", Type: event.TypeString},
	{Name: "balance", Type: event.TypeDouble, Optional: true},
	{Name: "attempt", Type: event.TypeInt},
}, "card_id", "ts", "txn_id"))

func mustSchema(s *event.Schema, err error) *event.Schema {
	if err != nil {
		panic(err)
	}
	return s
}

const baseTime = int64(1_767_225_600_000) // 2026-01-01T00:00:00Z, ms

// cardEvent is the i-th transaction of a card, as the decoder would produce it.
func cardEvent(key string, i int) *event.Event {
	amounts := []float64{1.5, 2, 3.25, 749.99, 4.1, 0.99, 12.5}
	channels := []string{"ecom", "ecom", "pos", "ecom", "ecom", "atm", "pos"}
	t := baseTime + int64(i)*47_000 + int64(i*i)*1_300
	h := sha256.Sum256(fmt.Appendf(nil, "%s/%d", key, i))
	id := fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16]) // a UUID
	v := []event.Value{
		event.String(id),
		event.String(key),
		event.TimestampNanos(t * 1e6),
		event.Double(amounts[i%len(amounts)]),
		event.String("EUR"),
		event.String(fmt.Sprintf("m-%05d", 1000+i%3)),
		event.Int(int64([]int{5999, 5411, 5999}[i%3])),
		event.String([]string{"FR", "FR", "DE"}[i%3]),
		event.String(channels[i%len(channels)]),
		event.String("dev-7f3a9c"),
		event.String("203.0.113.42"),
		event.Bool(i%2 == 0),
		event.String([]string{"00", "05", "00", "51"}[i%4]),
		{}, // balance missing
		event.Int(int64(i%3 + 1)),
	}
	return (&event.Event{Seq: uint64(1000 + i*3), Key: key, Time: t, Offset: int64(5000 + i*7 - i%3*20), Schema: cardSchema}).SetValues(v)
}

type fixtureRule struct {
	id    string
	pat   *patterns.Pattern
	conds map[string]func(*event.Event) bool
}

func fixtureRules() []fixtureRule {
	amount := func(e *event.Event) float64 { return e.Value(3).AsDouble() }
	loop := &patterns.Quantifier{Min: 1, Max: -1}
	return []fixtureRule{
		{"card-testing", &patterns.Pattern{WithinMs: 3_600_000, Steps: []*patterns.Step{
			{Name: "small", Where: "x"},
			{Name: "more", Where: "x", Contiguity: patterns.Relaxed, Quantifier: loop},
			{Name: "big", Where: "x", Contiguity: patterns.Relaxed},
		}}, map[string]func(*event.Event) bool{
			"small": func(e *event.Event) bool { return amount(e) < 5 },
			"more":  func(e *event.Event) bool { return amount(e) < 5 },
			"big":   func(e *event.Event) bool { return amount(e) > 1000 },
		}},
		{"ecom-then-atm", &patterns.Pattern{WithinMs: 1_800_000, Steps: []*patterns.Step{
			{Name: "online", Where: "x"},
			{Name: "cash", Where: "x", Contiguity: patterns.Relaxed},
		}}, map[string]func(*event.Event) bool{
			"online": func(e *event.Event) bool { return e.Value(8).AsString() == "pos" },
			"cash":   func(e *event.Event) bool { return e.Value(8).AsString() == "atm" },
		}},
		{"declines", &patterns.Pattern{WithinMs: 600_000, Steps: []*patterns.Step{
			{Name: "d1", Where: "x"},
			{Name: "d2", Where: "x", Contiguity: patterns.Relaxed},
			{Name: "d3", Where: "x", Contiguity: patterns.Relaxed},
		}}, map[string]func(*event.Event) bool{
			"d1": func(e *event.Event) bool { return e.Value(12).AsString() != "00" },
			"d2": func(e *event.Event) bool { return e.Value(12).AsString() != "00" },
			"d3": func(e *event.Event) bool { return e.Value(12).AsString() != "00" },
		}},
	}
}

// liveState runs the fixture rules over n events of one key and exports the key's
// state, as the engine does at a checkpoint. It returns the state and the live runs.
func liveState(tb testing.TB, key string, n int) (*state.KeyState, int) {
	tb.Helper()
	ks := &state.KeyState{Key: key}
	idx := map[*event.Event]int32{}
	eventIndex := func(e *event.Event) int32 {
		if i, ok := idx[e]; ok {
			return i
		}
		idx[e] = int32(len(ks.Events))
		ks.Events = append(ks.Events, e)
		return idx[e]
	}
	evs := make([]*event.Event, n)
	for i := range evs {
		evs[i] = cardEvent(key, i)
	}
	live := 0
	for _, r := range fixtureRules() {
		prog, err := nfa.Compile(r.pat, func(s *patterns.Step, _ nfa.CondKind) (nfa.Condition, error) {
			f := r.conds[s.Name]
			return nfa.ConditionFunc(func(c *nfa.EvalContext) bool { return f(c.Event) }), nil
		}, nfa.Options{})
		if err != nil {
			tb.Fatal(err)
		}
		m := prog.NewMatcher()
		sc := nfa.NewScratch()
		var res nfa.Result
		for _, ev := range evs { // the same events for every rule, as the engine feeds them
			m.Advance(ev.Time, sc, &res)
			m.Process(ev, sc, &res)
			res.Reset()
		}
		live += m.Live()
		fp := sha256.Sum256([]byte(r.id))
		ks.Rules = append(ks.Rules, state.RuleState{RuleID: r.id, Fingerprint: hex.EncodeToString(fp[:]), Matcher: m.Export(eventIndex)})
	}
	return ks, live
}
