package engine

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cepd/cepd/event"
	"github.com/cepd/cepd/state"
)

// checkpointer holds what the engine needs to make and restore checkpoints.
type checkpointer struct {
	store      state.Store
	beforeSave func(ctx context.Context) error
	mu         sync.Mutex // one checkpoint at a time
	// per partition: claimed epoch, keys whose last save failed (carried into the next
	// checkpoint, newest state wins), and the offset of the last saved checkpoint.
	epoch map[int]uint64
	carry map[int]*carried
	saved map[int]int64

	// needFull: partitions whose next checkpoint must hold every key (the store lost
	// their data and no full checkpoint has been written since).
	needFull map[int]bool
	loss     atomic.Pointer[storeLoss] // the last time the store lost a partition's data

	failures  atomic.Uint64
	lost      atomic.Uint64 // times the store was found to have lost a partition's data
	lastErr   atomic.Pointer[string]
	corrupt   atomic.Uint64 // key states that could not be restored
	restored  atomic.Uint64
	stale     atomic.Uint64 // rule states dropped because the rule changed
	saves     atomic.Uint64
	lastSave  atomic.Int64 // unix nanos
	lastBytes atomic.Int64
	busySince atomic.Int64 // unix nanos the running partition checkpoint started at; 0: none
	saveNanos atomic.Int64 // summed duration of the successful checkpoints
	lastNanos atomic.Int64 // duration of the last successful one
}

// CheckpointStall is how long a checkpoint may run before health reports it as stalled
// (a store or an alert sink that stopped answering shows within a second or two, not
// after the store client's timeouts and retries).
const CheckpointStall = time.Second

type carried struct {
	upserts map[string][]byte
	deletes map[string]bool
}

// EnableCheckpoints makes the engine track changed keys and checkpoint them to store.
// beforeSave, when not nil, is called after a checkpoint's cut is taken and before it is
// saved: every alert made from the events the checkpoint covers has been handed to the
// sink by then, and beforeSave must return only once the sink has delivered them (a
// producer's Flush), so that a crash never loses an alert a checkpoint already covers.
// Call it before Start.
func (e *Engine) EnableCheckpoints(store state.Store, beforeSave func(ctx context.Context) error) {
	e.ckpt = &checkpointer{store: store, beforeSave: beforeSave, epoch: map[int]uint64{}, carry: map[int]*carried{}, saved: map[int]int64{},
		needFull: map[int]bool{}}
	for _, s := range e.shards {
		s.dirty = map[int32]map[string]struct{}{}
	}
	if e.ks != nil {
		e.ks.feed.Lock()
		e.ks.store, e.ks.beforeSave = store, beforeSave
		for _, c := range e.ks.children() {
			c.eng.EnableCheckpoints(spaceStore{Store: store, field: c.field}, beforeSave)
		}
		e.ks.feed.Unlock()
	}
}

// ruleSetFingerprint identifies the rule set's compiled behaviour.
func (e *Engine) ruleSetFingerprint() string {
	fp := ""
	for _, c := range e.cur.Load().Rules {
		fp += c.Rule.ID + "=" + c.Fingerprint() + ";"
	}
	return fp
}

// storeLoss records the store losing a partition's data (state.ErrLost).
type storeLoss struct {
	Partition int
	At        time.Time
	Written   time.Time // when the full checkpoint that repaired it was saved (zero: pending)
}

// CheckpointHealth reports the checkpointer's state: ok, or degraded with the last error
// while saves fail (matching goes on; offsets stop advancing). When the store lost a
// partition's data (a Redis restarted empty, removed files), it is degraded until the
// full checkpoint that repairs it is saved, and ok after, with the loss as the detail for
// as long as the process runs.
func (e *Engine) CheckpointHealth() (string, error) {
	st, err := e.checkpointHealth()
	for _, c := range e.ks.children() {
		if st != "ok" {
			break
		}
		cs, cerr := c.eng.checkpointHealth()
		if cs != "ok" || (err == nil && cerr != nil) {
			st, err = cs, fmt.Errorf("key space %s: %w", c.field, cerr)
		}
	}
	return st, err
}

