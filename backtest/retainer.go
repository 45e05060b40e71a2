package backtest

import (
	"cmp"
	"hash/maphash"
	"slices"
	"strings"
	"sync"

	"github.com/cepd/cepd/engine"
	"github.com/cepd/cepd/internal/defaults"
)

// RetainerOptions size a Retainer. Zero fields take the defaults.
type RetainerOptions struct {
	// PerKey is how many of each key's latest events are kept (default 100).
	PerKey int
	// MaxBytes bounds the memory the retained events take, as counted by Stats().Bytes
	// (default 256 MiB).
	MaxBytes int64
	// Stripes is how many independently locked parts the keys are spread over by hash
	// (default 64). Each stripe holds at most MaxBytes/Stripes and evicts its own
	// least-recently-seen keys; one stripe gives an exact global order.
	Stripes int
}

// Defaults of RetainerOptions.
const (
	DefaultPerKey   = 100
	DefaultMaxBytes = 256 << 20
	DefaultStripes  = 64
)

// Memory counted besides the events' bytes: per event its slice header and time, per key
// its map entry, ring and list links.
const (
	eventOverhead = 32
	keyOverhead   = 160
)

// Retainer keeps the latest events of the live stream for backtests: the last PerKey
// events of every key, within MaxBytes in all, evicting the keys seen least recently.
// Feed it with Add as the engine's Config.Tap. It is safe for concurrent use: Add takes
// one stripe's lock for a map look-up and a copy, and at steady state (a key's ring full,
// its buffers reused) allocates nothing.
type Retainer struct {
	seed    maphash.Seed
	perKey  int
	budget  int64 // per stripe
	stripes []stripe
}

type stripe struct {
	mu      sync.Mutex
	keys    map[string]*kept
	head    *kept // most recently seen
	tail    *kept // least recently seen: evicted first
	bytes   int64
	events  int64
	evicted int64
	_       [64]byte // keeps neighbouring stripes' locks off one cache line
}

// kept is one key's ring of events, oldest at next once the ring is full.
type kept struct {
	key        string
	evs        []retained
	next       int
	bytes      int64
	prev, succ *kept
}

type retained struct {
	t   int64
	raw []byte
}

// NewRetainer returns an empty Retainer.
func NewRetainer(o RetainerOptions) *Retainer {
	defaults.Positive(&o.PerKey, DefaultPerKey)
	defaults.Positive(&o.MaxBytes, DefaultMaxBytes)
	defaults.Positive(&o.Stripes, DefaultStripes)
	r := &Retainer{seed: maphash.MakeSeed(), perKey: o.PerKey, budget: o.MaxBytes / int64(o.Stripes),
		stripes: make([]stripe, o.Stripes)}
	for i := range r.stripes {
		r.stripes[i].keys = map[string]*kept{}
	}
	return r
}

// Add retains a copy of one event of key at event time t (ms). Its signature is
// engine.Config.Tap's; the partition is not kept (a backtest replays every key's events in
// event-time order on one partition).
func (r *Retainer) Add(_ int, key string, t int64, raw []byte) {
	s := &r.stripes[0]
	if len(r.stripes) > 1 {
		s = &r.stripes[maphash.String(r.seed, key)%uint64(len(r.stripes))]
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := s.keys[key]
	if k == nil {
		k = &kept{key: strings.Clone(key), bytes: int64(keyOverhead + len(key))}
		s.keys[k.key] = k
		s.bytes += k.bytes
	} else {
		s.unlink(k)
	}
	s.pushFront(k)
	var delta int64
	if len(k.evs) < r.perKey {
		k.evs = append(k.evs, retained{t: t, raw: slices.Clone(raw)})
		delta = int64(eventOverhead + cap(k.evs[len(k.evs)-1].raw))
		s.events++
	} else {
		e := &k.evs[k.next]
		k.next = (k.next + 1) % len(k.evs)
		old := int64(cap(e.raw))
		// Reuse the oldest event's buffer unless it is too small or much too large.
		if cap(e.raw) >= len(raw) && cap(e.raw) <= 2*len(raw)+64 {
			e.raw = append(e.raw[:0], raw...)
		} else {
			e.raw = slices.Clone(raw)
		}
		e.t = t
		delta = int64(cap(e.raw)) - old
	}
	k.bytes += delta
	s.bytes += delta
	for s.bytes > r.budget && s.tail != nil {
		s.evict(s.tail)
	}
}

func (s *stripe) pushFront(k *kept) {
	k.prev, k.succ = nil, s.head
	if s.head != nil {
		s.head.prev = k
	}
	s.head = k
	if s.tail == nil {
		s.tail = k
	}
}

func (s *stripe) unlink(k *kept) {
	if k.prev != nil {
		k.prev.succ = k.succ
	} else {
		s.head = k.succ
	}
	if k.succ != nil {
		k.succ.prev = k.prev
	} else {
		s.tail = k.prev
	}
	k.prev, k.succ = nil, nil
}

func (s *stripe) evict(k *kept) {
	s.unlink(k)
	delete(s.keys, k.key)
	s.bytes -= k.bytes
	s.events -= int64(len(k.evs))
	s.evicted++
}

// RetainerStats describes what a Retainer holds.
type RetainerStats struct {
	Keys, Events int64
	// Bytes is the memory counted against MaxBytes: the events' buffers plus a fixed
	// overhead per event and per key.
	Bytes int64
	// EvictedKeys counts keys dropped to stay within MaxBytes.
	EvictedKeys int64
}

// Stats returns the Retainer's counters.
func (r *Retainer) Stats() RetainerStats {
	var st RetainerStats
	for i := range r.stripes {
		s := &r.stripes[i]
		s.mu.Lock()
		st.Keys += int64(len(s.keys))
		st.Events += s.events
		st.Bytes += s.bytes
		st.EvictedKeys += s.evicted
		s.mu.Unlock()
	}
	return st
}

// Snapshot returns a copy of the retained events as records in event-time order (each
// key's events with equal times in arrival order), numbered from 1. It locks one stripe
// at a time while copying it, so it is not one instant of the whole stream, and holds up
// Add on that stripe only for the copy.
func (r *Retainer) Snapshot() []engine.Record {
	type item struct {
		t   int64
		key string
		seq int
		raw []byte
	}
	var items []item
	for i := range r.stripes {
		s := &r.stripes[i]
		s.mu.Lock()
		size := 0
		for _, k := range s.keys {
			for _, e := range k.evs {
				size += len(e.raw)
			}
		}
		slab := make([]byte, 0, size)
		for _, k := range s.keys {
			n := len(k.evs)
			for j := range n {
				e := k.evs[(k.next+j)%n] // oldest first
				off := len(slab)
				slab = append(slab, e.raw...)
				items = append(items, item{t: e.t, key: k.key, seq: j, raw: slab[off:len(slab):len(slab)]})
			}
		}
		s.mu.Unlock()
	}
	slices.SortFunc(items, func(a, b item) int {
		return cmp.Or(cmp.Compare(a.t, b.t), strings.Compare(a.key, b.key), cmp.Compare(a.seq, b.seq))
	})
	recs := make([]engine.Record, len(items))
	for i, it := range items {
		recs[i] = engine.Record{Value: it.raw, Offset: int64(i + 1)}
	}
	return recs
}
