package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// TestRuleTestAPI runs a rule's tests through POST /v1/rules:test: a passing and a failing
// case, then a rule with a compile error and a test file with a problem (400s with
// positions), then events_file (refused).
func TestRuleTestAPI(t *testing.T) {
	f := startAPIFixture(t)
	src, err := os.ReadFile(fraudDir + "/card-testing.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tests := `tests:
  - name: probes then a large one
    events:
      - {id: p1, card_id: c1, type: auth, amount: 0.99, card_present: false}
      - {id: p2, card_id: c1, at: +40s, type: auth, amount: 1.0, card_present: false}
      - {id: p3, card_id: c1, at: +40s, type: auth, amount: 1.0, card_present: false}
      - {id: big, card_id: c1, at: +1m, type: auth, amount: 649.0, card_present: false}
    alerts:
      - steps: {probes: [p1, p2, p3], large: [big]}
  - name: wrongly expects nothing
    events:
      - {id: p1, card_id: c1, type: auth, amount: 0.99, card_present: false}
      - {id: p2, card_id: c1, at: +40s, type: auth, amount: 1.0, card_present: false}
      - {id: p3, card_id: c1, at: +40s, type: auth, amount: 1.0, card_present: false}
      - {id: big, card_id: c1, at: +1m, type: auth, amount: 649.0, card_present: false}
    alerts: []
`
	body := func(source, tests string) string {
		b, _ := json.Marshal(map[string]string{"source": source, "tests": tests})
		return string(b)
	}
	code, out := f.do("POST", "/v1/rules:test", body(string(src), tests))
	if code != 200 {
		t.Fatalf("status %d: %v", code, out)
	}
	if out["passed"] != 1.0 || out["failed"] != 1.0 {
		t.Fatalf("passed %v, failed %v, want 1 and 1: %v", out["passed"], out["failed"], out)
	}
	cases := out["cases"].([]any)
	second := cases[1].(map[string]any)
	if second["passed"] != false || !strings.Contains(second["problems"].([]any)[0].(string), "unexpected alert") || len(second["alerts"].([]any)) != 1 {
		t.Errorf("the failing case: %v", second)
	}

	bad := strings.Replace(string(src), "e.amount >= 200.0 && e.card_present", "e.amount >= 'x' && e.card_present", 1)
	code, out = f.do("POST", "/v1/rules:test", body(bad, tests))
	if code != 400 || !strings.Contains(toJSON(out), `"file":"rule.yaml","line":23`) || !strings.Contains(toJSON(out), "is a string") {
		t.Errorf("a rule that does not compile: %d %v", code, toJSON(out))
	}
	code, out = f.do("POST", "/v1/rules:test", body(string(src), "tests:\n  - name: x\n    events: []\n"))
	if code != 400 || !strings.Contains(toJSON(out), `"file":"rule.test.yaml","line":2`) {
		t.Errorf("a test file without alerts: %d %v", code, toJSON(out))
	}
	code, out = f.do("POST", "/v1/rules:test", body(string(src), "tests:\n  - name: x\n    events_file: /etc/passwd\n    alerts: []\n"))
	if code != 400 || !strings.Contains(toJSON(out), "events_file cannot be read") {
		t.Errorf("events_file: %d %v", code, toJSON(out))
	}
}

func toJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