func (e *Engine) checkpointHealth() (string, error) {
	if e.ckpt == nil {
		return "ok", nil
	}
	if p := e.ckpt.lastErr.Load(); p != nil && *p != "" {
		return "degraded", errors.New("checkpoints failing: " + *p)
	}
	if t := e.ckpt.busySince.Load(); t != 0 {
		if d := time.Since(time.Unix(0, t)); d > CheckpointStall {
			return "degraded", fmt.Errorf("checkpoint stalled: running for %s (the state store or an alert sink is not answering)", d.Round(time.Millisecond))
		}
	}
	if l := e.ckpt.loss.Load(); l != nil {
		at := l.At.UTC().Format(time.RFC3339)
		if l.Written.IsZero() {
			return "degraded", fmt.Errorf("checkpoint store lost the data of partition %d at %s; full checkpoint pending", l.Partition, at)
		}
		return "ok", fmt.Errorf("checkpoint store lost the data of partition %d at %s; full checkpoint written at %s",
			l.Partition, at, l.Written.UTC().Format(time.RFC3339))
	}
	return "ok", nil
}

// CheckpointedOffset returns the offset of partition part's last saved checkpoint (-1
// when none): a source may commit up to it.
// With Config.KeySpaces, it is the lowest over the key spaces.
func (e *Engine) CheckpointedOffset(part int) int64 {
	off := e.checkpointedOffset(part)
	for _, c := range e.fedSpaces() {
		off = minOffset(off, c.eng.checkpointedOffset(part))
	}
	return off
}

func (e *Engine) checkpointedOffset(part int) int64 {
	if e.ckpt == nil {
		return -1
	}
	e.ckpt.mu.Lock()
	defer e.ckpt.mu.Unlock()
	if o, ok := e.ckpt.saved[part]; ok {
		return o
	}
	return -1
}

// Checkpoint saves the changed keys of every partition, each partition at a consistent
// cut: its ingest is held only while the cut is placed in the shards' queues, so matching
// goes on while the state is encoded and written. With Config.KeySpaces, every key space
// is checkpointed, one after the other, each at a cut of its own (a restore replays from
// the lowest, each key space dropping what its checkpoint covers).
func (e *Engine) Checkpoint(ctx context.Context) error {
	if err := e.checkpointOwn(ctx); err != nil {
		return err
	}
	for _, c := range e.fedSpaces() {
		if err := c.eng.checkpointOwn(ctx); err != nil {
			return fmt.Errorf("key space %s: %w", c.field, err)
		}
	}
	return nil
}

func (e *Engine) checkpointOwn(ctx context.Context) error {
	if e.ckpt == nil {
		return nil
	}
	e.mu.Lock()
	parts := make([]*partition, 0, len(e.parts))
	for _, p := range e.parts {
		parts = append(parts, p)
	}
	e.mu.Unlock()
	ck := e.ckpt
	for _, p := range parts {
		if err := e.checkpointRepairing(ctx, p); err != nil {
			// Report at once (health turns degraded while the store is down) and end the
			// round: the other partitions' changed keys stay marked for the next one.
			err = fmt.Errorf("partition %d: %w", p.id, err)
			ck.failures.Add(1)
			msg := err.Error()
			ck.lastErr.Store(&msg)
			return err
		}
	}
	empty := ""
	ck.lastErr.Store(&empty)
	return nil
}

