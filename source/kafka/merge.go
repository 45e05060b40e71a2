package kafka

import (
	"cmp"
	"container/heap"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/IBM/sarama"

	"github.com/cepd/cepd/engine"
)

// The watermark merge of a repartition topic's claim (docs/rekeying.md, "Event time").
// A repartition partition interleaves the records of every source partition. The claim
// keeps, per source partition, the watermark its headers carried (its newest event time
// less the out-of-orderness) and whether it went idle; the merged watermark is the
// minimum over the source partitions not idle, and a source partition never heard of
// holds it back. Records are held until the merged watermark passes their time and
// released in (event time, source topic, source partition, source offset) order, so each
// key's events reach the engine in time order whatever the interleaving. What the
// merger holds is encoded into the claim's checkpoint (Engine.IngestHeld).

// MergeConfig makes a Source's claims merge the watermarks of the source partitions
// behind a repartition topic (Config.Merge).
type MergeConfig struct {
	// Sources are the source partitions feeding the repartition topic: until each has
	// said something (a record, a watermark, an idle marker), nothing is released.
	Sources []SourcePartition
	// OutOfOrderness is how far behind its newest event a source partition's events may
	// be (the engine's): a source's watermark is its newest event time less it.
	OutOfOrderness time.Duration
}

// SourcePartition names a partition of a source topic.
type SourcePartition struct {
	Topic     string
	Partition int32
}

