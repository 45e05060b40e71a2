package main

import "testing"

// TestAlertsCarryVersionNumber checks that an alert names the rule store's version that
// made it (1, then 2 after an update) beside the content hash, as the rules API numbers
// versions.
func TestAlertsCarryVersionNumber(t *testing.T) {
	f := startAPIFixture(t)
	f.must("POST", "/v1/rules", `{"source": `+jsonString(bigTwice("100.0"))+`, "comment": "first cut"}`)
	f.pair("c1", 150)
	got := f.alerts("c1", 1)
	if len(got) != 1 {
		t.Fatalf("alerts for c1: %v", got)
	}
	a := got[0].(map[string]any)
	if a["rule_version_number"] != 1.0 || a["rule_version"] == "" {
		t.Fatalf("alert of version 1: rule_version_number %v, rule_version %v", a["rule_version_number"], a["rule_version"])
	}
	f.must("PUT", "/v1/rules/big-twice", `{"source": `+jsonString(bigTwice("120.0"))+`, "comment": "higher"}`)
	f.pair("c2", 150)
	got = f.alerts("c2", 1)
	if len(got) != 1 {
		t.Fatalf("alerts for c2: %v", got)
	}
	b := got[0].(map[string]any)
	if b["rule_version_number"] != 2.0 || b["rule_version"] == a["rule_version"] {
		t.Fatalf("alert of version 2: rule_version_number %v, rule_version %v (version 1: %v)", b["rule_version_number"], b["rule_version"], a["rule_version"])
	}
}