// checkpointRepairing checkpoints partition p: the keys changed since its last
// checkpoint, or every key when the store has lost the partition's data (state.ErrLost,
// found by the delta itself), which it logs and reports in CheckpointHealth.
func (e *Engine) checkpointRepairing(ctx context.Context, p *partition) error {
	ck := e.ckpt
	ck.mu.Lock()
	full := ck.needFull[p.id]
	ck.mu.Unlock()
	err := e.checkpointPartition(ctx, p, full)
	if !full && errors.Is(err, state.ErrLost) {
		ck.lost.Add(1)
		ck.loss.Store(&storeLoss{Partition: p.id, At: time.Now()})
		ck.mu.Lock()
		ck.needFull[p.id] = true
		ck.mu.Unlock()
		slog.Error("the checkpoint store lost this partition's data (restarted empty, or its files were removed); writing a full checkpoint",
			"partition", p.id, "err", err)
		full = true
		err = e.checkpointPartition(ctx, p, true)
	}
	if errors.Is(err, errRemoved) {
		// RemovePartition took it after the round listed it (or while the store answered
		// the delta that found the loss): nothing to save.
		return nil
	}
	if full && err == nil {
		ck.mu.Lock()
		delete(ck.needFull, p.id)
		ck.mu.Unlock()
		if l := ck.loss.Load(); l != nil && l.Partition == p.id && l.Written.IsZero() {
			done := *l
			done.Written = time.Now()
			ck.loss.Store(&done)
		}
		slog.Warn("full checkpoint written after the store lost the partition's data", "partition", p.id)
	}
	return err
}

// errRemoved: the partition was removed (RemovePartition, or a failed restore) after
// the checkpoint round listed it.
var errRemoved = errors.New("partition removed")

