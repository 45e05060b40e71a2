package kafka

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/cepd/cepd/alerts"
	"github.com/cepd/cepd/engine"
	"github.com/cepd/cepd/internal/devkafka"
	"github.com/cepd/cepd/internal/kafkatest"
	"github.com/cepd/cepd/rules"
	"github.com/cepd/cepd/state"
)

func fraudRules(t *testing.T) *engine.RuleSet {
	t.Helper()
	rs, err := engine.LoadRuleSet("../../testdata/fraud", "", rules.EnvOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// startEngine starts an engine of the fraud rules under cfg, with s as its alert and
// dead-letter sink; the caller closes it.
func startEngine(t *testing.T, cfg engine.Config, s *sinks) *engine.Engine {
	t.Helper()
	eng, err := engine.New(cfg, fraudRules(t), s, s)
	if err != nil {
		t.Fatal(err)
	}
	eng.Start(context.Background())
	return eng
}

type sinks struct {
	mu      sync.Mutex
	alerts  []*alerts.Alert
	dead    []engine.DeadLetter
	flushes atomic.Int64
	fail    atomic.Bool
}

func (s *sinks) Alert(a *alerts.Alert) { s.mu.Lock(); s.alerts = append(s.alerts, a); s.mu.Unlock() }
func (s *sinks) DeadLetter(d engine.DeadLetter) {
	s.mu.Lock()
	s.dead = append(s.dead, d)
	s.mu.Unlock()
}
func (s *sinks) Flush(context.Context) error {
	s.flushes.Add(1)
	if s.fail.Load() {
		return errors.New("sink down")
	}
	return nil
}

func produceFile(t *testing.T, addr, topic, path string) int64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	var lines []string
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) != "" {
			lines = append(lines, sc.Text())
		}
	}
	kafkatest.Produce(t, addr, topic, lines...)
	return int64(len(lines))
}

