package kafka

import (
	"cmp"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/cepd/cepd/engine"
	"github.com/cepd/cepd/internal/devkafka"
)

// TestRepartitionClaimGoesIdle: a claim of a repartition topic read to its end reports
// no backlog, so its partition turns idle after the idle timeout, and a new transaction
// makes it active again. The topic is written only in transactions, each ending in a
// commit marker no consumer receives: before, the claim's next offset stayed one short
// of the end for ever, its backlog never cleared, and the partition held its key space's
// watermark back (the other partitions' keys' windows waited for its next event).
func TestRepartitionClaimGoesIdle(t *testing.T) {
	addr, send := repCluster(t)
	send(true, repRecord("e0", 0, ""), repRecord("e1", 1, ""), repRecord("e2", 2, ""), repRecord("", 2, MarkerIdle))

	eng := repIdleSource(t, addr)
	part := func() engine.PartitionStats { p, _ := onlyPartition(eng); return p }
	// Each transaction ends with the source's idle marker (as the forwarder sends when its
	// source goes quiet), which releases the records the merge holds.
	waitFor(t, "the claim to read the transaction", func() bool { return part().Events >= 3 })
	waitFor(t, "the partition to turn idle (no backlog)", func() bool { return part().Idle })
	send(true, repRecord("e3", 3, ""), repRecord("", 3, MarkerIdle))
	waitFor(t, "the next transaction to make it active", func() bool { p := part(); return p.Events >= 4 && !p.Idle })
	waitFor(t, "the partition to turn idle again", func() bool { return part().Idle })
	if p := part(); p.Backlog {
		t.Errorf("an idle partition with a backlog: %+v", p)
	}
}

// TestRepartitionClaimBehindOpenTxn: committed records behind another producer's open
// transaction (a forwarder killed mid-transaction, whose transaction stays open until its
// successor fences it or it times out) are unread records: the claim keeps its backlog
// and its partition does not turn idle until they are read. A read_committed reader
// stops at the last stable offset, before the open transaction; asked for that offset,
// the claim saw itself read to its end, its partition turned idle after the idle timeout,
// and the other partitions' time could close the windows of the keys whose events wait
// behind the open transaction.
func TestRepartitionClaimBehindOpenTxn(t *testing.T) {
	addr, send := repCluster(t)
	// The open transaction: one record, neither committed nor aborted yet.
	open := txnProducer(t, addr, "txn-open")
	if err := open.BeginTxn(); err != nil {
		t.Fatal(err)
	}
	if err := open.SendMessages([]*sarama.ProducerMessage{repRecord("e0", 0, "")}); err != nil {
		t.Fatal(err)
	}
	send(true, repRecord("e1", 1, ""), repRecord("e2", 2, ""), repRecord("", 2, MarkerIdle))

	const idle = time.Second // repIdleSource's
	eng := repIdleSource(t, addr)
	part := func() (engine.PartitionStats, bool) { return onlyPartition(eng) }
	waitFor(t, "the claim", func() bool { _, ok := part(); return ok })
	// Three idle timeouts: the backlog checks ask the broker many times meanwhile.
	for end := time.Now().Add(3 * idle); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		p, _ := part()
		if p.Idle || !p.Backlog || p.Events != 0 {
			t.Fatalf("committed records wait behind an open transaction, yet the partition is %+v (want a backlog, not idle, no events)", p)
		}
	}
	if err := open.CommitTxn(); err != nil {
		t.Fatal(err)
	}
	// The log ends in two commit markers (the two transactions interleaved): read to its
	// end, the claim's next offset is two short of the end, and the partition turns idle.
	waitFor(t, "the records behind the transaction", func() bool { p, _ := part(); return p.Events >= 3 })
	waitFor(t, "the partition to turn idle", func() bool { p, _ := part(); return p.Idle && !p.Backlog })
}

// TestRepartitionClaimIdleAfterAbort: a repartition partition that ends in an aborted
// transaction (a forwarder's batch its successor aborted) is read to its end when the
// committed records before it are: its partition turns idle. The aborted records are
// never received, so the claim's next offset stays before them; asked for the end
// offset, the claim kept a backlog until the next committed transaction.
func TestRepartitionClaimIdleAfterAbort(t *testing.T) {
	addr, send := repCluster(t)
	send(true, repRecord("e0", 0, ""), repRecord("e1", 1, ""), repRecord("", 1, MarkerIdle))
	send(false, repRecord("aborted-2", 2, ""), repRecord("aborted-3", 3, ""), repRecord("", 3, MarkerWatermark))
	eng := repIdleSource(t, addr)
	waitFor(t, "the committed records", func() bool { p, _ := onlyPartition(eng); return p.Events >= 2 })
	waitFor(t, "the partition to turn idle", func() bool { p, _ := onlyPartition(eng); return p.Idle && !p.Backlog })
	if p, _ := onlyPartition(eng); p.Events != 2 {
		t.Errorf("the engine got %d records, want the 2 committed ones", p.Events)
	}
}