// checkpointPartition saves partition p's keys changed since its last checkpoint (with
// the keys of failed saves before it), or every key of the partition when full.
func (e *Engine) checkpointPartition(ctx context.Context, p *partition, full bool) error {
	ck := e.ckpt
	ck.mu.Lock()
	defer ck.mu.Unlock()
	ck.busySince.Store(time.Now().UnixNano())
	defer ck.busySince.Store(0)
	began := time.Now()
	outs := make([]shardPart, len(e.shards))
	dones := make([]chan struct{}, len(e.shards))
	p.mu.Lock()
	if p.removed {
		// Its keys are gone from the shards, or go before this snapshot would run:
		// saving it would write an empty or stale state over its last checkpoint.
		p.mu.Unlock()
		return errRemoved
	}
	offset, wm, held := p.lastOffset, p.wm.Load(), bytes.Clone(p.held)
	for i, s := range e.shards {
		i := i
		dones[i] = make(chan struct{})
		fn := func(s *shard) { outs[i].up, outs[i].del = s.snapshotPartition(int32(p.id), full) }
		if err := s.send(ctx, msg{kind: msgInspect, fn: fn, done: dones[i]}); err != nil {
			p.mu.Unlock()
			return err
		}
	}
	p.mu.Unlock()
	for _, d := range dones {
		select {
		case <-d:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	c := e.carryChanges(p.id, outs, full)
	_, claimed := ck.epoch[p.id]
	cp := &state.Checkpoint{Partition: p.id, Epoch: ck.epoch[p.id], Offset: offset, Watermark: wm, RuleSet: e.ruleSetFingerprint(),
		Full: full, Continues: claimed && !full}
	size := 0
	for k, d := range c.upserts {
		cp.Upserts = append(cp.Upserts, state.KeyBlob{Key: k, Data: d})
		size += len(d)
	}
	for k := range c.deletes {
		cp.Deletes = append(cp.Deletes, k)
	}
	appendSchema(cp, e.schema())
	appendHeld(cp, held)
	if ck.beforeSave != nil {
		if err := ck.beforeSave(ctx); err != nil {
			return fmt.Errorf("delivering alerts before the checkpoint: %w", err) // carried over
		}
	}
	if err := ck.store.Save(ctx, cp); err != nil {
		return err // carried into the next checkpoint
	}
	clear(c.upserts)
	clear(c.deletes)
	ck.saved[p.id] = offset
	ck.counted(size, time.Since(began))
	return nil
}

// counted counts a saved checkpoint of size bytes that took took.
func (ck *checkpointer) counted(size int, took time.Duration) {
	ck.saves.Add(1)
	ck.lastSave.Store(time.Now().UnixNano())
	ck.lastBytes.Store(int64(size))
	ck.saveNanos.Add(int64(took))
	ck.lastNanos.Store(int64(took))
}

// shardPart is one shard's share of a partition checkpoint: the keys it changed (all of
// them for a full checkpoint) and the keys it dropped.
type shardPart struct {
	up  []*state.KeyState
	del []string
}

// carryChanges merges the shards' changes into what partition id carries since its last
// successful save: everything, replacing what was carried, when full.
func (e *Engine) carryChanges(id int, outs []shardPart, full bool) *carried {
	ck := e.ckpt
	c := ck.carry[id]
	if c == nil {
		c = &carried{upserts: map[string][]byte{}, deletes: map[string]bool{}}
		ck.carry[id] = c
	}
	if full { // every key is in outs: nothing carried matters
		clear(c.upserts)
		clear(c.deletes)
	}
	for _, o := range outs {
		for _, ks := range o.up {
			c.upserts[ks.Key] = state.AppendKeyState(nil, ks, e.schema())
			delete(c.deletes, ks.Key)
		}
		for _, k := range o.del {
			delete(c.upserts, k)
			c.deletes[k] = true
		}
	}
	return c
}

// RunCheckpoints checkpoints every interval until ctx ends, retrying failures with
// backoff (matching never waits for the store), then makes a final checkpoint.
func (e *Engine) RunCheckpoints(ctx context.Context, interval time.Duration, log *slog.Logger) {
	if e.ckpt == nil || interval <= 0 {
		return
	}
	backoff := interval
	t := time.NewTimer(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := e.Checkpoint(ctx); err != nil && ctx.Err() == nil {
			log.Warn("checkpoint failed; matching goes on, offsets wait", "err", err, "retry_in", backoff)
			t.Reset(backoff)
			backoff = min(2*backoff, 30*time.Second)
			continue
		}
		backoff = interval
		t.Reset(interval)
	}
}

// snapshotPartition exports the partition's keys changed since its last snapshot (on the
// shard goroutine) and lists the keys that became empty; with full, it exports every key
// of the partition. The exports are copies that share only events, which nothing
// changes once kept: the checkpointer encodes them off the shard goroutine, so matching
// waits for the export alone (about 60% of the work).
func (s *shard) snapshotPartition(part int32, full bool) (up []*state.KeyState, del []string) {
	d := s.dirty[part]
	if full {
		if d == nil {
			d = map[string]struct{}{}
			s.dirty[part] = d
		}
		for _, ks := range s.list {
			if ks.part.id == part {
				d[ks.key] = struct{}{}
			}
		}
	}
	for k := range d {
		ks := s.keys[k]
		if ks != nil {
			s.current(ks)
		}
		if ks == nil || ks.part.id != part || (ks.live == 0 && ks.base == nil && len(ks.cool) == 0 && ks.vel == nil) {
			if ks != nil && ks.part.id == part { // emptied by a reload: release it
				s.release(ks)
			}
			del = append(del, k)
			continue
		}
		up = append(up, s.exportKey(ks))
	}
	clear(d)
	return up, del
}

func (s *shard) touch(ks *keyState) {
	if s.dirty == nil {
		return
	}
	d := s.dirty[ks.part.id]
	if d == nil {
		d = map[string]struct{}{}
		s.dirty[ks.part.id] = d
	}
	d[ks.key] = struct{}{}
}

func (s *shard) exportKey(ks *keyState) *state.KeyState {
	out := &state.KeyState{Key: ks.key}
	idx := map[*event.Event]int32{}
	add := func(ev *event.Event) int32 {
		if i, ok := idx[ev]; ok {
			return i
		}
		i := int32(len(out.Events))
		idx[ev] = i
		out.Events = append(out.Events, ev)
		return i
	}
	// With a journal the key is saved as its base and the journal's events (Pending),
	// from which importKey rebuilds the live matchers and the journal alike.
	ms := ks.m.all()
	if ks.base != nil {
		ms = denseAll(ks.base.ms)
	}
	for ri, m := range ms {
		c := s.rules.Rules[ri]
		out.Rules = append(out.Rules, state.RuleState{RuleID: c.Rule.ID, Fingerprint: c.Fingerprint(), Matcher: m.Export(add)})
	}
	for _, it := range ks.pending() {
		out.Pending = append(out.Pending, add(it.ev))
	}
	if ks.newest != math.MinInt64 {
		out.Sections = append(out.Sections, orderSection(ks))
	}
	cool, vel := ks.cool, ks.vel
	if ks.base != nil {
		cool, vel = ks.base.cool, ks.base.vel
	}
	if sec, ok := cooldownSection(cool); ok {
		out.Sections = append(out.Sections, sec)
	}
	if sec, ok := s.velocitySection(vel); ok {
		out.Sections = append(out.Sections, sec)
	}
	return out
}

// sectionOrder is the key-state section (state.Section) that keeps a key's order: the
// time of its newest matched event, the time from which it can re-match, and (when
// timers have run) the time its timers advanced its matchers to, that of its base and
// that of each pending event (item.timed, in the journal's order: a count, then each).
// Without it a restart would forget which events of the key are late, and an idle
// partition's key whose timers ran past the events its journal holds (they follow the
// engine watermark) would get back the runs they ended, or end runs its events started
// after the timers had run. The values after the second are new in session 9: an older
// build reads the first two and leaves the rest; a section without them has no timer
// time, one with the key's only (e6c6de1) replays it at the journal's end.
const sectionOrder = 1

func orderSection(ks *keyState) state.Section {
	// A key without a journal has no cut nor base time (nothing can be re-matched, and a
	// restore reads them only with pending events): it writes 0 and math.MinInt64, as a
	// key that never had a journal did before they moved into the base.
	cut, baseTo := int64(0), int64(math.MinInt64)
	if ks.base != nil {
		cut, baseTo = ks.base.cut, ks.base.to
	}
	b := binary.AppendVarint(nil, ks.newest)
	b = binary.AppendVarint(b, cut)
	if ks.timedTo != math.MinInt64 {
		b = binary.AppendVarint(b, ks.timedTo)
		// where the timers had advanced the base and each journal event's matchers
		b = binary.AppendVarint(b, baseTo)
		journal := ks.pending()
		b = binary.AppendUvarint(b, uint64(len(journal)))
		for i := range journal {
			b = binary.AppendVarint(b, journal[i].timed)
		}
	}
	return state.Section{Kind: sectionOrder, Data: b}
}

// keyOrder is a key's order section, read.
type keyOrder struct {
	newest, cut, timedTo int64
	baseTo               int64   // the base's timer time (math.MinInt64: not saved)
	timed                []int64 // each pending event's timer time, in order (nil: not saved)
	ok                   bool    // the checkpoint has a readable one
}

// readOrder reads the key's order section, if the checkpoint has a readable one.
func readOrder(secs []state.Section) keyOrder {
	none := keyOrder{timedTo: math.MinInt64, baseTo: math.MinInt64}
	o := none
	for _, sec := range secs {
		if sec.Kind != sectionOrder {
			continue
		}
		newest, n := binary.Varint(sec.Data)
		cut, m := binary.Varint(sec.Data[max(n, 0):])
		if n <= 0 || m <= 0 {
			return none // unreadable: keep what the journal says
		}
		o = none
		o.newest, o.cut, o.ok = newest, cut, true
		rest := sec.Data[n+m:]
		if to, k := binary.Varint(rest); k > 0 {
			o.timedTo, rest = to, rest[k:]
		}
		o.baseTo, o.timed = readTimed(rest)
	}
	return o
}

// readTimed reads the base's timer time and the pending events' from the rest of an order
// section (a section written before them has none: math.MinInt64 and nil).
func readTimed(b []byte) (int64, []int64) {
	base, k := binary.Varint(b)
	if k <= 0 {
		return math.MinInt64, nil
	}
	b = b[k:]
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)) { // each takes a byte at least
		return math.MinInt64, nil
	}
	b = b[k:]
	timed := make([]int64, n)
	for i := range timed {
		if timed[i], k = binary.Varint(b); k <= 0 {
			return math.MinInt64, nil
		}
		b = b[k:]
	}
	return base, timed
}

