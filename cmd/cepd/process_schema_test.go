package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cepd/cepd/internal/testhttp"
)

const riskRule = `id: risk-flagged
severity: high
pattern:
  - name: flagged
    where: has(e.risk_flag) && e.risk_flag == 'stolen'
emit:
  flag: e.risk_flag
`

// TestProcessSchemaChange (issue 17): a running cepd takes a schema that adds an optional
// field through REST (PUT /v1/schema), then a rule reading it (POST /v1/rules), and
// alerts on an event carrying it, with no restart. A PUT that removes a field the rules
// read gets 400 (FailedPrecondition) naming the rules it breaks, and changes nothing.
// Then, stopped, the schema file is edited on disk (another optional field): the next
// start restores the state checkpointed under the previous schema (no key lost) and
// records the edit as a schema version; and started again with the first schema, it
// restores the state checkpointed under the wider one (no key lost either).
func TestProcessSchemaChange(t *testing.T) {
	bin := buildCepd(t)
	dir := t.TempDir()
	rulesDir := filepath.Join(dir, "rules")
	copyRules(t, rulesDir)
	out := filepath.Join(dir, "alerts.jsonl")
	n := 0
	start := func() *cepdProc {
		n++
		return startCepdProc(t, bin, filepath.Join(dir, "cepd-"+string(rune('0'+n))+".log"), serveArgs(rulesDir, filepath.Join(dir, "data"), "--alerts-out", out, "--shards", "2", "--checkpoint-interval", "200ms"))
	}
	call := func(p *cepdProc, method, path, body string) (int, string) {
		t.Helper()
		return apiCall(t, p, method, path, body)
	}
	ingest := func(p *cepdProc, lines ...string) { t.Helper(); ingestLines(t, p, lines...) }
	schemaV1, err := os.ReadFile(filepath.Join(rulesDir, "schema.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	p := start()
	// state under the first schema: partial matches of the card rules
	ingest(p, `{"event_id":"a1","card_id":"c-old","ts":"2026-03-01T10:00:00Z","type":"auth","amount":1.5,"card_present":false,"channel":"ecom"}`,
		`{"event_id":"a2","card_id":"c-old","ts":"2026-03-01T10:00:05Z","type":"auth","amount":1.0,"card_present":false,"channel":"ecom"}`)

	v2 := string(schemaV1) + "  risk_flag: string?     # set by the issuer's own screening\n"
	code, body := call(p, "PUT", "/v1/schema", `{"source": `+jsonString(v2)+`, "comment": "issuer screening flag"}`)
	if code != 200 || !strings.Contains(body, `"name":"risk_flag"`) || !strings.Contains(body, `"version":2`) {
		t.Fatalf("PUT schema: %d %s", code, body)
	}
	if code, body := call(p, "POST", "/v1/rules", `{"source": `+jsonString(riskRule)+`}`); code != 200 {
		t.Fatalf("POST the rule reading the new field: %d %s", code, body)
	}
	ingest(p, `{"event_id":"r1","card_id":"c-risk","ts":"2026-03-01T10:01:00Z","type":"auth","amount":12.5,"risk_flag":"stolen"}`)
	waitAlert(t, out, "risk-flagged", `"flag":"stolen"`, 1)
	draftsSeeAddedField(t, p)

	// removing a field the rules read is refused, naming them
	bad := strings.Replace(v2, "  amount: double?", "  # amount removed", 1)
	code, body = call(p, "PUT", "/v1/schema", `{"source": `+jsonString(bad)+`}`)
	var st struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}
	_ = json.Unmarshal([]byte(body), &st)
	if code != 400 || st.Code != 9 || !strings.Contains(st.Message, `field "amount" is removed`) || !strings.Contains(st.Message, "rule card-testing:") {
		t.Fatalf("an incompatible PUT: %d %s", code, body)
	}
	if code, body := call(p, "GET", "/v1/schema", ""); code != 200 || !strings.Contains(body, `"version":2`) || !strings.Contains(body, `"name":"amount"`) {
		t.Fatalf("after a refused PUT: %d %s", code, body)
	}
	if err := p.stop(30 * time.Second); err != nil {
		t.Fatal(err)
	}

	schemaEditedWhileStopped(t, start, rulesDir, out, v2)
	schemaNarrowedWhileStopped(t, start, rulesDir, string(schemaV1))
}

// schemaNarrowedWhileStopped starts cepd again with the first schema (the added fields
// and the rule reading them removed: a rollback): the state checkpointed under the wider
// schema, events carrying the added fields included, restores with no key lost.
func schemaNarrowedWhileStopped(t *testing.T, start func() *cepdProc, rulesDir, v1 string) {
	if err := os.WriteFile(filepath.Join(rulesDir, "schema.yaml"), []byte(v1), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(rulesDir, "risk-flagged.yaml")); err != nil {
		t.Fatal(err)
	}
	p := start()
	t.Logf("restored under the first schema: %s", restoredWhole(t, p, "the narrower schema"))
	if code, body := apiCall(t, p, "GET", "/v1/schema", ""); code != 200 || strings.Contains(body, `"name":"risk_flag"`) {
		t.Fatalf("schema after going back: %d %s", code, body)
	}
	if err := p.stop(30 * time.Second); err != nil {
		t.Fatal(err)
	}
}

var restoredRE = regexp.MustCompile(`msg="state restored" partial_matches=(\d+) corrupt=(\d+)`)

// restoredWhole wants p's log to say its state was restored with partial matches and
// none corrupt (under names the schema p runs); it returns the log's restore line.
func restoredWhole(t *testing.T, p *cepdProc, under string) string {
	t.Helper()
	logText, _ := os.ReadFile(p.log)
	restored := restoredRE.FindSubmatch(logText)
	if restored == nil || string(restored[1]) == "0" || string(restored[2]) != "0" {
		t.Fatalf("restore under %s: %q", under, restored)
	}
	return string(restored[0])
}

// schemaEditedWhileStopped edits the schema file of a stopped cepd (another optional
// field): the next start takes it (a version, action disk) and restores the state
// checkpointed under the previous schema, and the rule on the earlier field still alerts.
func schemaEditedWhileStopped(t *testing.T, start func() *cepdProc, rulesDir, out, v2 string) {
	v3 := v2 + "  score: double?\n"
	if err := os.WriteFile(filepath.Join(rulesDir, "schema.yaml"), []byte(v3), 0o644); err != nil {
		t.Fatal(err)
	}
	p := start()
	restoredWhole(t, p, "the edited schema")
	code, body := apiCall(t, p, "GET", "/v1/schema", "")
	if code != 200 || !strings.Contains(body, `"version":3`) || !strings.Contains(body, `"action":"disk"`) || !strings.Contains(body, `"name":"score"`) {
		t.Fatalf("schema after the edit on disk: %d %s", code, body)
	}
	ingestLines(t, p, `{"event_id":"r2","card_id":"c-risk2","ts":"2026-03-01T10:02:00Z","type":"auth","amount":3,"risk_flag":"stolen","score":0.9}`)
	waitAlert(t, out, "risk-flagged", `"flag":"stolen"`, 2)
	if err := p.stop(30 * time.Second); err != nil {
		t.Fatal(err)
	}
}

// apiCall sends a JSON request to p's API and returns the status and body.
// draftsSeeAddedField checks that what compiles drafts (rule tests, explanations,
// backtests) reads a field added live as the stored rules do, not the schema cepd started
// with.
func draftsSeeAddedField(t *testing.T, p *cepdProc) {
	t.Helper()
	draft := strings.Replace(riskRule, "id: risk-flagged", "id: risk-draft", 1)
	tests := "start: 2026-03-01T10:00:00Z\ndefaults: {card_id: d1, type: auth}\ntests:\n" +
		"  - name: flagged\n    events:\n      - {id: f1, at: 0s, risk_flag: stolen}\n" +
		"    alerts:\n      - steps: {flagged: [f1]}\n"
	code, body := apiCall(t, p, "POST", "/v1/rules:test", `{"source": `+jsonString(draft)+`, "tests": `+jsonString(tests)+`}`)
	if code != 200 || !strings.Contains(body, `"passed":1`) {
		t.Fatalf("rule test of a draft reading the added field: %d %s", code, body)
	}
	if code, body := apiCall(t, p, "POST", "/v1/rules:explain", `{"source": `+jsonString(draft)+`}`); code != 200 || strings.Contains(body, `"errors"`) {
		t.Fatalf("explanation of a draft reading the added field: %d %s", code, body)
	}
	if code, body := apiCall(t, p, "POST", "/v1/backtests", `{"rules": [{"source": `+jsonString(draft)+`}]}`); code != 200 {
		t.Fatalf("backtest of a draft reading the added field: %d %s", code, body)
	}
}

func apiCall(t *testing.T, p *cepdProc, method, path, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, "http://"+p.api+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	code, b := testhttp.Do(t, req)
	return code, string(b)
}

// ingestLines posts JSON-lines events to p and wants every one accepted.
func ingestLines(t *testing.T, p *cepdProc, lines ...string) {
	t.Helper()
	code, body := apiCall(t, p, "POST", "/v1/events", strings.Join(lines, "\n"))
	if code != 200 || strings.Contains(body, `"reason"`) {
		t.Fatalf("ingest: %d %s", code, body)
	}
}

// waitAlert waits until the alerts file holds n alerts of rule whose line contains what.
func waitAlert(t *testing.T, path, rule, what string, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, _ := os.ReadFile(path)
		got := 0
		for _, l := range bytes.Split(b, []byte("\n")) {
			if bytes.Contains(l, []byte(`"rule_id":"`+rule+`"`)) && bytes.Contains(l, []byte(what)) {
				got++
			}
		}
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d alerts of %s with %s in %s after 10s, want %d", got, rule, what, path, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