// repIdleSource starts an engine with an idle timeout of 1 s fed by a claim of topic rep
// (with the watermark merge of source events/0) that checks its backlog every 100 ms.
func repIdleSource(t *testing.T, addr string) *engine.Engine {
	return idleSource(t, time.Second, Config{Brokers: []string{addr}, Topics: []string{"rep"}, BacklogCheck: 100 * time.Millisecond,
		Merge: &MergeConfig{Sources: []SourcePartition{{Topic: "events", Partition: 0}}}})
}

// onlyPartition returns the engine's partition when it holds exactly one.
func onlyPartition(eng *engine.Engine) (engine.PartitionStats, bool) {
	ps := eng.Partitions()
	if len(ps) != 1 {
		return engine.PartitionStats{}, false
	}
	return ps[0], true
}

// TestReceivable: what a read_committed reader at an offset still receives of a fetch
// answer, batch by batch: data batches at or past it unless aborted (from the first
// offset of one of its producer's aborted transactions to that producer's next control
// batch), never control batches, and an answer that stops before the last stable offset
// may hide a record.
func TestReceivable(t *testing.T) {
	data := func(first int64, n int32, pid int64) *sarama.Records {
		return &sarama.Records{RecordBatch: &sarama.RecordBatch{FirstOffset: first, LastOffsetDelta: n - 1, ProducerID: pid, IsTransactional: true}}
	}
	marker := func(at int64, pid int64) *sarama.Records {
		return &sarama.Records{RecordBatch: &sarama.RecordBatch{FirstOffset: at, ProducerID: pid, IsTransactional: true, Control: true}}
	}
	abort := func(pid, first int64) *sarama.AbortedTransaction {
		return &sarama.AbortedTransaction{ProducerID: pid, FirstOffset: first}
	}
	for _, c := range []struct {
		name    string
		pos     int64
		lso     int64
		batches []*sarama.Records
		aborted []*sarama.AbortedTransaction
		want    bool
	}{
		{"nothing past pos", 5, 5, nil, nil, false},
		{"one commit marker", 4, 5, []*sarama.Records{marker(4, 1)}, nil, false},
		{"two interleaved markers", 4, 6, []*sarama.Records{marker(4, 1), marker(5, 2)}, nil, false},
		{"a committed batch", 4, 8, []*sarama.Records{marker(4, 1), data(5, 2, 2), marker(7, 2)}, nil, true},
		{"an aborted batch", 4, 8, []*sarama.Records{marker(4, 1), data(5, 2, 2), marker(7, 2)}, []*sarama.AbortedTransaction{abort(2, 5)}, false},
		{"another producer's batch beside an abort", 4, 10,
			[]*sarama.Records{data(4, 2, 2), data(6, 2, 3), marker(8, 2), marker(9, 3)}, []*sarama.AbortedTransaction{abort(2, 4)}, true},
		{"the producer's committed batch after its abort", 4, 10,
			[]*sarama.Records{data(4, 2, 2), marker(6, 2), data(7, 2, 2), marker(9, 2)}, []*sarama.AbortedTransaction{abort(2, 4)}, true},
		{"a batch before pos", 6, 7, []*sarama.Records{data(4, 2, 1), marker(6, 1)}, nil, false},
		{"an answer short of the last stable offset", 4, 9, []*sarama.Records{marker(4, 1)}, nil, true},
		{"a legacy message set", 4, 6, []*sarama.Records{{MsgSet: &sarama.MessageSet{}}}, nil, true},
	} {
		blk := &sarama.FetchResponseBlock{LastStableOffset: c.lso, HighWaterMarkOffset: c.lso, RecordsSet: c.batches, AbortedTransactions: c.aborted}
		// One answer's view: a record received, or an answer short of the end (the
		// question asks on from covered).
		found, covered := receivable(blk, c.pos, true)
		if got := found || covered < c.lso; got != c.want {
			t.Errorf("%s: receivable = %v, want %v", c.name, got, c.want)
		}
	}
	// Read uncommitted, an aborted transaction's records are received, and what may be
	// read ends at the high-water mark (an open transaction's records are received too).
	for _, c := range []struct {
		name     string
		pos, hwm int64
		batches  []*sarama.Records
		aborted  []*sarama.AbortedTransaction
		want     bool
	}{
		{"nothing past pos", 5, 5, nil, nil, false},
		{"one commit marker", 4, 5, []*sarama.Records{marker(4, 1)}, nil, false},
		{"an aborted batch", 4, 8, []*sarama.Records{marker(4, 1), data(5, 2, 2), marker(7, 2)}, []*sarama.AbortedTransaction{abort(2, 5)}, true},
		{"an answer short of the high-water mark", 4, 9, []*sarama.Records{marker(4, 1)}, nil, true},
	} {
		// The last stable offset says nothing read uncommitted: pos, as an open
		// transaction at pos would leave it.
		blk := &sarama.FetchResponseBlock{LastStableOffset: c.pos, HighWaterMarkOffset: c.hwm, RecordsSet: c.batches, AbortedTransactions: c.aborted}
		found, covered := receivable(blk, c.pos, false)
		if got := found || covered < c.hwm; got != c.want {
			t.Errorf("read uncommitted, %s: receivable = %v, want %v", c.name, got, c.want)
		}
	}
}

