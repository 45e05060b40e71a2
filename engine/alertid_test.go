package engine

import (
	"encoding/json"
	"testing"

	"github.com/cepd/cepd/alerts"
)

// TestReusedEventIDsDistinctAlerts: a client that sends the same event ids again with
// other content gets alerts with other ids, so a downstream de-duplication by alert id
// cannot swallow them; the same events sent twice (a replay) give the same ids.
func TestReusedEventIDsDistinctAlerts(t *testing.T) {
	rs := testRuleSet(t)
	batch := func(ts int64, amount float64) []testEvent {
		var out []testEvent
		for i, id := range []string{"r1", "r2", "r3"} {
			out = append(out, testEvent{ID: id, Card: "c1", TS: ts + int64(i), Kind: "auth", Amount: amount})
		}
		return out
	}
	ids := func(evs []testEvent) []string {
		lines, _, _ := run(t, rs, Config{Shards: 1}, records(evs), 10)
		var out []string
		for _, l := range lines {
			var a alerts.Alert
			_ = json.Unmarshal([]byte(l), &a)
			if a.RuleID == "three-in-a-row" {
				out = append(out, a.ID)
			}
		}
		return out
	}
	first := ids(batch(1_700_000_000_000, 1))
	both := ids(append(batch(1_700_000_000_000, 1), batch(1_700_000_100_000, 7)...))
	// Six auths in a row: four matches, the first and the last over r1, r2, r3.
	if len(first) != 1 || len(both) != 4 {
		t.Fatalf("alerts: %v then %v", first, both)
	}
	seen := map[string]bool{}
	for _, id := range both {
		if seen[id] {
			t.Fatalf("two alerts over reused event ids with other content share the id %s", id)
		}
		seen[id] = true
	}
	if again := ids(batch(1_700_000_000_000, 1)); again[0] != first[0] {
		t.Fatalf("the same events gave another id: %s, then %s", first[0], again[0])
	}
}
