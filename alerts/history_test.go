package alerts

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func historyAlert(id string, at time.Time) *Alert {
	return &Alert{ID: id, Kind: KindMatch, RuleID: "r", Key: "k", DetectedAt: &at, LastEventTime: at}
}

func historyIDs(list []*Alert) []string {
	var ids []string
	for _, a := range list {
		ids = append(ids, a.ID)
	}
	return ids
}

// TestHistory: alerts survive a reopen, oldest first and each once (an alert derived
// again is not kept twice); the oldest beyond MaxAlerts and those older than MaxAge go;
// the file stays bounded while alerts come; a torn last line is skipped.
func TestHistory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "alerts", "recent.jsonl")
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	opts := HistoryOptions{MaxAlerts: 4, MaxAge: 24 * time.Hour, Now: func() time.Time { return now }}
	h, got, err := OpenHistory(path, opts)
	if err != nil || len(got) != 0 {
		t.Fatalf("new history: %v, %d alerts", err, len(got))
	}
	h.Alert(historyAlert("old", now.Add(-25*time.Hour)))
	for i := range 3 {
		h.Alert(historyAlert(fmt.Sprint("a", i), now.Add(time.Duration(i)*time.Minute)))
	}
	h.Alert(historyAlert("a1", now)) // derived again: kept once
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	h, got, err = OpenHistory(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	if ids := historyIDs(got); !slices.Equal(ids, []string{"a0", "a1", "a2"}) {
		t.Fatalf("after a reopen: %v, want a0 a1 a2 (old is older than a day)", ids)
	}
	h.Alert(historyAlert("a1", now)) // known from the file
	for i := 3; i < 12; i++ {
		h.Alert(historyAlert(fmt.Sprint("a", i), now.Add(time.Duration(i)*time.Minute)))
		if n := lines(t, path); n >= 2*opts.MaxAlerts {
			t.Fatalf("after a%d the file holds %d alerts, more than twice MaxAlerts", i, n)
		}
	}
	h.Close()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"id":"torn","kind":"ma`) // a crash in the middle of a line
	f.Close()
	h, got, err = OpenHistory(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if ids := historyIDs(got); !slices.Equal(ids, []string{"a8", "a9", "a10", "a11"}) {
		t.Fatalf("after a reopen: %v, want the newest 4", ids)
	}
	if n, err := h.Failures(); n != 0 {
		t.Fatalf("%d write failures: %v", n, err)
	}
}

func lines(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Count(b, []byte{'\n'})
}

// TestHistoryRewriteFailingStaysBounded: while the history cannot be rewritten (here its
// temporary file's name is taken by a directory), memory stays bounded and the rewrite is
// tried once per MaxAlerts alerts, not on every alert; the alerts still reach the file.
func TestHistoryRewriteFailingStaysBounded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "recent.jsonl")
	h, _, err := OpenHistory(path, HistoryOptions{MaxAlerts: 10})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if err := os.Mkdir(path+".tmp", 0o755); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for i := range 100 {
		h.Alert(historyAlert(fmt.Sprintf("a%03d", i), now))
	}
	n, err := h.Failures()
	if n == 0 || n > 9 || err == nil {
		t.Errorf("%d failed rewrites (%v), want 1 to 9: one try per 10 alerts once 20 are kept", n, err)
	}
	h.mu.Lock()
	kept, ids := len(h.kept), len(h.ids)
	h.mu.Unlock()
	if kept >= 20 || ids != kept {
		t.Errorf("%d alerts and %d ids kept in memory, want under 20 and equal", kept, ids)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := bytes.Count(data, []byte("\n")); got != 100 {
		t.Errorf("the file holds %d alerts, want all 100 (it is cut when a rewrite succeeds)", got)
	}
}
