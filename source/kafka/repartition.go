package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/IBM/sarama"

	"github.com/cepd/cepd/event"
	"github.com/cepd/cepd/internal/defaults"
)

// The repartition forwarder: the first half of re-keying across instances (docs/rekeying.md).
// It reads the source topics in a group of its own and writes every event it can decode,
// once for each key field the event has a value for, to that field's repartition topic,
// keyed by the value. Each batch of a source partition is one Kafka transaction holding the
// records produced and the source offset after them, so a reader with read_committed
// isolation sees each source record forwarded exactly once, whatever crashes happen.

// RepartitionConfig configures a Repartitioner.
type RepartitionConfig struct {
	Brokers []string
	// Group is cepd's consumer group; the forwarder consumes in RepartitionGroup(Group).
	Group string
	// Topics are the source topics, keyed by Schema's key.
	Topics []string
	// Schema decodes the source events, held to Bounds: the engine's limits, so that
	// what the engine rejects (and dead-letters once) is not forwarded, and what it
	// accepts is (a far-future time would otherwise move a source's clock for ever).
	Schema *event.Schema
	Bounds event.Bounds
	// Fields are the key fields to re-key by (each other than Schema's key).
	Fields []string
	// Partitions of each repartition topic it creates (0: the first source topic's).
	Partitions int32
	// MaxBatch bounds the records of one transaction (default 500); Linger is how long a
	// batch waits for more records (default 20ms).
	MaxBatch int
	Linger   time.Duration
	// IdleAfter is how long a source partition read to its end stays silent before the
	// forwarder sends an idle marker for it to every repartition partition (default 5s):
	// the readers then leave it out of their watermark until it sends again. A source
	// that resumes after a pause longer than this may find the others' time ahead of its
	// records (late for the merge), so keep it above the producers' pauses.
	IdleAfter time.Duration
	// Base is the sarama configuration to start from (TLS, SASL, version); nil: defaults
	// with DefaultVersion.
	Base *sarama.Config
	Log  *slog.Logger
}

// Headers of a forwarded record: the source topic and partition, its offset, and the
// newest event time the source partition had reached with it (Unix ms), from which a
// reader derives the source partition's watermark. A marker record (HeaderMarker set,
// no key, no value) carries the source's topic, partition and newest event time only:
// MarkerWatermark after each batch, MarkerIdle when the source partition went idle;
// the forwarder sends each to every partition of every repartition topic.
const (
	HeaderSourceTopic     = "cepd-src-topic"
	HeaderSourcePartition = "cepd-src-partition"
	HeaderSourceOffset    = "cepd-src-offset"
	HeaderSourceMaxTime   = "cepd-src-max-time"
	HeaderMarker          = "cepd-marker"

	MarkerWatermark = "watermark"
	MarkerIdle      = "idle"
)

// RepartitionTopic is the repartition topic of a key field.
func RepartitionTopic(group, field string) string { return group + "-repartition-" + field }

// RepartitionGroup is the consumer group the forwarder reads the source topics in.
func RepartitionGroup(group string) string { return group + "-repartition" }

// transactionalID names the producer of one source partition: the same in every instance,
// so a new owner's producer fences the last one and resolves its open transaction.
func transactionalID(group, topic string, partition int32) string {
	return RepartitionGroup(group) + "-" + topic + "-" + strconv.Itoa(int(partition))
}

// Repartitioner forwards source events to repartition topics. Create it with
// NewRepartitioner; Run it once. It owns its consumer group, one goroutine and one
// transactional producer per claimed source partition.
type Repartitioner struct {
	cfg     RepartitionConfig
	fields  []int // schema index of each field
	missing []atomic.Uint64

	forwarded, txns, aborted, malformed atomic.Uint64
}

// RepartitionStats counts what a Repartitioner did.
type RepartitionStats struct {
	Forwarded uint64            // records produced in committed transactions (one per event and field)
	Txns      uint64            // transactions committed
	Aborted   uint64            // transactions aborted after an error
	Malformed uint64            // events that do not decode (the source's claim dead-letters them)
	Missing   map[string]uint64 // per field, events without a value for it
}

