package engine

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/cepd/cepd/state"
)

// An Engine with Config.KeySpaces runs every key space of its rule set: its own (the
// schema's key) and, for each other key field its rules use, an engine it owns (a child)
// over the same schema keyed by that field. Whatever the caller does to the Engine is done
// to every key space: ingest (the records the first accepts go to each child, in the same
// order), rule swaps (a rule follows its key: into a new key space, made on the spot),
// checkpoints and restores (each child's state under partition ids of its own,
// spaceStore), flushes, idleness, statistics and inspection. A single owner feeds its
// partitions (the embedded server, replay); a Kafka claim must not: a device's events
// come from every source partition. With Config.SpaceSources each other key space has a
// source of its own instead (the claims of its repartition topic, docs/rekeying.md),
// which feeds, restores and checkpoints its partitions through KeySpace(field); ingest,
// restores and checkpoints of the Engine then reach its own key space only (fedSpaces).

// ownedSpaces are the key spaces an Engine with Config.KeySpaces runs besides its own.
type ownedSpaces struct {
	// feed is held across one call's ingest into every key space, so each sees the calls
	// in one order, and across a rule swap (which may add a key space).
	feed sync.Mutex
	// share takes a call's decoded events from the engine's key space to the others
	// (under feed).
	share share
	list  atomic.Pointer[[]*childSpace]
	all   atomic.Pointer[RuleSet] // the whole rule set (Rules)

	// for children made by a rule swap (under feed)
	ctx        context.Context // nil before Start
	store      state.Store     // nil: checkpoints off
	beforeSave func(context.Context) error
}

// childSpace is one key space other than the engine's own.
type childSpace struct {
	field   string
	eng     *Engine
	missing atomic.Uint64 // accepted events without the field
}

// children returns the owned key spaces (none for an engine without Config.KeySpaces).
func (o *ownedSpaces) children() []*childSpace {
	if o == nil {
		return nil
	}
	if p := o.list.Load(); p != nil {
		return *p
	}
	return nil
}

// initKeySpaces splits rs for an engine with Config.KeySpaces: it returns the engine's
// own share and sets up the others' engines (not started).
func (e *Engine) initKeySpaces(rs *RuleSet) (*RuleSet, error) {
	spaces, err := SplitKeySpaces(rs)
	if err != nil {
		return nil, err
	}
	e.ks = &ownedSpaces{}
	e.ks.all.Store(rs)
	var list []*childSpace
	for _, sp := range spaces[1:] {
		c, err := e.newChild(sp)
		if err != nil {
			return nil, err
		}
		list = append(list, c)
	}
	e.ks.list.Store(&list)
	return spaces[0].Rules, nil
}

// newChild builds the engine of key space sp with the parent's configuration, sink and
// dead-letter sink (events without the field are counted in c.missing instead: the
// first key space accepted them, so they are no dead letters).
func (e *Engine) newChild(sp KeySpace) (*childSpace, error) {
	cfg := e.cfg
	cfg.KeySpaces = false
	cfg.Tap = nil // the parent taps every event once
	cfg.Log = e.cfg.Log.With("key_space", sp.Field)
	c := &childSpace{field: sp.Field}
	eng, err := New(cfg, sp.Rules, e.sink, e.dlq)
	if err != nil {
		return nil, fmt.Errorf("key space %s: %w", sp.Field, err)
	}
	eng.child = true
	eng.start = e.start // one clock: the parent stamps each call for every key space (share.at)
	eng.missing = &c.missing
	c.eng = eng
	e.stats.addSub(eng.stats)
	return c, nil
}

