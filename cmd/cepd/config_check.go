package main

import (
	"fmt"
	"time"

	"github.com/cepd/cepd/engine"
)

// checkServeOptions refuses, before anything is opened or listened on, settings that no
// run can use: negative durations and counts, and what the engine's own Validate refuses
// (the late policy, the shard count). The file and line of a bad value in the --config
// file were already reported by applyConfigFile; these are values that parse but mean
// nothing.
func checkServeOptions(o *serveOptions) error {
	for _, d := range []struct {
		flag string
		v    time.Duration
	}{
		{"checkpoint-interval", o.ckptInterval}, {"idle-timeout", o.idleTimeout}, {"alerts-history-age", o.historyAge},
		{"webhook-timeout", o.webhook.Timeout}, {"state-walk-interval", o.ops.stateWalk},
	} {
		if d.v < 0 {
			return fmt.Errorf("--%s %v: must not be negative", d.flag, d.v)
		}
	}
	for _, n := range []struct {
		flag string
		v    int
	}{
		{"shards", o.shards}, {"alerts-history", o.historyMax}, {"webhook-workers", o.webhook.Workers},
		{"backtest-concurrency", o.backtests.MaxRunning}, {"backtest-keep", o.backtests.MaxFinished},
		{"backtest-shards", o.backtests.Shards}, {"backtest-retain-per-key", o.retain.PerKey},
	} {
		if n.v < 0 {
			return fmt.Errorf("--%s %d: must not be negative", n.flag, n.v)
		}
	}
	if o.demo && o.demoRate <= 0 {
		return fmt.Errorf("--demo-rate %d: must be positive", o.demoRate)
	}
	cfg := engine.Config{Shards: o.shards, OutOfOrderness: o.outOfOrderness, Late: engine.LatePolicy(o.late)}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("settings: %w", err)
	}
	return nil
}
