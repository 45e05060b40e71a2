package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/cepd/cepd/alerts/webhook"
)

// TestProcessWebhook: cepd serve delivers its alerts to a webhook, signed; the receiver
// refusing at first (503) only delays them; every alert arrives exactly once with the
// id replay gives it (card-testing's, checked against its golden file). /metrics counts
// the retries and the delivery latencies, and the secret is never logged (debug level
// included).
func TestProcessWebhook(t *testing.T) {
	var mu sync.Mutex
	got := map[string]int{}
	refusals := 2
	bad := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		if refusals > 0 {
			refusals--
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		var a struct {
			ID     string
			RuleID string `json:"rule_id"`
		}
		if json.Unmarshal(body, &a) != nil || a.ID != r.Header.Get(webhook.HeaderAlertID) ||
			r.Header.Get(webhook.HeaderSignature) != webhook.Sign("hook-secret", r.Header.Get(webhook.HeaderTimestamp), body) {
			bad++
		}
		if a.RuleID == "card-testing" { // the golden file holds this rule's alerts
			got[a.ID]++
		}
	}))
	defer srv.Close()

	dir := serveDir(t)
	logPath := filepath.Join(dir, "cepd.log")
	p := startCepdProc(t, buildCepd(t), logPath, serveDirArgs(dir, "--alerts-out=",
		"--webhook-url", srv.URL, "--webhook-secret", "hook-secret", "--log-level", "debug"))
	events, err := os.Open(filepath.Join(fraudDir, "examples", "card-testing.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer events.Close()
	resp, err := http.Post("http://"+p.api+"/v1/events", "application/x-ndjson", events)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	want := goldenIDs(t, filepath.Join(fraudDir, "examples", "card-testing.golden"))
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n >= len(want) {
			break
		}
	}
	waitSinkCounts(t, p.api, "webhook", len(want), 2)
	if err := p.stop(20 * time.Second); err != nil {
		t.Error(err)
	}
	if log, err := os.ReadFile(logPath); err != nil || bytes.Contains(log, []byte("hook-secret")) {
		t.Errorf("the webhook secret is in the log (or the log is unreadable: %v)", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != len(want) || bad > 0 {
		t.Fatalf("webhook got %v (%d badly signed), want %v", got, bad, want)
	}
	for id, n := range got {
		if !want[id] || n != 1 {
			t.Errorf("alert %s delivered %d times (expected: %v)", id, n, want[id])
		}
	}
}

// waitSinkCounts checks that cepd's /metrics at api counts n alerts of sink as taken,
// delivered and timed, after at least retries retries. cepd counts a delivery once the
// receiver's answer is back, which may be after the receiver counted it: it scrapes
// until the counts are there (or 10 s passed).
func waitSinkCounts(t *testing.T, api, sink string, n int, retries float64) {
	t.Helper()
	var missing []string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		fams := scrape(t, api)
		missing = missing[:0]
		for _, c := range []struct {
			name string
			min  float64
		}{{"cepd_sink_retries_total", retries}, {"cepd_sink_delivered_total", float64(n)}, {"cepd_sink_delivery_latency_seconds", float64(n)},
			{"cepd_sink_alerts_total", float64(n)}} {
			if v, ok := sample(fams, c.name, map[string]string{"sink": sink}); !ok || v < c.min {
				missing = append(missing, fmt.Sprintf("%s{sink=%s} = %v (present: %v), want at least %v", c.name, sink, v, ok, c.min))
			}
		}
		if len(missing) == 0 || time.Now().After(deadline) {
			break
		}
	}
	for _, m := range missing {
		t.Error(m)
	}
}