func (a SourcePartition) compare(b SourcePartition) int {
	return cmp.Or(cmp.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
}

// srcClock is what a claim knows of one source partition.
type srcClock struct {
	wm   int64 // newest event time less the out-of-orderness; MinInt64: none yet
	idle bool
}

// heldRec is a record waiting for the merged watermark.
type heldRec struct {
	time   int64
	src    SourcePartition
	srcOff int64
	off    int64 // in the repartition partition
	value  []byte
}

func (a *heldRec) less(b *heldRec) bool {
	if a.time != b.time {
		return a.time < b.time
	}
	if c := a.src.compare(b.src); c != 0 {
		return c < 0
	}
	return a.srcOff < b.srcOff
}

type heldHeap []*heldRec

func (h heldHeap) Len() int           { return len(h) }
func (h heldHeap) Less(i, j int) bool { return h[i].less(h[j]) }
func (h heldHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *heldHeap) Push(x any)        { *h = append(*h, x.(*heldRec)) }
func (h *heldHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// merger is one claim's merge. Only the claim's goroutine uses it.
type merger struct {
	ooo    int64
	clocks map[SourcePartition]*srcClock
	held   heldHeap
	late   uint64 // records that came when the merged watermark had passed their time
}

// newMerger starts a claim's merge from the blob its restored checkpoint held (nil:
// fresh).
func newMerger(cfg *MergeConfig, blob []byte) (*merger, error) {
	m := &merger{ooo: cfg.OutOfOrderness.Milliseconds(), clocks: map[SourcePartition]*srcClock{}}
	for _, s := range cfg.Sources {
		m.clocks[s] = &srcClock{wm: math.MinInt64}
	}
	if len(blob) > 0 {
		if err := m.decode(blob); err != nil {
			return nil, fmt.Errorf("repartition claim: held records of the checkpoint: %w", err)
		}
	}
	return m, nil
}

// isMarker reports whether m is a forwarder's watermark or idle marker.
func isMarker(m *sarama.ConsumerMessage) bool {
	for _, h := range m.Headers {
		if string(h.Key) == HeaderMarker {
			return true
		}
	}
	return false
}

// read takes one record of the repartition partition: a marker moves its source's
// clock; an event is held.
func (m *merger) read(msg *sarama.ConsumerMessage) error {
	var src SourcePartition
	var srcOff, maxTime int64 = -1, math.MinInt64
	kind := ""
	hasTopic, hasPart := false, false
	for _, h := range msg.Headers {
		switch string(h.Key) {
		case HeaderSourceTopic:
			src.Topic, hasTopic = string(h.Value), true
		case HeaderSourcePartition:
			hasPart = true
			v, err := strconv.ParseInt(string(h.Value), 10, 32)
			if err != nil {
				return fmt.Errorf("header %s: %w", h.Key, err)
			}
			src.Partition = int32(v)
		case HeaderSourceOffset:
			v, err := strconv.ParseInt(string(h.Value), 10, 64)
			if err != nil {
				return fmt.Errorf("header %s: %w", h.Key, err)
			}
			srcOff = v
		case HeaderSourceMaxTime:
			v, err := strconv.ParseInt(string(h.Value), 10, 64)
			if err != nil {
				return fmt.Errorf("header %s: %w", h.Key, err)
			}
			maxTime = v
		case HeaderMarker:
			kind = string(h.Value)
		}
	}
	// A record without its source (a stray producer, a tool) must not make a clock: a
	// source partition that never speaks again would hold the merged watermark for ever.
	switch {
	case !hasTopic || !hasPart:
		return errors.New("record without the source topic and partition headers")
	case kind == "" && srcOff < 0:
		return errors.New("record without the source offset header")
	}
	c := m.clocks[src]
	if c == nil {
		c = &srcClock{wm: math.MinInt64}
		m.clocks[src] = c
	}
	if maxTime != math.MinInt64 {
		c.wm = max(c.wm, maxTime-m.ooo)
	}
	c.idle = kind == MarkerIdle
	if kind != "" {
		return nil
	}
	r := &heldRec{time: msg.Timestamp.UnixMilli(), src: src, srcOff: srcOff, off: msg.Offset, value: msg.Value}
	if r.time < m.watermark() {
		m.late++
	}
	heap.Push(&m.held, r)
	return nil
}

// watermark is the merged watermark: the lowest of the source partitions not idle
// (MaxInt64 when all are idle, MinInt64 while one was never heard of).
func (m *merger) watermark() int64 {
	w := int64(math.MaxInt64)
	for _, c := range m.clocks {
		if !c.idle {
			w = min(w, c.wm)
		}
	}
	return w
}

// release appends to dst the held records the merged watermark has passed, in order,
// and returns it.
func (m *merger) release(dst []engine.Record) []engine.Record {
	w := m.watermark()
	for len(m.held) > 0 && m.held[0].time < w {
		r := heap.Pop(&m.held).(*heldRec)
		dst = append(dst, engine.Record{Value: r.value, Offset: r.off})
	}
	return dst
}

// floor is the lowest offset of a held record (MaxInt64: none): a commit without a
// shared checkpoint must not pass it.
func (m *merger) floor() int64 {
	f := int64(math.MaxInt64)
	for _, r := range m.held {
		f = min(f, r.off)
	}
	return f
}

// encode writes the merge's state: version 1, the source clocks (sorted), the held
// records (sorted).
func (m *merger) encode() []byte {
	srcs := make([]SourcePartition, 0, len(m.clocks))
	for s := range m.clocks {
		srcs = append(srcs, s)
	}
	slices.SortFunc(srcs, SourcePartition.compare)
	b := []byte{1}
	b = binary.AppendUvarint(b, uint64(len(srcs)))
	idx := make(map[SourcePartition]uint64, len(srcs))
	for i, s := range srcs {
		idx[s] = uint64(i)
		c := m.clocks[s]
		b = appendBytes(b, []byte(s.Topic))
		b = binary.AppendVarint(b, int64(s.Partition))
		b = binary.AppendVarint(b, c.wm)
		b = append(b, boolByte(c.idle))
	}
	held := slices.Clone(m.held)
	slices.SortFunc(held, func(a, b *heldRec) int { return cmp.Compare(a.off, b.off) })
	b = binary.AppendUvarint(b, uint64(len(held)))
	for _, r := range held {
		b = binary.AppendVarint(b, r.time)
		b = binary.AppendUvarint(b, idx[r.src])
		b = binary.AppendVarint(b, r.srcOff)
		b = binary.AppendVarint(b, r.off)
		b = appendBytes(b, r.value)
	}
	return b
}

func appendBytes(b, v []byte) []byte {
	return append(binary.AppendUvarint(b, uint64(len(v))), v...)
}

func boolByte(v bool) byte {
	if v {
		return 1
	}
	return 0
}
