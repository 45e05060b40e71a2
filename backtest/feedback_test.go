package backtest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// TestFeedbackPrecision: with Options.Feedback, each rule's result counts the alerts
// (by id) analysts marked as fraud or false positive, and their precision.
func TestFeedbackPrecision(t *testing.T) {
	dir := t.TempDir()
	var lines []string
	for i, amount := range []float64{150, 200, 120, 500, 5} {
		lines = append(lines, fmt.Sprintf(`{"event_id":"e%d","card_id":"c%d","ts":"2024-01-01T10:%02d:00Z","type":"auth","amount":%g}`, i, i, i, amount))
	}
	if err := os.WriteFile(filepath.Join(dir, "e.jsonl"), []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	spec := Spec{Rules: []Rule{{Name: "big", Source: []byte("id: big\npattern:\n  - name: a\n    where: e.amount >= 100.0\n")}}, EventsFile: "e.jsonl", MaxAlerts: 100}
	// a first run finds the alert ids, as the live engine would have delivered them
	first := run(t, newManager(t, Options{EventsDir: dir}), spec)
	if len(first.Alerts) != 4 || first.Rules[0].FeedbackFraud != 0 {
		t.Fatalf("first run: %d alerts, %+v", len(first.Alerts), first.Rules[0])
	}
	verdicts := map[string]string{}
	for i, a := range first.Alerts {
		switch i {
		case 0, 1, 2:
			verdicts[a.ID] = FeedbackFraud
		case 3:
			verdicts[a.ID] = FeedbackFalsePositive
		}
	}
	var mu sync.Mutex
	lookup := func(id string) string { mu.Lock(); defer mu.Unlock(); return verdicts[id] }
	j := run(t, newManager(t, Options{EventsDir: dir, Feedback: lookup}), spec)
	r := j.Rules[0]
	if r.FeedbackFraud != 3 || r.FeedbackFalsePositive != 1 || r.FeedbackPrecision != 0.75 || j.Overall.FeedbackFraud != 3 {
		t.Fatalf("feedback: %+v", r)
	}
}
