package kafka

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/IBM/sarama"

	"github.com/cepd/cepd/engine"
)

// consume is one claim's loop: batches from the claim's channel go to the engine in
// offset order. While the engine is behind, Ingest blocks, the loop stops reading, the
// claim's bounded channel fills and sarama stops fetching the partition.
func (s *Source) consume(sess sarama.ConsumerGroupSession, cl sarama.ConsumerGroupClaim) error {
	c := &claim{id: PartitionID(cl.Topic(), cl.Partition()), topic: cl.Topic(),
		partition: cl.Partition(), sess: sess, next: -1, lastGood: -1, highWater: cl.HighWaterMarkOffset()}
	c.committed.Store(-1)
	s.assigned.Add(1)
	defer s.release(c)
	pos := cl.InitialOffset() // the next offset to read
	if pos < 0 {              // no committed offset: reading starts at the oldest
		pos = 0
	}
	if s.cfg.Checkpoints {
		if err := s.restore(sess, c); err != nil {
			return err
		}
	}
	if err := s.startMerge(c); err != nil {
		return err
	}
	w := &backlogWatch{s: s, c: c, pos: &pos, tick: time.NewTicker(s.cfg.BacklogCheck)}
	if c.merge != nil {
		w.slack = 1
	}
	defer w.stop()
	if err := w.set(true); err != nil {
		return nil
	}
	// Registered (for periodic commits and Stats) once its starting point is known.
	s.mu.Lock()
	s.claims[c.id] = c
	s.mu.Unlock()

	msgs := cl.Messages()
	b := &batcher{s: s, c: c, batch: make([]engine.Record, 0, s.cfg.MaxBatch), pos: &pos, replayChecked: s.cfg.BeforeReplay == nil}
	for {
		var m *sarama.ConsumerMessage
		var ok bool
		select {
		case m, ok = <-msgs:
		case <-w.tick.C:
			w.checked()
			continue
		case <-w.overdueC():
			if w.stalled() != nil {
				return nil
			}
			continue
		case a := <-w.asked:
			if w.answered(a) != nil {
				return nil
			}
			continue
		case <-sess.Context().Done():
			return nil
		case <-s.hard.Done():
			return nil
		}
		if !ok {
			return nil // revoked
		}
		batch, next, ok := b.fill(m, msgs)
		if !s.ingestBatch(c, cl, batch, next) {
			return nil
		}
		if w.read(cl.HighWaterMarkOffset()) != nil {
			return nil
		}
		if !ok {
			return nil
		}
	}
}

// ingestBatch hands a batch to the engine; with the watermark merge, the records it
// releases (and the position, even when it releases none). False: the claim must end.
func (s *Source) ingestBatch(c *claim, cl sarama.ConsumerGroupClaim, batch []engine.Record, next int64) bool {
	if c.merge != nil {
		if next == c.next {
			return true // nothing new read
		}
		return s.ingest(c, cl, c.merge.release(batch), next)
	}
	return len(batch) == 0 || s.ingest(c, cl, batch, next)
}

// batcher gathers one claim's messages into batches.
type batcher struct {
	s                         *Source
	c                         *claim
	batch                     []engine.Record // reused
	pos                       *int64          // the next offset to read, for the backlog check
	gapChecked, replayChecked bool
}

// fill starts a batch with m and adds what msgs holds without waiting, up to MaxBatch.
// It returns the batch, the offset after its last record, and false when msgs closed.
func (b *batcher) fill(m *sarama.ConsumerMessage, msgs <-chan *sarama.ConsumerMessage) ([]engine.Record, int64, bool) {
	b.batch = b.batch[:0]
	next := b.c.next
	b.add(m, &next)
	for len(b.batch) < b.s.cfg.MaxBatch {
		select {
		case m, ok := <-msgs:
			if !ok {
				return b.batch, next, false
			}
			b.add(m, &next)
		default:
			return b.batch, next, true
		}
	}
	return b.batch, next, true
}

