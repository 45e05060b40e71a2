package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/redis/go-redis/v9"

	"github.com/cepd/cepd/alerts"
	"github.com/cepd/cepd/alerts/analyst"
	"github.com/cepd/cepd/alerts/kafkasink"
	"github.com/cepd/cepd/alerts/webhook"
	"github.com/cepd/cepd/api"
	"github.com/cepd/cepd/api/service"
	"github.com/cepd/cepd/backtest"
	"github.com/cepd/cepd/engine"
	"github.com/cepd/cepd/event"
	"github.com/cepd/cepd/internal/metrics"
	"github.com/cepd/cepd/rules"
	"github.com/cepd/cepd/rules/store"
	"github.com/cepd/cepd/rules/store/redisrules"
	"github.com/cepd/cepd/source/rest"
	"github.com/cepd/cepd/state"
	"github.com/cepd/cepd/state/ingestlog"
)

// server is cepd serve's parts, opened in dependency order by open and run by run.
type server struct {
	cfg serveConfig

	mets       *metrics.Metrics
	pipe       *alerts.Pipeline
	dlq        engine.DeadLetterSink
	kprod      *kafkasink.Producer // alerts and dead letters to Kafka (nil: embedded)
	kafkaRun   kafkaRun
	schema     *event.Schema
	dirStore   *store.Dir
	rstore     store.Store
	shared     *redisrules.Store     // the shared rule store (nil: the rules directory)
	sharedDB   redis.UniversalClient // its Redis client: the analysts' log goes where the rules are
	lists      *service.Lists        // the lists and tables the rules read
	envOpts    rules.EnvOptions
	book       *analyst.Book        // analysts' suppressions and feedback
	suppress   *alerts.Suppressions // the suppressions in force: the pipeline's gate
	rulesSvc   *service.Rules
	modes      *service.Modes
	rs         *engine.RuleSet
	backtests  *backtest.Manager
	eng        *engine.Engine
	ckpt       state.Store
	ilog       *ingestlog.Log
	ready      *api.Readiness
	api        *api.Server
	lastOffset int64

	closers []func() // what open opened, closed last to first
}

// open opens every part: the rules, the alert pipeline and its outputs, the engine and
// its checkpoints (restoring the embedded partition and the ingest log), the API.
// Nothing runs yet but the engine's shards.
func (s *server) open(ctx context.Context) error {
	var err error
	if s.schema, err = engine.LoadSchema(s.cfg.rulesDir, s.cfg.schemaPath); err != nil {
		return err
	}
	if err := s.openRuleStore(ctx); err != nil {
		return err
	}
	s.mets = newServeMetrics(s.cfg.kafka, s.cfg.ingestDir)
	if err := s.openAnalyst(ctx); err != nil {
		return err
	}
	if err := s.openAlerts(); err != nil {
		return err
	}
	if err := s.openRules(ctx); err != nil {
		return err
	}
	if err := s.openEngine(); err != nil {
		return err
	}
	if err := s.restore(ctx); err != nil {
		return err
	}
	return s.openAPI()
}

// closeAll closes what open opened, last first (after a failed open, and at the end of
// the stop for what no stop step closed).
func (s *server) closeAll() {
	for i := len(s.closers) - 1; i >= 0; i-- {
		s.closers[i]()
	}
	s.closers = nil
}

func (s *server) onClose(fn func()) { s.closers = append(s.closers, fn) }

// openRuleStore opens the rule store: the rules directory, or Redis seeded from it once.
func (s *server) openRuleStore(ctx context.Context) error {
	dirStore, err := store.OpenDir(s.cfg.rulesDir, store.DirOptions{Schema: s.cfg.schemaPath})
	if err != nil {
		return err
	}
	s.dirStore, s.rstore = dirStore, dirStore
	switch s.cfg.rulesStore {
	case "dir":
		return nil
	case "redis":
	default:
		return fmt.Errorf("--rules-store %q: want dir or redis", s.cfg.rulesStore)
	}
	if len(s.cfg.redis.addrs) == 0 {
		return errors.New("--rules-store redis needs --redis-addr")
	}
	st, client, err := s.cfg.redis.openRules(ctx)
	if err != nil {
		return fmt.Errorf("rule store: %w", err)
	}
	s.onClose(func() { client.Close() })
	if err := seedRules(ctx, st, dirStore, s.cfg.rulesDir); err != nil {
		return err
	}
	s.rstore, s.shared, s.sharedDB = st, st, client
	return nil
}

// openAnalyst opens the analysts' log (suppressions and feedback) beside the rules: the
// rules directory, or the shared rule store's Redis.
func (s *server) openAnalyst(ctx context.Context) error {
	book, suppress, closeBook, err := openAnalyst(ctx, s.cfg.rulesDir, s.sharedDB, s.cfg.redis.prefix)
	if err != nil {
		return err
	}
	s.onClose(closeBook)
	s.book, s.suppress = book, suppress
	s.mets.SetFeedback(feedbackMetrics(book))
	return nil
}

