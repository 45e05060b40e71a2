package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cepd/cepd/alerts/webhook"
)

// stopStage is a stop step's line in cepd's log.
var stopStage = regexp.MustCompile(`msg="stop step (done|failed)" step=\S+ stage="?([^"=]+?)"? took=(\S+)`)

// stopSteps returns the stop steps cepd logged, in order, as "stage: done|failed", and
// the log.
func stopSteps(t *testing.T, logPath string) ([]string, string) {
	t.Helper()
	data, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	var steps []string
	for _, m := range stopStage.FindAllStringSubmatch(string(data), -1) {
		steps = append(steps, m[2]+": "+m[1])
	}
	return steps, string(data)
}

// TestProcessOrderedStop: SIGTERM takes cepd down in order (intake, loops, drain, final
// checkpoint, engine, sinks, commit), each step logged. With the webhook up, the final
// checkpoint covers every event, so a restart matches nothing again and delivers nothing
// twice. With the webhook refusing, the stop is bounded (about 8 s, where it took 20),
// the final checkpoint is refused rather than cover undelivered alerts, and the ingest
// log is not trimmed past the last checkpoint: the restart matches those events again
// and delivers their alerts once the webhook is back.
func TestProcessOrderedStop(t *testing.T) {
	var refuse atomic.Bool
	var mu sync.Mutex
	got := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if refuse.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		mu.Lock()
		got[r.Header.Get(webhook.HeaderAlertID)]++
		mu.Unlock()
	}))
	defer srv.Close()
	want := goldenIDs(t, filepath.Join(fraudDir, "examples", "card-testing.golden"))
	delivered := func() int {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for id := range want {
			if got[id] > 0 {
				n++
			}
		}
		return n
	}
	waitDelivered := func(n int) {
		for deadline := time.Now().Add(10 * time.Second); delivered() < n && time.Now().Before(deadline); {
			time.Sleep(20 * time.Millisecond)
		}
	}
	bin := buildCepd(t)
	dir := t.TempDir()
	copyRules(t, filepath.Join(dir, "rules"))
	args := []string{"serve", "--http", "127.0.0.1:0", "--grpc", "127.0.0.1:0", "--rules", filepath.Join(dir, "rules"),
		"--data", filepath.Join(dir, "data"), "--alerts-out", filepath.Join(dir, "alerts.jsonl"), "--webhook-url", srv.URL,
		"--checkpoint-interval", "1h"} // only the final checkpoint
	order := []string{"stop intake", "stop background loops", "drain the engine", "final checkpoint (after the sinks delivered)",
		"stop the engine", "flush and close the sinks", "commit: trim the ingest log to the checkpoint"}

	// 1. The webhook refuses: the stop is bounded, and no checkpoint covers the alerts.
	refuse.Store(true)
	log1 := filepath.Join(dir, "refusing.log")
	p := startCepdProc(t, bin, log1, args)
	postEvents(t, p.api, filepath.Join(fraudDir, "examples", "card-testing.jsonl"))
	began := time.Now()
	if err := p.stop(15 * time.Second); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(began); took > stopCheckpoint+stopSinks+2*time.Second {
		t.Errorf("the stop with the webhook refusing took %v", took)
	}
	steps, log := stopSteps(t, log1)
	wantSteps := func(failed ...string) string {
		var out []string
		for _, s := range order {
			st := "done"
			for _, f := range failed {
				if f == s {
					st = "failed"
				}
			}
			out = append(out, s+": "+st)
		}
		return strings.Join(out, "\n")
	}
	if g, w := strings.Join(steps, "\n"), wantSteps(order[3], order[5]); g != w {
		t.Errorf("stop steps with the webhook refusing:\n%s\nwant\n%s", g, w)
	}
	if strings.Contains(log, "final checkpoint written") {
		t.Error("a final checkpoint was written although the webhook had not taken the alerts")
	}

	// 2. The webhook is back: the restart matches the events again from the ingest log
	// and delivers every alert; the stop is clean, and its checkpoint covers everything.
	refuse.Store(false)
	log2 := filepath.Join(dir, "back.log")
	p = startCepdProc(t, bin, log2, args)
	waitDelivered(len(want))
	if n := delivered(); n != len(want) {
		t.Fatalf("after the restart the webhook got %d of %d alerts", n, len(want))
	}
	if err := p.stop(15 * time.Second); err != nil {
		t.Fatal(err)
	}
	steps, log = stopSteps(t, log2)
	if g, w := strings.Join(steps, "\n"), wantSteps(); g != w {
		t.Errorf("stop steps:\n%s\nwant\n%s", g, w)
	}
	if !strings.Contains(log, "matched again from the ingest log") || !strings.Contains(log, `msg="final checkpoint written" offset=26`) {
		t.Errorf("the restart did not match the 26 events again, or its final checkpoint does not cover them:\n%s", log)
	}

	// 3. A restart after a clean stop matches nothing again and writes nothing twice.
	log3 := filepath.Join(dir, "clean.log")
	p = startCepdProc(t, bin, log3, args)
	if err := p.stop(15 * time.Second); err != nil {
		t.Fatal(err)
	}
	if _, log = stopSteps(t, log3); strings.Contains(log, "matched again from the ingest log") {
		t.Errorf("a restart after a clean stop matched events again:\n%s", log)
	}
	mu.Lock()
	for id, n := range got {
		if n != 1 {
			t.Errorf("alert %s delivered %d times", id, n)
		}
	}
	mu.Unlock()
	ids := map[string]int{}
	data, err := os.ReadFile(filepath.Join(dir, "alerts.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	for sc := bufio.NewScanner(bytes.NewReader(data)); sc.Scan(); {
		var a struct{ ID string }
		if json.Unmarshal(sc.Bytes(), &a) == nil {
			ids[a.ID]++
		}
	}
	for id := range want {
		if ids[id] != 1 {
			t.Errorf("alert %s is in the alerts file %d times", id, ids[id])
		}
	}
}

// postEvents sends a JSON-lines file to POST /v1/events.
func postEvents(t *testing.T, api, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	resp, err := http.Post("http://"+api+"/v1/events", "application/x-ndjson", f)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /v1/events: %s", resp.Status)
	}
}
