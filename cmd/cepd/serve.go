package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/cepd/cepd"
	"github.com/cepd/cepd/alerts"
	"github.com/cepd/cepd/alerts/kafkasink"
	"github.com/cepd/cepd/alerts/webhook"
	"github.com/cepd/cepd/api/auth"
	"github.com/cepd/cepd/api/service"
	"github.com/cepd/cepd/backtest"
	"github.com/cepd/cepd/engine"
	"github.com/cepd/cepd/nfa"
	"github.com/cepd/cepd/rules"
	"github.com/cepd/cepd/rules/store"
	"github.com/cepd/cepd/rules/store/redisrules"
	kafkasource "github.com/cepd/cepd/source/kafka"
	"github.com/cepd/cepd/source/rest"
	"github.com/cepd/cepd/state"
	"github.com/cepd/cepd/state/ingestlog"
)

type serveOptions struct {
	httpAddr       string
	grpcAddr       string
	rulesDir       string
	schemaPath     string
	rulesStore     string
	dataDir        string
	alertsOut      string
	historyMax     int
	historyAge     time.Duration
	shards         int
	outOfOrderness time.Duration
	idleTimeout    time.Duration
	late           string
	demo           bool
	demoRate       int
	ckptInterval   time.Duration
	redis          redisOptions
	kafka          kafkaOptions
	configFile     string
	authTokens     string
	backtests      backtestOptions
	webhook        webhook.Config
	ingestLog      bool
	ingestSync     bool
	ops            opsFlags
	limits         limitOptions
	keyBudget      nfa.Budget // memory budget per key and rule
	memoryBudget   int64      // memory budget of the engine
}

// backtestOptions configures the backtests the API runs.
type backtestOptions struct {
	dir          string
	maxFileBytes int64
	concurrency  int
	keep         int
	shards       int
	retainPerKey int
	retainBytes  int64
}

func newServeCmd() *cobra.Command {
	o := &serveOptions{}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "run cepd: REST ingest on 127.0.0.1, rules from a directory, alerts to stdout/file and the API (the default command)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runServe(cmd.Context(), o, cmd.OutOrStdout())
		},
	}
	addServeFlags(cmd, o)
	return cmd
}

