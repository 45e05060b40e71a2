package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"time"

	"github.com/spf13/cobra"

	"github.com/cepd/cepd/engine"
	"github.com/cepd/cepd/internal/bench"
	"github.com/cepd/cepd/state"
)

// benchOptions are cepd bench's flags.
type benchOptions struct {
	rulesPath, schemaPath, eventsPath string
	asJSON                            bool
	cpuProfile, memProfile, tracePath string
	ckptEvery                         time.Duration
	ckptDir                           string
	compare, halfRate                 bool
	redis                             redisOptions
	replicate                         int
	reloadEvery                       time.Duration
	shards, partitions, rate, chunk   int
	ooo                               time.Duration
}

func newBenchCmd() *cobra.Command {
	var o benchOptions
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
		RunE: func(cmd *cobra.Command, _ []string) error { return o.run(cmd) },
	}
	o.flags(cmd)
	_ = cmd.MarkFlagRequired("rules")
	_ = cmd.MarkFlagRequired("events")
	return cmd
}

func (o *benchOptions) flags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&o.rulesPath, "rules", "", "rules directory or rule file (required)")
	f.StringVar(&o.schemaPath, "schema", "", "event schema file (default: schema.yaml beside the rules)")
	f.StringVar(&o.eventsPath, "events", "", "JSON-lines event file (required)")
	f.BoolVar(&o.asJSON, "json", false, "print one JSON object")
	f.IntVar(&o.shards, "shards", 0, "shard workers (default: one per core)")
	f.IntVar(&o.partitions, "partitions", 0, "input partitions decoded in parallel, events split by key as Kafka would (default: one per core)")
	f.IntVar(&o.rate, "rate", 0, "offered rate in events/s (0: as fast as possible)")
	f.IntVar(&o.chunk, "chunk", 1024, "records per ingest call")
	f.DurationVar(&o.ooo, "out-of-orderness", 0, "engine out-of-orderness")
	f.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the run here (go tool pprof)")
	f.StringVar(&o.memProfile, "memprofile", "", "write an allocation profile of the run here (go tool pprof -sample_index=alloc_space)")
	f.StringVar(&o.tracePath, "trace", "", "write an execution trace of the run here (go tool trace; -pprof=sched: where goroutines waited for a processor)")
	f.DurationVar(&o.ckptEvery, "checkpoint-interval", 0, "checkpoint state this often during the run (0: no checkpoints)")
	f.StringVar(&o.ckptDir, "data", "", "checkpoint to this directory (default: a temporary one) unless --redis-addr is set")
	f.IntVar(&o.replicate, "replicate", 1, "run every rule this many times (under distinct ids), to measure with many rules")
	f.DurationVar(&o.reloadEvery, "reload-every", 0, "during the run, change one rule and hot-swap the whole rule set this often; reports the longest pause in matching")
	f.BoolVar(&o.halfRate, "half-rate", false, "run twice: as fast as possible, then offered half the rate measured, paced in real time (--rate is ignored); reports the second run's detection latency beside the first (use with --chunk 64 and no --out-of-orderness)")
	f.BoolVar(&o.compare, "compare-checkpoints", false, "run twice, without and with checkpoints every --checkpoint-interval (default 1s), and print the cost as a ratio")
	addRedisFlags(f, &o.redis)
}

// run loads the rules and events, wires the flags into a bench.Config and runs it.
func (o *benchOptions) run(cmd *cobra.Command) error {
	rs, err := bench.Replicate(o.rulesPath, o.schemaPath, o.replicate, 0)
	if err != nil {
		return err
	}
	recs, err := readRecords(o.eventsPath, rs.Schema, false) // as written: lateness included
	if err != nil {
		return err
	}
	stopCPU, err := startRecording(o.cpuProfile, pprof.StartCPUProfile, pprof.StopCPUProfile)
	if err != nil {
		return err
	}
	defer stopCPU()
	if o.memProfile != "" {
		runtime.MemProfileRate = 64 << 10
	}
	stopTrace, err := startRecording(o.tracePath, trace.Start, trace.Stop)
	if err != nil {
		return err
	}
	defer stopTrace()
	bc := bench.Config{Shards: o.shards, Partitions: o.partitions, Rate: o.rate, Chunk: o.chunk, OutOfOrderness: o.ooo}
	if o.reloadEvery > 0 {
		bc.ReloadEvery = o.reloadEvery
		bc.Reload = func(gen int) (*engine.RuleSet, error) {
			return bench.Replicate(o.rulesPath, o.schemaPath, o.replicate, gen)
		}
	}
	if o.compare || o.ckptEvery > 0 {
		if bc.Store, err = benchStore(o.ckptDir, &o.redis); err != nil {
			return err
		}
		defer bc.Store.Close()
		bc.CheckpointEvery = o.ckptEvery
	}
	if o.compare {
		where := "a local directory"
		if len(o.redis.addrs) > 0 {
			where = "Redis"
		}
		return bench.CompareCheckpoints(cmd.Context(), cmd.OutOrStdout(), rs, recs, bc, bc.Store, o.ckptEvery, where)
	}
	runBench := bench.Run
	if o.halfRate {
		runBench = bench.AtHalfRate
	}
	res, err := runBench(cmd.Context(), rs, recs, bc)
	if err != nil {
		return err
	}
	if err := writeAllocProfile(o.memProfile); err != nil {
		return err
	}
	return bench.Print(cmd.OutOrStdout(), res, o.asJSON)
}

// startRecording creates path and starts a recording into it (a CPU profile, an execution
// trace); the function it returns stops the recording and closes the file. Nothing when
// path is "".
func startRecording(path string, start func(io.Writer) error, stop func()) (func(), error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := start(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("bench: recording to %s: %w", path, err)
	}
	return func() { stop(); f.Close() }, nil
}

// writeAllocProfile writes the allocation profile to path (nothing when path is "").
func writeAllocProfile(path string) error {
	if path == "" {
		return nil
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return pprof.Lookup("allocs").WriteTo(f, 0)
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
