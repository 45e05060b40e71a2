package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cepd/cepd/nfa"
)

// reuseScenario is one run of reuseRun: a stream over two partitions with events out of
// order within (and some beyond) the out-of-orderness, through reloads between rule sets
// of other sizes and orders (some rules kept at other indexes, one set over 31 rules),
// Inspect calls, checkpoints and restores into fresh engines.
type reuseScenario struct {
	seed       uint64
	ooo        time.Duration
	maxJournal int
	memBudget  int64
	late       LatePolicy
	restores   bool
	runs       int // nfa budget's runs per key and rule (0: default)
	keys       int
	idle       time.Duration // Config.IdleTimeout (wall clock: the output is not reproducible)
}

// reuseRuleSets are the rule sets reuseRun swaps between: the test rules, the velocity
// rules with them, a set of 36 rules (the test rules kept, at other indexes, among
// variants with other windows), the test rules reversed with one more, and three.
func reuseRuleSets(t testing.TB) []*RuleSet {
	t.Helper()
	var big []string
	for i := range 8 {
		for j, src := range testRules {
			src = strings.Replace(src, "id: ", fmt.Sprintf("id: v%d-", i), 1)
			src = strings.Replace(src, "within: 20s", fmt.Sprintf("within: %ds", 5+3*i), 1)
			src = strings.Replace(src, "within: 30s", fmt.Sprintf("within: %ds", 7+2*i+j), 1)
			src = strings.Replace(src, "within: 60s", fmt.Sprintf("within: %ds", 11+4*i), 1)
			big = append(big, src)
		}
		if i == 3 {
			big = append(big, testRules[2], testRules[0], testRules[3], testRules[1])
		}
	}
	rev := slices.Clone(testRules)
	slices.Reverse(rev)
	rev = append(rev, strings.Replace(testRules[0], "id: ", "id: extra-", 1))
	return []*RuleSet{
		testRuleSet(t),
		testRulesOf(t, big...),
		velocityRuleSet(t),
		testRulesOf(t, rev...),
		testRulesOf(t, testRules[1], testRules[3], testRules[0]),
		testRulesOf(t, big...),
	}
}

// reuseRun runs sc and returns the alerts in delivery order (one shard: deterministic)
// and the counters that describe the run.
func reuseRun(t *testing.T, sc reuseScenario, check func(*Engine)) []string {
	t.Helper()
	return reuseRunWith(t, sc, reuseRuleSets(t), check)
}

// reuseRunWith is reuseRun swapping between the rule sets sets.
func reuseRunWith(t *testing.T, sc reuseScenario, sets []*RuleSet, check func(*Engine)) []string {
	t.Helper()
	r := &reuseRunner{t: t, sc: sc, check: check, sets: sets, recs: reuseStreams(sc), dir: t.TempDir(), sink: &sinkCollector{}}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var out []string
	for leg := 0; ; leg++ {
		line, restart := r.leg(ctx, leg)
		out = append(out, line)
		if !restart {
			break
		}
	}
	r.sink.mu.Lock()
	for _, a := range r.sink.all {
		b, _ := json.Marshal(a)
		out = append(out, string(b))
	}
	r.sink.mu.Unlock()
	return out
}

// reuseStreams is sc's stream as the records of its two partitions (cards c0, c2… and
// c1, c3…), each event at its time plus a random delay within sc.ooo (one in 40 later).
func reuseStreams(sc reuseScenario) [2][]Record {
	keys := sc.keys
	if keys == 0 {
		keys = 24
	}
	evs := genEvents(sc.seed, keys, 4000)
	r := rand.New(rand.NewPCG(sc.seed, 99))
	at := make(map[string]int64, len(evs))
	for _, e := range evs {
		var d int64
		if n := sc.ooo.Milliseconds() * 9 / 10; n > 0 { // 0: in order (no journal)
			d = r.Int64N(n)
		}
		if r.IntN(40) == 0 {
			d += sc.ooo.Milliseconds() * 2 // late
		}
		at[e.ID] = e.TS + d
	}
	sort.SliceStable(evs, func(i, j int) bool { return at[evs[i].ID] < at[evs[j].ID] })
	var parts [2][]testEvent
	for _, e := range evs {
		var k int
		fmt.Sscanf(e.Card, "c%d", &k)
		parts[k%2] = append(parts[k%2], e)
	}
	return [2][]Record{records(parts[0]), records(parts[1])}
}

// reuseRunner is one reuseRun across its legs (engines restored from the checkpoints of
// the one before): where each partition's ingest stands, the rule set in use, the step.
type reuseRunner struct {
	t     *testing.T
	sc    reuseScenario
	check func(*Engine)
	sets  []*RuleSet
	recs  [2][]Record
	dir   string
	sink  *sinkCollector
	from  [2]int
	set   int
	step  int
}

// leg starts an engine on the checkpoints in r.dir, steps it until the streams end or a
// step asks for a restart, and returns its counters as a line and whether to restart.
func (r *reuseRunner) leg(ctx context.Context, leg int) (string, bool) {
	t, sc := r.t, r.sc
	cfg := Config{Shards: 1, OutOfOrderness: sc.ooo, MaxJournal: sc.maxJournal, MemoryBudget: sc.memBudget, Late: sc.late, Budget: nfa.Budget{Runs: sc.runs}, IdleTimeout: sc.idle,
		Log: slog.New(slog.NewTextHandler(discard{}, nil))}
	store := openStore(t, r.dir)
	eng := startCheckpointed(t, ctx, store, cfg, r.sets[r.set], r.sink, nopDLQ{})
	for p := range 2 {
		meta, err := eng.Restore(ctx, p, slog.Default())
		if err != nil {
			t.Fatal(err)
		}
		if leg > 0 {
			r.from[p] = int(meta.Offset) + 1
		}
	}
	restart := false
	for !restart && (r.from[0] < len(r.recs[0]) || r.from[1] < len(r.recs[1])) {
		restart = r.nextStep(ctx, eng)
	}
	if err := eng.Barrier(ctx); err != nil {
		t.Fatal(err)
	}
	st := eng.Stats().Snapshot()
	eng.Close()
	store.Close()
	return fmt.Sprintf("leg %d: events %d rematched %d superseded %d late %d", leg, st.Events, st.Rematched, st.Superseded, st.Late), restart
}

