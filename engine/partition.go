package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cepd/cepd/event"
	"github.com/cepd/cepd/event/jsondecode"
)

// partition is one ordered input stream: its decoder, arrival counter and watermark.
type partition struct {
	e   *Engine
	id  int
	mu  sync.Mutex          // serialises Ingest calls for the partition
	dec *jsondecode.Decoder // by decSchema; see decoder
	// decSchema is the schema dec decodes by: the running rule set's when the partition
	// last ingested (a schema change applied live takes effect at the next call).
	decSchema *event.Schema

	seq        uint64
	maxTime    int64
	wm         atomic.Int64 // max event time − out-of-orderness
	idle       atomic.Bool  // changed under mu only, so shards learn every change in order
	backlog    atomic.Bool  // the source holds unread records of the partition: never idle
	removed    bool         // RemovePartition forgot it (under mu): no more idle messages
	lastIn     atomic.Int64 // engine clock of the partition's creation, restore or last event (idleness)
	sentWM     []int64      // last watermark told to each shard
	lastOffset int64        // offset of the last record ingested
	// restoredTo is, in an engine of several key spaces, the offset of the checkpoint
	// its key space restored (math.MinInt64: none): records at or below it are in the
	// state already and are decoded (to be accepted or rejected as before) but not
	// matched again, since the source replays from the lowest offset of the key spaces
	// (restoreSpaces).
	restoredTo int64
	batches    []*batch
	// early is, per shard, how many events the batch being filled must hold to be handed
	// to a waiting shard before it is full (handOffEarly); reset by every ingest call.
	early   []int
	scratch event.Event
	held    []byte // the source's held records (IngestHeld), saved with checkpoints

	in atomic.Uint64 // records ingested (one add per Ingest call, read by Partitions)
}

// batch carries events to one shard in memory that is reused: the shard copies out only
// the events it keeps (a matcher stores them, or they wait for the watermark) and then
// returns the batch to the engine's pool. An event's values slab is immutable, so the
// batch and the copies share it: only the header is copied.
type batch struct {
	items  []item
	evs    []event.Event
	ticket *ticket // the IngestWait call waiting for this batch, if any
	sent   int64   // engine clock when it was handed to the shard (Stats' queue wait)
}

func (e *Engine) getBatch() *batch {
	if b, ok := e.batchPool.Get().(*batch); ok {
		return b
	}
	n := e.cfg.BatchSize
	return &batch{items: make([]item, 0, n), evs: make([]event.Event, n)}
}

func (e *Engine) putBatch(b *batch) {
	clear(b.evs[:len(b.items)]) // the events it held: the rest is clear already
	clear(b.items)
	b.items = b.items[:0]
	b.ticket = nil
	e.batchPool.Put(b)
}

// add copies ev into the batch's memory and appends an item for it, which it returns
// for the caller to fill in: the batch holds fewer than BatchSize items, and a batch's
// items are zero past its length (new, or cleared by putBatch).
func (b *batch) add(ev *event.Event) *item {
	i := len(b.items)
	dst := &b.evs[i]
	*dst = *ev
	b.items = b.items[:i+1]
	it := &b.items[i]
	it.ev = dst
	return it
}

// item is one event on its way to a shard.
type item struct {
	ev     *event.Event
	part   int32
	wm     int64 // partition watermark after this event
	ingest int64 // engine clock when its Ingest call began (see unstamped)
	offset int64
	raw    []byte  // kept only for dead-lettering late events
	ticket *ticket // the IngestWait call waiting for this event's outcome, if any
	idx    int32   // the event's index in that call
	stable bool    // ev is the engine's own copy (a journal event), not batch memory
	// timed is, for a journal item, the key's timer time (keyState.timedTo) when the event
	// was matched: a replay advances to it before the event, as the timers had.
	timed int64
}

func (e *Engine) partition(id int) *partition {
	e.mu.Lock()
	defer e.mu.Unlock()
	p := e.parts[id]
	if p == nil {
		p = &partition{e: e, id: id, maxTime: math.MinInt64,
			sentWM: make([]int64, len(e.shards)), batches: make([]*batch, len(e.shards)), early: make([]int, len(e.shards)),
			lastOffset: -1, restoredTo: math.MinInt64}
		p.wm.Store(math.MinInt64)
		p.lastIn.Store(e.now()) // the idle timer starts when the partition appears
		for i := range p.sentWM {
			p.sentWM[i] = math.MinInt64
		}
		e.parts[id] = p
	}
	return p
}

