package main

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/maphash"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/buger/jsonparser"
	"github.com/spf13/cobra"

	"github.com/cepd/cepd/alerts"
	"github.com/cepd/cepd/engine"
	"github.com/cepd/cepd/event"
	"github.com/cepd/cepd/patterns"
	"github.com/cepd/cepd/state"
)

type benchResult struct {
	Events           int               `json:"events"`
	Seconds          float64           `json:"seconds"`
	EventsPerSec     float64           `json:"events_per_sec"`
	DecodePerSec     float64           `json:"decode_events_per_sec"`
	ScanPerSec       float64           `json:"json_scan_events_per_sec"`
	ScanRatio        float64           `json:"json_scan_ratio"`
	LatencyP50       float64           `json:"latency_p50_us"`
	LatencyP99       float64           `json:"latency_p99_us"`
	LatencyP999      float64           `json:"latency_p999_us"`
	BytesPerKey      float64           `json:"bytes_per_key"`
	StateBytesKey    float64           `json:"state_bytes_per_live_key"`
	Keys             int               `json:"keys"`
	LiveKeys         int               `json:"live_keys"`
	LiveRuns         int               `json:"live_partial_matches"`
	Alerts           uint64            `json:"alerts"`
	AlertsByRule     map[string]uint64 `json:"alerts_by_rule"`
	DeadLetters      map[string]uint64 `json:"dead_letters"`
	Shards           int               `json:"shards"`
	Partitions       int               `json:"partitions"`
	OfferedRate      int               `json:"offered_rate,omitempty"`
	RulesEvaluated   int               `json:"rules"`
	Saves            uint64            `json:"checkpoint_saves,omitempty"`
	Reloads          int               `json:"reloads,omitempty"`
	ReloadRules      int               `json:"reload_rules,omitempty"`
	ReloadMaxPauseUs float64           `json:"reload_max_pause_us,omitempty"`
	LastSaveBytes    int64             `json:"last_checkpoint_bytes,omitempty"`
	BudgetCuts       map[string]uint64 `json:"budget_cuts"`
	PeakRuns         int64             `json:"peak_key_rule_partial_matches"`
	PeakNodes        int64             `json:"peak_key_rule_nodes"`
	PeakDigits       int64             `json:"peak_key_rule_digits"`
	PeakBytes        int64             `json:"peak_key_rule_bytes"`
}

