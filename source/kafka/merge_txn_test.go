package kafka

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/cepd/cepd/engine"
	"github.com/cepd/cepd/internal/devkafka"
)

// TestMergeClaimSkipsAbortedTransactions (CI failure of TestProcessesRekeyKill9): a
// forwarder killed mid-transaction leaves records in the repartition topic that its
// successor aborts and forwards again. A claim of the repartition topic must read only
// committed records, or the engine gets each of those events twice, the second copy
// late for its key (dead-lettered) and matched twice.
func TestMergeClaimSkipsAbortedTransactions(t *testing.T) {
	addr, send := repCluster(t)
	send(false, repRecord("aborted-0", 0, ""), repRecord("aborted-1", 1, ""), repRecord("aborted-2", 2, ""))
	send(true, repRecord("e0", 0, ""), repRecord("e1", 1, ""), repRecord("e2", 2, ""), repRecord("", 3, MarkerIdle))

	var mu sync.Mutex
	var seen []string
	tap := func(_ int, _ string, _ int64, raw []byte) {
		mu.Lock()
		seen = append(seen, string(raw))
		mu.Unlock()
	}
	s := &sinks{}
	eng := startEngine(t, engine.Config{Shards: 1, Tap: tap}, s)
	defer eng.Close()
	src, err := New(Config{Brokers: []string{addr}, Topics: []string{"rep"}, Group: "g", CommitInterval: 50 * time.Millisecond,
		HeartbeatInterval: 200 * time.Millisecond, SessionTimeout: 3 * time.Second,
		Merge: &MergeConfig{Sources: []SourcePartition{{Topic: "events", Partition: 0}}}}, eng, s)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx) }()
	defer func() { cancel(); <-done }()
	waitFor(t, "the committed events to reach the engine", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(seen) >= 3
	})
	time.Sleep(300 * time.Millisecond) // anything more would come now
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 3 {
		t.Fatalf("the engine got %d events, want the 3 committed ones:\n%q", len(seen), seen)
	}
	for i, raw := range seen {
		if want := fmt.Sprintf(`"event_id":"e%d"`, i); !strings.Contains(raw, want) {
			t.Errorf("event %d is %s, want %s", i, raw, want)
		}
	}
}

// repRecord is a record of repartition topic "rep" forwarded from source events/0: an
// event of card c1 with id id and source offset srcOff (time: 1,700,000,000 s plus srcOff
// seconds), or, when marker is set, a marker of that kind (with the same time).
func repRecord(id string, srcOff int64, marker string) *sarama.ProducerMessage {
	ts := int64(1_700_000_000_000) + srcOff*1000
	m := &sarama.ProducerMessage{Topic: "rep", Partition: 0, Timestamp: time.UnixMilli(ts), Headers: []sarama.RecordHeader{
		{Key: []byte(HeaderSourceTopic), Value: []byte("events")},
		{Key: []byte(HeaderSourcePartition), Value: []byte("0")},
		{Key: []byte(HeaderSourceMaxTime), Value: []byte(strconv.FormatInt(ts, 10))},
	}}
	if marker != "" {
		m.Headers = append(m.Headers, sarama.RecordHeader{Key: []byte(HeaderMarker), Value: []byte(marker)})
		return m
	}
	m.Headers = append(m.Headers, sarama.RecordHeader{Key: []byte(HeaderSourceOffset), Value: []byte(strconv.FormatInt(srcOff, 10))})
	m.Key = sarama.StringEncoder("c1")
	m.Value = sarama.ByteEncoder(fmt.Appendf(nil, `{"event_id":%q,"card_id":"c1","ts":%d,"type":"auth","amount":1,"currency":"EUR"}`, id, ts))
	return m
}

// repCluster starts a cluster with topics events and rep (one partition each) for the
// test, and returns its address and a sender of transactions to rep.
func repCluster(t *testing.T) (string, func(commit bool, msgs ...*sarama.ProducerMessage)) {
	kc := devkafka.ForTest(t, devkafka.Options{Partitions: 1, Topics: []string{"events", "rep"}})
	return kc.Addr(), txnSender(t, kc.Addr(), "rep")
}

// txnProducer returns a transactional producer with transactional id id, closed when the
// test ends.
func txnProducer(t *testing.T, addr, id string) sarama.SyncProducer {
	sc := sarama.NewConfig()
	sc.Version = DefaultVersion
	sc.Producer.Idempotent = true
	sc.Producer.RequiredAcks = sarama.WaitForAll
	sc.Producer.Return.Successes = true
	sc.Net.MaxOpenRequests = 1
	sc.Producer.Transaction.ID = id
	prod, err := sarama.NewSyncProducer([]string{addr}, sc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { prod.Close() })
	return prod
}

// txnSender returns a function that sends messages in one transaction of a transactional
// producer (closed when the test ends) and commits it, or aborts it when commit is false.
func txnSender(t *testing.T, addr, id string) func(commit bool, msgs ...*sarama.ProducerMessage) {
	prod := txnProducer(t, addr, "txn-sender-"+id)
	return func(commit bool, msgs ...*sarama.ProducerMessage) {
		t.Helper()
		if err := prod.BeginTxn(); err != nil {
			t.Fatal(err)
		}
		if err := prod.SendMessages(msgs); err != nil {
			t.Fatal(err)
		}
		end := prod.CommitTxn
		if !commit {
			end = prod.AbortTxn
		}
		if err := end(); err != nil {
			t.Fatal(err)
		}
	}
}
