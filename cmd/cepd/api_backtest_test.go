package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cepd/cepd/internal/workload"
)

// waitBacktest polls a backtest until it has finished (or 30 s passed).
func (f *apiFixture) waitBacktest(id string) map[string]any {
	f.t.Helper()
	var b map[string]any
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		b = f.must("GET", "/v1/backtests/"+id, "")
		if s := b["state"]; s != "QUEUED" && s != "RUNNING" {
			return b
		}
	}
	f.t.Fatalf("backtest %s did not finish: %v", id, b)
	return nil
}

func resultOf(t *testing.T, b map[string]any, rule string) map[string]any {
	t.Helper()
	for _, r := range b["results"].([]any) {
		if r := r.(map[string]any); r["rule_id"] == rule {
			return r
		}
	}
	t.Fatalf("no result for %s in %v", rule, b)
	return nil
}

// writeDayFile writes a day of six events of three cards, two of them labelled big-twice,
// and a line that is not JSON, to path.
func writeDayFile(t *testing.T, path string) {
	t.Helper()
	var lines strings.Builder
	n := 0
	ev := func(card string, amount float64, label string) {
		n++
		l := ""
		if label != "" {
			l = fmt.Sprintf(`,"label":%q`, label)
		}
		fmt.Fprintf(&lines, `{"event_id":"f%d","card_id":%q,"ts":"2026-03-01T10:%02d:00Z","type":"auth","amount":%g%s}`+"\n", n, card, n, amount, l)
	}
	ev("b1", 150, "big-twice") // the fraud big-twice is meant to catch
	ev("b2", 50, "")
	ev("b3", 150, "")
	ev("b1", 150, "big-twice")
	ev("b2", 50, "")
	ev("b3", 150, "")
	lines.WriteString("{not json\n")
	if err := os.WriteFile(path, []byte(lines.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// cancelLongBacktest starts a backtest over 300,000 events and cancels it while it runs.
func cancelLongBacktest(t *testing.T, f *apiFixture) {
	t.Helper()
	if _, err := workload.WriteFile(filepath.Join(f.backtestDir, "big.jsonl"), workload.Config{Seed: 3, Cards: 5000, Events: 300_000}); err != nil {
		t.Fatal(err)
	}
	id := f.must("POST", "/v1/backtests", `{"rules": [{"rule_id": "big-twice"}], "events_file": "big.jsonl"}`)["id"].(string)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if s := f.must("GET", "/v1/backtests/"+id, "")["state"]; s == "RUNNING" {
			break
		} else if time.Now().After(deadline) || s != "QUEUED" {
			t.Fatalf("long backtest: %v", s)
		}
	}
	c := f.must("POST", "/v1/backtests/"+id+":cancel", `{}`)
	if c["state"] != "CANCELLED" || c["progress"].(float64) >= 1 {
		t.Errorf("cancelled backtest: state %v progress %v", c["state"], c["progress"])
	}
}

// TestAPIBacktests: stored and draft rules backtested over a file and over the events
// retained from the live stream, with counts, precision and recall; bad requests rejected
// with clear errors; a long backtest cancelled.
func TestAPIBacktests(t *testing.T) {
	f := startAPIFixture(t)
	f.must("POST", "/v1/rules", `{"source": `+jsonString(bigTwice("100.0"))+`}`)
	writeDayFile(t, filepath.Join(f.backtestDir, "day.jsonl"))
	draft := strings.Replace(bigTwice("10.0"), "id: big-twice", "id: low-bar", 1)
	b := f.must("POST", "/v1/backtests", `{"rules": [{"rule_id": "big-twice"}, {"source": `+jsonString(draft)+`}],
		"events_file": "day.jsonl", "label_field": "label"}`)
	b = f.waitBacktest(b["id"].(string))
	if b["state"] != "DONE" || b["events_read"] != 7.0 || b["alerts_total"] != 5.0 || len(b["alerts"].([]any)) != 5 {
		t.Fatalf("backtest: %v", b)
	}
	if dl := b["dead_letters"].(map[string]any); dl["bad_json"] != 1.0 {
		t.Errorf("dead letters %v", dl)
	}
	big := resultOf(t, b, "big-twice")
	if big["alerts"] != 2.0 || big["precision"] != 0.5 || big["recall"] != 1.0 || big["recall_label"] != "big-twice" {
		t.Errorf("big-twice: %v", big)
	}
	if h := big["per_hour"].([]any); len(h) != 1 || h[0].(map[string]any)["alerts"] != 2.0 {
		t.Errorf("per hour: %v", h)
	}
	low := resultOf(t, b, "low-bar")
	if low["alerts"] != 3.0 || low["recall"] != 1.0 {
		t.Errorf("low-bar: %v", low)
	}

	// Over the events retained from the live stream.
	f.pair("live1", 150)
	f.alerts("live1", 1)
	b = f.waitBacktest(f.must("POST", "/v1/backtests", `{"rules": [{"rule_id": "big-twice"}]}`)["id"].(string))
	if b["state"] != "DONE" || b["source"] != "RETAINED" || resultOf(t, b, "big-twice")["alerts"] != 1.0 {
		t.Errorf("retained backtest: %v", b)
	}

	// Bad requests: a clear 4xx each.
	for _, tt := range []struct{ body, want string }{
		{`{"rules": []}`, "rule"},
		{`{"rules": [{"source": "id: x\npattern:\n  - name: a\n    where: e.amout > 1\n"}]}`, "4:"},
		{`{"rules": [{"rule_id": "nosuch"}]}`, "nosuch"},
		{`{"rules": [{"rule_id": "big-twice"}], "events_file": "../../etc/passwd"}`, "inside the events directory"},
		{`{"rules": [{"rule_id": "big-twice"}], "events_file": "missing.jsonl"}`, "missing.jsonl"},
	} {
		code, out := f.do("POST", "/v1/backtests", tt.body)
		if code < 400 || code >= 500 || !strings.Contains(fmt.Sprint(out["message"]), tt.want) {
			t.Errorf("%s: %d %v, want a 4xx mentioning %q", tt.body, code, out, tt.want)
		}
	}
	if code, _ := f.do("GET", "/v1/backtests/nosuch", ""); code != http.StatusNotFound {
		t.Errorf("unknown backtest: %d", code)
	}

	cancelLongBacktest(t, f)
	if l := f.must("GET", "/v1/backtests", "")["backtests"].([]any); len(l) != 3 {
		t.Errorf("list: %d backtests, want 3", len(l))
	}
}
