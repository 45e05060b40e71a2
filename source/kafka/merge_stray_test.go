package kafka

import (
	"testing"
	"time"

	"github.com/IBM/sarama"
)

// TestMergeHeaderlessRecord (review): a record without the repartition headers (a stray
// producer, a tool writing to the topic) is an error for the merge, and the claim hands
// it to the engine to dead-letter. It must not leave a clock for a source partition that
// does not exist: the merged watermark would then stay at MinInt64 and the claim would
// hold every later record for ever (and the phantom clock goes into the checkpoint).
func TestMergeHeaderlessRecord(t *testing.T) {
	m, err := newMerger(&MergeConfig{Sources: []SourcePartition{{Topic: "events", Partition: 0}}, OutOfOrderness: time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := func(off, ts int64) *sarama.ConsumerMessage {
		return repMessage(mergeRec{src: 0, off: off, time: ts}, off, ts, "")
	}
	if err := m.read(r(1, 1000)); err != nil {
		t.Fatal(err)
	}
	if err := m.read(r(2, 5000)); err != nil {
		t.Fatal(err)
	}
	if got := m.release(nil); len(got) != 1 {
		t.Fatalf("released %d records before the stray one, want 1", len(got))
	}
	if err := m.read(&sarama.ConsumerMessage{Offset: 3, Value: []byte(`{"card":"c1"}`), Timestamp: time.UnixMilli(5000)}); err == nil {
		t.Fatal("a record without headers was read as a forwarded record")
	}
	if err := m.read(r(4, 9000)); err != nil {
		t.Fatal(err)
	}
	if got := m.release(nil); len(got) != 1 {
		t.Fatalf("released %d records after the stray one, want 1 (merged watermark %d, clocks %d)", len(got), m.watermark(), len(m.clocks))
	}
}
