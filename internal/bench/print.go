package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/cepd/cepd/engine"
	"github.com/cepd/cepd/internal/defaults"
	"github.com/cepd/cepd/state"
)

// Print writes r as text, or as one JSON object with asJSON.
func Print(w io.Writer, r *Result, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		return enc.Encode(r)
	}
	fmt.Fprintf(w, "events            %d in %.3fs over %d keys (%d rules, %d shards, %d partitions)\n", r.Events, r.Seconds, r.Keys, r.RulesEvaluated, r.Shards, r.Partitions)
	if len(r.KeySpaces) > 1 {
		fmt.Fprintf(w, "key spaces        %v (rules keyed by other fields: one ordered partition, as replay)\n", r.KeySpaces)
	}
	fmt.Fprintf(w, "throughput        %.0f events/s (decode alone, one core: %.0f events/s; a plain JSON scan, all cores: %.0f events/s, ratio %.3f)\n", r.EventsPerSec, r.DecodePerSec, r.ScanPerSec, r.ScanRatio)
	fmt.Fprintf(w, "latency           p50 %.0fµs  p99 %.0fµs  p99.9 %.0fµs (event in → alert out, %d alerts sampled); queue wait p50 %.0fµs  p99 %.0fµs  p99.9 %.0fµs (%d batches)\n",
		r.LatencyP50, r.LatencyP99, r.LatencyP999, r.LatencyN, r.QueueP50, r.QueueP99, r.QueueP999, r.QueueN)
	fmt.Fprintf(w, "state             %d live partial matches on %d keys; %.0f heap bytes per key seen, %.0f state bytes per live key\n", r.LiveRuns, r.LiveKeys, r.BytesPerKey, r.StateBytesKey)
	fmt.Fprintf(w, "collector         %d cycles in the run, %.1f%% of the CPU used (assists %.1f%%), %.0f bytes allocated per event; %.0f of the heap bytes per key scannable, %.1f objects per key, %.0f ms of CPU to mark the state once\n",
		r.GCCycles, 100*r.GCCPUShare, 100*r.AssistCPUShare, r.AllocPerEvent, r.ScanBytesPerKey, r.ObjectsPerKey, r.MarkCPUMs)
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
	if h := r.AtHalfRate; h != nil {
		fmt.Fprintf(w, "at half the rate  offered %d events/s, sustained %.0f: latency p50 %.0fµs  p99 %.0fµs  p99.9 %.0fµs (%d of %d alerts sampled); queue wait p99 %.0fµs  p99.9 %.0fµs; calls behind schedule p99 %.0fµs  max %.0fµs; waits for a processor p99 %.0fµs  max %.0fµs\n",
			h.OfferedRate, h.EventsPerSec, h.LatencyP50, h.LatencyP99, h.LatencyP999, h.LatencyN, h.Alerts, h.QueueP99, h.QueueP999, h.PaceBehindP99, h.PaceBehindMax, h.SchedWaitP99, h.SchedWaitMax)
		if p := h.Parts; p != nil {
			for _, b := range []struct {
				name string
				m    PartsMean
			}{{"slowest 1%", p.Tail}, {"middle 10%", p.Median}} {
				fmt.Fprintf(w, "  %-15s %d alerts, mean %.0fµs: ingest to hand-off %.0fµs, shard queue %.0fµs, batch before it %.0fµs (%.1f events), own and out %.0fµs; %d made by time\n",
					b.name, b.m.N, b.m.TotalUs, b.m.IngestUs, b.m.QueueUs, b.m.BeforeUs, b.m.Position, b.m.OwnUs, b.m.Timed)
			}
		}
	}
	fmt.Fprintf(w, "memory budget     largest key and rule: %d partial matches, %d entries, %d Dewey digits, %d bytes; cuts %v\n", r.PeakRuns, r.PeakNodes, r.PeakDigits, r.PeakBytes, r.BudgetCuts)
	return nil
}

// CompareCheckpoints measures the cost of checkpointing: the same run without and with
// checkpoints to store every interval (where names the store in the report), side by
// side, written to w.
func CompareCheckpoints(ctx context.Context, w io.Writer, rs *engine.RuleSet, recs []engine.Record, c Config, store state.Store, every time.Duration, where string) error {
	defaults.Positive(&every, time.Second)
	c.Store, c.CheckpointEvery = nil, 0
	base, err := Run(ctx, rs, recs, c)
	if err != nil {
		return err
	}
	c.Store, c.CheckpointEvery = store, every
	with, err := Run(ctx, rs, recs, c)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "without checkpoints  %.0f events/s\nwith checkpoints     %.0f events/s (every %s to %s; %d saves, last %d bytes)\nratio                %.3f (%.1f%% slower)\n",
		base.EventsPerSec, with.EventsPerSec, every, where, with.Saves, with.LastSaveBytes, with.EventsPerSec/base.EventsPerSec, 100*(1-with.EventsPerSec/base.EventsPerSec))
	return nil
}