func addServeFlags(cmd *cobra.Command, o *serveOptions) {
	f := cmd.Flags()
	f.StringVar(&o.httpAddr, "http", "127.0.0.1:8080", "HTTP listen address (REST API and gateway, ingest, alerts, health)")
	f.StringVar(&o.grpcAddr, "grpc", "127.0.0.1:9090", "gRPC listen address (the REST gateway dials it on loopback)")
	f.StringVar(&o.rulesDir, "rules", "", "rules directory (default: DATA/rules, created from the built-in fraud examples)")
	f.BoolVar(&o.ingestLog, "ingest-log", true, "keep REST-ingested events in DATA/ingest-log until a checkpoint covers them, so a crash loses none (embedded mode)")
	f.BoolVar(&o.ingestSync, "ingest-log-sync", true, "fsync the ingest log before answering each POST /v1/events")
	f.StringVar(&o.webhook.URL, "webhook-url", "", "POST every delivered alert here (JSON; retried until accepted; see alerts/webhook)")
	f.StringVar(&o.webhook.Secret, "webhook-secret", "", "sign webhook requests with HMAC-SHA256 (default: $CEPD_WEBHOOK_SECRET)")
	f.DurationVar(&o.webhook.Timeout, "webhook-timeout", 5*time.Second, "bound of one webhook request")
	f.IntVar(&o.webhook.Workers, "webhook-workers", 8, "webhook requests in flight at once (one key's alerts stay in order)")
	f.StringVar(&o.backtests.dir, "backtest-dir", "", "directory of JSONL event files backtests may read (default: DATA/backtests; nothing outside it can be read)")
	f.Int64Var(&o.backtests.maxFileBytes, "backtest-max-file-bytes", backtest.DefaultMaxFileBytes, "largest events file a backtest reads (it is held in memory)")
	f.IntVar(&o.backtests.concurrency, "backtest-concurrency", backtest.DefaultMaxRunning, "backtests running at once (the others wait)")
	f.IntVar(&o.backtests.keep, "backtest-keep", backtest.DefaultMaxFinished, "finished backtests kept for the API")
	f.IntVar(&o.backtests.shards, "backtest-shards", 1, "shard workers of each backtest's engine")
	f.IntVar(&o.backtests.retainPerKey, "backtest-retain-per-key", 100, "live events retained per key for backtests without a file (0: none retained)")
	f.Int64Var(&o.backtests.retainBytes, "backtest-retain-bytes", 256<<20, "memory bound of the retained live events (least recently seen keys go first)")
	f.StringVar(&o.schemaPath, "schema", "", "event schema file (default: schema.yaml in the rules directory)")
	f.StringVar(&o.rulesStore, "rules-store", "dir", "where rule versions live: dir (the rules directory, edits on disk picked up) or redis (shared by every instance through --redis-addr; seeded once from the rules directory)")
	f.StringVar(&o.dataDir, "data", "cepd-data", "data directory (state checkpoints, default rules)")
	f.StringVar(&o.alertsOut, "alerts-out", "-", "write alerts as JSON lines to this file (- for stdout, empty for none)")
	f.IntVar(&o.historyMax, "alerts-history", 10000, "recent alerts kept in DATA/alerts/recent.jsonl, so GET /v1/alerts lists them again after a restart (0: none kept)")
	f.DurationVar(&o.historyAge, "alerts-history-age", 24*time.Hour, "alerts older than this leave the kept history")
	f.IntVar(&o.shards, "shards", 0, "shard workers (default: one per core)")
	f.DurationVar(&o.outOfOrderness, "out-of-orderness", 0, "how far an event may trail the newest event and still be matched in its place (events in order for their key never wait); windows close this far behind the newest event")
	f.DurationVar(&o.idleTimeout, "idle-timeout", 10*time.Second, "a source partition without events this long stops holding the watermark back")
	f.StringVar(&o.late, "late-policy", string(engine.LateDeadLetter), "what to do with events behind the watermark: dead-letter, drop or process")
	f.BoolVar(&o.demo, "demo", false, "feed the synthetic reference workload in, so alerts appear within seconds")
	f.DurationVar(&o.ckptInterval, "checkpoint-interval", time.Second, "how often partial matches are checkpointed (0: only at shutdown)")
	f.IntVar(&o.keyBudget.Runs, "key-budget-runs", nfa.DefaultBudgetRuns, "memory budget per key and rule: partial matches kept (beyond it the oldest are cut)")
	f.IntVar(&o.keyBudget.Nodes, "key-budget-entries", nfa.DefaultBudgetNodes, "memory budget per key and rule: shared-buffer entries")
	f.IntVar(&o.keyBudget.Digits, "key-budget-digits", nfa.DefaultBudgetDigits, fmt.Sprintf("memory budget per key and rule: Dewey digits of the partial matches' versions (at most %d)", nfa.MaxBudgetDigits))
	f.IntVar(&o.keyBudget.Bytes, "key-budget-bytes", nfa.DefaultBudgetBytes, "memory budget per key and rule: accounted bytes (runs, entries, versions; not the events)")
	f.Int64Var(&o.memoryBudget, "memory-budget", engine.DefaultMemoryBudget, "memory budget of all key states (accounted bytes, shared equally by the shards); beyond it the largest keys lose their partial matches")
	f.IntVar(&o.demoRate, "demo-rate", 2000, "events per second the demo feeds")
	addOpsFlags(f, &o.ops)
	addRedisFlags(f, &o.redis)
	addKafkaFlags(f, &o.kafka)
	addLimitFlags(f, &o.limits)
	f.StringVar(&o.configFile, "config", "", "YAML file of settings, keys named as the flags (flags given on the command line win)")
	f.StringVar(&o.authTokens, "auth-tokens", "", "file of lines 'TOKEN ROLE [NAME]' (roles: viewer, analyst, admin, ingest) turning access control on (default: $CEPD_AUTH_TOKENS; none: loopback only)")
}

// defaultRules returns DATA/rules, creating it from the built-in examples when missing.
func defaultRules(dataDir string) (string, error) {
	dir := filepath.Join(dataDir, "rules")
	if _, err := os.Stat(dir); err == nil {
		return dir, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	sub, err := fs.Sub(cepd.ExampleRules, cepd.ExampleRulesDir)
	if err != nil {
		return "", err
	}
	err = fs.WalkDir(sub, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(sub, path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, path), data, 0o644)
	})
	if err != nil {
		return "", fmt.Errorf("writing example rules to %s: %w", dir, err)
	}
	return dir, nil
}

