package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestProcessIngestLogKill9: in the embedded mode, events accepted over REST survive a
// kill -9 that comes before any checkpoint covers them: the restarted cepd matches them
// again from its ingest log, and the alerts that need events from before and after the
// crash are made; an alert made before the crash and derived again is not written twice.
// Without the log (--ingest-log=false) those alerts are lost: the test can tell.
func TestProcessIngestLogKill9(t *testing.T) {
	for _, c := range []struct {
		withLog bool
		half    int // events sent before the crash
	}{
		{true, 3},  // the first alert (ct-01, ct-02, ct-04...) spans the crash
		{false, 3}, // and is lost without the log
		{true, 8},  // the first alert is made before the crash, and again after it: written once
	} {
		t.Run(fmt.Sprintf("log=%v/half=%d", c.withLog, c.half), func(t *testing.T) { testIngestLogKill9(t, c.withLog, c.half) })
	}
}

func testIngestLogKill9(t *testing.T, withLog bool, half int) {
	dir := serveDir(t)
	out := filepath.Join(dir, "alerts.jsonl")
	bin := buildCepd(t)
	start := func(name string) *cepdProc {
		return startCepdProc(t, bin, filepath.Join(dir, name+".log"), serveDirArgs(dir, "--alerts-out", out,
			"--checkpoint-interval", "1h", // no checkpoint but the one at a clean stop
			fmt.Sprintf("--ingest-log=%v", withLog)))
	}
	events, err := os.ReadFile(filepath.Join(fraudDir, "examples", "card-testing.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.SplitAfter(bytes.TrimSpace(events), []byte("\n"))
	post := func(p *cepdProc, part [][]byte) {
		t.Helper()
		resp, err := http.Post("http://"+p.api+"/v1/events", "application/x-ndjson", bytes.NewReader(bytes.Join(part, nil)))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("ingest: %d", resp.StatusCode)
		}
	}
	p := start("run1")
	// One request an event: each is logged before it is answered.
	for _, l := range lines[:half] {
		post(p, [][]byte{l})
	}
	p.kill9()
	p = start("run2")
	post(p, lines[half:])
	want := goldenIDs(t, filepath.Join(fraudDir, "examples", "card-testing.golden"))
	var got map[string]int
	const last = "1938b5a4c25fb0e0542e9c4559bbdffe" // the alert of the last events: the others come before it
	if !want[last] {
		t.Fatalf("the golden file no longer has alert %s", last)
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if got = ruleAlertIDs(t, out, "card-testing"); got[last] > 0 {
			break
		}
	}
	if withLog { // the API lists the alerts of both runs, each once
		var list struct{ Alerts []struct{ ID string } }
		p.get(t, "/v1/alerts?rule_id=card-testing", &list)
		seen := map[string]int{}
		for _, a := range list.Alerts {
			seen[a.ID]++
		}
		for id := range want {
			if seen[id] != 1 {
				t.Errorf("GET /v1/alerts lists alert %s %d times (%v)", id, seen[id], seen)
			}
		}
	}
	if err := p.stop(20 * time.Second); err != nil {
		t.Error(err)
	}
	missing := 0
	for id := range want {
		if got[id] == 0 {
			missing++
		}
	}
	switch {
	case withLog && (missing > 0 || len(got) != len(want)):
		t.Errorf("alerts of card-testing after the crash: %v, want %v", got, want)
	case withLog && got["92e8bb4048e0b4ba74b2ae204f9ddeae"] != 1:
		t.Errorf("the alert made again after the crash was written %d times", got["92e8bb4048e0b4ba74b2ae204f9ddeae"])
	case !withLog && missing == 0:
		t.Errorf("without the ingest log no alert was lost: the test cannot tell (%v)", got)
	}
	t.Logf("ingest log %v: %d of %d alerts, written %v", withLog, len(want)-missing, len(want), got)
}

// goldenIDs reads the alert ids of a golden file.
func goldenIDs(t *testing.T, path string) map[string]bool {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ids := map[string]bool{}
	for sc := bufio.NewScanner(f); sc.Scan(); {
		var a struct{ ID string }
		if err := json.Unmarshal(sc.Bytes(), &a); err != nil {
			t.Fatal(err)
		}
		ids[a.ID] = true
	}
	return ids
}

// ruleAlertIDs counts the alerts of rule ("*": of every rule) in a JSON-lines alerts
// file, by id.
func ruleAlertIDs(t *testing.T, path, rule string) map[string]int {
	t.Helper()
	got := map[string]int{}
	data, err := os.ReadFile(path)
	if err != nil {
		return got
	}
	for _, l := range bytes.Split(data, []byte("\n")) {
		var a struct {
			ID     string
			RuleID string `json:"rule_id"`
		}
		if json.Unmarshal(l, &a) == nil && (a.RuleID == rule || rule == "*" && a.ID != "") {
			got[a.ID]++
		}
	}
	return got
}
