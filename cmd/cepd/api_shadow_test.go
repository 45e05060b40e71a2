package main

import (
	"net/http"
	"testing"
)

// TestAPIShadowTrial: a candidate version runs in shadow beside the active version; the
// active one keeps its in-progress matches and keeps delivering, the candidate's alerts are
// recorded and compared, never delivered; promoting and dropping a candidate.
func TestAPIShadowTrial(t *testing.T) {
	f := startAPIFixture(t)
	f.must("POST", "/v1/rules", `{"source": `+jsonString(bigTwice("1000.0"))+`}`)
	f.one("c0", 2000) // the first half of a match the active version completes during the trial

	r := f.must("POST", "/v1/rules/big-twice:shadow", `{"source": `+jsonString(bigTwice("500.0"))+`, "comment": "lower the bar?"}`)
	if r["mode"] != "shadow" || r["version"] != 2.0 || r["shadow_of"] != 1.0 || r["running_version"] != 2.0 || r["source"] != bigTwice("500.0") {
		t.Fatalf("shadow: %v", r)
	}
	f.one("c0", 2000)
	f.pair("c1", 700)  // the candidate alone alerts
	f.pair("c2", 2000) // both alert
	byMode := func(key string, want int) map[string]int {
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
	if n := byMode("c0", 1); n["active"] != 1 || n["shadow"] != 0 {
		t.Errorf("c0: %v, want the active version's match completed across the change", n)
	}
	if n := byMode("c1", 1); n["shadow"] != 1 || n["active"] != 0 {
		t.Errorf("c1: %v", n)
	}
	if n := byMode("c2", 2); n["shadow"] != 1 || n["active"] != 1 {
		t.Errorf("c2: %v", n)
	}
	f.delivered.mu.Lock()
	keys := map[string]bool{}
	for _, a := range f.delivered.alerts {
		keys[a.Key] = true
		if a.Mode != "active" {
			t.Errorf("a %s alert was delivered: %+v", a.Mode, a)
		}
	}
	f.delivered.mu.Unlock()
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

	// Promote: the candidate becomes the active version.
	r = f.must("POST", "/v1/rules/big-twice:setMode", `{"mode": "active"}`)
	if r["mode"] != "active" || r["version"] != 3.0 || r["shadow_of"] != 0.0 || r["source"] != bigTwice("500.0") {
		t.Fatalf("promote: %v", r)
	}
	f.pair("c3", 700)
	if n := byMode("c3", 1); n["active"] != 1 || n["shadow"] != 0 {
		t.Errorf("c3 after promotion: %v", n)
	}
	if code, out := f.do("GET", "/v1/rules/big-twice:compareShadow", ""); code != http.StatusBadRequest {
		t.Errorf("comparison of an active rule: %d %v", code, out)
	}

	// Another trial, dropped by rolling back to the version it ran beside.
	r = f.must("POST", "/v1/rules/big-twice:shadow", `{"source": `+jsonString(bigTwice("5000.0"))+`}`)
	if r["shadow_of"] != 3.0 {
		t.Fatalf("second trial: %v", r)
	}
	r = f.must("POST", "/v1/rules/big-twice:rollback", `{"version": 3}`)
	if r["mode"] != "active" || r["shadow_of"] != 0.0 || r["source"] != bigTwice("500.0") {
		t.Fatalf("drop the trial: %v", r)
	}
	f.pair("c4", 700)
	if n := byMode("c4", 1); n["active"] != 1 || n["shadow"] != 0 {
		t.Errorf("c4 after the trial was dropped: %v", n)
	}

	// A rule not active cannot take a candidate; a candidate must carry the rule's id.
	f.must("POST", "/v1/rules/big-twice:setMode", `{"mode": "disabled"}`)
	if code, out := f.do("POST", "/v1/rules/big-twice:shadow", `{"source": `+jsonString(bigTwice("1.0"))+`}`); code != http.StatusBadRequest {
		t.Errorf("candidate beside a disabled rule: %d %v", code, out)
	}
	if code, out := f.do("POST", "/v1/rules/other:shadow", `{"source": `+jsonString(bigTwice("1.0"))+`}`); code != http.StatusBadRequest {
		t.Errorf("candidate with another id: %d %v", code, out)
	}
}
