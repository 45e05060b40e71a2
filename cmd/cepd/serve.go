package main

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/cepd/cepd"
	"github.com/cepd/cepd/alerts/webhook"
	"github.com/cepd/cepd/backtest"
	"github.com/cepd/cepd/engine"
	"github.com/cepd/cepd/nfa"
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
	backtests      backtest.Options         // the flags fill the limits; serve adds the rest
	retain         backtest.RetainerOptions // the live events backtests without a file run over
	webhook        webhook.Config
	ingestLog      bool
	ingestSync     bool
	ops            opsFlags
	limits         limitOptions
	keyBudget      nfa.Budget // memory budget per key and rule
	memoryBudget   int64      // memory budget of the engine
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
	f.StringVar(&o.backtests.EventsDir, "backtest-dir", "", "directory of JSONL event files backtests may read (default: DATA/backtests; nothing outside it can be read)")
	f.Int64Var(&o.backtests.MaxFileBytes, "backtest-max-file-bytes", backtest.DefaultMaxFileBytes, "largest events file a backtest reads (it is held in memory)")
	f.IntVar(&o.backtests.MaxRunning, "backtest-concurrency", backtest.DefaultMaxRunning, "backtests running at once (the others wait)")
	f.IntVar(&o.backtests.MaxFinished, "backtest-keep", backtest.DefaultMaxFinished, "finished backtests kept for the API")
	f.IntVar(&o.backtests.Shards, "backtest-shards", 1, "shard workers of each backtest's engine")
	f.IntVar(&o.retain.PerKey, "backtest-retain-per-key", 100, "live events retained per key for backtests without a file (0: none retained)")
	f.Int64Var(&o.retain.MaxBytes, "backtest-retain-bytes", 256<<20, "memory bound of the retained live events (least recently seen keys go first)")
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
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dir, path), 0o755)
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

// runServe is cepd serve: its configuration derived once from the flags, every part
// opened in dependency order, then the run group until a signal or a failure, which
// stops the parts in order (serve_run.go).
func runServe(ctx context.Context, o *serveOptions, stdout io.Writer) error {
	cfg, err := newServeConfig(o, stdout)
	if err != nil {
		return err
	}
	s := &server{cfg: cfg}
	if err := s.open(ctx); err != nil {
		s.closeAll()
		return err
	}
	err = s.run(ctx)
	slog.Info("cepd stopped")
	return err
}

// openStore returns the checkpoint store: Redis when --redis-addr is set, else the data
// directory.
func openStore(o serveOptions) (state.Store, error) {
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