// decoder returns the partition's decoder for the running schema (p.mu held).
func (p *partition) decoder() *jsondecode.Decoder {
	if s := p.e.schema(); p.decSchema != s {
		p.dec, p.decSchema = jsondecode.NewDecoder(s), s
		p.dec.SetBounds(p.e.cfg.Bounds)
		p.dec.SetUnknown(p.e.stats.unknown)
	}
	return p.dec
}

// share carries one ingest call's decoded events from the engine's own key space to the
// others (Config.KeySpaces): the first key space appends, for every record that decodes,
// its event, in record order, so that the j-th is that of the j-th accepted record; the
// others, given exactly the accepted records, take the events instead of decoding the
// bytes again (jsondecode.Decoder.Rekey: the values are shared, the key read again).
type share struct {
	evs  []event.Event
	read bool // the other key spaces: evs are given, one for each record
	// fill: the engine's own key space appends to evs (there are other key spaces to
	// take them; without, the copies would be made for nobody).
	fill bool
	// at is the call's ingest stamp, taken once for every key space (their engines share
	// the parent's clock): an alert of another key space counts from when the call began,
	// not from when the key spaces before it were done (or unblocked by their shards).
	at int64
}

// ingest decodes recs (or takes them from sh; nil: decode) and hands them to the shards.
// With t set, every item carries it and every batch sent counts in it, so the caller can
// wait for the outcomes.
func (p *partition) ingest(ctx context.Context, recs []Record, t *ticket, sh *share) (_ []RecordError, err error) {
	defer func() {
		if err != nil {
			p.dropBatches()
		}
	}()
	e := p.e
	st := e.stats
	var errs []RecordError
	ooo := e.cfg.OutOfOrderness.Milliseconds()
	now := e.now()
	if sh != nil {
		now = sh.at
	}
	p.lastIn.Store(now)
	p.in.Add(uint64(len(recs)))
	st.events.Add(uint64(len(recs)))
	if p.idle.Load() {
		p.idle.Store(false)
		if err := e.broadcastIdle(ctx, p.id, false); err != nil {
			return nil, err
		}
	}
	p.resetEarly()
	dec := p.decoder()
	dec.SetBoxed(e.boxSlabs())
	if sh != nil && sh.read && len(sh.evs) != len(recs) {
		return nil, fmt.Errorf("engine: key space: %d decoded events for %d records", len(sh.evs), len(recs))
	}
	// The watermark is kept in wm while the call runs and published (p.wm) before each
	// hand-off and at the end: an atomic store for every event costs more than the rest
	// of its bookkeeping.
	wm, late := p.wm.Load(), e.cfg.Late == LateDeadLetter
	for i := range recs {
		rec := &recs[i]
		ev := &p.scratch
		if err := p.decode(dec, *rec, i, sh, ev); err != nil {
			if p.skip(*rec, err) {
				continue
			}
			errs = append(errs, p.reject(i, *rec, err))
			continue
		}
		if sh != nil && sh.fill {
			sh.evs = append(sh.evs, *ev)
		}
		if rec.Offset <= p.restoredTo {
			continue
		}
		p.seq++
		ev.Seq = uint64(p.id)<<40 | p.seq
		ev.Offset = rec.Offset
		p.lastOffset = rec.Offset
		if ev.Time > p.maxTime {
			p.maxTime = ev.Time
			wm = satSub(ev.Time, ooo)
		}
		if e.cfg.Tap != nil {
			e.cfg.Tap(p.id, ev.Key, ev.Time, rec.Value)
		}
		s := e.shardOf(ev.Key)
		b := p.batches[s]
		if b == nil {
			b = p.startBatch(s, t)
		}
		it := b.add(ev)
		it.part, it.wm, it.ingest, it.offset, it.ticket, it.idx = int32(p.id), wm, now, rec.Offset, t, int32(i)
		if late && ev.Time < wm {
			it.raw = append([]byte(nil), rec.Value...)
		}
		p.sentWM[s] = wm
		if n := len(b.items); n >= e.cfg.BatchSize || p.handOffEarly(s, n) {
			p.wm.Store(wm)
			if err := p.flushShard(ctx, s); err != nil {
				return errs, err
			}
		}
	}
	p.wm.Store(wm)
	return errs, p.flushAll(ctx, now)
}

