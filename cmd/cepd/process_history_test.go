package main

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestProcessAlertHistory (issue 10): in the embedded default (alerts to stdout, no
// --alerts-out file) GET /v1/alerts lists the alerts made before a restart, each once:
// after a kill -9 (when the ingest log derives them again) and after a clean stop (when
// nothing derives them again, and only the history in the data directory has them).
func TestProcessAlertHistory(t *testing.T) {
	dir := serveDir(t)
	bin := buildCepd(t)
	start := func(name string) *cepdProc {
		return startCepdProc(t, bin, filepath.Join(dir, name+".log"), serveDirArgs(dir, "--checkpoint-interval", "1h"))
	}
	events, err := os.ReadFile(filepath.Join(fraudDir, "examples", "card-testing.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	want := goldenIDs(t, filepath.Join(fraudDir, "examples", "card-testing.golden"))
	listed := func(p *cepdProc) map[string]int {
		var list struct{ Alerts []struct{ ID string } }
		p.get(t, "/v1/alerts?rule_id=card-testing&limit=1000", &list)
		seen := map[string]int{}
		for _, a := range list.Alerts {
			seen[a.ID]++
		}
		return seen
	}
	check := func(p *cepdProc, when string) {
		t.Helper()
		var seen map[string]int
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if seen = listed(p); len(seen) >= len(want) {
				break
			}
		}
		for id := range want {
			if seen[id] != 1 {
				t.Errorf("%s: GET /v1/alerts lists alert %s %d times (%v)", when, id, seen[id], seen)
			}
		}
		if len(seen) != len(want) {
			t.Errorf("%s: %d alerts listed, want %d", when, len(seen), len(want))
		}
	}

	p := start("run1")
	resp, err := http.Post("http://"+p.api+"/v1/events", "application/x-ndjson", bytes.NewReader(events))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	check(p, "before the restarts")
	p.kill9()
	p = start("run2")
	check(p, "after kill -9")
	if err := p.stop(20 * time.Second); err != nil {
		t.Error(err)
	}
	p = start("run3")
	check(p, "after a clean stop")
	if err := p.stop(20 * time.Second); err != nil {
		t.Error(err)
	}
}
