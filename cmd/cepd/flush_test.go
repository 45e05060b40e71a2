package main

import (
	"context"
	"fmt"
	"testing"

	"github.com/cepd/cepd/alerts"
	"github.com/cepd/cepd/engine"
)

// TestFlushClosesWindowsBefore1970 replays an authorisation never captured in 2024, in
// 1969 and in 1700 (event times may be as early as 1678): the end of the stream closes
// every window and raises the three absence alerts (a window is now - start >= within,
// and the flush's now must not overflow that for a negative start).
func TestFlushClosesWindowsBefore1970(t *testing.T) {
	rs := fraudRuleSet(t)
	var recs []engine.Record
	for i, ts := range []string{"2024-03-05T10:00:00Z", "1969-12-31T22:00:00Z", "1700-01-01T00:00:00Z"} {
		line := fmt.Sprintf(`{"event_id":"e%d","card_id":"c%d","ts":%q,"type":"auth","amount":120.00,"merchant_id":"m-web-1","mcc":"5999","card_present":false,"channel":"ecom","auth_id":"a%d"}`, i, i, ts, i)
		recs = append(recs, engine.Record{Value: []byte(line), Offset: int64(i)})
	}
	got, err := runReplay(context.Background(), rs, recs, engine.Config{Shards: 1}, &alerts.Collector{}, &dlqWriter{}, true)
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]bool{}
	for _, a := range got {
		if a.RuleID == "auth-no-capture" {
			keys[a.Key] = true
		}
	}
	for i := range recs {
		if k := fmt.Sprintf("c%d", i); !keys[k] {
			t.Errorf("no auth-no-capture alert for %s at the end of the stream (alerts: %d)", k, len(got))
		}
	}
}