// Restore loads partition part's checkpointed state into the shards and positions the
// partition after the checkpoint: the source resumes reading at Offset+1. Call it before
// ingesting the partition. A key whose state cannot be decoded is reported and starts
// fresh; the rest restores. Rules changed since the checkpoint start fresh.
//
// With Config.KeySpaces, every key space restores its state of the partition; the meta
// has the lowest offset of them (restoreSpaces), and each key space drops the records at
// or below its own checkpoint's offset when they come again.
func (e *Engine) Restore(ctx context.Context, part int, log *slog.Logger) (state.Meta, error) {
	meta, err := e.restoreOwn(ctx, part, log)
	if err != nil || e.ks == nil || e.cfg.SpaceSources {
		return meta, err
	}
	return e.restoreSpaces(ctx, part, log, meta)
}

func (e *Engine) restoreOwn(ctx context.Context, part int, log *slog.Logger) (meta state.Meta, err error) {
	if e.ckpt == nil {
		return state.Meta{}, nil
	}
	ck := e.ckpt
	if err := ck.claim(ctx, part); err != nil {
		return state.Meta{}, err
	}
	p := e.partition(part)
	// After p.mu is let go: a checkpoint holds ck.mu while it takes p.mu.
	defer func() {
		if err == nil && meta.Found {
			ck.mu.Lock()
			ck.saved[part] = meta.Offset
			ck.mu.Unlock()
		}
	}()
	// Held throughout: a partition being restored is not idle (MarkIdle), and its idle
	// timer starts again when the restore ends.
	p.mu.Lock()
	defer p.mu.Unlock()
	defer func() { p.lastIn.Store(e.now()) }()
	defer func() {
		if err != nil {
			e.forgetUnrestored(p)
		}
	}()
	p.held = nil // only what the checkpoint holds
	byShard := make([][]*state.KeyState, len(e.shards))
	var maxSeq uint64
	schema := e.schema()
	sr := newStateReader(schema)
	meta, err = sr.load(ctx, ck.store, part, func(key string, data []byte) error {
		if key == heldKey {
			p.held = bytes.Clone(data)
			return nil
		}
		ks, err := sr.decode(data)
		if err != nil {
			ck.corrupt.Add(1)
			log.Error("key state cannot be restored; the key starts fresh", "partition", part, "key", key, "err", err)
			return nil
		}
		for _, ev := range ks.Events {
			maxSeq = max(maxSeq, ev.Seq&(1<<40-1))
			ev.Schema = schema
		}
		s := e.shardOf(key)
		byShard[s] = append(byShard[s], ks)
		return nil
	})
	if err != nil {
		return meta, fmt.Errorf("load partition %d: %w", part, err)
	}
	// A restore replaces: whatever the shards still hold of the partition (an earlier
	// ownership whose removal did not finish) goes, keys and clock alike, so no stale
	// partial match or watermark (or idleness) outlives it.
	if err := e.onShards(ctx, func(s *shard) { s.dropPartition(int32(part)) }); err != nil {
		return meta, err
	}
	p.forgetPosition()
	if !meta.Found {
		return meta, nil
	}
	p.seq = max(p.seq, maxSeq)
	return meta, e.placeRestored(ctx, p, meta, byShard)
}