// NewRepartitioner checks cfg and returns a forwarder.
func NewRepartitioner(cfg RepartitionConfig) (*Repartitioner, error) {
	switch {
	case len(cfg.Brokers) == 0 || cfg.Group == "" || len(cfg.Topics) == 0 || cfg.Schema == nil:
		return nil, errors.New("repartition: brokers, group, topics and schema are required")
	case len(cfg.Fields) == 0:
		return nil, errors.New("repartition: no key field to re-key by")
	}
	defaults.Positive(&cfg.MaxBatch, 500)
	defaults.Positive(&cfg.Linger, 20*time.Millisecond)
	defaults.Positive(&cfg.IdleAfter, 5*time.Second)
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	r := &Repartitioner{cfg: cfg, missing: make([]atomic.Uint64, len(cfg.Fields))}
	for _, f := range cfg.Fields {
		i, ok := cfg.Schema.Index(f)
		if !ok || f == cfg.Schema.KeyField {
			return nil, fmt.Errorf("repartition: %q is not a field to re-key by (the schema's fields other than its key %s)", f, cfg.Schema.KeyField)
		}
		r.fields = append(r.fields, i)
	}
	return r, nil
}

// Stats returns the forwarder's counters.
func (r *Repartitioner) Stats() RepartitionStats {
	st := RepartitionStats{Forwarded: r.forwarded.Load(), Txns: r.txns.Load(), Aborted: r.aborted.Load(),
		Malformed: r.malformed.Load(), Missing: map[string]uint64{}}
	for i, f := range r.cfg.Fields {
		st.Missing[f] = r.missing[i].Load()
	}
	return st
}

func (r *Repartitioner) base() sarama.Config {
	if r.cfg.Base != nil {
		return *r.cfg.Base
	}
	sc := *sarama.NewConfig()
	sc.Version = DefaultVersion
	return sc
}

// Run creates the repartition topics if needed and forwards until ctx ends. After a
// failed transaction or session it joins again: the source is re-read from the offsets
// the last committed transactions recorded.
func (r *Repartitioner) Run(ctx context.Context) error {
	sc := r.base()
	sc.Consumer.Offsets.Initial = sarama.OffsetOldest
	sc.Consumer.Offsets.AutoCommit.Enable = false // offsets commit inside the transactions
	sc.Consumer.IsolationLevel = sarama.ReadCommitted
	sc.ChannelBufferSize = r.cfg.MaxBatch
	if err := sc.Validate(); err != nil {
		return fmt.Errorf("repartition consumer config: %w", err)
	}
	if _, err := r.Prepare(); err != nil {
		return err
	}
	for ctx.Err() == nil {
		if err := r.session(ctx, &sc); err != nil && ctx.Err() == nil {
			r.cfg.Log.Warn("repartition: session failed; joining again", "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(500 * time.Millisecond):
			}
		}
	}
	return nil
}