func (b *batcher) add(m *sarama.ConsumerMessage, next *int64) {
	s, c := b.s, b.c
	defer func() { b.gapChecked = true }()
	*b.pos = m.Offset + 1
	if m.Offset < *next { // never feed an offset twice, nor one the restored state covers
		s.skipped.Add(1)
		return
	}
	// (A repartition topic is written in transactions, whose markers take offsets.)
	if c.restored && !b.gapChecked && m.Offset > *next && c.merge == nil {
		s.cfg.Log.Error("kafka: the committed offset is past the partition's checkpoint; the restored state misses records",
			"topic", c.topic, "partition", c.partition, "checkpoint_next", *next, "first_offset", m.Offset)
	}
	if !b.replayChecked {
		b.replayChecked = true
		if err := s.cfg.BeforeReplay(s.hard, c.topic, c.partition, m.Timestamp); err != nil {
			s.cfg.Log.Warn("kafka: alerts delivered before this claim could not be read back; some may be delivered again",
				"topic", c.topic, "partition", c.partition, "err", err)
		}
	}
	*next = m.Offset + 1
	if c.merge == nil {
		b.batch = append(b.batch, engine.Record{Value: m.Value, Offset: m.Offset})
		return
	}
	if err := c.merge.read(m); err != nil {
		// Not a forwarder's record: the claim cannot place it in time; the engine
		// dead-letters it (it is not an event it can decode either, or it would carry
		// the headers).
		s.cfg.Log.Warn("kafka: record without the repartition headers", "topic", c.topic, "partition", c.partition,
			"offset", m.Offset, "err", err)
		b.batch = append(b.batch, engine.Record{Value: m.Value, Offset: m.Offset})
	}
}

// startMerge gives a claim of a repartition topic its watermark merge, from what its
// restored checkpoint held.
func (s *Source) startMerge(c *claim) error {
	if s.cfg.Merge == nil {
		return nil
	}
	m, err := newMerger(s.cfg.Merge, s.eng.Held(c.id))
	if err != nil {
		c.tainted.Store(true)
		s.errs.Add(1)
		s.cfg.Log.Error("kafka: the held records of the partition's checkpoint cannot be read; releasing it", "topic", c.topic,
			"partition", c.partition, "err", err)
		return err
	}
	c.merge = m
	c.floor, c.heldN = m.floor(), len(m.held)
	return nil
}

// restore loads c's partition from its checkpoint before it is read. On error the claim
// is tainted and given back after a pause (the group then assigns it again).
func (s *Source) restore(sess sarama.ConsumerGroupSession, c *claim) error {
	// Under commitMu: no checkpoint may see the partition while it is restored.
	s.commitMu.Lock()
	began := time.Now()
	meta, err := s.eng.Restore(s.hard, c.id, s.cfg.Log)
	s.commitMu.Unlock()
	if err != nil {
		// Without the partition's state (and its fencing epoch) it must not be read:
		// give it back and let the group assign it again after a pause.
		c.tainted.Store(true)
		s.errs.Add(1)
		s.cfg.Log.Error("kafka: restoring a partition's checkpoint failed; releasing it", "topic", c.topic,
			"partition", c.partition, "err", err)
		t := time.NewTimer(s.cfg.RejoinBackoff)
		defer t.Stop()
		select {
		case <-t.C:
		case <-sess.Context().Done():
		}
		return err
	}
	if meta.Found {
		c.restored = true
		c.next = meta.Offset + 1 // the state covers everything up to meta.Offset (-1: nothing yet)
		s.restored.Add(1)
		s.cfg.Log.Info("kafka: partition restored from its checkpoint", "topic", c.topic, "partition", c.partition,
			"checkpoint_offset", meta.Offset, "keys", meta.Keys, "took", time.Since(began).Round(time.Microsecond))
	}
	return nil
}

