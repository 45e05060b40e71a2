package engine

import (
	"testing"
)

// TestBoxSlabsFollowsKeeps: slabs are boxed (room for a kept header, event/box.go) while
// most events are kept, and plain once every shard has kept fewer than half of a
// window's events; back to boxed when a rule set that keeps them arrives. Either way the
// alerts are the same (replays compare them byte for byte with either form).
func TestBoxSlabsFollowsKeeps(t *testing.T) {
	keepNone := testRulesOf(t, `id: never
pattern:
  - name: a
    where: e.kind == 'nothing'
  - name: b
    where: e.kind == 'auth'
`)
	keepAll := testRulesOf(t, `id: pairs
within: 1s
pattern:
  - name: a
    where: e.amount > 0.0
  - name: b
    where: e.kind == 'nothing'
`)
	eng, ctx, stop := startEngine(t, Config{Shards: 2}, keepNone, &sinkCollector{}, nil)
	defer stop()
	if !eng.boxSlabs() {
		t.Fatal("a new engine does not box slabs")
	}
	// 8 windows an engine: each of the two shards sees at least one whole window however
	// the 50 keys split between them
	evs := genEvents(1, 50, 16*keepWindow)
	ingestFlush(t, ctx, eng, records(evs[:8*keepWindow]))
	if eng.boxSlabs() {
		t.Fatal("slabs still boxed after windows of events no rule keeps")
	}
	if _, err := eng.SwapRules(ctx, keepAll); err != nil {
		t.Fatal(err)
	}
	ingestFlush(t, ctx, eng, records(evs[8*keepWindow:]))
	if !eng.boxSlabs() {
		t.Fatal("slabs not boxed after windows of events every rule keeps")
	}
}
