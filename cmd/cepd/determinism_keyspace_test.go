package main

import (
	"context"
	"maps"
	"slices"
	"sort"
	"testing"

	"github.com/cepd/cepd/alerts"
	"github.com/cepd/cepd/engine"
	"github.com/cepd/cepd/internal/fraudtest"
	"github.com/cepd/cepd/internal/workload"
)

// TestSameAlertsReplayBenchKeySpaces: the bench path runs every key space, as replay
// does: over the reference workload with every shipped rule, the re-keyed ones
// (device-many-cards, keyed by device_id) included, bench makes the same alerts as
// replay, per rule and by id, asked for several partitions and shard counts.
func TestSameAlertsReplayBenchKeySpaces(t *testing.T) {
	rs := fraudRuleSet(t)
	if len(servedRules(t, rs).Rules) == len(rs.Rules) {
		t.Fatal("the shipped rules have no rule keyed by another field: the test cannot tell")
	}
	recs := referenceRecords(t, 22000)
	sorted := slices.Clone(recs)
	sort.SliceStable(sorted, func(i, j int) bool { return eventTime(t, sorted[i]) < eventTime(t, sorted[j]) })
	rep, err := runReplay(context.Background(), rs, sorted, engine.Config{Shards: 1}, &alerts.Collector{}, &dlqWriter{}, true)
	if err != nil {
		t.Fatal(err)
	}
	want := byRuleCount(rep)
	if want["device-many-cards"] == 0 {
		t.Fatalf("replay made no device-many-cards alert: the test cannot tell (%v)", want)
	}
	for _, shards := range []int{1, 4} {
		b, err := runBenchAlerts(context.Background(), rs, recs, shards, 256, workload.DefaultConfig().MaxLateness)
		if err != nil {
			t.Fatal(err)
		}
		if got := byRuleCount(b); !maps.Equal(got, want) {
			t.Fatalf("shards=%d: bench alerts by rule %v, replay %v", shards, got, want)
		}
		if !slices.Equal(fraudtest.AlertIDs(b), fraudtest.AlertIDs(rep)) {
			t.Fatalf("shards=%d: bench and replay alerts differ by id", shards)
		}
	}
	t.Logf("alerts by rule, bench = replay: %v", want)
}

// byRuleCount counts alerts by rule.
func byRuleCount(list []*alerts.Alert) map[string]int {
	out := map[string]int{}
	for _, a := range list {
		out[a.RuleID]++
	}
	return out
}