// addChild makes a key space a rule swap brought in (under ks.feed): started, with
// checkpoints, and holding each partition the parent holds, claimed in the store with
// a full first checkpoint (whatever an earlier run left under its ids is replaced). It
// starts fresh: its rules are new to it.
func (e *Engine) addChild(ctx context.Context, sp KeySpace) (*childSpace, error) {
	c, err := e.newChild(sp)
	if err != nil {
		return nil, err
	}
	ks := e.ks
	if ks.store != nil {
		c.eng.EnableCheckpoints(spaceStore{Store: ks.store, field: sp.Field}, ks.beforeSave)
	}
	if ks.ctx != nil {
		c.eng.Start(ks.ctx)
	}
	e.mu.Lock()
	parts := make([]int, 0, len(e.parts))
	for id := range e.parts {
		parts = append(parts, id)
	}
	e.mu.Unlock()
	if e.cfg.SpaceSources { // its own source claims its partitions
		parts = nil
	}
	for _, id := range parts {
		c.eng.partition(id)
		if ck := c.eng.ckpt; ck != nil {
			epoch, err := ck.store.Claim(ctx, id, 0)
			if err != nil {
				return nil, fmt.Errorf("key space %s: claim partition %d: %w", sp.Field, id, err)
			}
			ck.mu.Lock()
			ck.epoch[id], ck.needFull[id] = epoch, true
			ck.mu.Unlock()
		}
	}
	list := append(append([]*childSpace(nil), ks.children()...), c)
	ks.list.Store(&list)
	e.log.Info("rules keyed by a new field: its key space starts", "key", sp.Field, "rules", ruleIDs(sp.Rules))
	return c, nil
}

// fedSpaces returns the key spaces this engine feeds, restores and checkpoints with its
// own partitions: every child, or none when each has its own source (SpaceSources).
func (e *Engine) fedSpaces() []*childSpace {
	if e.cfg.SpaceSources {
		return nil
	}
	return e.ks.children()
}

// KeySpace returns the engine of the key space of field, other than the schema's key
// (nil: no rule is keyed by it), for the source that feeds it (SpaceSources).
func (e *Engine) KeySpace(field string) *Engine {
	for _, c := range e.ks.children() {
		if c.field == field {
			return c.eng
		}
	}
	return nil
}

// KeyFields returns the key fields of the engine's other key spaces, in the order they
// were made (a rule swap may add one; none goes away before the restart).
func (e *Engine) KeyFields() []string {
	var out []string
	for _, c := range e.ks.children() {
		out = append(out, c.field)
	}
	return out
}

// accepted returns the records of recs not named in errs (which are in index order).
func accepted(recs []Record, errs []RecordError) []Record {
	if len(errs) == 0 {
		return recs
	}
	idx := acceptedIndex(len(recs), errs)
	out := make([]Record, len(idx))
	for j, i := range idx {
		out[j] = recs[i]
	}
	return out
}

// acceptedIndex returns the indexes, among n records, of those not named in errs (which
// are in index order): accepted's j-th record is the acceptedIndex(...)[j]-th.
func acceptedIndex(n int, errs []RecordError) []int {
	out := make([]int, 0, n-len(errs))
	bad := 0
	for i := range n {
		if bad < len(errs) && errs[bad].Index == i {
			bad++
			continue
		}
		out = append(out, i)
	}
	return out
}

// startShare readies ks.share for one call (under feed) that began at engine clock at:
// empty, for the engine's own key space to fill when there are other key spaces.
func (ks *ownedSpaces) startShare(at int64) *share {
	sh := &ks.share
	sh.evs, sh.read, sh.fill, sh.at = sh.evs[:0], false, len(ks.children()) > 0, at
	return sh
}

// toOthers turns the call's share over to the other key spaces: they read evs.
func (sh *share) toOthers() { sh.read, sh.fill = true, false }

// done lets go of the call's events (their values), which the shards hold if they keep
// them.
func (sh *share) done() { clear(sh.evs) }

// ingestSpaces ingests recs into the engine's own key space, then the accepted ones into
// each other key space, all under ks.feed.
func (e *Engine) ingestSpaces(ctx context.Context, part int, recs []Record) ([]RecordError, error) {
	e.ks.feed.Lock()
	defer e.ks.feed.Unlock()
	sh := e.ks.startShare(e.now())
	defer sh.done()
	errs, err := e.ingestOwn(ctx, part, recs, sh)
	if err != nil {
		return errs, err
	}
	acc := accepted(recs, errs)
	sh.toOthers()
	for _, c := range e.ks.children() {
		if _, err := c.eng.ingestOwn(ctx, part, acc, sh); err != nil {
			return errs, fmt.Errorf("key space %s: %w", c.field, err)
		}
	}
	return errs, nil
}