// forgetPosition puts partition p (p.mu held), whose keys and clocks the shards just
// dropped, back where a new partition starts: active, nothing ingested, no watermark told
// to any shard (a restore then places it after its checkpoint).
func (p *partition) forgetPosition() {
	p.idle.Store(false)
	p.lastOffset, p.restoredTo, p.maxTime = -1, math.MinInt64, math.MinInt64
	p.wm.Store(math.MinInt64)
	for i := range p.sentWM {
		p.sentWM[i] = math.MinInt64
	}
}

// forgetUnrestored forgets partition p, whose restore failed (p.mu held): no checkpoint
// round may save what the engine holds of it over the stored checkpoint it did not
// restore (the source gives the partition back, and RemovePartition drops what the
// shards may hold of it).
func (e *Engine) forgetUnrestored(p *partition) {
	p.removed = true
	e.mu.Lock()
	if e.parts[p.id] == p {
		delete(e.parts, p.id)
	}
	e.mu.Unlock()
}

// claim claims partition part in the store (fencing its earlier owners) and forgets
// what this process had not saved of an earlier ownership of it: the state comes from
// the store now (and a checkpoint the store does not hold any more covers nothing).
func (ck *checkpointer) claim(ctx context.Context, part int) error {
	epoch, err := ck.store.Claim(ctx, part, 0)
	if err != nil {
		return fmt.Errorf("claim partition %d: %w", part, err)
	}
	ck.mu.Lock()
	defer ck.mu.Unlock()
	ck.epoch[part] = epoch
	delete(ck.carry, part)
	delete(ck.saved, part)
	return nil
}

