package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"sync"

	"github.com/spf13/cobra"

	"github.com/cepd/cepd/alerts"
	"github.com/cepd/cepd/backtest"
	"github.com/cepd/cepd/engine"
	"github.com/cepd/cepd/event"
)

func newReplayCmd() *cobra.Command {
	var (
		rulesPath, schemaPath, eventsPath, dlqPath string
		shards                                     int
		endOfStream                                bool
	)
	cmd := &cobra.Command{
		Use:   "replay --rules PATH --events FILE.jsonl",
		Short: "run rules over a file of events (per key, in event-time order) and print one JSON alert per line",
		Long: `replay runs the rules over the events of a JSON-lines file, each key's events in
event-time order, and writes the alerts to stdout as JSON lines, sorted by event time
(byte-identical run to run). At the end of the file event time advances to infinity, as
at the end of any bounded stream, so open windows close: timed-out partial matches of
rules that ask for them come out as alerts of kind "timeout".`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rs, err := loadRuleSet(rulesPath, schemaPath)
			if err != nil {
				return err
			}
			recs, err := readSorted(eventsPath, rs.Schema)
			if err != nil {
				return err
			}
			col := &alerts.Collector{}
			dlq := &dlqWriter{}
			if dlqPath != "" {
				f, err := os.Create(dlqPath)
				if err != nil {
					return err
				}
				defer f.Close()
				dlq.w = f
			}
			alertsOut, err := runReplay(cmd.Context(), rs, recs, engine.Config{Shards: shards, Log: slog.Default()}, col, dlq, endOfStream)
			if err != nil {
				return err
			}
			w := bufio.NewWriter(cmd.OutOrStdout())
			if err := alerts.WriteLines(w, alertsOut); err != nil {
				return err
			}
			if err := w.Flush(); err != nil {
				return err
			}
			if n := dlq.count(); n > 0 {
				slog.Warn("events could not be matched and were dead-lettered", "count", n, "by_reason", dlq.reasons)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&rulesPath, "rules", "", "rules directory or rule file (required)")
	f.StringVar(&schemaPath, "schema", "", "event schema file (default: schema.yaml beside the rules)")
	f.StringVar(&eventsPath, "events", "", "JSON-lines event file, - for stdin (required)")
	f.StringVar(&dlqPath, "dead-letters", "", "write malformed events here as JSON lines")
	f.IntVar(&shards, "shards", 1, "shard workers (the alerts do not depend on it)")
	f.BoolVar(&endOfStream, "end-of-stream", true, "advance event time to infinity after the last event, closing open windows")
	_ = cmd.MarkFlagRequired("rules")
	_ = cmd.MarkFlagRequired("events")
	return cmd
}

// runReplay feeds recs (already in event-time order) through an engine and returns the
// alerts sorted deterministically.
func runReplay(ctx context.Context, rs *engine.RuleSet, recs []engine.Record, cfg engine.Config, col *alerts.Collector, dlq engine.DeadLetterSink, endOfStream bool) ([]*alerts.Alert, error) {
	if err := backtest.Replay(ctx, cfg, rs, recs, col, dlq, endOfStream); err != nil {
		return nil, err
	}
	return col.Sorted(), nil
}

// readSorted reads a JSON-lines file and orders its records by event time (stable, so
// events with equal times keep file order). Lines that do not decode keep their place at
// the front: the engine dead-letters them.
func readSorted(path string, schema *event.Schema) ([]engine.Record, error) {
	return readRecords(path, schema, true)
}

// readRecords reads a JSON-lines file ("-": stdin) into records numbered by line, sorted
// by event time when sorted is set, else in written order. Backtests read files the same
// way (backtest.Read).
func readRecords(path string, schema *event.Schema, sorted bool) ([]engine.Record, error) {
	if path == "-" {
		return backtest.Read(os.Stdin, path, schema, sorted)
	}
	return backtest.ReadFile(path, schema, sorted)
}

// dlqWriter counts dead letters by reason and optionally writes them as JSON lines.
type dlqWriter struct {
	mu      sync.Mutex
	w       io.Writer
	reasons map[string]int
}

func (d *dlqWriter) DeadLetter(x engine.DeadLetter) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.reasons == nil {
		d.reasons = map[string]int{}
	}
	d.reasons[x.Reason]++
	if d.w != nil {
		line, _ := json.Marshal(map[string]any{"reason": x.Reason, "error": x.Error, "offset": x.Offset, "raw": string(x.Raw)})
		d.w.Write(append(line, '\n'))
	}
}

func (d *dlqWriter) count() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for _, c := range d.reasons {
		n += c
	}
	return n
}