// startBatch starts the batch to fill for shard s (counted in t, when set).
func (p *partition) startBatch(s int, t *ticket) *batch {
	b := p.e.getBatch()
	p.batches[s] = b
	if t != nil {
		b.ticket = t
		t.left.Add(1)
	}
	return b
}

// resetEarly starts an ingest call's early hand-offs (handOffEarly): the first event
// for a waiting shard goes at once.
func (p *partition) resetEarly() {
	for s := range p.early {
		p.early[s] = 1
	}
}

// handOffEarly reports whether the batch being filled for shard s, holding n events,
// goes now, before it is full: when the shard waits on an empty queue (shard.handOff,
// which claims it) and the batch holds at least p.early[s] events. Within one ingest
// call the first early batch goes at one event and each next one must hold twice as many
// as the last: the call's first events reach an idle shard at once, while a shard faster
// than decoding, which would otherwise be woken (and park again) for every few events,
// at a cost in scheduling above that of its matching, is woken about log2(BatchSize)
// times before its batches are full ones. An event waits at most for about as many
// events after it as came before it in the call, whose time its latency counts anyway
// (the ingest stamp is the call's start); the call's last events go with flushAll.
func (p *partition) handOffEarly(s, n int) bool {
	if n < p.early[s] || !p.e.shards[s].handOff() {
		return false
	}
	p.early[s] = 2 * n
	return true
}

// decode makes ev record i's event: from sh when it holds the record's decoded event,
// else from its bytes.
func (p *partition) decode(dec *jsondecode.Decoder, rec Record, i int, sh *share, ev *event.Event) error {
	if sh != nil && sh.read {
		if err := dec.Rekey(&sh.evs[i], ev); err != jsondecode.ErrNotRekeyable {
			return err
		}
	}
	return dec.Decode(rec.Value, ev)
}

// skip tells whether a record that did not decode is one a key space other than the
// first passes over: it lacks the key space's field (the first key space accepted it,
// so it is no dead letter). It is counted, and no error text or copy is made: on a
// workload where most events lack the field, this is most records.
func (p *partition) skip(rec Record, err error) bool {
	if p.e.missing == nil {
		return false
	}
	if de, ok := errors.AsType[*event.DecodeError](err); !ok || de.Reason != event.ReasonMissingKey {
		return false
	}
	p.e.missing.Add(1)
	p.handled(rec.Offset)
	return true
}

// reject dead-letters record i of an ingest call, which did not decode, and returns its
// error for the caller.
func (p *partition) reject(i int, rec Record, err error) RecordError {
	reason := event.ReasonBadJSON
	if de, ok := errors.AsType[*event.DecodeError](err); ok {
		reason = de.Reason
	}
	msg := err.Error()
	p.e.stats.deadLetter(reason)
	p.e.dlq.DeadLetter(DeadLetter{Reason: reason, Error: msg, Raw: append([]byte(nil), rec.Value...), Partition: p.id, Offset: rec.Offset})
	p.handled(rec.Offset)
	return RecordError{Index: i, Reason: reason, Message: msg}
}

// handled records that the record at offset, which did not decode, is handled: a
// checkpoint covers it (read again, it would be rejected or skipped again), and a key
// space whose field the record lacks moves on.
func (p *partition) handled(offset int64) {
	p.lastOffset = max(p.lastOffset, offset)
}

// flushAll sends the batches an ingest call left partly filled, then the partition's
// watermark to the shards that got no events, so that their windows close too: with the
// call's ingest stamp, as the alerts it makes are the call's.
func (p *partition) flushAll(ctx context.Context, ingest int64) error {
	for s := range p.batches {
		if p.batches[s] != nil {
			if err := p.flushShard(ctx, s); err != nil {
				return err
			}
		}
	}
	wm := p.wm.Load()
	for s, sh := range p.e.shards {
		if p.sentWM[s] < wm {
			if err := sh.send(ctx, msg{kind: msgWatermark, part: int32(p.id), wm: wm, ingest: ingest}); err != nil {
				return err
			}
			p.sentWM[s] = wm
		}
	}
	return nil
}

// dropBatches discards the batches a failed ingest call could not send (its context
// ended): the call reports the error, so its events are not matched later, and the next
// call starts its own batches (and counts them in its own ticket).
func (p *partition) dropBatches() {
	for s, b := range p.batches {
		if b != nil {
			p.batches[s] = nil
			p.e.putBatch(b)
		}
	}
}

