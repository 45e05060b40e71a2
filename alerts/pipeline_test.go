package alerts

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

type keep struct {
	mu  sync.Mutex
	ids []string
}

func (k *keep) Alert(a *Alert) { k.mu.Lock(); k.ids = append(k.ids, a.ID); k.mu.Unlock() }

type gateFunc func(*Alert) *Suppressed

func (g gateFunc) Check(a *Alert) *Suppressed { return g(a) }

// TestPipelineStages: every alert is recorded (ring, history), counted for its trial;
// shadow alerts and those the gate holds are never delivered; the alerts file is not
// written twice across a restart and a torn last line is ended; Flush and Close reach
// every output, in order, with their errors named.
func TestPipelineStages(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "out.jsonl")
	if err := os.WriteFile(file, []byte(`{"id":"old","kind":"match"}`+"\n"+`{"id":"torn`), 0o644); err != nil {
		t.Fatal(err)
	}
	var out keep
	var order []string
	fail := errors.New("receiver away")
	cfg := Config{RingSize: 10, HistoryPath: HistoryFile(dir), LinesFile: file,
		Gate: gateFunc(func(a *Alert) *Suppressed {
			if a.Key == "held" {
				return &Suppressed{By: SuppressedByAnalyst, Reason: "test"}
			}
			return nil
		}),
		Outputs: []Output{
			{Name: "a", Sink: &out, Flush: func(context.Context) error { order = append(order, "flush a"); return nil },
				Close: func(context.Context) error { order = append(order, "close a"); return nil }},
			{Name: "b", Sink: Multi{}, Flush: func(context.Context) error { order = append(order, "flush b"); return fail },
				Close: func(context.Context) error { order = append(order, "close b"); return fail }},
		}}
	p, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	p.Trials().Set([]Trial{{RuleID: "r", ActiveVersion: 1, ShadowVersion: 2}})
	held := &Alert{ID: "h1", RuleID: "q", Mode: ModeActive, Key: "held", DetectedAt: &now}
	for _, a := range []*Alert{
		{ID: "old", RuleID: "r", Mode: ModeActive, Key: "k0", DetectedAt: &now}, // in the file already
		{ID: "a1", RuleID: "r", Mode: ModeActive, Key: "k1", DetectedAt: &now},
		{ID: "s1", RuleID: "r", Mode: ModeShadow, Key: "k1", DetectedAt: &now},
		held,
	} {
		p.Alert(a)
	}
	if held.Suppressed != nil {
		t.Error("the gate modified the engine's alert")
	}
	if got := p.Ring().Query(Filter{Key: "held"}); len(got) != 1 || got[0].Suppressed == nil || got[0].Suppressed.Reason != "test" {
		t.Errorf("the held alert is not recorded marked suppressed: %+v", got)
	}
	if got := strings.Join(out.ids, " "); got != "old a1" {
		t.Errorf("delivered %q, want old a1 (no shadow, nothing the gate held)", got)
	}
	if got := len(p.Ring().Query(Filter{})); got != 4 {
		t.Errorf("ring holds %d alerts, want all 4", got)
	}
	c, ok := p.Trials().Comparison("r")
	if !ok || c.ActiveAlerts != 2 || c.ShadowAlerts != 1 || c.Keys.Both != 1 || c.Keys.ActiveOnly != 1 {
		t.Errorf("comparison %+v %v", c, ok)
	}
	if err := p.Flush(context.Background()); !errors.Is(err, fail) || !strings.HasPrefix(err.Error(), "b: ") {
		t.Errorf("flush: %v", err)
	}
	if err := p.Close(context.Background()); !errors.Is(err, fail) {
		t.Errorf("close: %v", err)
	}
	if got := strings.Join(order, ", "); got != "flush a, flush b, close a, close b" {
		t.Errorf("order %s", got)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"id":"old","kind":"match"}` + "\n" + `{"id":"torn` + "\n"; !strings.HasPrefix(string(data), want) ||
		strings.Count(string(data), `"id":"a1"`) != 1 || strings.Count(string(data), `"id":"old"`) != 1 {
		t.Errorf("alerts file:\n%s", data)
	}
	// After a restart the ring holds the history again, and re-derived alerts are not
	// listed twice.
	p2, err := Open(Config{RingSize: 10, HistoryPath: HistoryFile(dir)})
	if err != nil {
		t.Fatal(err)
	}
	defer p2.Close(context.Background())
	p2.Alert(&Alert{ID: "a1", RuleID: "r", Mode: ModeActive, Key: "k1"})
	if got := len(p2.Ring().Query(Filter{})); got != 4 {
		t.Errorf("ring after the restart holds %d alerts, want 4", got)
	}
}
