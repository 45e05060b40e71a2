package main

import (
	"bytes"
	"log/slog"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/cepd/cepd/engine"
	"github.com/cepd/cepd/internal/metrics"
)

// TestDeadLetterLogBounded: a burst of dead letters is logged at most dlqLogBurst lines a
// second, each with its reason; the first line of the next second tells how many were left
// out; every line logged is counted in cepd_dead_letters_logged_total.
func TestDeadLetterLogBounded(t *testing.T) {
	var buf bytes.Buffer
	m := metrics.New(metrics.Options{})
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	d := &dlqLog{log: slog.New(slog.NewTextHandler(&buf, nil)), metrics: m, now: func() time.Time { return clock }}
	for i := 0; i < 1000; i++ {
		d.DeadLetter(engine.DeadLetter{Reason: "bad_json", Error: "bad_json: x", Offset: int64(i)})
		clock = clock.Add(900 * time.Microsecond) // 1000 in 0.9 s
	}
	lines := bytes.Count(buf.Bytes(), []byte("\n"))
	if lines != dlqLogBurst {
		t.Fatalf("%d lines for a burst of 1000 dead letters, want %d", lines, dlqLogBurst)
	}
	if c := bytes.Count(buf.Bytes(), []byte("reason=bad_json")); c != lines {
		t.Errorf("%d of %d lines name the reason", c, lines)
	}
	clock = clock.Add(200 * time.Millisecond)
	buf.Reset()
	d.DeadLetter(engine.DeadLetter{Reason: "missing_key", Error: "missing_key: card_id"})
	got := regexp.MustCompile(`reason=missing_key .*not_logged_before=(\d+)`).FindSubmatch(buf.Bytes())
	if got == nil {
		t.Fatalf("next second's line: %q", buf.String())
	}
	if n, _ := strconv.Atoi(string(got[1])); n != 1000-dlqLogBurst {
		t.Errorf("not_logged_before=%d, want %d", n, 1000-dlqLogBurst)
	}
	fams, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	var logged float64
	for _, f := range fams {
		if f.GetName() == "cepd_dead_letters_logged_total" {
			for _, x := range f.Metric {
				logged += x.GetCounter().GetValue()
			}
		}
	}
	if logged != dlqLogBurst+1 {
		t.Errorf("cepd_dead_letters_logged_total = %v, want %d", logged, dlqLogBurst+1)
	}
}
