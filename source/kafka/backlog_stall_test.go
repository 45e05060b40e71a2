package kafka

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/IBM/sarama"
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
	s := &sinks{}
	const idle = time.Second
	eng, err := engine.New(engine.Config{Shards: 1, IdleTimeout: idle}, fraudRules(t), s, s)
	if err != nil {
		t.Fatal(err)
	}
	eng.Start(context.Background()) // stopped after the source (its final commits need it)
	defer eng.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	src, err := New(Config{Brokers: []string{addr}, Topics: []string{"ev"}, Group: "g", CommitInterval: 100 * time.Millisecond,
		HeartbeatInterval: 200 * time.Millisecond, SessionTimeout: 6 * time.Second, BacklogCheck: 100 * time.Millisecond}, eng, s)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx) }()
	defer func() { cancel(); <-done }()
	go func() {
		for ctx.Err() == nil {
			eng.MarkIdle(ctx)
			time.Sleep(50 * time.Millisecond)
		}
	}()

	pc := kafkatest.Config()
	pc.Producer.Partitioner = sarama.NewManualPartitioner
	pc.Producer.Return.Successes = true
	prod, err := sarama.NewSyncProducer([]string{addr}, pc)
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	var n atomic.Int64
	send := func() {
		i := n.Add(1)
		for p := range int32(2) {
			v := fmt.Sprintf(`{"event_id":"e%d-%d","card_id":"c%d","ts":%d,"type":"login","channel":"web"}`, i, p, p, 1_700_000_000_000+i*1000)
			if _, _, err := prod.SendMessage(&sarama.ProducerMessage{Topic: "ev", Partition: p, Value: sarama.StringEncoder(v)}); err != nil {
				t.Error(err)
			}
		}
	}
	// A live stream: both partitions read, caught up, active.
	stop := make(chan struct{})
	produced := make(chan struct{})
	go func() {
		defer close(produced)
		for {
			select {
			case <-stop:
				return
			case <-time.After(40 * time.Millisecond):
				send()
			}
		}
	}()
	defer func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		<-produced
	}()
	waitFor(t, "both partitions read", func() bool {
		ps := eng.Partitions()
		return len(ps) == 2 && ps[0].Events > 5 && ps[1].Events > 5
	})
	time.Sleep(2 * idle) // any idleness of the start is over

	// The stall: fetches and end-offset questions wait; produce requests go on.
	cl := kc.Kfake()
	release := make(chan struct{})
	var stalled atomic.Int64
	for _, key := range []int16{kmsg.Fetch.Int16(), kmsg.ListOffsets.Int16()} {
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
	close(stop)
	<-produced
	if stalled.Load() == 0 {
		t.Fatal("no request was stalled: weak test")
	}
	if len(idleSeen) > 0 {
		t.Fatalf("a partition counted idle while its fetches were stalled and records waited at the broker (%d samples, first %+v)",
			len(idleSeen), idleSeen[0])
	}
}
