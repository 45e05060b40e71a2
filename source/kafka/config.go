package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/IBM/sarama"

	"github.com/cepd/cepd/internal/defaults"
)

// DefaultVersion is the Kafka protocol version assumed when the base config names none
// (cooperative rebalancing needs 2.4 or later).
var DefaultVersion = sarama.V2_8_0_0

// Isolation levels (Config.Isolation).
const (
	ReadCommitted   = "read_committed"
	ReadUncommitted = "read_uncommitted"
)

// Balance strategies.
const (
	BalanceCooperativeSticky = "cooperative-sticky" // incremental: only moved partitions stop
	BalanceSticky            = "sticky"
	BalanceRange             = "range"
	BalanceRoundRobin        = "roundrobin"
)

// Config configures a Source. Brokers, Topics and Group are required.
type Config struct {
	Brokers []string
	Topics  []string
	Group   string
	// Base carries the connection settings shared with the producers (client id, Kafka
	// version, TLS, SASL). It is copied, never modified; nil means sarama's defaults with
	// DefaultVersion. The consumer settings below override its Consumer section.
	Base *sarama.Config
	// InitialOffset is where a group without a committed offset starts: "earliest"
	// (default) or "latest".
	InitialOffset string
	// Isolation is which records of topics written in transactions are read:
	// "read_committed" (default: an aborted transaction's records are not events, and a
	// topic written without transactions reads the same either way) or
	// "read_uncommitted" (every record, at once, aborted ones too). Claims of a
	// repartition topic (Merge) always read committed records.
	Isolation string
	// Balance is the partition assignment strategy (default cooperative-sticky).
	Balance string
	// FetchMin, FetchDefault and FetchMax are the fetch sizes in bytes (0: sarama's
	// defaults of 1 byte, 1 MiB and unlimited). MaxWait is how long the broker may wait
	// for FetchMin bytes (default 100ms).
	FetchMin, FetchDefault, FetchMax int32
	MaxWait                          time.Duration
	// SessionTimeout, HeartbeatInterval and RebalanceTimeout tune group membership
	// (defaults 10s, 1s, 30s). A revoked partition's final commit must finish within
	// RebalanceTimeout.
	SessionTimeout, HeartbeatInterval, RebalanceTimeout time.Duration
	// CommitInterval is how often safe offsets are committed (default 1s).
	CommitInterval time.Duration
	// CommitTimeout bounds one commit: the engine barrier, the sinks' flush and the
	// offset commit (default 10s). A commit that times out is skipped, never forced.
	CommitTimeout time.Duration
	// Checkpoints says the engine checkpoints its state (Engine.EnableCheckpoints): a
	// claimed partition is restored (Engine.Restore) before it is read, the records its
	// restored state covers are skipped, every commit round first checkpoints the engine
	// (Engine.Checkpoint; do not also run Engine.RunCheckpoints), and a commit never
	// passes a partition's last checkpoint (nothing is committed before the first).
	Checkpoints bool
	// SharedCheckpoints says every instance of the group checkpoints to the same store
	// (Redis): a partition's next owner restores its checkpoint, so a commit may reach the
	// checkpoint (its offset + 1) even when the engine still holds partial matches that
	// began before it (Engine.SafeOffset). Restarts and rebalances then re-read only what
	// followed the checkpoint. Without it, a commit never passes SafeOffset either, so an
	// owner without the checkpoint can rebuild the state from the topic.
	SharedCheckpoints bool
	// BeforeReplay, if set, is called once per claim, with the timestamp of the first
	// record the claim hands the engine, before it does: the alerts those records make
	// may have been delivered already by an owner that crashed (the Deduper drops them).
	// An error is logged; the claim goes on.
	BeforeReplay func(ctx context.Context, topic string, partition int32, first time.Time) error
	// Merge, when set, makes every claim merge the watermarks of the source partitions
	// behind the topics (the claims of a repartition topic, docs/rekeying.md): records
	// are held until every source partition's watermark has passed them, and handed to
	// the engine in event-time order (Engine.IngestHeld); the held records are part of
	// the partition's checkpoint, and without SharedCheckpoints a commit never passes the
	// oldest held record.
	Merge *MergeConfig
	// MaxBatch is the most records handed to the engine in one Ingest call (default 1024).
	MaxBatch int
	// BacklogCheck is how often a claim that received nothing since the last check asks
	// the broker for the partition's end offset, to tell the engine whether it still has
	// a backlog (Engine.SetBacklog) when fetches stall (default 250ms). Keep it well
	// below the engine's idle timeout.
	BacklogCheck time.Duration
	// RejoinBackoff and MaxRejoinBackoff space the attempts to rejoin the group after
	// the consumer failed (broker away, coordinator moved): defaults 250ms and 5s.
	RejoinBackoff, MaxRejoinBackoff time.Duration
	// StopTimeout is how long Run waits, once its context ends, for in-flight batches
	// before giving up on the final commits (default 15s).
	StopTimeout time.Duration
	// Log receives the source's events (nil: slog.Default()).
	Log *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.InitialOffset == "" {
		c.InitialOffset = "earliest"
	}
	if c.Isolation == "" {
		c.Isolation = ReadCommitted
	}
	if c.Balance == "" {
		c.Balance = BalanceCooperativeSticky
	}
	defaults.Positive(&c.MaxWait, 100*time.Millisecond)
	defaults.Positive(&c.BacklogCheck, 250*time.Millisecond)
	defaults.Positive(&c.SessionTimeout, 10*time.Second)
	defaults.Positive(&c.HeartbeatInterval, time.Second)
	defaults.Positive(&c.RebalanceTimeout, 30*time.Second)
	defaults.Positive(&c.CommitInterval, time.Second)
	defaults.Positive(&c.CommitTimeout, 10*time.Second)
	defaults.Positive(&c.MaxBatch, 1024)
	defaults.Positive(&c.RejoinBackoff, 250*time.Millisecond)
	defaults.Positive(&c.MaxRejoinBackoff, 5*time.Second)
	defaults.Positive(&c.StopTimeout, 15*time.Second)
	if c.Log == nil {
		c.Log = slog.Default()
	}
	return c
}

