package alerts

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
)

// Gate is the pipeline's stage before recording: it decides whether an active alert is
// suppressed (an analyst's suppression of a key or rule; a rule's own cooldown is the
// engine's, in event time). A suppressed alert is still recorded, as a copy marked with
// why (the API lists it), but never delivered. Check is called once per active alert,
// from the engine's shard goroutines, concurrently (one key's alerts come from one
// goroutine, in order); it must not modify a and should not block. *Suppressions is one.
type Gate interface {
	Check(a *Alert) *Suppressed
}

// Output is a delivering sink (Kafka, a webhook) and how the pipeline drives it.
type Output struct {
	// Name names the output in logs ("kafka", "webhook").
	Name string
	// Sink takes the active alerts the gate lets through.
	Sink Sink
	// Flush, if set, returns once every alert handed to Sink before the call is
	// delivered for good, or an error when ctx ends first (nil: Sink delivers before
	// Alert returns).
	Flush func(ctx context.Context) error
	// Close, if set, delivers what is pending until ctx ends, then stops the output.
	Close func(ctx context.Context) error
}

// Config is what a Pipeline records and where it delivers.
type Config struct {
	// RingSize is how many recent alerts the API's ring holds (default 10,000).
	RingSize int
	// HistoryPath, if set, keeps the recent alerts in this file across restarts
	// (History), bounded by History.
	HistoryPath string
	History     HistoryOptions
	// Lines, if set, gets every delivered alert as a JSON line (stdout).
	Lines io.Writer
	// LinesFile, if set, is a JSON-lines file every delivered alert is appended to,
	// except the alerts its tail already holds (OpenFile).
	LinesFile string
	// Gate, if set, marks the active alerts that are suppressed: recorded, not delivered.
	Gate Gate
	// Outputs are the delivering sinks after the JSON lines, in order.
	Outputs []Output
	// Log receives what the pipeline does at start and stop (nil: slog.Default()).
	Log *slog.Logger
}

// Pipeline is the alert path from the engine to every sink, in one place:
//
//  1. trials: the alerts of rules on trial are counted for their comparison (Trials);
//  2. gate: an active alert an analyst's suppression holds (Config.Gate) is recorded as a
//     copy marked Suppressed, and stops there;
//  3. record: every other alert, active and shadow, goes to the API's ring and the
//     history file;
//  4. shadow alerts stop here: recorded, never delivered;
//  5. deliver: the JSON lines (stdout or the alerts file), then each Output in order.
//
// An alert arrives complete (its rule id and mode are set where it is made) and no stage
// modifies it (a suppressed one is recorded as a marked copy). Flush waits for the outputs that deliver asynchronously: checkpoints and
// Kafka offset commits call it first, so neither covers an alert not yet delivered.
// Alert is safe for concurrent use; the pipeline adds no queue of its own (an output
// that blocks is backpressure on matching).
type Pipeline struct {
	trials  Trials
	ring    *Ring
	record  Multi
	gate    Gate
	deliver Multi
	outputs []Output
	hist    *History
	file    *File
	log     *slog.Logger
	closed  sync.Once
}

// Open opens the pipeline's own outputs (the history file, the alerts file) and returns
// it. The ring starts with the kept history, so the API lists the recent alerts again
// after a restart; an alert derived again is neither kept nor listed twice.
func Open(cfg Config) (*Pipeline, error) {
	p := &Pipeline{ring: NewRing(cfg.RingSize), gate: cfg.Gate, outputs: cfg.Outputs, log: cfg.Log}
	if p.log == nil {
		p.log = slog.Default()
	}
	p.record = Multi{p.ring}
	if cfg.HistoryPath != "" {
		hist, recent, err := OpenHistory(cfg.HistoryPath, cfg.History)
		if err != nil {
			return nil, err
		}
		for _, a := range recent {
			p.ring.Alert(a)
		}
		p.hist = hist
		p.record = Multi{Except(IDs(recent), p.ring), hist}
		if len(recent) > 0 {
			p.log.Info("recent alerts kept from before the restart", "alerts", len(recent))
		}
	}
	if cfg.Lines != nil {
		p.deliver = append(p.deliver, NewJSONLines(cfg.Lines))
	}
	if cfg.LinesFile != "" {
		f, err := OpenFile(cfg.LinesFile, DefaultFileTail)
		if err != nil {
			p.closeFiles()
			return nil, err
		}
		p.file = f
		p.deliver = append(p.deliver, f)
	}
	for _, o := range cfg.Outputs {
		p.deliver = append(p.deliver, o.Sink)
	}
	return p, nil
}

// Ring is the recent alerts the API lists and streams (read only).
func (p *Pipeline) Ring() *Ring { return p.ring }

// Trials is the record of the rules on trial: the rules service sets which run, the API
// reads their comparisons.
func (p *Pipeline) Trials() *Trials { return &p.trials }

// Alert takes an alert the engine made through the stages. It implements Sink.
func (p *Pipeline) Alert(a *Alert) {
	p.trials.observe(a)
	if a.Mode != ModeShadow && p.gate != nil {
		if why := p.gate.Check(a); why != nil {
			cp := *a // the engine's alert stays as it was made
			cp.Suppressed = why
			p.record.Alert(&cp)
			return
		}
	}
	p.record.Alert(a)
	if a.Mode == ModeShadow {
		return
	}
	p.deliver.Alert(a)
}

// Flush returns once every output has delivered every alert handed to it before the
// call, or with the first output's error when ctx ends first.
func (p *Pipeline) Flush(ctx context.Context) error {
	for _, o := range p.outputs {
		if o.Flush == nil {
			continue
		}
		if err := o.Flush(ctx); err != nil {
			return fmt.Errorf("%s: %w", o.Name, err)
		}
	}
	return nil
}

// Close stops the pipeline once the engine feeding it has stopped: each output delivers
// what is pending until ctx ends (then gives up, logging what it leaves), and the history
// and alerts files are closed. It returns every output's error. Later calls do nothing.
func (p *Pipeline) Close(ctx context.Context) error {
	var errs []error
	p.closed.Do(func() { errs = p.close(ctx) })
	return errors.Join(errs...)
}

func (p *Pipeline) close(ctx context.Context) []error {
	var errs []error
	for _, o := range p.outputs {
		if o.Close == nil {
			continue
		}
		if err := o.Close(ctx); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", o.Name, err))
		}
	}
	return append(errs, p.closeFiles())
}

func (p *Pipeline) closeFiles() error {
	var errs []error
	if p.hist != nil {
		errs = append(errs, p.hist.Close())
	}
	if p.file != nil {
		errs = append(errs, p.file.Close())
	}
	return errors.Join(errs...)
}

// HistoryFile is where the recent alerts are kept in a data directory.
func HistoryFile(dataDir string) string { return filepath.Join(dataDir, "alerts", "recent.jsonl") }