func runServe(ctx context.Context, o *serveOptions, stdout io.Writer) error {
	if err := checkServeOptions(o); err != nil {
		return err
	}
	ctx, cancelServe := context.WithCancel(ctx)
	defer cancelServe()
	// Who may connect, and how, is settled before anything is opened.
	tokens, err := auth.Load(o.authTokens)
	if err != nil {
		return err
	}
	hlim, err := o.limits.httpLimits()
	if err != nil {
		return err
	}
	bounds, err := o.limits.bounds()
	if err != nil {
		return err
	}
	for _, addr := range []string{o.httpAddr, o.grpcAddr} {
		switch {
		case isLoopback(addr):
		case !tokens.Enabled():
			return fmt.Errorf("%s is not a loopback address: without access tokens (--auth-tokens) cepd listens on loopback only", addr)
		case hlim.tls == nil:
			return fmt.Errorf("%s is not a loopback address: bearer tokens would cross the network in clear text; give --tls-cert and --tls-key", addr)
		}
	}
	if !tokens.Enabled() {
		slog.Warn("access control is off (no --auth-tokens): listening on loopback only")
	}
	if err := os.MkdirAll(o.dataDir, 0o755); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	rulesDir := o.rulesDir
	if rulesDir == "" {
		var err error
		if rulesDir, err = defaultRules(o.dataDir); err != nil {
			return err
		}
	}
	schema, err := loadSchema(rulesDir, o.schemaPath)
	if err != nil {
		return err
	}
	// The engine starts with what the rule store holds (so restored state finds its rules,
	// shadow trials included); the Rules service swaps in every change after that.
	dirStore, err := store.OpenDir(rulesDir, store.DirOptions{})
	if err != nil {
		return err
	}
	var rstore store.Store = dirStore
	var shared *redisrules.Store
	switch o.rulesStore {
	case "dir":
	case "redis":
		if len(o.redis.addrs) == 0 {
			return errors.New("--rules-store redis needs --redis-addr")
		}
		st, client, err := o.redis.openRules(ctx)
		if err != nil {
			return fmt.Errorf("rule store: %w", err)
		}
		defer client.Close()
		if err := seedRules(ctx, st, dirStore, rulesDir); err != nil {
			return err
		}
		rstore, shared = st, st
	default:
		return fmt.Errorf("--rules-store %q: want dir or redis", o.rulesStore)
	}
	// Alerts of shadow rules are recorded (ring, API) but never delivered to blocking sinks.
	modes := &service.Modes{}
	envOpts := rules.EnvOptions{MaxStringSize: bounds.MaxString} // the cost estimate holds for every event let in
	rulesSvc, err := service.NewRules(rstore, nil, schema, envOpts, modes)
	if err != nil {
		return err
	}
	rulesSvc.Limits = service.RuleLimits{MaxRules: o.limits.maxRules, MaxComment: o.limits.maxComment, MaxSource: o.limits.maxRuleBytes}
	rs, err := rulesSvc.RuleSet(ctx)
	if err != nil {
		return fmt.Errorf("rules in %s: %w", rulesDir, err)
	}
	ring := alerts.NewRing(max(10000, o.historyMax))
	// The API's ring starts with the kept history; an alert derived again after a crash
	// (from the ingest log, the demo stream or Kafka) is neither kept nor listed twice.
	var record alerts.Sink = ring
	if o.historyMax > 0 {
		hist, recent, err := alerts.OpenHistory(filepath.Join(o.dataDir, "alerts", "recent.jsonl"),
			alerts.HistoryOptions{MaxAlerts: o.historyMax, MaxAge: o.historyAge})
		if err != nil {
			return err
		}
		defer hist.Close() // after the engine has closed
		for _, a := range recent {
			ring.Alert(a)
		}
		record = alerts.Multi{alerts.Except(alerts.IDs(recent), ring), hist}
		if len(recent) > 0 {
			slog.Info("recent alerts kept from before the restart", "alerts", len(recent))
		}
	}
	var deliver alerts.Multi
	var known map[string]bool // alerts already written to --alerts-out
	switch o.alertsOut {
	case "":
	case "-":
		deliver = append(deliver, alerts.NewJSONLines(stdout))
	default:
		// The alerts already in the file are not written again when a restart derives
		// them once more (from the ingest log or the demo stream).
		recent, err := alerts.ReadTail(o.alertsOut, alertsTail)
		if err != nil {
			return fmt.Errorf("alerts output: %w", err)
		}
		known = alerts.IDs(recent)
		f, err := os.OpenFile(o.alertsOut, os.O_CREATE|os.O_APPEND|os.O_RDWR, 0o644)
		if err != nil {
			return fmt.Errorf("alerts output: %w", err)
		}
		defer f.Close()
		if err := endLine(f); err != nil { // a line a crash cut short ends here
			return fmt.Errorf("alerts output: %w", err)
		}
		deliver = append(deliver, alerts.Except(known, alerts.NewJSONLines(f)))
	}
	var flush flushers // what a checkpoint or an offset commit waits for
	ingestDir := ""
	if o.ingestLog && !o.kafka.enabled() {
		ingestDir = filepath.Join(o.dataDir, "ingest-log")
	}
	mets := newServeMetrics(o.kafka.enabled(), ingestDir)
	if o.webhook.URL != "" {
		if o.webhook.Secret == "" { // from the environment, never a flag default (--help prints those)
			o.webhook.Secret = os.Getenv("CEPD_WEBHOOK_SECRET")
		}
		o.webhook.Delivered = mets.SinkDelivered("webhook")
		wh, err := webhook.New(o.webhook)
		if err != nil {
			return err
		}
		defer func() { // after the engine has closed
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := wh.Close(ctx); err != nil {
				slog.Error("webhook: alerts left undelivered at shutdown", "err", err)
			}
		}()
		deliver = append(deliver, wh)
		mets.AddSink("webhook", webhookMetrics(wh))
		flush = append(flush, wh)
	}
	var dlq engine.DeadLetterSink = &dlqLog{log: slog.Default(), metrics: mets}
	var kprod *kafkasink.Producer
	if o.kafka.enabled() {
		o.kafka.delivered = mets.SinkDelivered("kafka")
		if kprod, err = openKafkaSinks(&o.kafka); err != nil {
			return err
		}
		defer kprod.Close() // after the engine has closed (defers run last-in first-out)
		if o.kafka.dedupe {
			dd, err := openDeduper(&o.kafka)
			if err != nil {
				return err
			}
			defer dd.Close()
			deliver = append(deliver, dd.Sink(kprod))
		} else {
			deliver = append(deliver, kprod)
		}
		dlq = deadLetterSinks{kprod, dlq}
		mets.AddSink("kafka", kafkaSinkMetrics(kprod))
		flush = append(flush, kprod)
	}
	sinks := &service.ModeSink{Modes: modes, Record: record, Deliver: deliver}
	cfg := engine.Config{Shards: o.shards, OutOfOrderness: o.outOfOrderness, IdleTimeout: o.idleTimeout,
		Late: engine.LatePolicy(o.late), RecordProcessingTime: true, Bounds: bounds, Budget: o.keyBudget, MemoryBudget: o.memoryBudget,
		OnAlert: mets.Observe}
	cfg.KeySpaces = !o.kafka.enabled() // embedded: every key space runs in process; Kafka: the schema's key only (docs/rekeying.md)
	var retained *backtest.Retainer
	if o.backtests.retainPerKey > 0 {
		retained = backtest.NewRetainer(backtest.RetainerOptions{PerKey: o.backtests.retainPerKey, MaxBytes: o.backtests.retainBytes})
		cfg.Tap = retained.Add
	}
	btDir := o.backtests.dir
	if btDir == "" {
		btDir = filepath.Join(o.dataDir, "backtests")
		if err := os.MkdirAll(btDir, 0o755); err != nil {
			return fmt.Errorf("backtests directory: %w", err)
		}
	}
	backtests, err := backtest.NewManager(backtest.Options{Schema: schema, Env: envOpts, EventsDir: btDir,
		MaxFileBytes: o.backtests.maxFileBytes, Retainer: retained, MaxRunning: o.backtests.concurrency,
		MaxFinished: o.backtests.keep, Shards: o.backtests.shards})
	if err != nil {
		return fmt.Errorf("backtests: %w", err)
	}
	defer backtests.Close()
	eng, err := engine.New(cfg, rs, sinks, dlq)
	if err != nil {
		return err
	}
	mets.SetEngine(eng)
	ckpt, err := openStore(o)
	if err != nil {
		return err
	}
	defer ckpt.Close()
	var beforeSave func(context.Context) error
	if len(flush) > 0 {
		beforeSave = flush.Flush // a checkpoint never covers an alert not yet delivered
	}
	eng.EnableCheckpoints(ckpt, beforeSave)
	rulesSvc.Attach(eng)
	runCtx, cancel := context.WithCancel(context.Background())
	defer cancel()
	eng.Start(runCtx)
	defer eng.Close()
	go mets.RunInspect(ctx, o.ops.stateWalk)
	ready := &readiness{source: o.kafka.enabled()}
	// REST ingest feeds partition 0, restored here. Not with Kafka: every instance would
	// claim the same partition 0 in a shared checkpoint store.
	var meta state.Meta
	if !o.kafka.enabled() {
		if meta, err = eng.Restore(runCtx, 0, slog.Default()); err != nil {
			return err
		}
	}
	if meta.Found {
		st := eng.CheckpointStats()
		slog.Info("state restored", "partial_matches", st.Restored, "corrupt", st.Corrupt, "rules_changed", st.Stale, "offset", meta.Offset)
	}
	var ilog *ingestlog.Log
	lastOffset := max(meta.Offset, eng.LastOffset(0)) // key spaces restore different offsets; REST numbers above all
	if o.ingestLog && !o.kafka.enabled() {
		if ilog, err = openIngestLog(runCtx, eng, ingestDir, meta, o.ingestSync); err != nil {
			return err
		}
		defer ilog.Close()
		lastOffset = max(lastOffset, ilog.Last())
		// Segments every checkpoint covers go.
		go every(ctx, max(o.ckptInterval, time.Second), func() {
			if off := eng.CheckpointedOffset(0); off > 0 {
				if err := ilog.Trim(off); err != nil {
					slog.Warn("trimming the ingest log", "err", err)
				}
			}
		})
	}
	ready.setRestored() // the embedded partition's state and ingest log; Kafka claims are asked below
	if o.kafka.enabled() {
		o.kafka.checkpoints = true // the source checkpoints at each offset commit
		o.kafka.sharedCheckpoints = len(o.redis.addrs) > 0
	} else {
		go eng.RunCheckpoints(ctx, o.ckptInterval, slog.Default())
	}
	defer func() {
		final, stop := context.WithTimeout(context.Background(), 10*time.Second)
		defer stop()
		if err := eng.Checkpoint(final); err != nil {
			slog.Error("final checkpoint failed", "err", err)
		}
	}()
	go every(ctx, time.Second, func() { eng.MarkIdle(ctx) })

	scfg := rest.Config{LastOffset: lastOffset, MaxBody: o.limits.maxBody, MaxEvents: o.limits.maxEvents, MaxConcurrent: o.limits.maxIngest}
	if ilog != nil {
		scfg.Log = ilog
	}
	if o.kafka.enabled() {
		scfg.NoIngest = "this instance consumes Kafka: produce events to its topics (REST ingest is for the embedded mode)"
	}
	restIngest := rest.New(scfg, eng, ring, slog.Default(), eng.CheckpointHealth)
	api, err := startAPI(ctx, eng, ring, rstore, apiOptions{grpcAddr: o.grpcAddr, httpAddr: o.httpAddr, schema: rs.Schema, restIngest: restIngest,
		modes: modes, tokens: tokens, rules: rulesSvc, backtests: backtests, maxBody: o.limits.maxBody, limits: hlim,
		ops: &opsOptions{metrics: mets, ready: ready}})
	if err != nil {
		return err
	}
	defer api.Stop()
	scheme := "http://"
	if hlim.tls != nil {
		scheme = "https://"
	}
	slog.Info("cepd serving", "http", scheme+api.HTTPAddr, "grpc", api.GRPCAddr, "rules", rulesDir, "rule_count", len(rs.Rules), "data", o.dataDir,
		"ingest", "POST /v1/events", "alerts", "GET /v1/alerts", "api", "/v1/openapi.json")
	slog.Info("web UI: open " + scheme + api.HTTPAddr + "/ in a browser")
	errc := make(chan error, 3)
	if o.demo {
		go func() { errc <- runDemo(ctx, eng, o.demoRate) }()
	}
	if shared != nil {
		go watchShared(ctx, shared, api.Rules)
	} else {
		go watchRules(ctx, rulesDir, 2*time.Second, func(ctx context.Context) error {
			if _, err := dirStore.Refresh(ctx); err != nil {
				return err
			}
			return api.Rules.Reload(ctx)
		})
	}
	kafkaDone := make(chan struct{})
	if o.kafka.enabled() {
		o.kafka.started = func(src *kafkasource.Source) {
			api.Admin.SetLag(kafkaLag(src))
			mets.SetKafka(kafkaSourceMetrics(src))
			ready.setClaimed(kafkaClaimed(src))
		}
		go func() {
			defer close(kafkaDone)
			if err := runKafka(ctx, eng, flush, &o.kafka); err != nil {
				errc <- err
			}
		}()
	} else {
		close(kafkaDone)
	}
	select {
	case <-ctx.Done():
	case err = <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
	}
	cancelServe()
	<-kafkaDone // final commits happen before the engine closes
	slog.Info("cepd stopped")
	return err
}