// ingest feeds one batch of c (up to offset next) to the engine and moves c's position;
// false means the ingest was interrupted and the claim must end, uncommitted.
func (s *Source) ingest(c *claim, cl sarama.ConsumerGroupClaim, batch []engine.Record, next int64) bool {
	var errs []engine.RecordError
	var err error
	if c.merge != nil {
		late := c.merge.late
		c.merge.late = 0
		s.late.Add(late)
		errs, err = s.eng.IngestHeld(s.hard, c.id, batch, next-1, c.merge.encode())
	} else {
		errs, err = s.eng.Ingest(s.hard, c.id, batch)
	}
	if err != nil {
		// Part of the batch may be in the engine and part not: the partition's
		// state no longer matches any offset, so it is never committed again.
		c.tainted.Store(true)
		s.cfg.Log.Warn("kafka: engine ingest interrupted; partition released without commit",
			"topic", c.topic, "partition", c.partition, "err", err)
		return false
	}
	s.malformed.Add(uint64(len(errs)))
	lastGood := int64(-1)
	for i := len(batch) - 1; i >= 0 && lastGood < 0; i-- {
		if len(errs) == 0 || errs[len(errs)-1].Index != i {
			lastGood = batch[i].Offset
		} else {
			errs = errs[:len(errs)-1]
		}
	}
	s.batches.Add(1)
	s.consumed.Add(uint64(len(batch)))
	c.posMu.Lock()
	c.next = next
	if c.merge != nil {
		c.floor, c.heldN = c.merge.floor(), len(c.merge.held)
	}
	if lastGood >= 0 {
		c.lastGood = lastGood
	}
	c.highWater = cl.HighWaterMarkOffset()
	c.posMu.Unlock()
	return true
}

// unread fetches c's partition from pos, at the consumer's isolation level, on the
// source's question client (never behind the claim's long polls), without waiting for
// data, and reports whether a reader at pos would still receive a record. The end offset
// cannot say: a topic written in transactions ends in commit markers, offsets no
// consumer receives, so a claim read to its end stays short of it, and read committed,
// an aborted transaction's records are never received either. Read committed, an open
// transaction counts as a record (its records may commit, and committed records of
// another producer may wait behind it: TestRepartitionClaimBehindOpenTxn).
func (s *Source) unread(c *claim, pos int64) (bool, error) {
	client, err := s.questionClient()
	if err != nil {
		return false, err
	}
	waits, err := s.fetchAt(client, c, pos)
	if err != nil {
		// The client's metadata may be stale (the partition's leader moved, or its broker
		// is gone) and is refreshed only every Metadata.RefreshFrequency: refresh it and
		// ask once more, as Client.GetOffset does (TestQuestionFollowsLeaderMove).
		if rerr := client.RefreshMetadata(c.topic); rerr != nil {
			return false, fmt.Errorf("%w (refreshing metadata: %w)", err, rerr)
		}
		return s.fetchAt(client, c, pos)
	}
	return waits, nil
}

// fetchAt is unread's fetch, from the partition's leader as client knows it.
func (s *Source) fetchAt(client sarama.Client, c *claim, pos int64) (bool, error) {
	b, err := client.Leader(c.topic, c.partition)
	if err != nil {
		return false, err
	}
	committed := s.sc.Consumer.IsolationLevel == sarama.ReadCommitted
	for from := pos; ; {
		// The partition's limit (1 MiB) is under the request's, so that the answer is cut
		// at it: kfake leaves the aborted transactions out of a partition cut at the
		// request's limit.
		req := &sarama.FetchRequest{Version: 4, MaxWaitTime: 0, MinBytes: 0, MaxBytes: 2 << 20, Isolation: s.sc.Consumer.IsolationLevel}
		req.AddBlock(c.topic, c.partition, from, 1<<20, -1)
		resp, err := b.Fetch(req)
		if err != nil {
			return false, err
		}
		blk := resp.GetBlock(c.topic, c.partition)
		switch {
		case blk == nil:
			return false, errors.New("no answer for the partition")
		case blk.Err != sarama.ErrNoError:
			return false, blk.Err
		case committed && blk.LastStableOffset < blk.HighWaterMarkOffset:
			return true, nil
		}
		// What may be read ends at the last stable offset read committed, else at the
		// high-water mark.
		end := blk.HighWaterMarkOffset
		if committed {
			end = blk.LastStableOffset
		}
		found, covered := receivable(blk, from, committed)
		switch {
		case found:
			return true, nil
		case covered >= end:
			return false, nil
		case covered == from:
			return true, nil // an answer short of the end that holds nothing: the rest may hold a record
		}
		// The answer ends short of the end (a fetch holds 1 MiB) and none of it is
		// received (markers, an aborted transaction larger than a fetch): ask on from
		// where it ended (TestLargeAbortedTxnGoesIdle).
		from = covered
	}
}

