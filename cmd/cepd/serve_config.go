package main

import (
	"cmp"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/cepd/cepd/alerts"
	"github.com/cepd/cepd/alerts/webhook"
	"github.com/cepd/cepd/api"
	"github.com/cepd/cepd/api/auth"
	"github.com/cepd/cepd/engine"
	"github.com/cepd/cepd/event"
)

// serveConfig is serve's configuration as data: the flags as given (a copy, never
// written), checked once, with everything derived from them or from the environment
// resolved here and handed down. Nothing changes it once made.
type serveConfig struct {
	serveOptions
	tokens      *auth.Tokens
	http        api.Limits
	bounds      event.Bounds
	rulesDir    string
	ingestDir   string         // the REST ingest log ("" : none; never with Kafka)
	backtestDir string         // where backtests read events files
	webhook     webhook.Config // the secret resolved; URL "" : no webhook
	kafka       bool           // consume Kafka (else REST ingest on partition 0)
	kafkaRun    kafkaRun       // checkpoints and their sharing (the hooks are set when opened)
	alerts      alerts.Config  // the pipeline's own outputs (Kafka and the webhook join when opened)
	engine      engine.Config  // without the hooks the opened parts add
}

// newServeConfig checks the flags and derives serve's configuration. It creates the data
// directory, the default rules directory and the backtests directory.
func newServeConfig(o *serveOptions, stdout io.Writer) (serveConfig, error) {
	c := serveConfig{serveOptions: *o, kafka: o.kafka.enabled()}
	if err := checkServeOptions(o); err != nil {
		return c, err
	}
	if err := c.access(); err != nil {
		return c, err
	}
	var err error
	if c.bounds, err = o.limits.bounds(); err != nil {
		return c, err
	}
	if err := os.MkdirAll(o.dataDir, 0o755); err != nil {
		return c, fmt.Errorf("data directory: %w", err)
	}
	if c.rulesDir = o.rulesDir; c.rulesDir == "" {
		if c.rulesDir, err = defaultRules(o.dataDir); err != nil {
			return c, err
		}
	}
	if c.backtestDir = o.backtests.EventsDir; c.backtestDir == "" {
		c.backtestDir = filepath.Join(o.dataDir, "backtests")
		if err := os.MkdirAll(c.backtestDir, 0o755); err != nil {
			return c, fmt.Errorf("backtests directory: %w", err)
		}
	}
	if o.ingestLog && !c.kafka {
		c.ingestDir = filepath.Join(o.dataDir, "ingest-log")
	}
	c.webhook = o.webhook
	// The secret comes from the environment, never a flag default (--help prints those).
	c.webhook.Secret = cmp.Or(o.webhook.Secret, os.Getenv("CEPD_WEBHOOK_SECRET"))
	// With Kafka the source checkpoints at each offset commit; with Redis, which every
	// instance reads, commits may reach the checkpoint.
	c.kafkaRun = kafkaRun{checkpoints: true, sharedCheckpoints: len(o.redis.addrs) > 0}
	c.alerts = alertsConfig(o, stdout)
	c.engine = engine.Config{Shards: o.shards, OutOfOrderness: o.outOfOrderness, IdleTimeout: o.idleTimeout,
		Late: engine.LatePolicy(o.late), RecordProcessingTime: true, Bounds: c.bounds, Budget: o.keyBudget,
		MemoryBudget: o.memoryBudget,
		// every key space; with Kafka each other one reads its repartition topic (docs/rekeying.md)
		KeySpaces: true, SpaceSources: c.kafka}
	return c, nil
}

// access loads the tokens and the HTTP limits and refuses a listen address off loopback
// without access control and TLS.
func (c *serveConfig) access() error {
	var err error
	if c.tokens, err = auth.Load(c.authTokens); err != nil {
		return err
	}
	if c.http, err = c.limits.httpLimits(); err != nil {
		return err
	}
	for _, addr := range []string{c.httpAddr, c.grpcAddr} {
		switch {
		case isLoopback(addr):
		case !c.tokens.Enabled():
			return fmt.Errorf("%s is not a loopback address: without access tokens (--auth-tokens) cepd listens on loopback only", addr)
		case c.http.TLS == nil:
			return fmt.Errorf("%s is not a loopback address: bearer tokens would cross the network in clear text; give --tls-cert and --tls-key", addr)
		}
	}
	if !c.tokens.Enabled() {
		slog.Warn("access control is off (no --auth-tokens): listening on loopback only")
	}
	return nil
}

// alertsConfig is the alert pipeline's own part: the ring, the kept history, the JSON
// lines (stdout or the --alerts-out file).
func alertsConfig(o *serveOptions, stdout io.Writer) alerts.Config {
	c := alerts.Config{RingSize: max(10000, o.historyMax)}
	if o.historyMax > 0 {
		c.HistoryPath = alerts.HistoryFile(o.dataDir)
		c.History = alerts.HistoryOptions{MaxAlerts: o.historyMax, MaxAge: o.historyAge}
	}
	switch o.alertsOut {
	case "":
	case "-":
		c.Lines = stdout
	default:
		c.LinesFile = o.alertsOut
	}
	return c
}