// committed is the offset group g committed on partition 0 of topic ev (-1: none).
func committed(t *testing.T, addr string) int64 {
	if off, ok := kafkatest.GroupOffsets(t, addr, "g", "ev")[0]; ok {
		return off
	}
	return -1
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

type running struct {
	eng    *engine.Engine
	src    *Source
	sinks  *sinks
	cancel context.CancelFunc
	done   chan error
}

func run(t *testing.T, addr, topic, group string, failSinks bool) *running {
	t.Helper()
	s := &sinks{}
	s.fail.Store(failSinks)
	eng := startEngine(t, engine.Config{Shards: 2}, s)
	src, err := New(Config{Brokers: []string{addr}, Topics: []string{topic}, Group: group,
		CommitInterval: 50 * time.Millisecond, HeartbeatInterval: 200 * time.Millisecond, SessionTimeout: 3 * time.Second}, eng, s)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{eng: eng, src: src, sinks: s, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- src.Run(ctx) }()
	t.Cleanup(func() { r.stop(); eng.Close() })
	return r
}

func (r *running) stop() {
	if r.cancel != nil {
		r.cancel()
		<-r.done
		r.cancel = nil
	}
}

// TestCommitsFollowSafeOffset: the committed offset is the engine's safe offset, behind
// the end while a partial match holds an early event, and it reaches the end once the
// windows close; the sinks are flushed before commits.
func TestCommitsFollowSafeOffset(t *testing.T) {
	kc := devkafka.ForTest(t, devkafka.Options{Partitions: 1, Topics: []string{"ev"}})
	n := produceFile(t, kc.Addr(), "ev", "../../testdata/fraud/examples/auth-no-capture.jsonl")
	r := run(t, kc.Addr(), "ev", "g", false)
	ctx := context.Background()
	waitFor(t, "consumption", func() bool {
		ps := r.src.Stats().Partitions
		return len(ps) == 1 && ps[0].Next == n
	})
	safe, err := r.eng.SafeOffset(ctx, PartitionID("ev", 0))
	if err != nil {
		t.Fatal(err)
	}
	if safe <= 0 || safe >= n {
		t.Fatalf("safe offset %d of %d: the example should hold an open authorisation", safe, n)
	}
	waitFor(t, "the safe offset committed", func() bool { return committed(t, kc.Addr()) == safe })
	if r.sinks.flushes.Load() == 0 {
		t.Fatal("committed without flushing the sinks")
	}
	if err := r.eng.Flush(ctx); err != nil { // end of stream: every window closes
		t.Fatal(err)
	}
	waitFor(t, "the end committed", func() bool { return committed(t, kc.Addr()) == n })
	r.stop()
	st := r.src.Stats()
	if st.Consumed != uint64(n) || st.Assigned != 1 || st.Revoked != 1 || st.Abandoned != 0 || st.Commits < 2 {
		t.Errorf("stats %+v", st)
	}
}

// TestNoCommitWhileSinksFail: when the sinks cannot confirm delivery, nothing is
// committed (the next owner re-reads everything rather than lose alerts).
func TestNoCommitWhileSinksFail(t *testing.T) {
	kc := devkafka.ForTest(t, devkafka.Options{Partitions: 1, Topics: []string{"ev"}})
	n := produceFile(t, kc.Addr(), "ev", "../../testdata/fraud/examples/velocity-burst.jsonl")
	r := run(t, kc.Addr(), "ev", "g", true)
	waitFor(t, "consumption and commit attempts", func() bool {
		ps := r.src.Stats().Partitions
		return len(ps) == 1 && ps[0].Next == n && r.src.Stats().CommitsSkipped >= 2
	})
	r.stop()
	if off := committed(t, kc.Addr()); off != -1 {
		t.Fatalf("committed %d although the sinks never confirmed", off)
	}
	if st := r.src.Stats(); st.Commits != 0 || st.Abandoned != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestPartitionIDs(t *testing.T) {
	loc := Locator([]string{"events", "payments"})
	seen := map[int]bool{}
	for _, c := range []struct {
		topic string
		p     int32
	}{{"events", 0}, {"events", 5}, {"payments", 65535}, {"payments", 0}} {
		id := PartitionID(c.topic, c.p)
		if id < 1<<30 || id > 1<<31-1 || seen[id] {
			t.Errorf("PartitionID(%s,%d) = %d", c.topic, c.p, id)
		}
		seen[id] = true
		topic, p, ok := loc(id)
		if !ok || topic != c.topic || p != c.p {
			t.Errorf("PartitionID(%s,%d)=%d → %s/%d %v", c.topic, c.p, id, topic, p, ok)
		}
	}
	if _, _, ok := loc(PartitionID("other", 0)); ok {
		t.Error("a topic not listed was located")
	}
	if _, _, ok := loc(0); ok {
		t.Error("REST ingest's partition 0 was located")
	}
}

func TestConfigValidate(t *testing.T) {
	ok := Config{Brokers: []string{"x:1"}, Topics: []string{"t"}, Group: "g"}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		mod  func(*Config)
		want string
	}{
		{func(c *Config) { c.Brokers = nil }, "no brokers"},
		{func(c *Config) { c.Topics = nil }, "no topics"},
		{func(c *Config) { c.Group = "" }, "no consumer group"},
		{func(c *Config) { c.InitialOffset = "middle" }, "initial offset"},
		{func(c *Config) { c.Balance = "fair" }, "balance strategy"},
		{func(c *Config) { c.Isolation = "read_some" }, "isolation"},
		{func(c *Config) { c.Isolation, c.Merge = ReadUncommitted, &MergeConfig{} }, "repartition topic is read committed"},
	} {
		cfg := ok
		c.mod(&cfg)
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("want %q, got %v", c.want, err)
		}
	}
	base := sarama.NewConfig()
	base.Version = sarama.V2_0_0_0
	cfg := ok
	cfg.Base = base
	if _, err := SaramaConfig(cfg); err == nil || !strings.Contains(err.Error(), "2.4") {
		t.Errorf("cooperative on Kafka 2.0: %v", err)
	}
	cfg.Balance, cfg.InitialOffset = BalanceRange, "latest"
	sc, err := SaramaConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if sc.Consumer.Offsets.Initial != sarama.OffsetNewest || sc.Consumer.Offsets.AutoCommit.Enable || base.Consumer.Return.Errors {
		t.Errorf("consumer config %+v (base modified: %v)", sc.Consumer.Offsets, base.Consumer.Return.Errors)
	}
	// Isolation: read committed unless asked otherwise; a Kafka version before
	// transactions is refused.
	for _, c := range []struct {
		isolation string
		version   sarama.KafkaVersion
		want      sarama.IsolationLevel
	}{
		{"", sarama.V2_0_0_0, sarama.ReadCommitted},
		{ReadCommitted, sarama.V2_0_0_0, sarama.ReadCommitted},
		{ReadUncommitted, sarama.V2_0_0_0, sarama.ReadUncommitted},
	} {
		base.Version = c.version
		cfg.Isolation = c.isolation
		sc, err := SaramaConfig(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if sc.Consumer.IsolationLevel != c.want {
			t.Errorf("isolation %q on %v: %v, want %v", c.isolation, c.version, sc.Consumer.IsolationLevel, c.want)
		}
	}
	base.Version = sarama.V0_10_2_0
	if _, err := SaramaConfig(cfg); err == nil || !strings.Contains(err.Error(), "0.11.0") {
		t.Errorf("Kafka 0.10.2: %v", err)
	}
}

// TestRestoreFromCheckpoint: with checkpoints, commits wait for them, and a new owner
// restores the partition's state, skips the records it covers, and together the two
// owners give exactly the alerts of one uninterrupted run.
func TestRestoreFromCheckpoint(t *testing.T) {
	for _, shared := range []bool{false, true} {
		t.Run(fmt.Sprintf("shared=%v", shared), func(t *testing.T) { testRestoreFromCheckpoint(t, shared) })
	}
}

// uninterrupted runs the events of file through one engine (engine.Runner), as one
// uninterrupted owner would.
func uninterrupted(t *testing.T, rs *engine.RuleSet, file string) *sinks {
	t.Helper()
	var recs []engine.Record
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		recs = append(recs, engine.Record{Value: []byte(l), Offset: int64(i)})
	}
	want := &sinks{}
	r := engine.Runner{Config: engine.Config{Shards: 2}, Rules: rs, Sink: want, DeadLetters: want, EndOfStream: true}
	if err := r.Run(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
	return want
}

// alertIDs is the set of the ids of the alerts ss received.
func alertIDs(ss ...*sinks) map[string]bool {
	m := map[string]bool{}
	for _, s := range ss {
		for _, a := range s.alerts {
			m[a.ID] = true
		}
	}
	return m
}

// testRestoreFromCheckpoint: with a store only this instance reads, commits stop at the
// engine's safe offset; with a shared store (SharedCheckpoints) they reach the checkpoint,
// and the next owner re-reads nothing it covers.
func testRestoreFromCheckpoint(t *testing.T, shared bool) {
	const file = "../../testdata/fraud/examples/card-testing.jsonl"
	kc := devkafka.ForTest(t, devkafka.Options{Partitions: 1, Topics: []string{"ev"}})
	n := produceFile(t, kc.Addr(), "ev", file)
	store, err := state.OpenDir(t.TempDir(), state.FileOptions{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	rs := fraudRules(t)
	id := PartitionID("ev", 0)

	start := func(s *sinks) (*engine.Engine, *Source, func()) {
		eng, err := engine.New(engine.Config{Shards: 2}, rs, s, s)
		if err != nil {
			t.Fatal(err)
		}
		eng.EnableCheckpoints(store, nil)
		eng.Start(context.Background())
		ctx, cancel := context.WithCancel(context.Background())
		src, err := New(Config{Brokers: []string{kc.Addr()}, Topics: []string{"ev"}, Group: "g", Checkpoints: true, SharedCheckpoints: shared,
			CommitInterval: 50 * time.Millisecond, HeartbeatInterval: 200 * time.Millisecond, SessionTimeout: 3 * time.Second}, eng, s)
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- src.Run(ctx) }()
		return eng, src, func() { cancel(); <-done; eng.Close() }
	}

	s1 := &sinks{}
	eng1, src1, stop1 := start(s1)
	waitFor(t, "a checkpoint of everything", func() bool { return eng1.CheckpointedOffset(id) == n-1 })
	safe, err := eng1.SafeOffset(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	wantCommit := min(safe, n)
	if shared {
		wantCommit = n
	}
	if wantCommit == n && !shared {
		t.Fatal("the example should hold an open partial match at its end")
	}
	waitFor(t, "the commit", func() bool { return committed(t, kc.Addr()) == wantCommit })
	stop1()
	committed := committed(t, kc.Addr())

	s2 := &sinks{}
	eng2, src2, stop2 := start(s2)
	defer stop2()
	waitFor(t, "the records the checkpoint covers skipped", func() bool {
		st := src2.Stats()
		return st.Restored == 1 && st.Skipped == uint64(n-committed)
	})
	if err := eng2.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := src2.Stats()
	if st.Restored != 1 || st.Skipped != uint64(n-committed) || st.Consumed != 0 {
		t.Errorf("second owner: %+v (committed %d of %d)", st, committed, n)
	}

	want := uninterrupted(t, rs, file)
	got, exp := alertIDs(s1, s2), alertIDs(want)
	if len(exp) == 0 || len(got) != len(exp) {
		t.Fatalf("%d alerts over the two owners, %d in one run", len(got), len(exp))
	}
	for id := range exp {
		if !got[id] {
			t.Errorf("alert %s missing after the handover", id)
		}
	}
	_ = src1
}