// submitSpaces is Submit over every key space: the outcomes are the engine's own key
// space's, and waiting for them also waits for every other key space to have matched
// the records (so their alerts are out too). With collect, the completions are each
// event's alerts in every key space (SubmitCollect).
func (e *Engine) submitSpaces(ctx context.Context, part int, recs []Record, collect bool) (Outcomes, Completions, []RecordError, error) {
	e.ks.feed.Lock()
	defer e.ks.feed.Unlock()
	sh := e.ks.startShare(e.now())
	defer sh.done()
	own, ownComp, errs, err := e.submitOwn(ctx, part, recs, collect, sh)
	if err != nil {
		return own, ownComp, errs, err
	}
	acc := accepted(recs, errs)
	sh.toOthers()
	var others []Outcomes
	var comps []Completions
	for _, c := range e.ks.children() {
		w, comp, _, err := c.eng.submitOwn(ctx, part, acc, collect, sh)
		if err != nil {
			return own, ownComp, errs, fmt.Errorf("key space %s: %w", c.field, err)
		}
		others = append(others, w)
		comps = append(comps, comp)
	}
	wait := func(ctx context.Context) ([]Outcome, error) {
		out, err := own(ctx)
		if err != nil {
			return out, err
		}
		for _, w := range others {
			if _, err := w(ctx); err != nil {
				return out, err
			}
		}
		return out, nil
	}
	return wait, mergeCompletions(len(recs), errs, ownComp, comps), errs, nil
}

// swapSpaces swaps rs into every key space: each its share (an empty one for a key space
// no rule uses any more), a new key space for a field no rule used before.
func (e *Engine) swapSpaces(ctx context.Context, rs *RuleSet) (ReloadStats, error) {
	e.ks.feed.Lock()
	defer e.ks.feed.Unlock()
	spaces, err := SplitKeySpaces(rs)
	if err != nil {
		return ReloadStats{}, err
	}
	// Once begun, the swap goes on in every key space, as it does in every shard (swapOwn):
	// a key space whose shards did not confirm before the caller's deadline (a context
	// error: the swap is queued in them) is reported at the end.
	st, first := e.swapOwn(ctx, spaces[0].Rules)
	if first != nil && !unconfirmed(first) {
		return st, first
	}
	byField := map[string]*RuleSet{}
	for _, sp := range spaces[1:] {
		byField[sp.Field] = sp.Rules
	}
	add := func(s ReloadStats) {
		st.Kept, st.Fresh, st.Removed, st.Pause = st.Kept+s.Kept, st.Fresh+s.Fresh, st.Removed+s.Removed, max(st.Pause, s.Pause)
	}
	for _, c := range e.ks.children() {
		sub := byField[c.field]
		delete(byField, c.field)
		if sub == nil {
			schema, err := rs.Schema.KeyedBy(c.field)
			if err != nil {
				return st, fmt.Errorf("key space %s: %w", c.field, err)
			}
			sub = &RuleSet{Schema: schema, Slots: rs.Slots}
		}
		s, err := c.eng.swapOwn(ctx, sub)
		if err != nil {
			err = fmt.Errorf("key space %s: %w", c.field, err)
			if !unconfirmed(err) {
				return st, err
			}
			first = cmp.Or(first, err)
		}
		add(s)
	}
	for _, sp := range spaces[1:] {
		if byField[sp.Field] == nil {
			continue
		}
		if _, err := e.addChild(context.WithoutCancel(ctx), sp); err != nil {
			return st, err
		}
		st.Fresh += len(sp.Rules.Rules)
	}
	e.ks.all.Store(rs)
	return st, first
}

