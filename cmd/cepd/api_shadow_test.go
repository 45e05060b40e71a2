package main

import (
	"encoding/json"
	"net/http"
	"sync"
	"testing"

	"github.com/cepd/cepd/alerts"
)

// madeAlerts stands between the engine and the alert pipeline: it keeps each alert as
// JSON when the engine hands it over, to check later that nothing changed it.
type madeAlerts struct {
	next alerts.Sink
	mu   sync.Mutex
	json map[*alerts.Alert]string
}

func (m *madeAlerts) Alert(a *alerts.Alert) {
	b, err := json.Marshal(a)
	if err != nil {
		panic(err)
	}
	m.mu.Lock()
	m.json[a] = string(b)
	m.mu.Unlock()
	m.next.Alert(a)
}

// TestAlertsNeverModified: an alert leaves the engine complete, with its final rule id
// and mode (a trial candidate's alerts as shadow alerts of its rule), and no stage of the
// alert path (trials, ring, delivery) changes it afterwards.
func TestAlertsNeverModified(t *testing.T) {
	f := startAPIFixture(t)
	f.must("POST", "/v1/rules", `{"source": `+jsonString(bigTwice("1000.0"))+`}`)
	f.must("POST", "/v1/rules/big-twice:shadow", `{"source": `+jsonString(bigTwice("500.0"))+`}`)
	f.pair("c1", 700)  // the candidate alone alerts
	f.pair("c2", 2000) // both alert
	f.alerts("c1", 1)
	f.alerts("c2", 2)
	f.made.mu.Lock()
	defer f.made.mu.Unlock()
	modes := map[string]int{}
	for a, made := range f.made.json {
		var at struct {
			RuleID string `json:"rule_id"`
			Mode   string `json:"mode"`
		}
		if err := json.Unmarshal([]byte(made), &at); err != nil {
			t.Fatal(err)
		}
		if at.RuleID != "big-twice" {
			t.Errorf("alert %s left the engine as an alert of %q", a.ID, at.RuleID)
		}
		modes[at.Mode]++
		now, err := json.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		if string(now) != made {
			t.Errorf("alert changed after it was made:\nmade %s\nnow  %s", made, now)
		}
	}
	if modes["active"] != 1 || modes["shadow"] != 2 || len(modes) != 2 {
		t.Errorf("alerts made by mode: %v, want 1 active and 2 shadow", modes)
	}
}

// TestAPIShadowTrial: a candidate version runs in shadow beside the active version; the
// active one keeps its in-progress matches and keeps delivering, the candidate's alerts are
// recorded and compared, never delivered; promoting and dropping a candidate.
func TestAPIShadowTrial(t *testing.T) {
	f := startAPIFixture(t)
	shadowTrialRuns(t, f)
	shadowPromoted(t, f)
	shadowDropped(t, f)
	// A rule not active cannot take a candidate; a candidate must carry the rule's id.
	f.must("POST", "/v1/rules/big-twice:setMode", `{"mode": "disabled"}`)
	if code, out := f.do("POST", "/v1/rules/big-twice:shadow", `{"source": `+jsonString(bigTwice("1.0"))+`}`); code != http.StatusBadRequest {
		t.Errorf("candidate beside a disabled rule: %d %v", code, out)
	}
	if code, out := f.do("POST", "/v1/rules/other:shadow", `{"source": `+jsonString(bigTwice("1.0"))+`}`); code != http.StatusBadRequest {
		t.Errorf("candidate with another id: %d %v", code, out)
	}
}

// alertsByMode counts key's alerts of big-twice (waiting for want) by mode.
func alertsByMode(t *testing.T, f *apiFixture, key string, want int) map[string]int {
	t.Helper()
	n := map[string]int{}
	for _, a := range f.alerts(key, want) {
		a := a.(map[string]any)
		if a["rule_id"] != "big-twice" {
			t.Errorf("alert of %v", a["rule_id"])
		}
		n[a["mode"].(string)]++
	}
	return n
}

