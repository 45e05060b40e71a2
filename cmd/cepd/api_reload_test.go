package main

import (
	"bytes"
	"fmt"
	"net/http"
	"testing"
	"time"
)

// TestAPIReloadKeepsInProgressMatch: updating one rule through the API hot-swaps the rule
// set while an unchanged rule's partial match, started before the update, completes after
// it; the updated rule's new version takes effect at once.
func TestAPIReloadKeepsInProgressMatch(t *testing.T) {
	f := startAPIFixture(t)
	keep := "id: keep\\nwithin: 1h\\npattern:\\n  - name: a\\n    where: e.type == 'auth' && e.amount > 50.0\\n  - name: b\\n    where: e.type == 'capture'\\n"
	edit := func(min float64) string {
		return fmt.Sprintf("id: edit\\npattern:\\n  - name: r\\n    where: e.type == 'refund' && e.amount > %.1f\\n", min)
	}
	f.must("POST", "/v1/rules", `{"source": "`+keep+`", "comment": "auth then capture"}`)
	f.must("POST", "/v1/rules", `{"source": "`+edit(10)+`", "comment": "refunds over 10"}`)

	send := func(lines ...string) {
		t.Helper()
		var b bytes.Buffer
		for _, l := range lines {
			b.WriteString(l + "\n")
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
	ev := func(id, typ string, minute int, amount float64) string {
		return fmt.Sprintf(`{"event_id":%q,"card_id":"k1","ts":"2026-04-01T09:%02d:00Z","type":%q,"amount":%g}`, id, minute, typ, amount)
	}
	alertsOf := func(rule string, want int) []any {
		t.Helper()
		var list []any
		for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			list = f.must("GET", "/v1/alerts?rule_id="+rule+"&key=k1", "")["alerts"].([]any)
			if len(list) >= want {
				break
			}
		}
		return list
	}

	send(ev("a1", "auth", 1, 100)) // the keep rule's partial match starts
	out := f.must("PUT", "/v1/rules/edit", `{"source": "`+edit(30)+`", "comment": "refunds over 30"}`)
	if fmt.Sprint(out["version"]) != "2" {
		t.Fatalf("update: %v", out)
	}
	send(ev("c1", "capture", 2, 100), ev("r1", "refund", 3, 20), ev("r2", "refund", 4, 40))

	kept := alertsOf("keep", 1)
	if len(kept) != 1 {
		t.Fatalf("the unchanged rule's match started before the reload did not complete: %v", kept)
	}
	if got := fmt.Sprint(kept[0].(map[string]any)["steps"]); !bytes.Contains([]byte(got), []byte("a1")) || !bytes.Contains([]byte(got), []byte("c1")) {
		t.Fatalf("the match should hold the auth from before the reload and the capture after it: %s", got)
	}
	edited := alertsOf("edit", 1)
	time.Sleep(50 * time.Millisecond)
	edited = alertsOf("edit", len(edited))
	if len(edited) != 1 || !bytes.Contains([]byte(fmt.Sprint(edited[0])), []byte("r2")) {
		t.Fatalf("the updated rule should alert on the 40.00 refund only: %v", edited)
	}
}