// session runs one client and consumer group until ctx ends or a claim fails.
func (r *Repartitioner) session(ctx context.Context, sc *sarama.Config) error {
	client, err := sarama.NewClient(r.cfg.Brokers, sc)
	if err != nil {
		return fmt.Errorf("repartition: %w", err)
	}
	defer client.Close()
	group, err := sarama.NewConsumerGroupFromClient(RepartitionGroup(r.cfg.Group), client)
	if err != nil {
		return fmt.Errorf("repartition: %w", err)
	}
	defer group.Close()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	h := &forwardHandler{r: r, client: client, fail: cancel}
	for ctx.Err() == nil {
		if err := group.Consume(ctx, r.cfg.Topics, h); err != nil {
			return err
		}
	}
	if err := context.Cause(ctx); ctx.Err() != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// Prepare creates each field's repartition topic with the configured partition count
// (or the first source topic's) when it does not exist, and returns the source topics'
// partitions: the sources a claim of a repartition topic merges (MergeConfig.Sources).
// Run calls it too; call it first to start the claims once the topics exist.
func (r *Repartitioner) Prepare() ([]SourcePartition, error) {
	sc := r.base()
	admin, err := sarama.NewClusterAdmin(r.cfg.Brokers, &sc)
	if err != nil {
		return nil, fmt.Errorf("repartition: %w", err)
	}
	defer admin.Close()
	meta, err := admin.DescribeTopics(append(slices.Clone(r.cfg.Topics), r.repTopics()...))
	if err != nil {
		return nil, fmt.Errorf("repartition: describing topics: %w", err)
	}
	parts, exists := r.cfg.Partitions, map[string]bool{}
	var sources []SourcePartition
	for _, m := range meta {
		if m.Err != sarama.ErrNoError {
			continue
		}
		exists[m.Name] = true
		if !slices.Contains(r.cfg.Topics, m.Name) {
			continue
		}
		if m.Name == r.cfg.Topics[0] && parts == 0 {
			parts = int32(len(m.Partitions))
		}
		for _, p := range m.Partitions {
			sources = append(sources, SourcePartition{Topic: m.Name, Partition: p.ID})
		}
	}
	if parts == 0 {
		return nil, fmt.Errorf("repartition: source topic %s not found and no partition count configured", r.cfg.Topics[0])
	}
	for _, t := range r.repTopics() {
		if exists[t] {
			continue
		}
		err := admin.CreateTopic(t, &sarama.TopicDetail{NumPartitions: parts, ReplicationFactor: -1}, false)
		if err != nil && !errors.Is(err, sarama.ErrTopicAlreadyExists) {
			return nil, fmt.Errorf("repartition: creating %s: %w", t, err)
		}
	}
	slices.SortFunc(sources, SourcePartition.compare)
	return sources, nil
}

func (r *Repartitioner) repTopics() []string {
	out := make([]string, len(r.cfg.Fields))
	for i, f := range r.cfg.Fields {
		out[i] = RepartitionTopic(r.cfg.Group, f)
	}
	return out
}

// producer returns a transactional producer for one source partition; creating it
// fences the previous owner's producer and resolves its open transaction.
func (r *Repartitioner) producer(topic string, partition int32) (sarama.SyncProducer, error) {
	sc := r.base()
	sc.Producer.Idempotent = true
	sc.Producer.RequiredAcks = sarama.WaitForAll
	sc.Producer.Return.Successes = true
	sc.Producer.Retry.Max = 10
	sc.Net.MaxOpenRequests = 1
	sc.Producer.Transaction.ID = transactionalID(r.cfg.Group, topic, partition)
	// A transaction a crashed owner left open blocks its partition until it is resolved;
	// a broker that waits for the timeout (rather than aborting it when the next owner's
	// producer starts) waits this long. Kafka Streams' default.
	sc.Producer.Transaction.Timeout = 10 * time.Second
	sc.Producer.Partitioner = newRepPartitioner
	return sarama.NewSyncProducer(r.cfg.Brokers, &sc)
}

// done ends a claim; a failed transaction ends the session, so that every claim is read
// again from the offsets committed transactions recorded.
func (h *forwardHandler) done(err error) error {
	if err != nil {
		h.fail(err)
	}
	return err
}

func (r *Repartitioner) abort(prod sarama.SyncProducer, err error) error {
	r.aborted.Add(1)
	if aerr := prod.AbortTxn(); aerr != nil {
		return fmt.Errorf("%w (abort: %v)", err, aerr)
	}
	return err
}

// committed asks the group coordinator for the source partition's committed offset,
// waiting while a transaction holding offsets for it is unresolved (RequireStable).
func (h *forwardHandler) committed(topic string, partition int32) (int64, error) {
	group := RepartitionGroup(h.r.cfg.Group)
	for attempt := 0; ; attempt++ {
		if err := h.client.RefreshCoordinator(group); err != nil {
			return 0, fmt.Errorf("repartition: coordinator: %w", err)
		}
		b, err := h.client.Coordinator(group)
		if err != nil {
			return 0, fmt.Errorf("repartition: coordinator: %w", err)
		}
		req := sarama.NewOffsetFetchRequest(h.client.Config().Version, group, map[string][]int32{topic: {partition}})
		req.RequireStable = true
		resp, err := b.FetchOffset(req)
		if err == nil {
			blk := resp.GetBlock(topic, partition)
			switch {
			case blk == nil:
				err = errors.New("no answer for the partition")
			case blk.Err == sarama.ErrNoError:
				return blk.Offset, nil // -1: nothing committed, forward from the start
			default:
				err = blk.Err
			}
		}
		if attempt >= 50 {
			return 0, fmt.Errorf("repartition: committed offset of %s/%d: %w", topic, partition, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
