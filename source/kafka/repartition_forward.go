package kafka

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/IBM/sarama"

	"github.com/cepd/cepd/event"
	"github.com/cepd/cepd/event/jsondecode"
)

// forwardHandler runs the claims of one group session.
type forwardHandler struct {
	r      *Repartitioner
	client sarama.Client
	fail   context.CancelCauseFunc // ends the session: the source is re-read from committed offsets
}

// Setup logs each session's claims: a forwarder that keeps losing its claims (missed
// heartbeats, a broker away) shows as one line a rebalance.
func (h *forwardHandler) Setup(sess sarama.ConsumerGroupSession) error {
	h.r.cfg.Log.Info("repartition: joined group", "generation", sess.GenerationID(), "claims", sess.Claims())
	return nil
}

func (h *forwardHandler) Cleanup(sarama.ConsumerGroupSession) error { return nil }

// forwardClaim is one source partition being forwarded: its producer, decoder and the
// newest event time seen.
type forwardClaim struct {
	r       *Repartitioner
	client  sarama.Client
	prod    sarama.SyncProducer
	topic   string
	part    int32
	parts   map[string]int32 // partitions of each repartition topic (for the markers)
	dec     *jsondecode.Decoder
	ev      event.Event
	maxTime int64
	out     []*sarama.ProducerMessage
	// idle: an idle marker was sent and no record came since.
	idle bool
}

// ConsumeClaim forwards one source partition in transactions until the claim ends.
func (h *forwardHandler) ConsumeClaim(sess sarama.ConsumerGroupSession, cl sarama.ConsumerGroupClaim) error {
	r := h.r
	prod, err := r.producer(cl.Topic(), cl.Partition())
	if err != nil {
		return h.done(fmt.Errorf("repartition producer for %s/%d: %w", cl.Topic(), cl.Partition(), err))
	}
	defer prod.Close()
	// The producer exists, so the last owner's transaction is resolved: only now is the
	// committed offset final. The claim may start before it (the session fetched the
	// offset earlier); what lies before is already forwarded.
	from, err := h.committed(cl.Topic(), cl.Partition())
	if err != nil {
		return h.done(err)
	}
	fc := &forwardClaim{r: r, client: h.client, prod: prod, topic: cl.Topic(), part: cl.Partition(), parts: map[string]int32{},
		dec: jsondecode.NewDecoder(r.cfg.Schema), maxTime: math.MinInt64}
	fc.dec.SetBounds(r.cfg.Bounds)
	for _, t := range r.repTopics() {
		ps, err := h.client.Partitions(t)
		if err != nil {
			return h.done(fmt.Errorf("repartition: partitions of %s: %w", t, err))
		}
		fc.parts[t] = int32(len(ps))
	}
	return h.done(fc.loop(sess, cl, from))
}

// loop gathers batches (up to MaxBatch records, or what came within Linger) and forwards
// each in a transaction; when the partition is read to its end and silent for IdleAfter,
// it sends an idle marker.
func (fc *forwardClaim) loop(sess sarama.ConsumerGroupSession, cl sarama.ConsumerGroupClaim, from int64) error {
	r := fc.r
	batch := make([]*sarama.ConsumerMessage, 0, r.cfg.MaxBatch)
	linger := time.NewTimer(time.Hour)
	linger.Stop()
	idle := time.NewTimer(r.cfg.IdleAfter)
	defer idle.Stop()
	next := max(from, 0) // the next offset to read (-1: nothing committed, the oldest)
	for {
		select {
		case m, ok := <-cl.Messages():
			if !ok {
				return fc.flush(batch)
			}
			if m.Offset < from {
				continue
			}
			next = m.Offset + 1
			if len(batch) == 0 {
				linger.Reset(r.cfg.Linger)
			}
			batch = append(batch, m)
			if len(batch) < r.cfg.MaxBatch {
				continue
			}
			linger.Stop()
		case <-linger.C:
		case <-idle.C:
			if err := fc.maybeIdle(len(batch) == 0, next); err != nil {
				return err
			}
			idle.Reset(r.cfg.IdleAfter)
			continue
		case <-sess.Context().Done():
			return fc.flush(batch)
		}
		if err := fc.flush(batch); err != nil {
			return err
		}
		batch = batch[:0]
		idle.Reset(r.cfg.IdleAfter)
	}
}

// maybeIdle sends an idle marker once when nothing waits in the batch and the broker
// says the partition holds nothing past next. (Not the claim's high-water mark: it comes
// with fetch responses, and a claim whose first fetch has not come back yet reports 0;
// an idle marker sent while records wait would make them late for the readers.)
func (fc *forwardClaim) maybeIdle(empty bool, next int64) error {
	if !empty || fc.idle {
		return nil
	}
	end, err := fc.client.GetOffset(fc.topic, fc.part, sarama.OffsetNewest)
	if err != nil || next < end {
		return nil // not caught up, or cannot tell: not idle
	}
	fc.out = fc.markers(fc.out[:0], MarkerIdle)
	if err := fc.commit(nil); err != nil {
		return err
	}
	fc.idle = true
	return nil
}

