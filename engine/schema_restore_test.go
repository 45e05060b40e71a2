package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cepd/cepd/alerts"
	"github.com/cepd/cepd/event/eventtest"
	"github.com/cepd/cepd/state"
)

// withDevice is recs with a device value in every event (the field the wider schema
// adds), so the key states checkpointed under the wider schema hold it.
func withDevice(recs []Record) []Record {
	out := make([]Record, len(recs))
	for i, r := range recs {
		v := bytes.TrimSuffix(r.Value, []byte("}"))
		out[i] = Record{Value: fmt.Appendf(v, `,"device":"dev-%d"}`, i%13), Offset: r.Offset}
	}
	return out
}

// keptMatches is the sorted matches of the alerts of rules other than device-big: rule,
// key, kind and each step's event ids (not the rule version, which names the schema the
// rule was compiled against, nor the events' values).
func keptMatches(as []*alerts.Alert) []string {
	var out []string
	for _, a := range as {
		if a.RuleID == "device-big" {
			continue
		}
		m := a.RuleID + " " + a.Key + " " + a.Kind
		for _, st := range a.Steps {
			m += " " + st.Step + ":"
			for _, ev := range st.Events {
				m += ev.ID + ","
			}
		}
		out = append(out, m)
	}
	slices.Sort(out)
	return out
}

// TestRestoreUnderNarrowerSchema: a partition checkpointed by an instance that took a
// live schema change (an optional field added, which every event carries) is restored
// by one still on the schema before it (the change has not reached it yet, or it was
// started again with the old schema). Its keys keep their partial matches, read with
// the running schema's fields: the alerts across the restart are those of one
// uninterrupted run under the old schema. (Before schema records, every key was dropped
// as corrupt.)
func TestRestoreUnderNarrowerSchema(t *testing.T) {
	recs := withDevice(schemaChangeInput(t))
	sink := &sinkCollector{}
	r := Runner{Config: Config{Shards: 2}, Rules: testRuleSet(t), Sink: sink, DeadLetters: &dlqCollector{}, Chunk: 500, EndOfStream: true}
	if err := r.Run(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
	want := keptMatches(sink.all)
	if len(want) == 0 {
		t.Fatal("no alerts: weak test")
	}
	for _, cut := range []int{777, 2500, 3999} {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		dir := t.TempDir()
		before := checkpointAt(t, ctx, dir, Config{Shards: 2}, widerRuleSet(t), recs, cut)
		after := resumeAfter(t, ctx, dir, Config{Shards: 3}, testRuleSet(t), recs) // under the schema before the change
		cancel()
		if st := after.ckpt; !after.meta.Found || int(after.meta.Offset)+1 != cut || st.Restored == 0 || st.Corrupt != 0 {
			t.Fatalf("cut %d: restored %+v, %d keys, %d dropped as corrupt", cut, after.meta, st.Restored, st.Corrupt)
		}
		if got := keptMatches(append(before.alerts, after.alerts...)); !slices.Equal(got, want) {
			t.Fatalf("cut %d: %d alerts across the restart, want %d", cut, len(got), len(want))
		}
	}
}

// TestRestoreRefusedUnderIncompatibleSchema: state written under a schema that is not
// the running one plus optional fields at the end is not read (its values would be
// misread by position) nor dropped key by key: the restore fails, saying why, and
// changes nothing, so an instance running the schema the state was written under (the
// source retrying later) restores every key.
func TestRestoreRefusedUnderIncompatibleSchema(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir, e, store, err := restoreIncompatible(t, ctx)
	st := e.CheckpointStats()
	e.Close()
	store.Close()
	if !errors.Is(err, state.ErrSchemaMismatch) || !strings.Contains(err.Error(), `field "channel" is removed or renamed`) {
		t.Fatalf("restore under an incompatible schema: %v, want it refused naming the problem", err)
	}
	if st.Restored != 0 || st.Corrupt != 0 {
		t.Fatalf("a refused restore restored %d keys and dropped %d", st.Restored, st.Corrupt)
	}

	restoreAsWritten(t, ctx, dir)
}

// restoreIncompatible checkpoints 2000 records of schemaChangeInput under widerRuleSet
// into a new store in a temporary directory dir, then starts an engine whose schema has
// a field where that state has another (not its schema plus optional fields) on a store
// of dir, and returns dir, the engine, the store and the engine's Restore's error.
func restoreIncompatible(t *testing.T, ctx context.Context) (string, *Engine, *state.FileStore, error) {
	t.Helper()
	dir := t.TempDir()
	checkpointAt(t, ctx, dir, Config{Shards: 2}, widerRuleSet(t), schemaChangeInput(t), 2000)
	other := eventtest.Schema(t, testSchema+"  channel: string?\n")
	store := openStore(t, dir)
	e := startCheckpointed(t, ctx, store, Config{Shards: 2}, compileRules(t, other, testRules), &sinkCollector{}, &dlqCollector{})
	_, err := e.Restore(ctx, 0, slog.Default())
	return dir, e, store, err
}

// restoreAsWritten restores partition 0 from the store in dir into an engine of the
// schema restoreIncompatible's state was written under (widerRuleSet), fails t unless it
// restored keys and dropped none as corrupt, and returns what Restore said.
func restoreAsWritten(t *testing.T, ctx context.Context, dir string) state.Meta {
	t.Helper()
	store := openStore(t, dir)
	defer store.Close()
	e := startCheckpointed(t, ctx, store, Config{Shards: 2}, widerRuleSet(t), &sinkCollector{}, &dlqCollector{})
	defer e.Close()
	meta, err := e.Restore(ctx, 0, slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	if st := e.CheckpointStats(); st.Restored == 0 || st.Corrupt != 0 {
		t.Fatalf("restored under the schema it was written under: %+v", st)
	}
	return meta
}