// nextStep ingests the next chunk of each partition, lets them go idle if the scenario
// says so, runs the check, and then by step number swaps the rule set, inspects, or
// checkpoints (and restores a partition in place); it returns whether to restart.
func (r *reuseRunner) nextStep(ctx context.Context, eng *Engine) bool {
	t := r.t
	r.step++
	step := r.step
	for p := range 2 {
		n := 7 + (step*13+p*5)%40
		to := min(r.from[p]+n, len(r.recs[p]))
		if r.from[p] < to {
			if _, err := eng.Ingest(ctx, p, r.recs[p][r.from[p]:to]); err != nil {
				t.Fatal(err)
			}
		}
		r.from[p] = to
	}
	if r.sc.idle > 0 && step%4 == 0 { // both partitions go idle: the lagging one's timers run ahead
		time.Sleep(2 * r.sc.idle)
		eng.MarkIdle(ctx)
	}
	if r.check != nil {
		r.check(eng)
	}
	switch {
	case step%23 == 0:
		r.set = (r.set + 1) % len(r.sets)
		if _, err := eng.SwapRules(ctx, r.sets[r.set]); err != nil {
			t.Fatal(err)
		}
	case step%17 == 0:
		if _, err := eng.Inspect(ctx, step%2 == 0); err != nil {
			t.Fatal(err)
		}
	case step%11 == 0:
		if err := eng.Barrier(ctx); err != nil {
			t.Fatal(err)
		}
		if err := eng.Checkpoint(ctx); err != nil {
			t.Fatal(err)
		}
		if r.sc.restores && step%3 == 1 {
			r.restoreInPlace(ctx, eng)
		}
		return r.sc.restores && step%3 == 0
	}
	return false
}

// restoreInPlace restores a partition of eng from the checkpoint just taken: its keys
// (journals open) dropped, the checkpoint's imported, on a shard keeping spares; every
// other time the partition is removed first.
func (r *reuseRunner) restoreInPlace(ctx context.Context, eng *Engine) {
	t, step := r.t, r.step
	p := (step / 11) % 2
	if step%2 == 0 {
		if err := eng.RemovePartition(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	meta, err := eng.Restore(ctx, p, slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	if int(meta.Offset)+1 != r.from[p] {
		t.Fatalf("in-place restore of partition %d resumes at %d, want %d", p, meta.Offset+1, r.from[p])
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

var reuseScenarios = []reuseScenario{
	{seed: 1, ooo: 2 * time.Second, late: LateProcess, restores: true},
	{seed: 2, ooo: 3 * time.Second, maxJournal: 3, late: LateProcess, restores: true},
	{seed: 3, ooo: 1500 * time.Millisecond, memBudget: 64 << 10, late: LateDrop, restores: true},
	{seed: 4, ooo: 4 * time.Second, maxJournal: 2, memBudget: 256 << 10, late: LateProcess},
	{seed: 5, ooo: 2 * time.Second},
}

// reuseScenariosIdle is reuseScenarios and one whose partitions go idle between steps
// (timers follow the engine watermark).
func reuseScenariosIdle() []reuseScenario {
	return append(slices.Clone(reuseScenarios), reuseScenario{seed: 6, ooo: 3 * time.Second, maxJournal: 4, late: LateProcess, restores: true, idle: time.Millisecond})
}

// TestReuseScenarioDump writes each scenario's output to $REUSE_DIFF_OUT/<i> (with
// $REUSE_SEEDS=n, n random scenarios instead), to compare two builds of the engine alert
// for alert, in delivery order. It is a harness, skipped unless asked for: copy this file
// into the other tree's engine/ (it uses only test helpers older trees have), e.g. from
// `git archive 8c8a008 | tar -x -C /tmp/old`, then in both trees
// `REUSE_SEEDS=120 REUSE_DIFF_OUT=/tmp/out/<tree> go test ./engine -run TestReuseScenarioDump`
// and compare the files (session 10's review: 120 of 120 identical, 651k alerts).
func TestReuseScenarioDump(t *testing.T) {
	dir := os.Getenv("REUSE_DIFF_OUT")
	if dir == "" {
		t.Skip("REUSE_DIFF_OUT not set")
	}
	scs := slices.Clone(reuseScenarios)
	if n, _ := strconv.Atoi(os.Getenv("REUSE_SEEDS")); n > 0 {
		scs = nil
		for i := range n {
			r := rand.New(rand.NewPCG(uint64(i), 5))
			scs = append(scs, reuseScenario{seed: uint64(100 + i), ooo: time.Duration(500+r.IntN(5000)) * time.Millisecond,
				maxJournal: []int{0, 1, 2, 5}[r.IntN(4)], memBudget: []int64{0, 32 << 10, 128 << 10}[r.IntN(3)],
				late: []LatePolicy{LateProcess, LateDrop}[r.IntN(2)], restores: r.IntN(2) == 0,
				runs: []int{0, 2, 5}[r.IntN(3)], keys: 3 + r.IntN(40)})
		}
	}
	for i, sc := range scs {
		out := reuseRun(t, sc, nil)
		if err := os.WriteFile(fmt.Sprintf("%s/%d", dir, i), []byte(strings.Join(out, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
