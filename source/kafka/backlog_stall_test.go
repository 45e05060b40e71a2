package kafka

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/cepd/cepd/engine"
	"github.com/cepd/cepd/internal/devkafka"
	"github.com/cepd/cepd/internal/kafkatest"
)

// TestStalledFetchesAreNoIdleness (kill -9 test failure): while the broker answers
// neither fetches nor end-offset questions (a connection stuck behind a JoinGroup that
// waits for a rebalance does this), records keep arriving at the broker. No partition
// may count as idle then: an idle partition's keys follow the other partitions' time,
// and when the fetches resume one partition at a time, the first to come back would
// close the windows of keys whose events the others have not read yet (false absence
// alerts). Before the fix, a claim caught up before the stall kept "no backlog" and its
// partition turned idle after the idle timeout.
func TestStalledFetchesAreNoIdleness(t *testing.T) {
	kc := devkafka.ForTest(t, devkafka.Options{Partitions: 2, Topics: []string{"ev"}})
	addr := kc.Addr()
	const idle = time.Second
	eng := idleSource(t, idle, Config{Brokers: []string{addr}, Topics: []string{"ev"}, BacklogCheck: 100 * time.Millisecond})

	stopStream := liveStream(t, addr, "ev", 2, 40*time.Millisecond)
	defer stopStream()
	waitFor(t, "both partitions read", func() bool {
		ps := eng.Partitions()
		return len(ps) == 2 && ps[0].Events > 5 && ps[1].Events > 5
	})
	time.Sleep(2 * idle) // any idleness of the start is over

	// The stall: fetches and end-offset questions wait; produce requests go on.
	release := make(chan struct{})
	stalled := stallRequests(kc.Kfake(), release, kmsg.Fetch.Int16(), kmsg.ListOffsets.Int16())
	const stallFor = 3 * idle
	deadline := time.Now().Add(stallFor)
	var idleSeen []engine.PartitionStats
	for time.Now().Before(deadline) {
		for _, p := range eng.Partitions() {
			if p.Idle {
				idleSeen = append(idleSeen, p)
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	close(release)
	stopStream()
	if stalled.Load() == 0 {
		t.Fatal("no request was stalled: weak test")
	}
	if len(idleSeen) > 0 {
		t.Fatalf("a partition counted idle while its fetches were stalled and records waited at the broker (%d samples, first %+v)",
			len(idleSeen), idleSeen[0])
	}
}

// liveStream produces an event to each of the topic's parts partitions every interval
// until the returned stop is called (once or more).
func liveStream(t *testing.T, addr, topic string, parts int32, interval time.Duration) (stop func()) {
	pc := kafkatest.Config()
	pc.Producer.Partitioner = sarama.NewManualPartitioner
	pc.Producer.Return.Successes = true
	prod, err := sarama.NewSyncProducer([]string{addr}, pc)
	if err != nil {
		t.Fatal(err)
	}
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for i := int64(1); ; i++ {
			select {
			case <-quit:
				return
			case <-time.After(interval):
			}
			for p := range parts {
				v := fmt.Sprintf(`{"event_id":"e%d-%d","card_id":"c%d","ts":%d,"type":"login","channel":"web"}`, i, p, p, 1_700_000_000_000+i*1000)
				if _, _, err := prod.SendMessage(&sarama.ProducerMessage{Topic: topic, Partition: p, Value: sarama.StringEncoder(v)}); err != nil {
					t.Error(err)
				}
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			close(quit)
			<-done
			prod.Close()
		})
	}
}

// stallRequests makes the broker hold every request of the given API keys until release
// is closed (other requests go on), and returns the count of requests held.
func stallRequests(cl *kfake.Cluster, release <-chan struct{}, keys ...int16) *atomic.Int64 {
	var stalled atomic.Int64
	for _, key := range keys {
		cl.ControlKey(key, func(kmsg.Request) (kmsg.Response, error, bool) {
			cl.KeepControl()
			select {
			case <-release:
				return nil, nil, false
			default:
			}
			stalled.Add(1)
			cl.SleepControl(func() { <-release })
			return nil, nil, false
		})
	}
	return &stalled
}

// idleSource starts an engine with the idle timeout idle (MarkIdle every 50 ms) fed by a
// Source of cfg, as startSource does.
func idleSource(t *testing.T, idle time.Duration, cfg Config) *engine.Engine {
	t.Helper()
	eng, _ := startSource(t, engine.Config{Shards: 1, IdleTimeout: idle}, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() {
		for ctx.Err() == nil {
			eng.MarkIdle(ctx)
			time.Sleep(50 * time.Millisecond)
		}
	}()
	return eng
}

// startSource starts an engine of ec fed by a Source of cfg (group "g", commits every
// 100 ms, heartbeats every 200 ms and a 6 s session, whatever cfg says of them); both
// stop when the test ends, the source first (its final commits need the engine).
func startSource(t *testing.T, ec engine.Config, cfg Config) (*engine.Engine, *Source) {
	t.Helper()
	s := &sinks{}
	eng := startEngine(t, ec, s)
	t.Cleanup(eng.Close)
	cfg.Group, cfg.CommitInterval, cfg.HeartbeatInterval, cfg.SessionTimeout = "g", 100*time.Millisecond, 200*time.Millisecond, 6*time.Second
	src, err := New(cfg, eng, s)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return eng, src
}