// placeRestored positions partition p after its checkpoint (meta) and hands each shard
// its keys of the checkpoint (byShard), on a fresh clock at the checkpoint's watermark.
// p.mu is held (restoreOwn records the checkpointed offset once it is let go).
func (e *Engine) placeRestored(ctx context.Context, p *partition, meta state.Meta, byShard [][]*state.KeyState) error {
	p.lastOffset = meta.Offset
	if (e.ks != nil || e.child) && !e.cfg.SpaceSources {
		p.restoredTo = meta.Offset
	}
	p.maxTime = satAdd(meta.Watermark, e.cfg.OutOfOrderness.Milliseconds())
	p.wm.Store(meta.Watermark)
	part := int32(p.id)
	if err := e.onShards(ctx, func(s *shard) {
		s.clock(part).wm = meta.Watermark // a fresh clock (dropPartition)
		for _, ks := range byShard[s.id] {
			s.importKey(part, ks)
		}
	}); err != nil {
		return err
	}
	for i := range p.sentWM {
		p.sentWM[i] = meta.Watermark
	}
	return nil
}

func (s *shard) importKey(part int32, st *state.KeyState) {
	ks := s.key(st.Key, part)
	ck := s.e.ckpt
	for _, rs := range st.Rules {
		ri := -1
		for i, c := range s.rules.Rules {
			if c.Rule.ID == rs.RuleID && c.Fingerprint() == rs.Fingerprint {
				ri = i
			}
		}
		if ri < 0 || rs.Matcher == nil {
			ck.stale.Add(1)
			continue
		}
		m, err := s.rules.Rules[ri].Program.Import(rs.Matcher, st.Events)
		if err != nil {
			ck.corrupt.Add(1)
			slog.Error("rule state cannot be restored; it starts fresh", "key", st.Key, "rule", rs.RuleID, "err", err)
			continue
		}
		if !ks.m.has(ri) {
			ks.live++
		}
		ks.m.set(ri, m)
		ks.dlOK = false
		ck.restored.Add(1)
	}
	// Pending events are the key's journal: the matchers restored are its base, and the
	// live matchers are the base with the journal matched again (its alerts were
	// delivered before the checkpoint).
	ks.vel = s.restoreVelocity(ks.key, st.Sections)
	order := readOrder(st.Sections)
	if len(order.timed) != len(st.Pending) {
		order.baseTo, order.timed = math.MinInt64, nil // the timers' time is replayed at the end
	}
	var journal []item
	for pi, i := range st.Pending {
		if int(i) < len(st.Events) {
			ev := st.Events[i]
			timed := int64(math.MinInt64)
			if order.timed != nil {
				timed = order.timed[pi]
			}
			journal = insertItem(journal, item{ev: ev, part: part, ingest: unstamped, offset: ev.Offset, stable: true, timed: timed})
		}
	}
	ks.cool = restoreCooldown(st.Sections)
	// The replay below advances the matchers where the timers had (replayFrom).
	ks.timedTo = order.timedTo
	if len(journal) > 0 {
		// The base gets slots of its own (one a rule, not the key's sparse ones): a base's
		// are kept for other keys' bases when its journal ends (endJournal), and must
		// refer to nothing of this key, whose partition clock reaches every key of the
		// partition, once it is gone.
		b := s.newBase(len(ks.rs.Rules))
		ks.base = b
		ks.m.copyTo(b.ms)
		b.anySet()
		b.journal, b.cool, b.vel, b.to = journal, ks.cool, ks.vel, order.baseTo
		ms, cool, vel := s.replay(ks, journal, nil)
		ks.live = int32(ks.m.assign(ms))
		ks.cool, ks.vel = cool, vel
		ks.newest = journal[len(journal)-1].ev.Time
		// The base's events are older than the journal's and than the partition's
		// watermark (journals are folded up to it).
		b.cut = min(journal[0].ev.Time, ks.part.wm)
		b.at = journal[0].ev.Time
		ks.part.jour.push(b.at, ks)
		if order.ok {
			b.cut = order.cut
		}
	}
	if order.ok {
		ks.newest = max(ks.newest, order.newest)
	}
	s.settle(ks)
}