// shadowTrialRuns: a candidate (500) runs in shadow beside the active version (1000):
// the active one completes its in-progress match and alone delivers; the candidate's
// alerts are recorded and compared.
func shadowTrialRuns(t *testing.T, f *apiFixture) {
	f.must("POST", "/v1/rules", `{"source": `+jsonString(bigTwice("1000.0"))+`}`)
	f.one("c0", 2000) // the first half of a match the active version completes during the trial

	r := f.must("POST", "/v1/rules/big-twice:shadow", `{"source": `+jsonString(bigTwice("500.0"))+`, "comment": "lower the bar?"}`)
	if r["mode"] != "shadow" || r["version"] != 2.0 || r["shadow_of"] != 1.0 || r["running_version"] != 2.0 || r["source"] != bigTwice("500.0") {
		t.Fatalf("shadow: %v", r)
	}
	f.one("c0", 2000)
	f.pair("c1", 700)  // the candidate alone alerts
	f.pair("c2", 2000) // both alert
	if n := alertsByMode(t, f, "c0", 1); n["active"] != 1 || n["shadow"] != 0 {
		t.Errorf("c0: %v, want the active version's match completed across the change", n)
	}
	if n := alertsByMode(t, f, "c1", 1); n["shadow"] != 1 || n["active"] != 0 {
		t.Errorf("c1: %v", n)
	}
	if n := alertsByMode(t, f, "c2", 2); n["shadow"] != 1 || n["active"] != 1 {
		t.Errorf("c2: %v", n)
	}
	keys := map[string]bool{}
	for _, a := range f.delivered.All() {
		keys[a.Key] = true
		if a.Mode != "active" {
			t.Errorf("a %s alert was delivered: %+v", a.Mode, a)
		}
	}
	if len(keys) != 2 || !keys["c0"] || !keys["c2"] {
		t.Errorf("delivered keys %v, want c0 and c2", keys)
	}
	c := f.must("GET", "/v1/rules/big-twice:compareShadow", "")
	want := map[string]any{"active_version": 1.0, "shadow_version": 2.0, "active_alerts": 2.0, "shadow_alerts": 2.0,
		"keys_both": 1.0, "keys_active_only": 1.0, "keys_shadow_only": 1.0,
		"matches_both": 1.0, "matches_active_only": 1.0, "matches_shadow_only": 1.0, "truncated": false}
	for k, v := range want {
		if c[k] != v {
			t.Errorf("comparison %s = %v, want %v (%v)", k, c[k], v, c)
		}
	}
}

// shadowPromoted: promoting the candidate makes it the active version.
func shadowPromoted(t *testing.T, f *apiFixture) {
	r := f.must("POST", "/v1/rules/big-twice:setMode", `{"mode": "active"}`)
	if r["mode"] != "active" || r["version"] != 3.0 || r["shadow_of"] != 0.0 || r["source"] != bigTwice("500.0") {
		t.Fatalf("promote: %v", r)
	}
	f.pair("c3", 700)
	if n := alertsByMode(t, f, "c3", 1); n["active"] != 1 || n["shadow"] != 0 {
		t.Errorf("c3 after promotion: %v", n)
	}
	if code, out := f.do("GET", "/v1/rules/big-twice:compareShadow", ""); code != http.StatusBadRequest {
		t.Errorf("comparison of an active rule: %d %v", code, out)
	}
}

// shadowDropped: another trial, dropped by rolling back to the version it ran beside.
func shadowDropped(t *testing.T, f *apiFixture) {
	r := f.must("POST", "/v1/rules/big-twice:shadow", `{"source": `+jsonString(bigTwice("5000.0"))+`}`)
	if r["shadow_of"] != 3.0 {
		t.Fatalf("second trial: %v", r)
	}
	r = f.must("POST", "/v1/rules/big-twice:rollback", `{"version": 3}`)
	if r["mode"] != "active" || r["shadow_of"] != 0.0 || r["source"] != bigTwice("500.0") {
		t.Fatalf("drop the trial: %v", r)
	}
	f.pair("c4", 700)
	if n := alertsByMode(t, f, "c4", 1); n["active"] != 1 || n["shadow"] != 0 {
		t.Errorf("c4 after the trial was dropped: %v", n)
	}
}