// unconfirmed reports whether err, from swapOwn, says only that the shards did not
// confirm a swap they have queued before the caller's deadline.
func unconfirmed(err error) bool {
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
}

// restoreSpaces restores partition part in every key space. The meta returned is the
// engine's own, with the lowest offset any key space restored (0 when one has no
// checkpoint): a source replaying from there gives each key space what it lacks, and
// each drops the records its own checkpoint covers (partition.restoredTo).
func (e *Engine) restoreSpaces(ctx context.Context, part int, log *slog.Logger, meta state.Meta) (state.Meta, error) {
	for _, c := range e.ks.children() {
		m, err := c.eng.Restore(ctx, part, log.With("key_space", c.field))
		if err != nil {
			return meta, fmt.Errorf("key space %s: %w", c.field, err)
		}
		switch {
		case !m.Found:
			meta.Offset = min(meta.Offset, 0)
		case meta.Found:
			meta.Offset = min(meta.Offset, m.Offset)
		default: // only the other key spaces had checkpoints: the own one starts from 0
			meta.Offset = 0
		}
		meta.Found = meta.Found || m.Found
	}
	return meta, nil
}

// Missing returns, per key field other than the schema's, how many accepted events had
// no value for it (and so were matched in no key of that key space).
func (e *Engine) Missing() map[string]uint64 {
	out := map[string]uint64{}
	for _, c := range e.ks.children() {
		out[c.field] = c.missing.Load()
	}
	return out
}

// LogMissing logs, once per key space with any, how many events had no key there.
func (e *Engine) LogMissing(log *slog.Logger) {
	for _, c := range e.ks.children() {
		if n := c.missing.Load(); n > 0 {
			log.Info("events without the key field of a key space were not matched by its rules",
				"key", c.field, "events", n, "rules", ruleIDs(c.eng.cur.Load()))
		}
	}
}

// spaceStore is a key space's view of the parent's checkpoint store: partition p is kept
// under an id of the key field's own, so every key space's state of a partition lives in
// the same store side by side and restores on its own. The ids have bit 29 set and bit 30
// clear: they meet neither the embedded partitions' small ids nor the Kafka source's
// (kafka.PartitionID, bit 30).
type spaceStore struct {
	state.Store
	field string
}

func (s spaceStore) id(part int) int {
	h := fnv.New32a()
	h.Write([]byte(s.field))
	return 1<<29 | int(h.Sum32()&0x1fff)<<16 | part&0xffff
}

func (s spaceStore) Save(ctx context.Context, cp *state.Checkpoint) error {
	c := *cp
	c.Partition = s.id(cp.Partition)
	return s.Store.Save(ctx, &c)
}

func (s spaceStore) Load(ctx context.Context, part int, fn func(key string, data []byte) error) (state.Meta, error) {
	return s.Store.Load(ctx, s.id(part), fn)
}

func (s spaceStore) Claim(ctx context.Context, part int, epoch uint64) (uint64, error) {
	return s.Store.Claim(ctx, s.id(part), epoch)
}

// Close does nothing: the store is the parent's owner's to close.
func (s spaceStore) Close() error { return nil }

// minOffset is the lowest of checkpointed offsets, -1 (none) winning.
func minOffset(a, b int64) int64 {
	if a < 0 || b < 0 {
		return -1
	}
	return min(a, b)
}

// LastOffset returns the highest offset of partition part that any key space has
// ingested or restored from its checkpoint (-1: none). A source that numbers its records
// itself (REST ingest) and does not replay them after a restart numbers the next one
// above it: the key spaces' checkpoints cover different offsets, and a key space drops
// records at or below its own (partition.restoredTo).
func (e *Engine) LastOffset(part int) int64 {
	off := e.lastOffset(part)
	for _, c := range e.ks.children() {
		off = max(off, c.eng.lastOffset(part))
	}
	return off
}

func (e *Engine) lastOffset(part int) int64 {
	e.mu.Lock()
	p := e.parts[part]
	e.mu.Unlock()
	if p == nil {
		return -1
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lastOffset
}
