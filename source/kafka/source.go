package kafka

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/IBM/sarama"

	"github.com/cepd/cepd/engine"
	ticker "github.com/cepd/cepd/internal/run"
)

// Flusher is what the source waits on before committing offsets: the alert and
// dead-letter sinks. Flush returns once everything handed to the sink before the call has
// been delivered for good (a Kafka producer: acknowledged), or an error when it could not
// be within ctx; the source then does not commit, and tries again at the next commit.
// It is called from one goroutine at a time.
type Flusher interface {
	Flush(ctx context.Context) error
}

// Source feeds the engine from a Kafka consumer group. Create it with New and run it with
// Run; one Source per engine.
type Source struct {
	cfg   Config
	sc    *sarama.Config
	eng   *engine.Engine
	flush Flusher

	hard context.Context // Ingest's context: ends StopTimeout after Run's

	mu     sync.Mutex
	claims map[int]*claim // live claims by engine partition id
	client sarama.Client  // the consumer group's client (end offsets for backlog checks before Kafka 0.11)
	// questions is the client claims ask their backlog questions on (made on first use,
	// outside mu, by one maker at a time: questionsMake; closed when Run returns).
	questions       sarama.Client
	questionsClosed bool
	questionsMake   sync.Mutex

	commitMu   sync.Mutex // one commit at a time
	commitStop func()     // stops the current session's commit loop

	consumed, malformed, batches, commits, commitsSkipped, errs, sessionErrs,
	rebalances, assigned, revoked, abandoned, restored, skipped, late atomic.Uint64
}

// claim is one partition this instance consumes, from assignment to revocation.
type claim struct {
	id        int
	topic     string
	partition int32
	sess      sarama.ConsumerGroupSession

	posMu     sync.Mutex
	next      int64 // offset after the last record ingested; -1 before the first
	lastGood  int64 // offset of the last record the engine accepted; -1 before the first
	highWater int64

	// merge holds records back for the watermark merge (Config.Merge; nil: none); floor
	// is its oldest held record's offset after the last ingest (under posMu).
	merge *merger
	floor int64
	heldN int

	restored  bool         // the engine state of the partition came from a checkpoint
	tainted   atomic.Bool  // an Ingest failed part-way: never commit this claim again
	committed atomic.Int64 // last offset committed; -1 none
	done      bool         // released (guarded by Source.commitMu)
}

// New returns a source feeding eng; sinks is flushed before every commit (nil: nothing
// to wait for, e.g. sinks that deliver synchronously).
func New(cfg Config, eng *engine.Engine, sinks Flusher) (*Source, error) {
	sc, err := SaramaConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kafka source: %w", err)
	}
	if eng == nil {
		return nil, errors.New("kafka source: no engine")
	}
	cfg = cfg.withDefaults()
	s := &Source{cfg: cfg, sc: sc, eng: eng, flush: sinks, claims: map[int]*claim{}}
	seen := map[int]string{}
	for _, t := range cfg.Topics {
		id := PartitionID(t, 0)
		if other, dup := seen[id]; dup {
			if other == t {
				return nil, fmt.Errorf("kafka source: topic %q listed twice", t)
			}
			return nil, fmt.Errorf("kafka source: topics %q and %q hash to the same engine partition ids; consume them with separate instances", other, t)
		}
		seen[id] = t
	}
	return s, nil
}

// PartitionID is the engine partition id of a topic's partition:
// 2^30 | hash(topic) mod 2^14 << 16 | partition. It depends only on the topic's name, so
// every instance and every restart agrees on it (checkpoints are stored under it), and it
// stays clear of the small ids other sources use (REST ingest 0, the demo 1).
func PartitionID(topic string, partition int32) int {
	h := fnv.New32a()
	h.Write([]byte(topic))
	return 1<<30 | int(h.Sum32()&0x3fff)<<16 | int(partition)&0xffff
}

