package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cepd/cepd/alerts"
	"github.com/cepd/cepd/event"
	"github.com/cepd/cepd/event/eventtest"
)

// deviceRule reads the field the schema change adds.
const deviceRule = `
id: device-big
pattern:
  - name: big
    where: e.kind == 'auth' && has(e.device) && e.device == 'd-new' && e.amount > 500.0
emit:
  device: e.device
`

// schemaChangeInput is the test events and, after them, three events of card cz that
// carry the added field: only the last is one device-big takes.
func schemaChangeInput(t *testing.T) []Record {
	t.Helper()
	recs := records(genEvents(41, 30, 4000))
	ts := int64(1_800_000_000_000)
	for i, extra := range []string{
		`{"id":"x1","card":"cz","ts":%d,"kind":"auth","amount":900,"device":"d-old"}`,
		`{"id":"x2","card":"cz","ts":%d,"kind":"login","amount":0,"device":"d-new"}`,
		`{"id":"x3","card":"cz","ts":%d,"kind":"auth","amount":901,"device":"d-new"}`,
	} {
		recs = append(recs, Record{Value: fmt.Appendf(nil, extra, ts+int64(i)*1000), Offset: int64(len(recs))})
	}
	return recs
}

// widerRuleSet is the test rules plus deviceRule, under the test schema with an optional
// device field added.
func widerRuleSet(t *testing.T) *RuleSet {
	return compileRules(t, widerSchema(t), append(slices.Clone(testRules), deviceRule))
}

func widerSchema(t *testing.T) *event.Schema {
	t.Helper()
	schema := eventtest.Schema(t, testSchema+"  device: string?\n")
	return schema
}

// wantKept is the alerts of the test rules in a run that had the wider schema from the
// start (the events carrying the new field show it in alerts).
func wantKept(t *testing.T, recs []Record) []string {
	want, _, _ := run(t, compileRules(t, widerSchema(t), testRules), Config{Shards: 2}, recs, 500)
	if len(want) == 0 {
		t.Fatal("no alerts: weak test")
	}
	return want
}

func splitDevice(as []*alerts.Alert) (others []string, device []*alerts.Alert) {
	for _, a := range as {
		if a.RuleID == "device-big" {
			device = append(device, a)
			continue
		}
		b, _ := json.Marshal(a)
		others = append(others, string(b))
	}
	sort.Strings(others)
	return others, device
}

func checkDeviceAlert(t *testing.T, device []*alerts.Alert) {
	t.Helper()
	if len(device) != 1 || device[0].Key != "cz" || !strings.Contains(emitJSON(device[0]), `"device":"d-new"`) {
		b, _ := json.Marshal(device)
		t.Fatalf("device-big alerts: %s, want one for cz with device d-new", b)
	}
}

// TestSchemaFieldAddedLive: a schema that adds an optional field, with a rule that reads
// it, is swapped in while partial matches are live. The rules that did not change keep
// their partial matches (their alerts are exactly those of a run under the wider schema
// from the start, on events decoded before and after the change), and the new rule matches events carrying the new
// field.
func TestSchemaFieldAddedLive(t *testing.T) {
	recs := schemaChangeInput(t)
	want := wantKept(t, recs)
	got, st, liveBefore, liveAfter := runWithSwap(t, testRuleSet(t), widerRuleSet(t), recs, 2000)
	if st.Kept != len(testRules) || st.Fresh != 1 || liveBefore == 0 || liveAfter != liveBefore {
		t.Fatalf("swap: %+v, live %d -> %d", st, liveBefore, liveAfter)
	}
	others, device := splitDevice(got)
	if !slices.Equal(others, want) {
		t.Fatalf("the kept rules' alerts changed across the schema change: %d, want %d", len(others), len(want))
	}
	checkDeviceAlert(t, device)
}

// TestSchemaChangeRejected: a change that is not compatible changes nothing (the engine
// keeps its schema and rules), and says why.
func TestSchemaChangeRejected(t *testing.T) {
	rs := testRuleSet(t)
	e, err := New(Config{Shards: 1}, rs, &sinkCollector{}, &dlqCollector{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	e.Start(ctx)
	defer e.Close()
	schema := eventtest.Schema(t, strings.Replace(testSchema, "amount: double", "amount: int", 1))
	_, err = e.SwapRules(ctx, compileRules(t, schema, testRules[2:3]))
	var ce *event.SchemaChangeError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), `field "amount" changes type from double to int`) {
		t.Fatalf("want the change refused, got %v", err)
	}
	if e.Rules() != e.cur.Load() || len(e.Rules().Rules) != len(testRules) || e.schema() != rs.Schema {
		t.Fatal("a refused change changed the engine")
	}
}

// TestRestoreAcrossSchemaChange: a checkpoint written under the old schema restores into
// an engine running the wider schema; the kept rules' alerts across the restart are those
// of one uninterrupted run, and the new rule matches.
func TestRestoreAcrossSchemaChange(t *testing.T) {
	rs := testRuleSet(t)
	recs := schemaChangeInput(t)
	want := wantKept(t, recs)
	for _, cut := range []int{777, 2500, 3999} {
		dir := t.TempDir()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		before := checkpointAt(t, ctx, dir, Config{Shards: 2}, rs, recs, cut)
		after := resumeAfter(t, ctx, dir, Config{Shards: 3}, widerRuleSet(t), recs)
		cancel()
		if !after.meta.Found || int(after.meta.Offset)+1 != cut {
			t.Fatalf("cut %d: restored %+v", cut, after.meta)
		}
		if after.ckpt.Restored == 0 || after.ckpt.Corrupt != 0 {
			t.Fatalf("cut %d: %+v", cut, after.ckpt)
		}
		others, device := splitDevice(append(before.alerts, after.alerts...))
		if !slices.Equal(others, want) {
			t.Fatalf("cut %d: %d alerts of the kept rules across the restart, want %d", cut, len(others), len(want))
		}
		checkDeviceAlert(t, device)
	}
}

func emitJSON(a *alerts.Alert) string {
	b, _ := json.Marshal(a.Emit)
	return string(b)
}
