package engine

import (
	"testing"
	"time"
)

// TestSubmitCollectRematchedCooled: an event re-matched into its key's journal gets, like
// one matched in order, the alerts it completed that its rule's cooldown held back
// (marked), not only the delivered ones.
func TestSubmitCollectRematchedCooled(t *testing.T) {
	rs := testRulesOf(t, bigCooled)
	eng, ctx, stop := startEngine(t, Config{Shards: 1, OutOfOrderness: 10 * time.Second}, rs, &sinkCollector{}, &dlqCollector{})
	defer stop()
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
		out, comp := submitCollect(t, ctx, eng, tc.ev)
		got := ""
		for _, c := range comp[0] {
			got += completedTag(c)
			if c.Decision == nil || c.Decision.Score != 50 {
				t.Errorf("%s: the alert's decision is %+v", tc.ev.ID, c.Decision)
			}
		}
		if out[0] != tc.outcome || got != tc.want {
			t.Errorf("%s: %v, completed %q; want %v, %q", tc.ev.ID, out[0], got, tc.outcome, tc.want)
		}
	}
}