// flush forwards batch in one transaction: its records, one watermark marker per
// repartition partition, and the source offset after the batch.
func (fc *forwardClaim) flush(batch []*sarama.ConsumerMessage) error {
	if len(batch) == 0 {
		return nil
	}
	r := fc.r
	fc.out = fc.out[:0]
	for _, m := range batch {
		if err := fc.dec.Decode(m.Value, &fc.ev); err != nil {
			r.malformed.Add(1)
			continue
		}
		fc.maxTime = max(fc.maxTime, fc.ev.Time)
		hdr := append(fc.source(), sarama.RecordHeader{Key: []byte(HeaderSourceOffset), Value: strconv.AppendInt(nil, m.Offset, 10)})
		for fi, idx := range r.fields {
			v := fc.ev.Value(idx)
			if !v.Present() || v.Kind == event.KindNull {
				r.missing[fi].Add(1)
				continue
			}
			fc.out = append(fc.out, &sarama.ProducerMessage{Topic: RepartitionTopic(r.cfg.Group, r.cfg.Fields[fi]),
				Key: sarama.StringEncoder(v.KeyString()), Value: sarama.ByteEncoder(m.Value),
				Headers: hdr, Timestamp: time.UnixMilli(fc.ev.Time)})
		}
	}
	records := len(fc.out)
	fc.out = fc.markers(fc.out, MarkerWatermark)
	last := batch[len(batch)-1]
	if err := fc.commit(&sarama.PartitionOffsetMetadata{Partition: last.Partition, Offset: last.Offset + 1}); err != nil {
		return err
	}
	fc.idle = false
	r.forwarded.Add(uint64(records))
	return nil
}

// source returns the headers naming the source partition and its newest event time.
func (fc *forwardClaim) source() []sarama.RecordHeader {
	return []sarama.RecordHeader{
		{Key: []byte(HeaderSourceTopic), Value: []byte(fc.topic)},
		{Key: []byte(HeaderSourcePartition), Value: strconv.AppendInt(nil, int64(fc.part), 10)},
		{Key: []byte(HeaderSourceMaxTime), Value: strconv.AppendInt(nil, fc.maxTime, 10)},
	}
}

// markers appends a marker of the given kind for every partition of every repartition
// topic (none before the first decodable event: there is no time to tell, except idleness).
func (fc *forwardClaim) markers(out []*sarama.ProducerMessage, kind string) []*sarama.ProducerMessage {
	if fc.maxTime == math.MinInt64 && kind == MarkerWatermark {
		return out
	}
	hdr := append(fc.source(), sarama.RecordHeader{Key: []byte(HeaderMarker), Value: []byte(kind)})
	for _, t := range fc.r.repTopics() {
		for p := range fc.parts[t] {
			out = append(out, &sarama.ProducerMessage{Topic: t, Partition: p, Headers: hdr, Metadata: marker{}})
		}
	}
	return out
}

// commit runs one transaction: fc.out, and the source offset when off is set.
func (fc *forwardClaim) commit(off *sarama.PartitionOffsetMetadata) error {
	r, prod := fc.r, fc.prod
	if err := prod.BeginTxn(); err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if len(fc.out) > 0 {
		if err := prod.SendMessages(fc.out); err != nil {
			return r.abort(prod, fmt.Errorf("produce: %w", err))
		}
	}
	if off != nil {
		offsets := map[string][]*sarama.PartitionOffsetMetadata{fc.topic: {off}}
		if err := prod.AddOffsetsToTxn(offsets, RepartitionGroup(r.cfg.Group)); err != nil {
			return r.abort(prod, fmt.Errorf("offsets: %w", err))
		}
	}
	if err := prod.CommitTxn(); err != nil {
		return r.abort(prod, fmt.Errorf("commit: %w", err))
	}
	r.txns.Add(1)
	return nil
}

// marker tags a marker message: the partitioner keeps the partition it names.
type marker struct{}

// repPartitioner hashes keyed records (as Kafka's default partitioner does) and sends a
// marker to the partition it names.
type repPartitioner struct{ hash sarama.Partitioner }

func newRepPartitioner(topic string) sarama.Partitioner {
	return repPartitioner{hash: sarama.NewHashPartitioner(topic)}
}

func (p repPartitioner) Partition(m *sarama.ProducerMessage, n int32) (int32, error) {
	if _, ok := m.Metadata.(marker); ok {
		return m.Partition, nil
	}
	return p.hash.Partition(m, n)
}

func (p repPartitioner) RequiresConsistency() bool { return true }