func newBenchCmd() *cobra.Command {
	var (
		rulesPath, schemaPath, eventsPath string
		asJSON                            bool
		cpuProfile, memProfile            string
		ckptEvery                         time.Duration
		ckptDir                           string
		compare                           bool
		redis                             redisOptions
		replicate                         int
		reloadEvery                       time.Duration
		shards, partitions, rate, chunk   int
		ooo                               time.Duration
	)
	cmd := &cobra.Command{
		Use:   "bench --rules DIR --events FILE [--json]",
		Short: "run the whole runtime (decode, order, shard, match, alert) over a file in process and report speed, latency and memory",
		Long: `bench feeds a JSON-lines file, in written order, through the whole runtime in one
process: the events are split by key over partitions decoded in parallel (as Kafka
keying would), matched by every rule, and the alerts counted. It reports events/s beside
the cost of decoding the file alone on one core (the floor), detection latency
percentiles from an event entering the engine to its alert, live partial matches, heap
bytes per key, and alerts by rule. Use --out-of-orderness at least the input's lateness
(cepd gen writes events up to 5s late) or late events are dead-lettered and counted.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rs, err := loadReplicated(rulesPath, schemaPath, replicate, 0)
			if err != nil {
				return err
			}
			recs, err := readRecords(eventsPath, rs.Schema, false) // as written: lateness included
			if err != nil {
				return err
			}
			if cpuProfile != "" {
				f, err := os.Create(cpuProfile)
				if err != nil {
					return err
				}
				defer f.Close()
				if err := pprof.StartCPUProfile(f); err != nil {
					return err
				}
				defer pprof.StopCPUProfile()
			}
			if memProfile != "" {
				runtime.MemProfileRate = 64 << 10
			}
			bc := benchConfig{shards: shards, partitions: partitions, rate: rate, chunk: chunk, ooo: ooo}
			if reloadEvery > 0 {
				bc.reloadEvery = reloadEvery
				bc.reload = func(gen int) (*engine.RuleSet, error) { return loadReplicated(rulesPath, schemaPath, replicate, gen) }
			}
			if compare {
				return compareCheckpoints(cmd, rs, recs, bc, ckptEvery, ckptDir, &redis)
			}
			if ckptEvery > 0 {
				if bc.store, err = benchStore(ckptDir, &redis); err != nil {
					return err
				}
				defer bc.store.Close()
				bc.ckptEvery = ckptEvery
			}
			res, err := runBench(cmd.Context(), rs, recs, bc)
			if err != nil {
				return err
			}
			if memProfile != "" {
				f, err := os.Create(memProfile)
				if err != nil {
					return err
				}
				defer f.Close()
				if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
					return err
				}
			}
			return printBench(cmd.OutOrStdout(), res, asJSON)
		},
	}
	f := cmd.Flags()
	f.StringVar(&rulesPath, "rules", "", "rules directory or rule file (required)")
	f.StringVar(&schemaPath, "schema", "", "event schema file (default: schema.yaml beside the rules)")
	f.StringVar(&eventsPath, "events", "", "JSON-lines event file (required)")
	f.BoolVar(&asJSON, "json", false, "print one JSON object")
	f.IntVar(&shards, "shards", 0, "shard workers (default: one per core)")
	f.IntVar(&partitions, "partitions", 0, "input partitions decoded in parallel, events split by key as Kafka would (default: one per core)")
	f.IntVar(&rate, "rate", 0, "offered rate in events/s (0: as fast as possible)")
	f.IntVar(&chunk, "chunk", 1024, "records per ingest call")
	f.DurationVar(&ooo, "out-of-orderness", 0, "engine out-of-orderness")
	f.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the run here (go tool pprof)")
	f.StringVar(&memProfile, "memprofile", "", "write an allocation profile of the run here (go tool pprof -sample_index=alloc_space)")
	f.DurationVar(&ckptEvery, "checkpoint-interval", 0, "checkpoint state this often during the run (0: no checkpoints)")
	f.StringVar(&ckptDir, "data", "", "checkpoint to this directory (default: a temporary one) unless --redis-addr is set")
	f.IntVar(&replicate, "replicate", 1, "run every rule this many times (under distinct ids), to measure with many rules")
	f.DurationVar(&reloadEvery, "reload-every", 0, "during the run, change one rule and hot-swap the whole rule set this often; reports the longest pause in matching")
	f.BoolVar(&compare, "compare-checkpoints", false, "run twice, without and with checkpoints every --checkpoint-interval (default 1s), and print the cost as a ratio")
	addRedisFlags(f, &redis)
	_ = cmd.MarkFlagRequired("rules")
	_ = cmd.MarkFlagRequired("events")
	return cmd
}

type benchConfig struct {
	shards, partitions, rate, chunk int
	ooo                             time.Duration
	store                           state.Store
	ckptEvery                       time.Duration
	reloadEvery                     time.Duration
	reload                          func(gen int) (*engine.RuleSet, error)
}

// benchStore opens the checkpoint store of a benchmark run: Redis, or a directory
// (temporary when none is given).
func benchStore(dir string, redis *redisOptions) (state.Store, error) {
	if len(redis.addrs) > 0 {
		return redis.open()
	}
	if dir == "" {
		tmp, err := os.MkdirTemp("", "cepd-bench-state-")
		if err != nil {
			return nil, err
		}
		dir = tmp
	}
	return state.OpenDir(dir, state.FileOptions{})
}

// compareCheckpoints measures the cost of checkpointing: the same run without and with
// checkpoints, side by side.
func compareCheckpoints(cmd *cobra.Command, rs *engine.RuleSet, recs []engine.Record, bc benchConfig, every time.Duration, dir string, redis *redisOptions) error {
	if every <= 0 {
		every = time.Second
	}
	base, err := runBench(cmd.Context(), rs, recs, bc)
	if err != nil {
		return err
	}
	st, err := benchStore(dir, redis)
	if err != nil {
		return err
	}
	defer st.Close()
	bc.store, bc.ckptEvery = st, every
	with, err := runBench(cmd.Context(), rs, recs, bc)
	if err != nil {
		return err
	}
	where := "a local directory"
	if len(redis.addrs) > 0 {
		where = "Redis"
	}
	fmt.Fprintf(cmd.OutOrStdout(), "without checkpoints  %.0f events/s\nwith checkpoints     %.0f events/s (every %s to %s; %d saves, last %d bytes)\nratio                %.3f (%.1f%% slower)\n",
		base.EventsPerSec, with.EventsPerSec, every, where, with.Saves, with.LastSaveBytes, with.EventsPerSec/base.EventsPerSec, 100*(1-with.EventsPerSec/base.EventsPerSec))
	return nil
}

type countSink struct {
	n      atomic.Uint64
	byRule sync.Map // rule id → *atomic.Uint64
}

func (c *countSink) Alert(a *alerts.Alert) {
	c.n.Add(1)
	v, ok := c.byRule.Load(a.RuleID)
	if !ok {
		v, _ = c.byRule.LoadOrStore(a.RuleID, new(atomic.Uint64))
	}
	v.(*atomic.Uint64).Add(1)
}

type countDLQ struct{}

func (countDLQ) DeadLetter(engine.DeadLetter) {}

func heapAlloc() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

func runBench(ctx context.Context, rs *engine.RuleSet, recs []engine.Record, bc benchConfig) (*benchResult, error) {
	if bc.partitions <= 0 {
		bc.partitions = runtime.GOMAXPROCS(0)
	}
	if bc.chunk <= 0 {
		bc.chunk = 1024
	}
	// The floor: decoding the file alone, on one core.
	dec := event.NewDecoder(rs.Schema)
	var ev event.Event
	keys := map[string]struct{}{}
	seed := maphash.MakeSeed()
	parts := make([][]engine.Record, bc.partitions)
	start := time.Now()
	for _, r := range recs {
		if dec.Decode(r.Value, &ev) == nil {
			keys[ev.Key] = struct{}{}
		}
	}
	decodeSecs := time.Since(start).Seconds()
	scanSecs := jsonScan(recs, runtime.GOMAXPROCS(0))
	for _, r := range recs {
		p := 0
		if dec.Decode(r.Value, &ev) == nil {
			p = int(maphash.String(seed, ev.Key) % uint64(bc.partitions))
		}
		parts[p] = append(parts[p], r)
	}

	sink := &countSink{}
	eng, err := engine.New(engine.Config{Shards: bc.shards, OutOfOrderness: bc.ooo, QueueSize: 16}, rs, sink, countDLQ{})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if bc.store != nil {
		eng.EnableCheckpoints(bc.store, nil)
	}
	eng.Start(ctx)
	defer eng.Close()
	if bc.store != nil {
		go eng.RunCheckpoints(ctx, bc.ckptEvery, slog.Default())
	}
	base := heapAlloc()

	var wg sync.WaitGroup
	errc := make(chan error, bc.partitions)
	var reloads reloadResult
	stopReload := make(chan struct{})
	reloadDone := make(chan struct{})
	go func() {
		defer close(reloadDone)
		if bc.reloadEvery <= 0 {
			return
		}
		t := time.NewTicker(bc.reloadEvery)
		defer t.Stop()
		for gen := 1; ; gen++ {
			select {
			case <-stopReload:
				return
			case <-t.C:
			}
			next, err := bc.reload(gen) // compiled beside matching, as the API does
			if err != nil {
				errc <- err
				return
			}
			st, err := eng.SwapRules(ctx, next)
			if err != nil {
				errc <- err
				return
			}
			reloads.n++
			reloads.rules = len(next.Rules)
			reloads.maxPause = max(reloads.maxPause, st.Pause)
		}
	}()
	start = time.Now()
	for p := range parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			recs := parts[p]
			perPart := float64(bc.rate) / float64(bc.partitions)
			t0 := time.Now()
			for i := 0; i < len(recs); i += bc.chunk {
				if perPart > 0 {
					due := t0.Add(time.Duration(float64(i) / perPart * float64(time.Second)))
					if d := time.Until(due); d > 0 {
						time.Sleep(d)
					}
				}
				if _, err := eng.Ingest(ctx, p, recs[i:min(i+bc.chunk, len(recs))]); err != nil {
					errc <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(stopReload)
	<-reloadDone
	if err := eng.Barrier(ctx); err != nil {
		return nil, err
	}
	secs := time.Since(start).Seconds()
	select {
	case err := <-errc:
		return nil, err
	default:
	}
	st, err := eng.Inspect(ctx, true)
	if err != nil {
		return nil, err
	}
	heap := heapAlloc()
	if err := eng.Flush(ctx); err != nil {
		return nil, err
	}
	snap := eng.Stats().Snapshot()
	res := &benchResult{
		Events: len(recs), Seconds: secs, EventsPerSec: float64(len(recs)) / secs,
		DecodePerSec: float64(len(recs)) / decodeSecs, ScanPerSec: float64(len(recs)) / scanSecs,
		LatencyP50: snap.LatencyP50, LatencyP99: snap.LatencyP99, LatencyP999: snap.LatencyP999,
		Keys: len(keys), LiveKeys: st.Keys, LiveRuns: st.LiveRuns, Alerts: sink.n.Load(),
		AlertsByRule: map[string]uint64{}, DeadLetters: snap.DeadLetter,
		Partitions: bc.partitions, OfferedRate: bc.rate, RulesEvaluated: len(eng.Rules().Rules),
		BudgetCuts: snap.BudgetCuts, PeakRuns: snap.PeakRuns, PeakNodes: snap.PeakNodes, PeakDigits: snap.PeakDigits, PeakBytes: snap.PeakBytes,
	}
	res.Reloads, res.ReloadRules, res.ReloadMaxPauseUs = reloads.n, reloads.rules, float64(reloads.maxPause.Microseconds())
	cs := eng.CheckpointStats()
	res.Saves, res.LastSaveBytes = cs.Saves, cs.LastBytes
	res.Shards = bc.shards
	if res.Shards <= 0 {
		res.Shards = runtime.GOMAXPROCS(0)
	}
	res.ScanRatio = res.EventsPerSec / res.ScanPerSec
	if len(keys) > 0 && heap > base {
		res.BytesPerKey = float64(heap-base) / float64(len(keys))
	}
	if st.Keys > 0 {
		res.StateBytesKey = float64(st.Bytes) / float64(st.Keys)
	}
	sink.byRule.Range(func(k, v any) bool {
		res.AlertsByRule[k.(string)] = v.(*atomic.Uint64).Load()
		return true
	})
	return res, nil
}

// jsonScan is the floor of any JSON engine: a plain parse of every record (each member's
// key and value found, nothing converted or kept) on workers goroutines, each taking a
// contiguous share. It returns the seconds taken.
func jsonScan(recs []engine.Record, workers int) float64 {
	start := time.Now()
	var wg sync.WaitGroup
	per := (len(recs) + workers - 1) / workers
	for w := range workers {
		share := recs[min(w*per, len(recs)):min((w+1)*per, len(recs))]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, r := range share {
				_ = jsonparser.ObjectEach(r.Value, func(_, _ []byte, _ jsonparser.ValueType, _ int) error { return nil })
			}
		}()
	}
	wg.Wait()
	return time.Since(start).Seconds()
}

func printBench(w io.Writer, r *benchResult, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		return enc.Encode(r)
	}
	fmt.Fprintf(w, "events            %d in %.3fs over %d keys (%d rules, %d shards, %d partitions)\n", r.Events, r.Seconds, r.Keys, r.RulesEvaluated, r.Shards, r.Partitions)
	fmt.Fprintf(w, "throughput        %.0f events/s (decode alone, one core: %.0f events/s; a plain JSON scan, all cores: %.0f events/s, ratio %.3f)\n", r.EventsPerSec, r.DecodePerSec, r.ScanPerSec, r.ScanRatio)
	fmt.Fprintf(w, "latency           p50 %.0fµs  p99 %.0fµs  p99.9 %.0fµs (event in → alert out)\n", r.LatencyP50, r.LatencyP99, r.LatencyP999)
	fmt.Fprintf(w, "state             %d live partial matches on %d keys; %.0f heap bytes per key seen, %.0f state bytes per live key\n", r.LiveRuns, r.LiveKeys, r.BytesPerKey, r.StateBytesKey)
	if r.Reloads > 0 {
		fmt.Fprintf(w, "reloads           %d hot swaps of %d rules under load; longest pause in matching %.0fµs\n", r.Reloads, r.ReloadRules, r.ReloadMaxPauseUs)
	}
	fmt.Fprintf(w, "alerts            %d\n", r.Alerts)
	ids := make([]string, 0, len(r.AlertsByRule))
	for id := range r.AlertsByRule {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		fmt.Fprintf(w, "  %-28s %d\n", id, r.AlertsByRule[id])
	}
	if len(r.DeadLetters) > 0 {
		fmt.Fprintf(w, "dead letters      %v\n", r.DeadLetters)
	}
	fmt.Fprintf(w, "memory budget     largest key and rule: %d partial matches, %d entries, %d Dewey digits, %d bytes; cuts %v\n", r.PeakRuns, r.PeakNodes, r.PeakDigits, r.PeakBytes, r.BudgetCuts)
	return nil
}

type reloadResult struct {
	n, rules int
	maxPause time.Duration
}

// loadReplicated loads the rule set with every rule repeated n times under distinct ids
// (id, id-x2, …). gen > 0 changes one rule (a new fingerprint) the way an analyst's edit
// would, so a reload swaps in one fresh rule and keeps the others.
func loadReplicated(path, schemaPath string, n, gen int) (*engine.RuleSet, error) {
	if n <= 1 && gen == 0 {
		return loadRuleSet(path, schemaPath)
	}
	n = max(n, 1)
	dir, err := os.MkdirTemp("", "cepd-rules-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	src := path
	if st, err := os.Stat(path); err == nil && !st.IsDir() {
		src = filepath.Dir(path)
	}
	if schemaPath == "" {
		schemaPath = filepath.Join(src, "schema.yaml")
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		return nil, err
	}
	first := true
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !patterns.IsRuleFile(name) || filepath.Ext(name) == ".json" {
			continue
		}
		data, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			return nil, err
		}
		text := string(data)
		id := ""
		for _, line := range strings.Split(text, "\n") {
			if rest, ok := strings.CutPrefix(line, "id: "); ok {
				id = strings.TrimSpace(rest)
				break
			}
		}
		for i := 1; i <= n; i++ {
			t := text
			if i > 1 {
				t = strings.Replace(t, "id: "+id, fmt.Sprintf("id: %s-x%d", id, i), 1)
			}
			if first && i == 1 && gen > 0 { // the edited rule: a new window changes its fingerprint
				t = strings.Replace(t, "\npattern:", fmt.Sprintf("\n# edit %d\nwithin: %dh\npattern:", gen, 200+gen), 1)
				t = removeFirstWithin(t, gen)
			}
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%s-%d.yaml", strings.TrimSuffix(name, filepath.Ext(name)), i)), []byte(t), 0o644); err != nil {
				return nil, err
			}
		}
		first = false
	}
	return loadRuleSet(dir, schemaPath)
}

// removeFirstWithin drops an existing top-level within line other than the edit's own.
func removeFirstWithin(t string, gen int) string {
	mine := fmt.Sprintf("within: %dh", 200+gen)
	lines := strings.Split(t, "\n")
	out := lines[:0]
	for _, l := range lines {
		if strings.HasPrefix(l, "within:") && l != mine {
			continue
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}