// receivable reports whether a reader at pos receives a record of blk, and the offset
// after blk's batches (pos if it holds none past pos). Control batches (commit and abort
// markers) are never received. Read committed, it follows the aborted transactions as
// Kafka's consumer does: a producer's batches are aborted from the first offset of one of
// its aborted transactions to its next control batch.
func receivable(blk *sarama.FetchResponseBlock, pos int64, committed bool) (bool, int64) {
	aborted := slices.SortedFunc(slices.Values(blk.AbortedTransactions), func(a, b *sarama.AbortedTransaction) int {
		return cmp.Compare(a.FirstOffset, b.FirstOffset)
	})
	if !committed {
		aborted = nil // read uncommitted, an aborted transaction's records are received
	}
	abortedNow := map[int64]bool{}
	covered := pos
	for _, r := range blk.RecordsSet {
		rb := r.RecordBatch
		if rb == nil {
			return true, pos // a legacy message set: cannot tell
		}
		last := rb.FirstOffset + int64(rb.LastOffsetDelta)
		for len(aborted) > 0 && aborted[0].FirstOffset <= last {
			abortedNow[aborted[0].ProducerID] = true
			aborted = aborted[1:]
		}
		switch {
		case rb.Control:
			delete(abortedNow, rb.ProducerID)
		case last < pos:
		case rb.IsTransactional && abortedNow[rb.ProducerID]:
		default:
			return true, pos
		}
		covered = max(covered, last+1)
	}
	return false, covered
}

