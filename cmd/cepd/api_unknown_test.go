package main

import (
	"net/http"
	"strings"
	"testing"
)

// TestUnknownFieldsInStats: fields the schema does not declare are counted and listed by
// name in GET /v1/stats instead of being silently ignored.
func TestUnknownFieldsInStats(t *testing.T) {
	f := startAPIFixture(t)
	evs := `{"event_id":"u1","card_id":"c1","ts":"2026-03-01T10:00:00Z","type":"auth","amount":5,"merchnat_id":"m1"}
{"event_id":"u2","card_id":"c1","ts":"2026-03-01T10:01:00Z","type":"auth","amount":5,"merchnat_id":"m2","risk_score":7}
`
	resp, err := http.Post(f.base+"/v1/events", "application/x-ndjson", strings.NewReader(evs))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	st := f.must("GET", "/v1/stats", "")["stats"].(map[string]any)
	u, ok := st["unknown_fields"].(map[string]any)
	if !ok {
		t.Fatalf("no unknown_fields in %v", st)
	}
	names := u["by_name"].(map[string]any)
	if u["total"] != 3.0 || names["merchnat_id"] != 2.0 || names["risk_score"] != 1.0 {
		t.Fatalf("unknown fields: %v", u)
	}
	// cepd_event_unknown_fields_total reads the same counter (internal/metrics tests it).
}
