package engine

import (
	"encoding/json"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cepd/cepd/alerts"
)

func compileSet(t *testing.T, base *RuleSet, srcs []string) *RuleSet {
	t.Helper()
	return compileRules(t, base.Schema, srcs)
}

// runWithSwap feeds recs, swapping to next after cut records.
func runWithSwap(t *testing.T, rs, next *RuleSet, recs []Record, cut int) ([]*alerts.Alert, ReloadStats, int, int) {
	t.Helper()
	sink := &sinkCollector{}
	eng, ctx, stop := startEngine(t, Config{Shards: 2}, rs, sink, &dlqCollector{})
	defer stop()
	if _, err := eng.Ingest(ctx, 0, recs[:cut]); err != nil {
		t.Fatal(err)
	}
	before, _ := eng.Inspect(ctx, false)
	// Swap twice in a row: keys not touched in between move across both at once.
	st, err := eng.SwapRules(ctx, next)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := eng.SwapRules(ctx, next); err != nil {
		t.Fatal(err)
	}
	after, _ := eng.Inspect(ctx, false)
	if _, err := eng.Ingest(ctx, 0, recs[cut:]); err != nil {
		t.Fatal(err)
	}
	if err := eng.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	return sink.all, st, before.LiveRuns, after.LiveRuns
}

func lines(as []*alerts.Alert, keep func(*alerts.Alert) bool) []string {
	var out []string
	for _, a := range as {
		if keep(a) {
			b, _ := json.Marshal(a)
			out = append(out, string(b))
		}
	}
	sort.Strings(out)
	return out
}

func TestReloadKeepsUnchangedRules(t *testing.T) {
	rs := testRuleSet(t)
	recs := records(genEvents(31, 40, 6000))
	want, _, _ := run(t, rs, Config{Shards: 2}, recs, 500)
	all := func(*alerts.Alert) bool { return true }

	// The same rules, compiled again: nothing changes.
	got, st, liveBefore, liveAfter := runWithSwap(t, testRuleSet(t), testRuleSet(t), recs, 3000)
	if !slices.Equal(lines(got, all), want) {
		t.Fatalf("reloading identical rules changed the alerts: %d, want %d", len(got), len(want))
	}
	if st.Kept != len(testRules) || st.Fresh != 0 || liveBefore == 0 || liveAfter != liveBefore {
		t.Fatalf("identical reload: %+v, live %d -> %d", st, liveBefore, liveAfter)
	}
	t.Logf("reload of %d rules with %d live partial matches: longest shard pause %v", len(testRules), liveBefore, st.Pause)

	// One rule changed: the others' alerts are exactly as without a reload; the changed
	// rule starts fresh (its matches begin after the swap).
	changed := slices.Clone(testRules)
	changed[0] = strings.Replace(changed[0], "e.amount > 500.0", "e.amount > 700.0", 1)
	next := compileSet(t, rs, changed)
	got, st, _, _ = runWithSwap(t, testRuleSet(t), next, recs, 3000)
	if st.Kept != len(testRules)-1 || st.Fresh != 1 {
		t.Fatalf("one changed rule: %+v", st)
	}
	others := func(a *alerts.Alert) bool { return a.RuleID != "small-then-large" }
	var wantOthers []string
	for _, l := range want {
		if !strings.Contains(l, `"rule_id":"small-then-large"`) {
			wantOthers = append(wantOthers, l)
		}
	}
	if !slices.Equal(lines(got, others), wantOthers) {
		t.Fatalf("unchanged rules' alerts changed across the reload")
	}
	var cutTime time.Time
	{
		var e testEvent
		_ = json.Unmarshal(recs[2999].Value, &e)
		cutTime = time.UnixMilli(e.TS).UTC()
	}
	for _, a := range got {
		if a.RuleID == "small-then-large" && a.RuleVersion == next.Rules[0].Version && a.FirstEventTime.Before(cutTime) {
			t.Fatalf("the changed rule kept a partial match from before the reload: %s", a.FirstEventTime)
		}
	}

	// A removed rule frees its state.
	_, st, liveBefore, liveAfter = runWithSwap(t, testRuleSet(t), compileSet(t, rs, testRules[1:2]), recs, 3000)
	if st.Removed != 3 || liveAfter >= liveBefore {
		t.Fatalf("removing rules: %+v, live %d -> %d", st, liveBefore, liveAfter)
	}
}

// TestReloadReorderedRules swaps to the same rules in another order: every matcher moves
// to another index of its keys, with its partial matches, and the alerts are exactly those
// of a run without a reload (what the shard knew of the matcher at an index must not be
// applied to the one that moved there).
func TestReloadReorderedRules(t *testing.T) {
	rs := testRuleSet(t)
	recs := records(genEvents(37, 40, 6000))
	want, _, _ := run(t, rs, Config{Shards: 2}, recs, 500)
	reversed := slices.Clone(testRules)
	slices.Reverse(reversed)
	got, st, liveBefore, liveAfter := runWithSwap(t, testRuleSet(t), compileSet(t, rs, reversed), recs, 3000)
	if st.Kept != len(testRules) || liveAfter != liveBefore {
		t.Fatalf("reordered reload: %+v, live %d -> %d", st, liveBefore, liveAfter)
	}
	if !slices.Equal(lines(got, func(*alerts.Alert) bool { return true }), want) {
		t.Fatalf("reordering the rules changed the alerts: %d, want %d", len(got), len(want))
	}
}
