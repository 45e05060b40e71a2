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
	h := newStopHook(t)
	bin := buildCepd(t)
	dir := serveDir(t)
	args := serveDirArgs(dir, "--alerts-out", filepath.Join(dir, "alerts.jsonl"), "--webhook-url", h.srv.URL,
		"--checkpoint-interval", "1h") // only the final checkpoint
	stopWithHookRefusing(t, h, bin, dir, args)
	restartWithHookBack(t, h, bin, dir, args)
	restartAfterCleanStop(t, h, bin, dir, args)
}

// stopOrder is the order of serve's stop steps, as logged.
var stopOrder = []string{"stop intake", "stop background loops", "drain the engine", "final checkpoint (after the sinks delivered)",
	"stop the engine", "flush and close the sinks", "commit: trim the ingest log to the checkpoint"}

// wantStopSteps is the stop-step lines expected when the failed steps fail.
func wantStopSteps(failed ...string) string {
	var out []string
	for _, s := range stopOrder {
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

// stopHook is the webhook of TestProcessOrderedStop: it refuses while refuse is set and
// otherwise counts deliveries by alert id; want are the card-testing golden ids.
type stopHook struct {
	refuse atomic.Bool
	mu     sync.Mutex
	got    map[string]int
	want   map[string]bool
	srv    *httptest.Server
}

func newStopHook(t *testing.T) *stopHook {
	h := &stopHook{got: map[string]int{}}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h.refuse.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		h.mu.Lock()
		h.got[r.Header.Get(webhook.HeaderAlertID)]++
		h.mu.Unlock()
	}))
	t.Cleanup(h.srv.Close)
	h.want = goldenIDs(t, filepath.Join(fraudDir, "examples", "card-testing.golden"))
	return h
}

// delivered is how many of the wanted alerts the hook took.
func (h *stopHook) delivered() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for id := range h.want {
		if h.got[id] > 0 {
			n++
		}
	}
	return n
}

// waitDelivered waits up to ten seconds for n alerts delivered.
func (h *stopHook) waitDelivered(n int) {
	for deadline := time.Now().Add(10 * time.Second); h.delivered() < n && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
}

// stopWithHookRefusing: the webhook refuses: the stop is bounded, and no checkpoint
// covers the alerts.
func stopWithHookRefusing(t *testing.T, h *stopHook, bin, dir string, args []string) {
	h.refuse.Store(true)
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
	if g, w := strings.Join(steps, "\n"), wantStopSteps(stopOrder[3], stopOrder[5]); g != w {
		t.Errorf("stop steps with the webhook refusing:\n%s\nwant\n%s", g, w)
	}
	if strings.Contains(log, "final checkpoint written") {
		t.Error("a final checkpoint was written although the webhook had not taken the alerts")
	}
}

// restartWithHookBack: the webhook is back: the restart matches the events again from
// the ingest log and delivers every alert; the stop is clean, and its checkpoint covers
// everything.
func restartWithHookBack(t *testing.T, h *stopHook, bin, dir string, args []string) {
	h.refuse.Store(false)
	log2 := filepath.Join(dir, "back.log")
	p := startCepdProc(t, bin, log2, args)
	h.waitDelivered(len(h.want))
	if n := h.delivered(); n != len(h.want) {
		t.Fatalf("after the restart the webhook got %d of %d alerts", n, len(h.want))
	}
	if err := p.stop(15 * time.Second); err != nil {
		t.Fatal(err)
	}
	steps, log := stopSteps(t, log2)
	if g, w := strings.Join(steps, "\n"), wantStopSteps(); g != w {
		t.Errorf("stop steps:\n%s\nwant\n%s", g, w)
	}
	if !strings.Contains(log, "matched again from the ingest log") || !strings.Contains(log, `msg="final checkpoint written" offset=26`) {
		t.Errorf("the restart did not match the 26 events again, or its final checkpoint does not cover them:\n%s", log)
	}
}

// restartAfterCleanStop: a restart after a clean stop matches nothing again and writes
// nothing twice, to the webhook or the alerts file.
func restartAfterCleanStop(t *testing.T, h *stopHook, bin, dir string, args []string) {
	log3 := filepath.Join(dir, "clean.log")
	p := startCepdProc(t, bin, log3, args)
	if err := p.stop(15 * time.Second); err != nil {
		t.Fatal(err)
	}
	if _, log := stopSteps(t, log3); strings.Contains(log, "matched again from the ingest log") {
		t.Errorf("a restart after a clean stop matched events again:\n%s", log)
	}
	h.mu.Lock()
	for id, n := range h.got {
		if n != 1 {
			t.Errorf("alert %s delivered %d times", id, n)
		}
	}
	h.mu.Unlock()
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
	for id := range h.want {
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
