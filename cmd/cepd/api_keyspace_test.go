package main

import (
	"bytes"
	"fmt"
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
	minute := 0
	f.must("POST", "/v1/rules", `{"source": `+twoCardsRule("")+`}`)
	f.sendDeviceCards(&minute, "d1", "k1", "k2")
	if got := f.twoCardsAlerts("d1", 0); len(got) != 0 {
		t.Fatalf("keyed by card, alerts keyed by a device: %v", got)
	}
	f.must("PUT", "/v1/rules/two-cards", `{"source": `+twoCardsRule("device_id")+`, "comment": "follow the device"}`)
	f.sendDeviceCards(&minute, "d2", "k3", "k4")
	if got := f.twoCardsAlerts("d2", 1); len(got) != 1 || got[0]["mode"] != "active" {
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
	f.must("POST", "/v1/rules/two-cards:shadow", `{"source": `+twoCardsRule("")+`, "comment": "back to cards?"}`)
	f.sendDeviceCards(&minute, "d3", "k5", "k6")
	if got := f.twoCardsAlerts("d3", 1); len(got) != 1 || got[0]["mode"] != "active" {
		t.Fatalf("active version keyed by device during the trial: %v", got)
	}
	for _, a := range f.delivered.All() {
		if a.Mode != "active" || a.RuleID == "two-cards" && !strings.HasPrefix(a.Key, "d") {
			t.Errorf("delivered %s alert keyed %s", a.Mode, a.Key)
		}
	}
	// Promoting the candidate moves the rule back to the card key space.
	f.must("POST", "/v1/rules/two-cards:setMode", `{"mode": "active"}`)
	f.sendDeviceCards(&minute, "d4", "k7", "k8")
	if got := f.twoCardsAlerts("d4", 0); len(got) != 0 {
		t.Fatalf("keyed by card again, alerts keyed by a device: %v", got)
	}
}

// twoCardsRule is the two-cards rule (two authorisations of different cards) as a JSON
// string, keyed by key ("" for the schema's key, the card).
func twoCardsRule(key string) string {
	src := "id: two-cards\nwithin: 1h\npattern:\n  - name: a\n    where: e.type == 'auth'\n  - name: b\n    where: e.type == 'auth' && e.card_id != match.a[0].card_id\n"
	if key != "" {
		src = strings.Replace(src, "within:", "key: "+key+"\nwithin:", 1)
	}
	return jsonString(src)
}

// sendDeviceCards ingests one authorisation of each card on device, a minute apart
// (minute counts the minutes used).
func (f *apiFixture) sendDeviceCards(minute *int, device string, cards ...string) {
	f.t.Helper()
	var b bytes.Buffer
	for _, c := range cards {
		*minute++
		fmt.Fprintf(&b, `{"event_id":"m%d","card_id":%q,"device_id":%q,"ts":"2026-03-01T11:%02d:00Z","type":"auth","amount":10}`+"\n", *minute, c, device, *minute)
	}
	f.ingest(&b)
}

// twoCardsAlerts polls the alerts of two-cards for key until want are there (or three
// seconds passed).
func (f *apiFixture) twoCardsAlerts(key string, want int) []map[string]any {
	f.t.Helper()
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