// openAlerts opens the alert pipeline with its outputs (the webhook, Kafka with its
// read-back of delivered alerts) and the dead-letter sinks.
func (s *server) openAlerts() error {
	acfg := s.cfg.alerts
	acfg.Gate = s.suppress // suppressed alerts are recorded, marked, and not delivered
	s.dlq = &dlqLog{log: slog.Default(), metrics: s.mets}
	s.kafkaRun = s.cfg.kafkaRun
	if s.cfg.webhook.URL != "" {
		wcfg := s.cfg.webhook
		wcfg.Delivered = s.mets.SinkDelivered("webhook")
		wh, err := webhook.New(wcfg)
		if err != nil {
			return err
		}
		acfg.Outputs = append(acfg.Outputs, alerts.Output{Name: "webhook", Sink: wh, Flush: wh.Flush, Close: wh.Close})
		s.mets.AddSink("webhook", webhookMetrics(wh))
	}
	closeOutputs := func() { // opened above, not yet the pipeline's
		ctx, cancel := context.WithTimeout(context.Background(), stopSinks)
		defer cancel()
		for _, o := range acfg.Outputs {
			_ = o.Close(ctx)
		}
	}
	if s.cfg.kafka {
		out, err := s.openKafkaOutput()
		if err != nil {
			closeOutputs() // the webhook's
			return err
		}
		acfg.Outputs = append(acfg.Outputs, out)
	}
	pipe, err := alerts.Open(acfg)
	if err != nil {
		closeOutputs()
		return err
	}
	s.pipe = pipe
	s.onClose(func() { // after a failed open (the stop closes it in its own step)
		ctx, cancel := context.WithTimeout(context.Background(), stopSinks)
		defer cancel()
		_ = pipe.Close(ctx)
	})
	return nil
}

// openKafkaOutput connects the producer of alerts and dead letters and, with
// --alerts-dedupe, the read-back that drops alerts the topic already holds.
func (s *server) openKafkaOutput() (alerts.Output, error) {
	o := &s.cfg.serveOptions.kafka
	kprod, err := openKafkaSinks(o, s.mets.SinkDelivered("kafka"))
	if err != nil {
		return alerts.Output{}, err
	}
	out := alerts.Output{Name: "kafka", Sink: kprod, Flush: kprod.Flush, Close: func(ctx context.Context) error {
		return closeProducer(ctx, kprod)
	}}
	if o.dedupe {
		dd, read, err := openDeduper(o)
		if err != nil {
			_ = kprod.Close()
			return alerts.Output{}, err
		}
		s.onClose(func() { dd.Close() })
		out.Sink, s.kafkaRun.beforeReplay = dd.Sink(kprod), read
	}
	s.kprod = kprod
	s.dlq = deadLetterSinks{kprod, s.dlq}
	s.mets.AddSink("kafka", kafkaSinkMetrics(kprod))
	return out, nil
}

// closeProducer delivers what the producer holds until ctx ends, then closes it (on its
// own goroutine: sarama's close waits for the brokers, so a stop bounded by ctx leaves
// it behind).
func closeProducer(ctx context.Context, p *kafkasink.Producer) error {
	ferr := p.Flush(ctx)
	done := make(chan error, 1)
	go func() { done <- p.Close() }()
	select {
	case err := <-done:
		return errors.Join(ferr, err)
	case <-ctx.Done():
		return errors.Join(ferr, fmt.Errorf("kafka producer did not close in time: %w", ctx.Err()))
	}
}

// openRules builds the Rules service over the rule store and the rule set the engine
// starts with (what the store holds, trials included, so restored state finds its rules).
func (s *server) openRules(ctx context.Context) error {
	modes := service.NewModes(s.pipe.Trials())
	s.modes = modes
	lists, err := openLists(ctx, s.dirStore, s.shared) // the lists and tables the rules read
	if err != nil {
		return err
	}
	s.lists = lists
	// the cost estimate holds for every event let in
	s.envOpts = rules.EnvOptions{MaxStringSize: s.cfg.bounds.MaxString, Data: lists.Holder()}
	rulesSvc, err := service.NewRules(s.rstore, nil, s.schema, s.envOpts, modes)
	if err != nil {
		return err
	}
	s.schema = rulesSvc.Schema() // the rule store's (a shared store may hold a newer one than the file)
	l := s.cfg.limits
	rulesSvc.Limits = service.RuleLimits{MaxRules: l.maxRules, MaxComment: l.maxComment, MaxSource: l.maxRuleBytes}
	if s.rs, err = rulesSvc.RuleSet(ctx); err != nil {
		return fmt.Errorf("rules in %s: %w", s.cfg.rulesDir, err)
	}
	s.rulesSvc = rulesSvc
	return nil
}

// currentSchema is the schema the engine's rules run against now (nil before the
// engine is built).
func (s *server) currentSchema() *event.Schema {
	if s.eng == nil {
		return nil
	}
	return s.eng.Rules().Schema
}

