package engine

import (
	"context"
	"testing"
	"time"

	"github.com/cepd/cepd/event"
)

// TestSubmitCollectRematchedCooled: an event re-matched into its key's journal gets, like
// one matched in order, the alerts it completed that its rule's cooldown held back
// (marked), not only the delivered ones.
func TestSubmitCollectRematchedCooled(t *testing.T) {
	schema, err := event.ParseSchema([]byte(testSchema))
	if err != nil {
		t.Fatal(err)
	}
	rs := compileRules(t, schema, []string{`
id: big
cooldown: 1m
decision: {outcome: block, score: 50}
pattern:
  - name: a
    where: e.kind == 'auth' && e.amount > 100.0
`})
	eng, err := New(Config{Shards: 1, OutOfOrderness: 10 * time.Second}, rs, &sinkCollector{}, &dlqCollector{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	eng.Start(ctx)
	defer eng.Close()
	const t0 = 1_700_000_000_000
	for _, tc := range []struct {
		ev      testEvent
		outcome Outcome
		want    string
	}{
		{testEvent{ID: "e1", Card: "c", TS: t0, Kind: "auth", Amount: 150}, OutcomeMatched, "big"},
		{testEvent{ID: "e2", Card: "c", TS: t0 + 5000, Kind: "login"}, OutcomeMatched, ""},
		{testEvent{ID: "e3", Card: "c", TS: t0 + 3000, Kind: "auth", Amount: 300}, OutcomeRematched, "big(cooldown)"},
		{testEvent{ID: "e4", Card: "c", TS: t0 + 6000, Kind: "auth", Amount: 300}, OutcomeMatched, "big(cooldown)"},
	} {
		wait, comp, errs, err := eng.SubmitCollect(ctx, 0, records([]testEvent{tc.ev}))
		if err != nil || len(errs) > 0 {
			t.Fatal(err, errs)
		}
		out, err := wait(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got := ""
		for _, c := range comp()[0] {
			got += c.Alert.RuleID
			if c.Alert.Suppressed != nil {
				got += "(" + c.Alert.Suppressed.By + ")"
			}
			if c.Decision == nil || c.Decision.Score != 50 {
				t.Errorf("%s: the alert's decision is %+v", tc.ev.ID, c.Decision)
			}
		}
		if out[0] != tc.outcome || got != tc.want {
			t.Errorf("%s: %v, completed %q; want %v, %q", tc.ev.ID, out[0], got, tc.outcome, tc.want)
		}
	}
}