// TestTxnTopicClaimGoesIdle: a claim of a plain topic whose producer writes in
// transactions, read to its end, has no backlog, so its partition turns idle after the
// idle timeout, at either isolation level; read committed, the aborted transaction's
// records never reach the engine, read uncommitted they do. Before, the claim asked for
// the end offset: the log ends in a commit (or abort) marker that no consumer receives,
// the claim's next offset stayed short of the end for ever, and its partition never
// turned idle (other partitions' keys waited for its next event to close their windows).
func TestTxnTopicClaimGoesIdle(t *testing.T) {
	for _, c := range []struct {
		isolation string
		events    uint64 // what the engine receives of the committed 2, aborted 1, committed 1
	}{{"", 3}, {ReadUncommitted, 4}} {
		t.Run(cmp.Or(c.isolation, "default"), func(t *testing.T) {
			kc := devkafka.ForTest(t, devkafka.Options{Partitions: 1, Topics: []string{"ev"}})
			send := txnSender(t, kc.Addr(), "ev")
			rec := func(i int64) *sarama.ProducerMessage {
				ts := 1_700_000_000_000 + i*1000
				return &sarama.ProducerMessage{Topic: "ev", Partition: 0, Value: sarama.StringEncoder(fmt.Sprintf(
					`{"event_id":"e%d","card_id":"c1","ts":%d,"type":"login","channel":"web"}`, i, ts))}
			}
			send(true, rec(0), rec(1))
			send(false, rec(2))
			send(true, rec(3))
			eng := idleSource(t, time.Second, Config{Brokers: []string{kc.Addr()}, Topics: []string{"ev"},
				BacklogCheck: 100 * time.Millisecond, Isolation: c.isolation})
			part := func() engine.PartitionStats { p, _ := onlyPartition(eng); return p }
			waitFor(t, "the records", func() bool { return part().Events >= c.events })
			waitFor(t, "the partition to turn idle (no backlog)", func() bool { p := part(); return p.Idle && !p.Backlog })
			if p := part(); p.Events != c.events {
				t.Errorf("the engine got %d records, want %d", p.Events, c.events)
			}
			send(true, rec(4))
			waitFor(t, "the next transaction to make it active", func() bool { p := part(); return p.Events == c.events+1 && !p.Idle })
			waitFor(t, "the partition to turn idle again", func() bool { p := part(); return p.Idle && !p.Backlog })
		})
	}
}

// TestLargeAbortedTxnGoesIdle: a claim read to its end that an aborted transaction
// larger than one question's fetch (1 MiB) follows has no backlog: the question asks on
// from where its answer stopped until it finds a record the claim would receive or
// reaches the last stable offset. Before, an answer of aborted batches short of the last
// stable offset counted as a backlog, asked again from the same offset every check: the
// partition never turned idle until its next committed record.
func TestLargeAbortedTxnGoesIdle(t *testing.T) {
	kc := devkafka.ForTest(t, devkafka.Options{Partitions: 1, Topics: []string{"ev"}})
	send := txnSender(t, kc.Addr(), "ev")
	rec := func(i int64, pad int) *sarama.ProducerMessage {
		return &sarama.ProducerMessage{Topic: "ev", Partition: 0, Value: sarama.StringEncoder(fmt.Sprintf(
			`{"event_id":"e%d","card_id":"c1","ts":%d,"type":"login","channel":"web","pad":%q}`, i, 1_700_000_000_000+i*1000,
			strings.Repeat("x", pad)))}
	}
	send(true, rec(0, 0))
	var big []*sarama.ProducerMessage
	for i := range int64(30) {
		big = append(big, rec(1+i, 90_000)) // 2.7 MB in all: three fetches' worth
	}
	send(false, big...)
	eng := idleSource(t, time.Second, Config{Brokers: []string{kc.Addr()}, Topics: []string{"ev"}, BacklogCheck: 100 * time.Millisecond})
	part := func() engine.PartitionStats { p, _ := onlyPartition(eng); return p }
	waitFor(t, "the committed record", func() bool { return part().Events == 1 })
	waitFor(t, "the partition to turn idle (no backlog)", func() bool { p := part(); return p.Idle && !p.Backlog })
	if p := part(); p.Events != 1 {
		t.Errorf("the engine got %d records, want 1 (the aborted ones are no events)", p.Events)
	}
}
