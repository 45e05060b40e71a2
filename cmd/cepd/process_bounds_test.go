package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestProcessEventTimeBounds: `cepd serve` refuses, per event, an event further ahead of
// the wall clock than --max-event-ahead and one before --event-time-floor, and the
// historical events sent after them still alert exactly as the golden file says.
func TestProcessEventTimeBounds(t *testing.T) {
	dir := serveDir(t)
	out := filepath.Join(dir, "alerts.jsonl")
	p := startCepdProc(t, buildCepd(t), filepath.Join(dir, "cepd.log"), serveDirArgs(dir, "--alerts-out", out,
		"--max-event-ahead", "1m", "--event-time-floor", "2020-01-01T00:00:00Z"))
	future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	body := fmt.Sprintf(`{"event_id":"f1","card_id":"ct-card-1","ts":%q,"type":"auth","amount":1}`+"\n"+
		`{"event_id":"f2","card_id":"ct-card-1","ts":"2019-06-01T00:00:00Z","type":"auth","amount":1}`+"\n", future)
	resp, err := http.Post("http://"+p.api+"/v1/events", "application/x-ndjson", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(answer), `"reason":"time_ahead"`) || !strings.Contains(string(answer), `"reason":"time_before_floor"`) {
		t.Fatalf("bounded events: %d %s", resp.StatusCode, answer)
	}
	events, err := os.ReadFile(filepath.Join(fraudDir, "examples", "card-testing.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	resp, err = http.Post("http://"+p.api+"/v1/events", "application/x-ndjson", bytes.NewReader(events))
	if err != nil {
		t.Fatal(err)
	}
	answer, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(answer), `"rejected":0`) {
		t.Fatalf("historical events: %d %s", resp.StatusCode, answer)
	}
	want := goldenIDs(t, filepath.Join(fraudDir, "examples", "card-testing.golden"))
	var got map[string]int
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if got = ruleAlertIDs(t, out, "card-testing"); len(got) >= len(want) {
			break
		}
	}
	for id := range want {
		if got[id] != 1 {
			t.Errorf("alert %s written %d times, want once", id, got[id])
		}
	}
	if err := p.stop(10 * time.Second); err != nil {
		t.Fatal(err)
	}
}