// openStore returns the checkpoint store: Redis when --redis-addr is set, else the data
// directory.
func openStore(o *serveOptions) (state.Store, error) {
	if len(o.redis.addrs) > 0 {
		st, err := o.redis.open()
		if err != nil {
			return nil, fmt.Errorf("redis: %w", err)
		}
		slog.Info("checkpoints go to Redis", "addrs", o.redis.addrs, "cluster", o.redis.cluster, "sentinel_master", o.redis.master)
		return st, nil
	}
	st, err := state.OpenDir(filepath.Join(o.dataDir, "state"), state.FileOptions{})
	if err != nil {
		return nil, fmt.Errorf("state: %w", err)
	}
	return st, nil
}

// isLoopback reports whether a listen address is on the loopback interface.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// flushers are the delivering sinks: Flush returns once each has delivered every alert
// handed in before the call.
type flushers []kafkasource.Flusher

// Flush implements kafkasource.Flusher.
func (f flushers) Flush(ctx context.Context) error {
	for _, x := range f {
		if err := x.Flush(ctx); err != nil {
			return err
		}
	}
	return nil
}

// openIngestLog opens the REST ingest log and matches again the events it holds that the
// restored checkpoint (meta) does not cover.
func openIngestLog(ctx context.Context, eng *engine.Engine, dir string, meta state.Meta, sync bool) (*ingestlog.Log, error) {
	l, err := ingestlog.Open(dir, ingestlog.Options{NoSync: !sync})
	if err != nil {
		return nil, err
	}
	after := int64(0)
	if meta.Found {
		after = meta.Offset
	}
	n := 0
	err = l.Replay(after, 1024, func(rs []ingestlog.Record) error {
		recs := make([]engine.Record, len(rs))
		for i, r := range rs {
			recs[i] = engine.Record{Value: r.Value, Offset: r.Offset}
		}
		n += len(recs)
		_, err := eng.Ingest(ctx, 0, recs) // malformed ones are dead-lettered again
		return err
	})
	if err != nil {
		l.Close()
		return nil, fmt.Errorf("replaying the ingest log: %w", err)
	}
	if n > 0 {
		slog.Info("events after the checkpoint matched again from the ingest log", "events", n, "after_offset", after)
	}
	return l, nil
}

// every calls fn every interval until ctx ends.
func every(ctx context.Context, interval time.Duration, fn func()) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fn()
		}
	}
}

// alertsTail is how much of the end of the --alerts-out file is read back at start-up.
const alertsTail = 16 << 20

// endLine appends a newline to f unless it is empty or ends with one.
func endLine(f *os.File) error {
	st, err := f.Stat()
	if err != nil || st.Size() == 0 {
		return err
	}
	var last [1]byte
	if _, err := f.ReadAt(last[:], st.Size()-1); err != nil {
		return err
	}
	if last[0] != '\n' {
		_, err = f.Write([]byte{'\n'})
	}
	return err
}