// questionClient returns the client claims ask their backlog questions on, made on
// first use; Run closes it. Making it waits for the brokers (dial and metadata, minutes
// when one is away), so it is made outside s.mu, which Stats, commits and claims take
// (TestQuestionClientDoesNotBlockTheSource); questionsMake keeps it to one maker at a time.
func (s *Source) questionClient() (sarama.Client, error) {
	s.questionsMake.Lock()
	defer s.questionsMake.Unlock()
	if q, err := s.madeQuestions(); q != nil || err != nil {
		return q, err
	}
	c, err := sarama.NewClient(s.cfg.Brokers, s.sc)
	if err != nil {
		return nil, fmt.Errorf("kafka source: question client: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.questionsClosed {
		_ = c.Close()
		return nil, errStopped
	}
	s.questions = c
	return c, nil
}

// madeQuestions returns the question client if it is made, or an error if Run stopped.
func (s *Source) madeQuestions() (sarama.Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.questionsClosed {
		return nil, errStopped
	}
	return s.questions, nil
}

// errStopped answers a question asked after Run stopped.
var errStopped = errors.New("kafka source: stopped")

// release ends a claim: its final commit (unless it is tainted or the engine or sinks do
// not answer in time, in which case the last periodic commit stands and the next owner
// re-reads a little more), then its state leaves the engine.
func (s *Source) release(c *claim) {
	s.mu.Lock()
	if s.claims[c.id] == c {
		delete(s.claims, c.id)
	}
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(s.hard, s.cfg.CommitTimeout)
	defer cancel()
	// Under commitMu, so that no checkpoint (placed by commit rounds) sees the partition
	// half removed.
	s.commitMu.Lock()
	c.done = true
	committed := false
	if !c.tainted.Load() {
		committed = s.commit(ctx, c.sess, []*claim{c}, true)
	}
	// The state leaves the engine even when Run is giving up (a tainted partition must
	// never be checkpointed): the engine runs on its own context.
	rctx, rcancel := context.WithTimeout(context.Background(), s.cfg.CommitTimeout)
	defer rcancel()
	if err := s.eng.RemovePartition(rctx, c.id); err != nil {
		s.cfg.Log.Warn("kafka: removing a released partition from the engine", "topic", c.topic, "partition", c.partition, "err", err)
	}
	s.commitMu.Unlock()
	if !committed {
		s.abandoned.Add(1)
	}
	s.revoked.Add(1)
	s.cfg.Log.Debug("kafka: partition released", "topic", c.topic, "partition", c.partition,
		"committed", c.committed.Load(), "final_commit", committed)
}

// commitLive is the periodic commit of every live claim of sess.
func (s *Source) commitLive(sess sarama.ConsumerGroupSession) {
	s.mu.Lock()
	live := make([]*claim, 0, len(s.claims))
	for _, c := range s.claims {
		if c.sess == sess {
			live = append(live, c)
		}
	}
	s.mu.Unlock()
	if len(live) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(s.hard, s.cfg.CommitTimeout)
	defer cancel()
	s.commitMu.Lock()
	defer s.commitMu.Unlock()
	s.commit(ctx, sess, live, false)
}

// commit commits the safe offset of each claim: the engine's SafeOffset (everything
// before it is processed and nothing before it is held), then the sinks deliver every
// alert and dead letter produced so far, then the offsets are marked and committed. It
// reports whether it committed (or had nothing new to commit). A final commit is a
// released claim's last; other rounds skip released claims. Callers hold commitMu.
func (s *Source) commit(ctx context.Context, sess sarama.ConsumerGroupSession, cs []*claim, final bool) bool {
	type mark struct {
		c   *claim
		off int64
	}
	var marks []mark
	if s.cfg.Checkpoints {
		// The source places the checkpoints itself, under commitMu, so that a released
		// partition is never checkpointed after its state left the engine.
		if err := s.eng.Checkpoint(ctx); err != nil {
			s.cfg.Log.Warn("kafka: checkpoint failed; offsets wait for the next", "err", err)
		}
	}
	for _, c := range cs {
		if c.tainted.Load() || (c.done && !final) {
			continue
		}
		c.posMu.Lock()
		next, lastGood, floor := c.next, c.lastGood, c.floor
		c.posMu.Unlock()
		if next < 0 {
			continue // nothing consumed yet
		}
		safe := next // no record the engine accepted and nothing restored: it holds nothing
		if (lastGood >= 0 || c.restored) && !(s.cfg.Checkpoints && s.cfg.SharedCheckpoints) {
			var err error
			if safe, err = s.eng.SafeOffset(ctx, c.id); err != nil {
				s.commitsSkipped.Add(1)
				s.cfg.Log.Warn("kafka: engine did not answer; commit skipped", "err", err)
				return false
			}
			if lastGood >= 0 && safe == lastGood+1 && next > safe {
				safe = next // only malformed records followed: they are dead-lettered already
			}
		}
		if c.merge != nil && !(s.cfg.Checkpoints && s.cfg.SharedCheckpoints) {
			safe = min(safe, floor) // the held records are not in the engine
		}
		if s.cfg.Checkpoints {
			ck := s.eng.CheckpointedOffset(c.id)
			if ck < 0 {
				continue // no checkpoint yet: nothing may be committed
			}
			safe = min(safe, ck+1)
		}
		if safe > c.committed.Load() {
			marks = append(marks, mark{c, safe})
		}
	}
	if len(marks) == 0 {
		sess.Commit() // retries offsets marked earlier whose commit failed (none: no request)
		return true
	}
	if s.flush != nil {
		start := time.Now()
		if err := s.flush.Flush(ctx); err != nil {
			s.commitsSkipped.Add(1)
			s.cfg.Log.Warn("kafka: sinks did not deliver in time; commit skipped", "err", err, "waited", time.Since(start))
			return false
		}
	}
	for _, m := range marks {
		sess.MarkOffset(m.c.topic, m.c.partition, m.off, "")
	}
	sess.Commit()
	for _, m := range marks {
		m.c.committed.Store(m.off)
	}
	s.commits.Add(1)
	return true
}