// Locate returns the topic and partition behind an engine partition id.
func (s *Source) Locate(id int) (topic string, partition int32, ok bool) {
	return Locator(s.cfg.Topics)(id)
}

// Locator returns Locate for a topic list (usable before the Source exists, e.g. by the
// dead-letter producer).
func Locator(topics []string) func(id int) (string, int32, bool) {
	byBase := map[int]string{}
	for _, t := range topics {
		byBase[PartitionID(t, 0)] = t
	}
	return func(id int) (string, int32, bool) {
		t, ok := byBase[id&^0xffff]
		return t, int32(id & 0xffff), ok
	}
}

// Run consumes until ctx ends; call it once. It joins the group, feeds each claimed partition to the
// engine, commits safe offsets, and after any consumer failure (a broker away, the
// coordinator moving) joins again with backoff. When ctx ends, claimed partitions get
// their final commit and are removed from the engine before Run returns. The engine must
// keep running until then.
func (s *Source) Run(ctx context.Context) error {
	hard, cancelHard := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelHard()
	s.hard = hard
	stopTimer := context.AfterFunc(ctx, func() { time.AfterFunc(s.cfg.StopTimeout, cancelHard) })
	defer stopTimer()
	defer s.closeQuestions()

	log := s.cfg.Log
	backoff := s.cfg.RejoinBackoff
	wait := func() {
		t := time.NewTimer(backoff)
		defer t.Stop()
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		backoff = min(2*backoff, s.cfg.MaxRejoinBackoff)
	}
	for ctx.Err() == nil {
		client, err := sarama.NewClient(s.cfg.Brokers, s.sc)
		var group sarama.ConsumerGroup
		if err == nil {
			if group, err = sarama.NewConsumerGroupFromClient(s.cfg.Group, client); err != nil {
				client.Close()
			}
		}
		if err != nil {
			s.sessionErrs.Add(1)
			log.Warn("kafka: cannot reach the brokers; retrying", "brokers", s.cfg.Brokers, "err", err, "backoff", backoff)
			wait()
			continue
		}
		s.mu.Lock()
		s.client = client
		s.mu.Unlock()
		errsDone := make(chan struct{})
		go func() {
			defer close(errsDone)
			for err := range group.Errors() {
				s.errs.Add(1)
				log.Warn("kafka consumer", "err", err)
			}
		}()
		failures := 0
		for ctx.Err() == nil && failures < 5 {
			err := group.Consume(ctx, s.cfg.Topics, handler{s})
			if err == nil {
				backoff = s.cfg.RejoinBackoff
				failures = 0
				continue
			}
			if errors.Is(err, sarama.ErrClosedConsumerGroup) {
				break
			}
			s.sessionErrs.Add(1)
			failures++
			log.Warn("kafka: consumer group session failed; rejoining", "group", s.cfg.Group, "err", err, "backoff", backoff)
			wait()
		}
		if err := group.Close(); err != nil {
			log.Warn("kafka: closing the consumer group", "err", err)
		}
		<-errsDone
		if err := client.Close(); err != nil && !errors.Is(err, sarama.ErrClosedClient) {
			log.Warn("kafka: closing the client", "err", err)
		}
	}
	return nil
}

// closeQuestions closes the question client, if one was made.
func (s *Source) closeQuestions() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.questionsClosed = true
	if s.questions != nil {
		_ = s.questions.Close()
		s.questions = nil
	}
}

// handler adapts Source to sarama's ConsumerGroupHandler.
type handler struct{ s *Source }

// Setup starts the session's periodic commits.
func (h handler) Setup(sess sarama.ConsumerGroupSession) error {
	s := h.s
	s.rebalances.Add(1)
	s.cfg.Log.Info("kafka: joined group", "group", s.cfg.Group, "member", sess.MemberID(),
		"generation", sess.GenerationID(), "claims", sess.Claims())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		ticker.Every(ctx, s.cfg.CommitInterval, func() { s.commitLive(sess) })
	}()
	s.mu.Lock()
	s.commitStop = func() { cancel(); <-done }
	s.mu.Unlock()
	return nil
}

