package main

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cepd/cepd/internal/testhttp"
)

// uiCall makes a request with a token and returns its status and JSON body.
type uiCall func(method, path, token, body string) (int, map[string]any)

// checkRuleStats ingests two events that complete big-twice for card u1 and checks
// GET /v1/rules:stats: the rule's alert, live partial matches and evaluation errors.
func checkRuleStats(t *testing.T, call uiCall, ingest, viewer string) {
	t.Helper()
	events := `{"event_id":"u-1","card_id":"u1","ts":"2026-03-01T10:01:00Z","type":"auth","amount":150}
{"event_id":"u-2","card_id":"u1","ts":"2026-03-01T10:02:00Z","type":"auth","amount":150}
{"event_id":"u-3","card_id":"u2","ts":"2026-03-01T10:03:00Z","type":"auth","amount":150}
`
	if code, s := call("POST", "/v1/events", ingest, events); code != 200 {
		t.Fatalf("ingest: %d %v", code, s)
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if _, s := call("GET", "/v1/alerts?key=u1", viewer, ""); len(s["alerts"].([]any)) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no alert for u1 within 5s")
		}
	}
	code, s := call("GET", "/v1/rules:stats", viewer, "")
	list, _ := s["rules"].([]any)
	if code != 200 || len(list) != 1 {
		t.Fatalf("rule stats: %d %v", code, s)
	}
	if r := list[0].(map[string]any); r["id"] != "big-twice" || r["alerts"] != 1.0 || r["live_partial_matches"] != 2.0 || r["eval_errors"] != 0.0 {
		t.Errorf("rule stats: %v", r)
	}
}