// CheckpointStats are the checkpointer's counters.
type CheckpointStats struct {
	Saves, Failures, Restored, Corrupt, Stale uint64
	// Lost counts the times the store was found to have lost a partition's data (each
	// followed by a full checkpoint).
	Lost      uint64
	LastSave  time.Time
	LastBytes int64
	// SaveTime sums the durations of the successful saves (Saves of them), from the cut to
	// the store's answer; LastSaveTime is the last one's.
	SaveTime, LastSaveTime time.Duration
}

// CheckpointStats returns the checkpointer's counters (summed over the key spaces with
// Config.KeySpaces; LastBytes of the latest save).
func (e *Engine) CheckpointStats() CheckpointStats {
	st := e.checkpointStats()
	for _, c := range e.ks.children() {
		o := c.eng.checkpointStats()
		st.Saves, st.Failures, st.Restored, st.Corrupt, st.Stale, st.Lost = st.Saves+o.Saves, st.Failures+o.Failures,
			st.Restored+o.Restored, st.Corrupt+o.Corrupt, st.Stale+o.Stale, st.Lost+o.Lost
		st.SaveTime += o.SaveTime
		if o.LastSave.After(st.LastSave) {
			st.LastSave, st.LastBytes, st.LastSaveTime = o.LastSave, o.LastBytes, o.LastSaveTime
		}
	}
	return st
}

func (e *Engine) checkpointStats() CheckpointStats {
	if e.ckpt == nil {
		return CheckpointStats{}
	}
	ck := e.ckpt
	return CheckpointStats{Saves: ck.saves.Load(), Failures: ck.failures.Load(), Restored: ck.restored.Load(),
		Corrupt: ck.corrupt.Load(), Stale: ck.stale.Load(), Lost: ck.lost.Load(), LastSave: time.Unix(0, ck.lastSave.Load()), LastBytes: ck.lastBytes.Load(),
		SaveTime: time.Duration(ck.saveNanos.Load()), LastSaveTime: time.Duration(ck.lastNanos.Load())}
}

func satAdd(a, b int64) int64 {
	if b > 0 && a > (1<<63-1)-b {
		return 1<<63 - 1
	}
	return a + b
}