func (p *partition) flushShard(ctx context.Context, s int) error {
	b := p.batches[s]
	p.batches[s] = nil
	b.sent = p.e.now()
	return p.e.shards[s].send(ctx, msg{kind: msgItems, batch: b})
}

// MarkIdle checks every partition against the idle timeout; idle ones stop holding the
// watermark back until their next event, and their keys follow the engine watermark (the
// other partitions' time). A partition is idle only when nothing of it is unread: no
// event for IdleTimeout since it appeared, was restored or last ingested, no backlog
// reported by its source (SetBacklog), and no Ingest or Restore running. Call it
// periodically.
func (e *Engine) MarkIdle(ctx context.Context) {
	if e.cfg.IdleTimeout <= 0 {
		return
	}
	for _, c := range e.ks.children() {
		c.eng.MarkIdle(ctx)
	}
	e.mu.Lock()
	parts := make([]*partition, 0, len(e.parts))
	for _, p := range e.parts {
		parts = append(parts, p)
	}
	e.mu.Unlock()
	for _, p := range parts {
		if p.idle.Load() || p.backlog.Load() {
			continue
		}
		// Ingest and Restore hold mu: a partition busy with either is not idle. Under mu
		// the decision and its message to the shards cannot cross an event, a restore or
		// RemovePartition (which would otherwise find an idle clock it had just removed
		// brought back by a late message).
		if !p.mu.TryLock() {
			continue
		}
		var err error
		if !p.removed && !p.backlog.Load() && e.now()-p.lastIn.Load() > int64(e.cfg.IdleTimeout) {
			p.idle.Store(true)
			slog.Debug("engine: partition idle", "partition", p.id, "silent", time.Duration(e.now()-p.lastIn.Load()), "watermark", p.wm.Load())
			err = e.broadcastIdle(ctx, p.id, true)
		}
		p.mu.Unlock()
		if err != nil {
			return // ctx ended: the engine is stopping
		}
	}
}

// SetBacklog is how a source tells the engine whether partition part has records it has
// not handed over yet: a Kafka claim's lag (high-water mark past the next offset to
// read), or a claim whose reading has not started. A partition with a backlog never
// counts as idle, so the other partitions' time never closes its keys' windows while
// their events are still unread; it holds the engine watermark back instead. Reporting a
// backlog for an idle partition makes it active at once. A source that never calls it
// (REST ingest, which hands every event over as it is accepted) has no backlog. Calls for
// one partition must not overlap; call it from the goroutine that ingests the partition,
// after Restore. A partition the engine does not know yet (nothing restored or
// ingested) is left alone: it holds no key whose window could close.
func (e *Engine) SetBacklog(ctx context.Context, part int, backlog bool) error {
	if err := e.setBacklog(ctx, part, backlog); err != nil {
		return err
	}
	for _, c := range e.fedSpaces() { // they match the partition's records too
		if err := c.eng.setBacklog(ctx, part, backlog); err != nil {
			return fmt.Errorf("key space %s: %w", c.field, err)
		}
	}
	return nil
}

func (e *Engine) setBacklog(ctx context.Context, part int, backlog bool) error {
	e.mu.Lock()
	p := e.parts[part]
	e.mu.Unlock()
	if p == nil {
		return nil
	}
	if p.backlog.Swap(backlog) == backlog {
		return nil
	}
	slog.Debug("engine: partition backlog", "partition", part, "backlog", backlog)
	if !backlog {
		return nil
	}
	// The idle timer goes on: a backlog is not an event. Its records restart the timer
	// as they are ingested; a backlog the source only suspected (an end-offset question
	// unanswered for a while) and then cleared leaves a silent partition idle at once.
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.idle.Load() && !p.removed {
		p.idle.Store(false)
		return e.broadcastIdle(ctx, p.id, false)
	}
	return nil
}

// broadcastIdle tells every shard that a partition became idle or active. Callers hold
// the partition's mu.
func (e *Engine) broadcastIdle(ctx context.Context, part int, idle bool) error {
	for _, s := range e.shards {
		if err := s.send(ctx, msg{kind: msgIdle, part: int32(part), idle: idle}); err != nil {
			return err
		}
	}
	return nil
}

func satSub(a, b int64) int64 {
	if b > 0 && a < math.MinInt64+b {
		return math.MinInt64
	}
	return a - b
}