// checkBacktestFiles checks GET /v1/backtests:files over a backtest directory dir it
// fills: the JSON-lines files, nested ones included, for an analyst; none for a viewer.
func checkBacktestFiles(t *testing.T, call uiCall, dir, analyst, viewer string) {
	t.Helper()
	must(t, os.MkdirAll(filepath.Join(dir, "march"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "march", "day1.jsonl"), []byte("{}\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "a.jsonl"), []byte("{}\n{}\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("x"), 0o644))
	code, s := call("GET", "/v1/backtests:files", analyst, "")
	if got, _ := json.Marshal(s["files"]); code != 200 || string(got) != `[{"bytes":6,"name":"a.jsonl"},{"bytes":3,"name":"march/day1.jsonl"}]` {
		t.Errorf("backtest files: %d %s", code, got)
	}
	if code, _ := call("GET", "/v1/backtests:files", viewer, ""); code != 403 {
		t.Errorf("backtest files as a viewer: %d, want 403", code)
	}
}

// checkExplain checks POST /v1/rules:explain: a rule's steps as data with their places,
// a bad rule's errors with their lines, and the token check.
func checkExplain(t *testing.T, call uiCall, viewer string) {
	t.Helper()
	rule := "id: probe\nwithin: 10m\nskip: past_last_event\npattern:\n  - name: small\n    where: e.amount < 2.0\n    times: 3+\n    greedy: true\n" +
		"  - name: no_capture\n    not: followed_by\n    where: e.type == 'capture'\n  - name: large\n    contiguity: strict\n    where: e.amount > 500.0\n"
	code, s := call("POST", "/v1/rules:explain", viewer, `{"source": `+jsonString(rule)+`}`)
	if code != 200 {
		t.Fatalf("explain: %d %v", code, s)
	}
	steps, _ := s["steps"].([]any)
	if len(steps) != 3 || s["within_ms"] != 600000.0 || s["skip"].(map[string]any)["kind"] != "skip_past_last_event" || !strings.Contains(s["nfa_text"].(string), "small") {
		t.Fatalf("explain: %v", s)
	}
	small, neg, large := steps[0].(map[string]any), steps[1].(map[string]any), steps[2].(map[string]any)
	if small["min"] != 3.0 || small["max"] != -1.0 || small["greedy"] != true || small["line"] != 5.0 {
		t.Errorf("small: %v", small)
	}
	if neg["negation"] != "not_followed_by" || large["contiguity"] != "strict" {
		t.Errorf("negation %v, large %v", neg, large)
	}
	code, s = call("POST", "/v1/rules:explain", viewer, `{"source": "id: bad\npattern:\n  - name: a\n    where: e.amout > 1.0\n"}`)
	errs, _ := s["errors"].([]any)
	if code != 400 || len(errs) != 1 || errs[0].(map[string]any)["line"] != 4.0 {
		t.Errorf("explain of a bad rule: %d %v", code, s)
	}
	if code, _ := call("POST", "/v1/rules:explain", "", `{"source": "x"}`); code != 401 {
		t.Errorf("explain without a token: %d", code)
	}
}

// TestAPIUIEndpoints: the REST handlers the web UI reads besides the cep.v1 services —
// the session (role and capabilities per token), the schema, a draft's explained pattern
// (or its errors at line and column), per-rule counters and the runtime figures — each
// under the token check.
func TestAPIUIEndpoints(t *testing.T) {
	f := startAPIFixtureTokens(t)
	call := func(method, path, token, body string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(method, f.base+path, strings.NewReader(body))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		code, data := testhttp.Do(t, req)
		var out map[string]any
		_ = json.Unmarshal(data, &out)
		return code, out
	}
	const viewer, analyst, admin, ingest = "viewer-token-0123456789", "analyst-token-01234567", "admin-token-0123456789", "ingest-token-012345678"

	for _, tt := range []struct {
		token, name, role string
		edit, manage      bool
	}{
		{viewer, "viewer", "viewer", false, false},
		{analyst, "ann", "analyst", true, false},
		{admin, "admin", "admin", true, true},
		{ingest, "ingest", "ingest", false, false},
	} {
		code, s := call("GET", "/v1/session", tt.token, "")
		can, _ := s["can"].(map[string]any)
		if code != 200 || s["name"] != tt.name || s["role"] != tt.role || s["auth"] != true || can["edit"] != tt.edit || can["manage"] != tt.manage {
			t.Errorf("session of %s: %d %v", tt.role, code, s)
		}
	}
	if code, _ := call("GET", "/v1/session", "", ""); code != 401 {
		t.Errorf("session without a token: %d, want 401", code)
	}
	if code, _ := call("GET", "/v1/session", "not-a-known-token-at-all", ""); code != 401 {
		t.Errorf("session with an unknown token: %d, want 401", code)
	}

	code, s := call("GET", "/v1/schema", viewer, "")
	fields, _ := s["fields"].([]any)
	if code != 200 || s["key"] != "card_id" || len(fields) != 20 {
		t.Fatalf("schema: %d %v", code, s)
	}
	if first := fields[0].(map[string]any); first["name"] != "event_id" || first["type"] != "string" {
		t.Errorf("first field %v", first)
	}

	checkExplain(t, call, viewer)

	if code, s := call("POST", "/v1/rules", analyst, `{"source": `+jsonString(bigTwice("100.0"))+`}`); code != 200 {
		t.Fatalf("create: %d %v", code, s)
	}
	checkRuleStats(t, call, ingest, viewer)

	checkBacktestFiles(t, call, f.backtestDir, analyst, viewer)
	if code, _ := call("GET", "/v1/admin/runtime", analyst, ""); code != 403 {
		t.Errorf("runtime as an analyst: %d, want 403", code)
	}
	code, s = call("GET", "/v1/admin/runtime", admin, "")
	if code != 200 || s["heap_alloc_bytes"].(float64) <= 0 || s["goroutines"].(float64) <= 0 {
		t.Errorf("runtime: %d %v", code, s)
	}
	code, _ = call("GET", "/", "", "")
	if code != 200 {
		t.Errorf("GET / (the UI, open): %d", code)
	}
}
