package main

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// TestDecideKeySpacesREST: POST /v1/decide answers with the alerts of every key space
// the event completes, not the card key space's alone: the fourth card on one device
// completes the shipped device-many-cards rule (key: device_id) and, being large, a card
// rule too; the answer holds both, their scores added and the stronger outcome.
func TestDecideKeySpacesREST(t *testing.T) {
	dev, err := os.ReadFile(filepath.Join(fraudDir, "device-many-cards.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	dev = append(dev, []byte("decision: {outcome: review, score: 40}\n")...)
	f := startDecideRules(t, map[string]string{"big-auth.yaml": decideRules, "device-many-cards.yaml": string(dev)})
	ev := func(i int, amount float64) string {
		return fmt.Sprintf(`{"event_id":"k%d","card_id":"kc%d","device_id":"dev-1","card_present":false,"ts":"2026-03-01T10:%02d:00Z","type":"auth","amount":%g}`, i, i, i, amount)
	}
	for i := 1; i <= 3; i++ {
		if out := f.decide(ev(i, 20)); out["status"] != "decided" || len(decidedAlerts(out)) != 0 {
			t.Fatalf("card %d on the device: %v", i, out)
		}
	}
	out := f.decide(ev(4, 2000))
	got := map[string]map[string]any{}
	for _, a := range decidedAlerts(out) {
		al := a["alert"].(map[string]any)
		got[al["rule_id"].(string)] = a
	}
	d := got["device-many-cards"]
	if d == nil || d["alert"].(map[string]any)["key"] != "dev-1" || d["outcome"] != "review" || d["score"] != 40.0 || d["counted"] != true {
		t.Fatalf("the fourth card on the device: the device rule's alert is missing or wrong: %v", out)
	}
	if got["big-auth"] == nil || len(got) != 2 || out["outcome"] != "block" || out["score"] != 130.0 {
		t.Fatalf("the fourth card on the device: %v", out)
	}
}
