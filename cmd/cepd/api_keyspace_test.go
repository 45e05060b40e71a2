package main

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestAPIRuleMovesKeySpace: in the embedded server's engine (every key space), changing a
// rule's `key:` through the API moves it: keyed by card, two cards on one device do not
// match; after a PUT with `key: device_id` they do, keyed by the device; the stats count
// its alerts; a shadow candidate keyed by card runs beside the active version keyed by
// device, nothing but active alerts is delivered; promoting the candidate moves the rule
// back to the card key space, and the device matches stop.
func TestAPIRuleMovesKeySpace(t *testing.T) {
	f := startAPIFixture(t)
	rule := func(key string) string {
		src := "id: two-cards\nwithin: 1h\npattern:\n  - name: a\n    where: e.type == 'auth'\n  - name: b\n    where: e.type == 'auth' && e.card_id != match.a[0].card_id\n"
		if key != "" {
			src = strings.Replace(src, "within:", "key: "+key+"\nwithin:", 1)
		}
		return jsonString(src)
	}
	minute := 0
	send := func(device string, cards ...string) {
		t.Helper()
		var b bytes.Buffer
		for _, c := range cards {
			minute++
			fmt.Fprintf(&b, `{"event_id":"m%d","card_id":%q,"device_id":%q,"ts":"2026-03-01T11:%02d:00Z","type":"auth","amount":10}`+"\n", minute, c, device, minute)
		}
		resp, err := http.Post(f.base+"/v1/events", "application/x-ndjson", &b)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("ingest: %d", resp.StatusCode)
		}
	}
	list := func(key string, want int) []map[string]any {
		t.Helper()
		var out []map[string]any
		for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			out = out[:0]
			for _, a := range f.must("GET", "/v1/alerts?rule_id=two-cards&key="+key, "")["alerts"].([]any) {
				out = append(out, a.(map[string]any))
			}
			if len(out) >= want {
				break
			}
		}
		return out
	}

	f.must("POST", "/v1/rules", `{"source": `+rule("")+`}`)
	send("d1", "k1", "k2")
	if got := list("d1", 0); len(got) != 0 {
		t.Fatalf("keyed by card, alerts keyed by a device: %v", got)
	}
	f.must("PUT", "/v1/rules/two-cards", `{"source": `+rule("device_id")+`, "comment": "follow the device"}`)
	send("d2", "k3", "k4")
	if got := list("d2", 1); len(got) != 1 || got[0]["mode"] != "active" {
		t.Fatalf("keyed by device: alerts of d2 %v, want one", got)
	}
	if n := f.must("GET", "/v1/stats", "")["stats"].(map[string]any)["alerts"]; n != 1.0 {
		t.Fatalf("stats count %v alerts, want the device key space's 1", n)
	}
	counted := false
	for _, r := range f.must("GET", "/v1/rules:stats", "")["rules"].([]any) {
		r := r.(map[string]any)
		if r["id"] == "two-cards" {
			counted = r["alerts"] == 1.0
		}
	}
	if !counted {
		t.Fatalf("rules:stats does not count the device alert of two-cards")
	}
	// A candidate keyed by card in shadow: it runs in the card key space, the active
	// version in the device key space.
	f.must("POST", "/v1/rules/two-cards:shadow", `{"source": `+rule("")+`, "comment": "back to cards?"}`)
	send("d3", "k5", "k6")
	if got := list("d3", 1); len(got) != 1 || got[0]["mode"] != "active" {
		t.Fatalf("active version keyed by device during the trial: %v", got)
	}
	f.delivered.mu.Lock()
	for _, a := range f.delivered.alerts {
		if a.Mode != "active" || a.RuleID == "two-cards" && !strings.HasPrefix(a.Key, "d") {
			t.Errorf("delivered %s alert keyed %s", a.Mode, a.Key)
		}
	}
	f.delivered.mu.Unlock()
	// Promoting the candidate moves the rule back to the card key space.
	f.must("POST", "/v1/rules/two-cards:setMode", `{"mode": "active"}`)
	send("d4", "k7", "k8")
	if got := list("d4", 0); len(got) != 0 {
		t.Fatalf("keyed by card again, alerts keyed by a device: %v", got)
	}
}
