package kafka

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/IBM/sarama"
)

// mergeRec is one record of the merge test: its source and its time.
type mergeRec struct {
	src  int32
	off  int64
	time int64
}

func repMessage(r mergeRec, repOff int64, maxTime int64, marker string) *sarama.ConsumerMessage {
	h := []*sarama.RecordHeader{
		{Key: []byte(HeaderSourceTopic), Value: []byte("events")},
		{Key: []byte(HeaderSourcePartition), Value: []byte(strconv.Itoa(int(r.src)))},
		{Key: []byte(HeaderSourceMaxTime), Value: []byte(strconv.FormatInt(maxTime, 10))},
	}
	m := &sarama.ConsumerMessage{Offset: repOff, Headers: h}
	if marker != "" {
		m.Headers = append(m.Headers, &sarama.RecordHeader{Key: []byte(HeaderMarker), Value: []byte(marker)})
		return m
	}
	m.Headers = append(m.Headers, &sarama.RecordHeader{Key: []byte(HeaderSourceOffset), Value: []byte(strconv.FormatInt(r.off, 10))})
	m.Timestamp = time.UnixMilli(r.time)
	m.Value = []byte(fmt.Sprintf("%d/%d", r.src, r.off))
	return m
}

// TestMergeOrder: four source partitions, each in order up to the out-of-orderness,
// interleaved at random into one repartition partition with watermark markers, and idle
// markers at the end. Whatever the interleaving, and with the merge encoded and decoded
// (a checkpoint and a restore) at a random point, the records come out exactly once each,
// in (time, source partition, source offset) order, none late.
func TestMergeOrder(t *testing.T) {
	const ooo = 50
	cfg := &MergeConfig{OutOfOrderness: ooo * time.Millisecond}
	for s := range int32(4) {
		cfg.Sources = append(cfg.Sources, SourcePartition{Topic: "events", Partition: s})
	}
	for run := range 30 {
		r := rand.New(rand.NewPCG(uint64(run), 3))
		var queues [4][]mergeRec
		var all []mergeRec
		for s := range int32(4) {
			ts := int64(1000)
			for off := range int64(200) {
				ts += int64(r.IntN(20))
				rec := mergeRec{src: s, off: off, time: ts - int64(r.IntN(ooo))} // out of order within ooo
				queues[s] = append(queues[s], rec)
				all = append(all, rec)
			}
		}
		slices.SortFunc(all, func(a, b mergeRec) int {
			if a.time != b.time {
				return int(a.time - b.time)
			}
			if a.src != b.src {
				return int(a.src - b.src)
			}
			return int(a.off - b.off)
		})
		m, err := newMerger(cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		var maxTime [4]int64
		repOff, restoreAt := int64(0), r.IntN(700)
		emit := func(msg *sarama.ConsumerMessage) {
			if err := m.read(msg); err != nil {
				t.Fatal(err)
			}
			repOff++
			for _, rec := range m.release(nil) {
				got = append(got, string(rec.Value))
			}
			if int(repOff) == restoreAt {
				if m, err = newMerger(cfg, m.encode()); err != nil {
					t.Fatal(err)
				}
			}
		}
		for left := 800; left > 0; {
			s := r.IntN(4)
			if len(queues[s]) == 0 {
				continue
			}
			rec := queues[s][0]
			queues[s] = queues[s][1:]
			left--
			maxTime[s] = max(maxTime[s], rec.time)
			emit(repMessage(rec, repOff, maxTime[s], ""))
			if r.IntN(5) == 0 {
				emit(repMessage(mergeRec{src: int32(s)}, repOff, maxTime[s], MarkerWatermark))
			}
		}
		for s := range int32(4) {
			emit(repMessage(mergeRec{src: s}, repOff, maxTime[s], MarkerIdle))
		}
		want := make([]string, len(all))
		for i, rec := range all {
			want[i] = fmt.Sprintf("%d/%d", rec.src, rec.off)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("run %d: %d records out, not in (time, source, offset) order (restore after %d)", run, len(got), restoreAt)
		}
		if m.late > 0 || len(m.held) > 0 {
			t.Fatalf("run %d: %d late, %d still held", run, m.late, len(m.held))
		}
	}
}