// Cleanup stops the session's periodic commits (every claim has been released by now).
func (h handler) Cleanup(sess sarama.ConsumerGroupSession) error {
	s := h.s
	s.mu.Lock()
	stop := s.commitStop
	s.commitStop = nil
	s.mu.Unlock()
	if stop != nil {
		stop()
	}
	return nil
}

// ConsumeClaim feeds one partition to the engine until it is revoked or the session ends.
func (h handler) ConsumeClaim(sess sarama.ConsumerGroupSession, cl sarama.ConsumerGroupClaim) error {
	return h.s.consume(sess, cl)
}

// Stats are the source's counters.
type Stats struct {
	Consumed       uint64           `json:"consumed"`        // records handed to the engine
	Malformed      uint64           `json:"malformed"`       // of which the engine dead-lettered
	Batches        uint64           `json:"batches"`         // Ingest calls
	Commits        uint64           `json:"commits"`         // commit rounds that marked and committed offsets
	CommitsSkipped uint64           `json:"commits_skipped"` // rounds not committed: sinks not delivered in time, engine not answering
	Errors         uint64           `json:"errors"`          // consumer errors reported by sarama (fetch, commit, coordinator)
	SessionErrors  uint64           `json:"session_errors"`  // failed joins and sessions (each followed by a rejoin)
	Rebalances     uint64           `json:"rebalances"`      // sessions started
	Assigned       uint64           `json:"assigned"`        // partitions claimed
	Revoked        uint64           `json:"revoked"`         // partitions released
	Abandoned      uint64           `json:"abandoned"`       // released without a final commit (a later owner re-reads more)
	Restored       uint64           `json:"restored"`        // partitions whose state was restored from a checkpoint
	Skipped        uint64           `json:"skipped"`         // records skipped because the restored state covers them
	Held           uint64           `json:"held"`            // records the claims hold for the watermark merge now (Config.Merge)
	Late           uint64           `json:"late"`            // records that came after the merged watermark passed their time (Config.Merge)
	Partitions     []PartitionStats `json:"partitions"`
}

// PartitionStats describe one partition this instance currently consumes.
type PartitionStats struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	ID        int    `json:"engine_partition"`
	Next      int64  `json:"next"`       // offset after the last record ingested (-1: none yet)
	HighWater int64  `json:"high_water"` // the partition's end offset as last fetched
	Committed int64  `json:"committed"`  // last offset this instance marked and committed (-1: none)
}

// Stats returns the source's counters and its current partitions.
func (s *Source) Stats() Stats {
	st := Stats{Consumed: s.consumed.Load(), Malformed: s.malformed.Load(), Batches: s.batches.Load(),
		Commits: s.commits.Load(), CommitsSkipped: s.commitsSkipped.Load(), Errors: s.errs.Load(),
		SessionErrors: s.sessionErrs.Load(), Rebalances: s.rebalances.Load(), Assigned: s.assigned.Load(),
		Revoked: s.revoked.Load(), Abandoned: s.abandoned.Load(), Restored: s.restored.Load(), Skipped: s.skipped.Load(), Late: s.late.Load()}
	s.mu.Lock()
	for _, c := range s.claims {
		c.posMu.Lock()
		st.Held += uint64(c.heldN)
		st.Partitions = append(st.Partitions, PartitionStats{Topic: c.topic, Partition: c.partition, ID: c.id,
			Next: c.next, HighWater: c.highWater, Committed: c.committed.Load()})
		c.posMu.Unlock()
	}
	s.mu.Unlock()
	sort.Slice(st.Partitions, func(i, j int) bool { return st.Partitions[i].ID < st.Partitions[j].ID })
	return st
}