// openEngine builds the backtests manager and the engine over the pipeline, with
// checkpoints that wait for the pipeline's outputs, and starts the shards.
func (s *server) openEngine() error {
	cfg, b := s.cfg.engine, s.cfg.backtests
	cfg.OnAlert = s.mets.Observe
	if s.cfg.retain.PerKey > 0 {
		b.Retainer = backtest.NewRetainer(s.cfg.retain)
		cfg.Tap = b.Retainer.Add
	}
	b.Schema, b.Env, b.EventsDir, b.CurrentSchema, b.Feedback = s.schema, s.envOpts, s.cfg.backtestDir, s.currentSchema, s.book.Label
	bt, err := backtest.NewManager(b)
	if err != nil {
		return fmt.Errorf("backtests: %w", err)
	}
	s.backtests = bt
	s.onClose(bt.Close)
	if s.eng, err = engine.New(cfg, s.rs, s.pipe, s.dlq); err != nil {
		return err
	}
	s.lists.Readers = func() map[string][]string { return service.ReadersOf(s.eng.Rules().Rules) }
	s.mets.SetEngine(s.eng)
	if s.ckpt, err = openStore(s.cfg.serveOptions); err != nil {
		return err
	}
	s.onClose(func() { s.ckpt.Close() })
	var beforeSave func(context.Context) error
	if s.cfg.webhook.URL != "" || s.cfg.kafka {
		beforeSave = s.pipe.Flush // a checkpoint never covers an alert not yet delivered
	}
	s.eng.EnableCheckpoints(s.ckpt, beforeSave)
	s.rulesSvc.Attach(s.eng)
	s.eng.Start(context.Background()) // stopped by the run group (Close), never by a signal
	s.onClose(s.eng.Close)
	return nil
}

// restore restores the embedded partition (REST ingest feeds partition 0; not with
// Kafka, where every instance would claim the same partition 0 in a shared store) and
// matches again what the ingest log holds past the checkpoint.
func (s *server) restore(ctx context.Context) error {
	s.ready = &api.Readiness{Source: s.cfg.kafka}
	var meta state.Meta
	if !s.cfg.kafka {
		var err error
		if meta, err = s.eng.Restore(ctx, 0, slog.Default()); err != nil {
			return err
		}
	}
	if meta.Found {
		st := s.eng.CheckpointStats()
		slog.Info("state restored", "partial_matches", st.Restored, "corrupt", st.Corrupt, "rules_changed", st.Stale, "offset", meta.Offset)
	}
	s.lastOffset = max(meta.Offset, s.eng.LastOffset(0)) // key spaces restore different offsets; REST numbers above all
	if s.cfg.ingestDir != "" {
		ilog, err := openIngestLog(ctx, s.eng, s.cfg.ingestDir, meta, s.cfg.ingestSync)
		if err != nil {
			return err
		}
		s.ilog = ilog
		s.onClose(func() { ilog.Close() })
		s.lastOffset = max(s.lastOffset, ilog.Last())
	}
	s.ready.SetRestored() // the embedded partition's state and ingest log; Kafka claims are asked later
	return nil
}

// openAPI builds the REST ingest and the API (gRPC and the REST gateway) and opens their
// listeners; the run group serves them.
func (s *server) openAPI() error {
	l := s.cfg.limits
	scfg := rest.Config{LastOffset: s.lastOffset, MaxBody: l.maxBody, MaxEvents: l.maxEvents, MaxConcurrent: l.maxIngest}
	if s.ilog != nil {
		scfg.Log = s.ilog
	}
	if s.cfg.kafka {
		scfg.NoIngest = "this instance consumes Kafka: produce events to its topics (REST ingest is for the embedded mode)"
	}
	ring := s.pipe.Ring()
	restIngest := rest.New(scfg, s.eng, ring, slog.Default(), s.eng.CheckpointHealth)
	srv, err := api.New(s.eng, ring, s.rstore, api.Options{GRPCAddr: s.cfg.grpcAddr, HTTPAddr: s.cfg.httpAddr,
		Schema: s.rs.Schema, RestIngest: restIngest, Modes: s.modes, Tokens: s.cfg.tokens, Rules: s.rulesSvc,
		Backtests: s.backtests, MaxBody: l.maxBody, Limits: s.cfg.http, Ops: &api.Ops{Metrics: s.mets, Ready: s.ready},
		Data: s.lists.Holder(), Lists: s.lists, Analyst: s.book, Suppressions: s.suppress})
	if err != nil {
		return err
	}
	s.api = srv
	scheme := "http://"
	if s.cfg.http.TLS != nil {
		scheme = "https://"
	}
	slog.Info("cepd serving", "http", scheme+srv.HTTPAddr, "grpc", srv.GRPCAddr, "rules", s.cfg.rulesDir, "rule_count", len(s.rs.Rules),
		"data", s.cfg.dataDir, "ingest", "POST /v1/events", "alerts", "GET /v1/alerts", "api", "/v1/openapi.json")
	slog.Info("web UI: open " + scheme + srv.HTTPAddr + "/ in a browser")
	return nil
}

// closeWithin runs fn on its own goroutine and waits for it until ctx ends.
func closeWithin(ctx context.Context, fn func()) error {
	done := make(chan struct{})
	go func() { fn(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("did not finish in time: %w", ctx.Err())
	}
}
