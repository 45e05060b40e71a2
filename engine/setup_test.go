package engine

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"github.com/cepd/cepd/alerts"
	"github.com/cepd/cepd/event/eventtest"
)

// testRulesOf compiles rule sources into a rule set for testSchema.
func testRulesOf(t testing.TB, srcs ...string) *RuleSet {
	t.Helper()
	schema := eventtest.Schema(t, testSchema)
	return compileRules(t, schema, srcs)
}

// keySpaceRulesOf compiles rule sources into a rule set for keySpaceSchema.
func keySpaceRulesOf(t testing.TB, srcs ...string) *RuleSet {
	t.Helper()
	return compileRules(t, eventtest.Schema(t, keySpaceSchema), srcs)
}

// startEngine makes an engine of cfg and rs and starts it under a context that ends
// after a minute; stop closes the engine, then ends the context.
func startEngine(t testing.TB, cfg Config, rs *RuleSet, sink alerts.Sink, dlq DeadLetterSink) (eng *Engine, ctx context.Context, stop func()) {
	t.Helper()
	eng, err := New(cfg, rs, sink, dlq)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	eng.Start(ctx)
	return eng, ctx, func() { eng.Close(); cancel() }
}

// ingestFlush ingests recs into partition 0 and waits until the shards have handled them.
func ingestFlush(t testing.TB, ctx context.Context, eng *Engine, recs []Record) {
	t.Helper()
	if _, err := eng.Ingest(ctx, 0, recs); err != nil {
		t.Fatal(err)
	}
	if err := eng.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

// barrierCheckpoint waits until the shards have processed everything sent to them, then
// checkpoints: the state saved is all that was ingested.
func barrierCheckpoint(t testing.TB, ctx context.Context, e *Engine) {
	t.Helper()
	if err := e.Barrier(ctx); err != nil {
		t.Fatal(err)
	}
	if err := e.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
}

// ingestChunks ingests recs into partition 0, 100 records a call.
func ingestChunks(t testing.TB, ctx context.Context, eng *Engine, recs []Record) {
	t.Helper()
	for i := 0; i < len(recs); i += 100 {
		if _, err := eng.Ingest(ctx, 0, recs[i:min(i+100, len(recs))]); err != nil {
			t.Fatal(err)
		}
	}
}

// submitCollect ingests evs into partition 0 collecting, and returns each event's
// outcome and the alerts it completed.
func submitCollect(t testing.TB, ctx context.Context, eng *Engine, evs ...testEvent) ([]Outcome, [][]Completed) {
	t.Helper()
	wait, comp, errs, err := eng.SubmitCollect(ctx, 0, records(evs))
	if err != nil || len(errs) > 0 {
		t.Fatal(err, errs)
	}
	out, err := wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return out, comp()
}

// completedTag names a completed alert by its rule, with what held it back, if anything,
// in parentheses: "big", "big(cooldown)".
func completedTag(c Completed) string {
	tag := c.Alert.RuleID
	if c.Alert.Suppressed != nil {
		tag += "(" + c.Alert.Suppressed.By + ")"
	}
	return tag
}

// matching returns the alerts delivered so far for which keep is true, in delivery order.
func (s *sinkCollector) matching(keep func(*alerts.Alert) bool) []*alerts.Alert {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*alerts.Alert
	for _, a := range s.all {
		if keep(a) {
			out = append(out, a)
		}
	}
	return out
}

// alertLines is the alerts as JSON lines, sorted: what runs that must agree compare.
func alertLines(as []*alerts.Alert) []string {
	var lines []string
	for _, a := range as {
		b, _ := json.Marshal(a)
		lines = append(lines, string(b))
	}
	sort.Strings(lines)
	return lines
}

// delayWithinKey reorders evs (in place) as if each arrived up to 1.5 s late, so that
// some arrive after later events of their key; always the same order.
func delayWithinKey(evs []testEvent) {
	r := rand.New(rand.NewPCG(8, 9))
	at := map[string]int64{}
	for _, e := range evs {
		at[e.ID] = e.TS + int64(r.IntN(1500))
	}
	sort.SliceStable(evs, func(i, j int) bool { return at[evs[i].ID] < at[evs[j].ID] })
}