// Validate reports configuration errors.
func (c Config) Validate() error {
	var errs []error
	if len(c.Brokers) == 0 {
		errs = append(errs, errors.New("no brokers"))
	}
	if len(c.Topics) == 0 {
		errs = append(errs, errors.New("no topics"))
	}
	if len(c.Topics) > 1<<15 {
		errs = append(errs, errors.New("too many topics"))
	}
	if c.Group == "" {
		errs = append(errs, errors.New("no consumer group"))
	}
	switch c.InitialOffset {
	case "", "earliest", "latest":
	default:
		errs = append(errs, fmt.Errorf("initial offset %q: want earliest or latest", c.InitialOffset))
	}
	switch c.Isolation {
	case "", ReadCommitted:
	case ReadUncommitted:
		if c.Merge != nil {
			errs = append(errs, errors.New("isolation read_uncommitted: a repartition topic is read committed (its aborted transactions hold records forwarded again)"))
		}
	default:
		errs = append(errs, fmt.Errorf("isolation %q: want %s or %s", c.Isolation, ReadCommitted, ReadUncommitted))
	}
	if _, err := balanceStrategies(c.Balance); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func balanceStrategies(name string) ([]sarama.BalanceStrategy, error) {
	switch name {
	case "", BalanceCooperativeSticky:
		return []sarama.BalanceStrategy{sarama.NewBalanceStrategyCooperativeSticky()}, nil
	case BalanceSticky:
		return []sarama.BalanceStrategy{sarama.NewBalanceStrategySticky()}, nil
	case BalanceRange:
		return []sarama.BalanceStrategy{sarama.NewBalanceStrategyRange()}, nil
	case BalanceRoundRobin:
		return []sarama.BalanceStrategy{sarama.NewBalanceStrategyRoundRobin()}, nil
	}
	return nil, fmt.Errorf("balance strategy %q: want %s, %s, %s or %s", name,
		BalanceCooperativeSticky, BalanceSticky, BalanceRange, BalanceRoundRobin)
}

// SaramaConfig returns the consumer configuration a Source uses for c.
func SaramaConfig(c Config) (*sarama.Config, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	c = c.withDefaults()
	var sc sarama.Config
	if c.Base != nil {
		sc = *c.Base
	} else {
		sc = *sarama.NewConfig()
		sc.Version = DefaultVersion
	}
	if !sc.Version.IsAtLeast(sarama.V0_11_0_0) {
		// The backlog question is a fetch with an isolation level (Source.unread).
		return nil, fmt.Errorf("kafka version %s: the source needs 0.11.0 or later (transactions, isolation levels)", sc.Version)
	}
	strategies, _ := balanceStrategies(c.Balance)
	if c.Balance == BalanceCooperativeSticky && !sc.Version.IsAtLeast(sarama.V2_4_0_0) {
		return nil, fmt.Errorf("balance strategy %s needs Kafka version 2.4 or later, not %s", c.Balance, sc.Version)
	}
	sc.Consumer.Group.Rebalance.GroupStrategies = strategies
	sc.Consumer.Group.Rebalance.Timeout = c.RebalanceTimeout
	sc.Consumer.Group.Session.Timeout = c.SessionTimeout
	sc.Consumer.Group.Heartbeat.Interval = c.HeartbeatInterval
	sc.Consumer.Offsets.Initial = sarama.OffsetOldest
	if c.InitialOffset == "latest" {
		sc.Consumer.Offsets.Initial = sarama.OffsetNewest
	}
	// Offsets are committed by the source, only ever up to the engine's safe offset.
	sc.Consumer.Offsets.AutoCommit.Enable = false
	// A repartition topic (Merge) is written in transactions, and a forwarder that dies
	// mid-transaction leaves records its successor aborts and forwards again: it is read
	// committed (Validate refuses anything else), or each would reach the engine twice
	// (the second copy late for its key).
	sc.Consumer.IsolationLevel = sarama.ReadCommitted
	if c.Isolation == ReadUncommitted {
		sc.Consumer.IsolationLevel = sarama.ReadUncommitted
	}
	sc.Consumer.Return.Errors = true
	sc.Consumer.MaxWaitTime = c.MaxWait
	// Each claim's channel holds one engine batch: the claim drains it whole.
	sc.ChannelBufferSize = c.MaxBatch
	if c.FetchMin > 0 {
		sc.Consumer.Fetch.Min = c.FetchMin
	}
	if c.FetchDefault > 0 {
		sc.Consumer.Fetch.Default = c.FetchDefault
	}
	if c.FetchMax > 0 {
		sc.Consumer.Fetch.Max = c.FetchMax
	}
	if err := sc.Validate(); err != nil {
		return nil, fmt.Errorf("kafka consumer config: %w", err)
	}
	return &sc, nil
}
