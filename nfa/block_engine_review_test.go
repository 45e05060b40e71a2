package nfa

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/cepd/cepd/event"
)

// Review of s20-nfaobj (session 20): TestBlockMatchesPlain runs one matcher. The engine's
// risk is across keys: an emptied matcher is recycled for another key (dropMatcher keeps
// the Reusable ones) while the first key's base (a snapshot), a replay's clone or a
// restored matcher may still reach its block's node or run array. blockWorld plays the
// engine's moves on a few keys at once, sharing one Scratch and one pool of recycled
// matchers, twice: with matchers made by NewMatcher (blocks, recycled) and with plain
// ones (a Clone never has a block, none recycled). Every result, every live matcher, base
// and account must be the same in both.

// blockKey is one key's state as the engine holds it: its live matcher, its base while
// it has a journal, and the journal's events.
type blockKey struct {
	live, base *Matcher
	journal    []*event.Event
	// open: the key has a journal; base nil then when the rule had no matcher as it
	// started (the base or a replay starts one: newMatcher, a block)
	open bool
}

// baseCopy is a replay's matcher: a clone of the base, or a new one when it has none.
func (w *blockWorld) baseCopy(key *blockKey) *Matcher {
	if key.base == nil {
		return w.newMatcher()
	}
	return key.base.Clone()
}

// blockWorld is one of the two runs.
type blockWorld struct {
	prog  *Program
	plain bool
	keys  []blockKey
	spare []*Matcher // recycled live matchers (dropMatcher), blocks only
	snaps []*Matcher // Forget'd snapshots (dropSnapshot), reused for the next bases
	out   []string   // every result, in order
	taken int        // recycled matchers taken
}

func (w *blockWorld) newMatcher() *Matcher {
	if w.plain {
		return w.prog.NewMatcher().Clone()
	}
	if n := len(w.spare); n > 0 {
		m := w.spare[n-1]
		w.spare = w.spare[:n-1]
		w.taken++
		return m
	}
	return w.prog.NewMatcher()
}

// drop recycles m as shard.dropMatcher does.
func (w *blockWorld) drop(m *Matcher) {
	m.Reset()
	if !w.plain && m.Reusable() && len(w.spare) < 4 {
		w.spare = append(w.spare, m)
	}
}

func (w *blockWorld) feed(tag string, m *Matcher, ev *event.Event, sc *Scratch) {
	var res Result
	m.Advance(ev.Time, sc, &res)
	m.Process(ev, sc, &res)
	w.out = append(w.out, fmt.Sprintf("%s ev %d cut %d dropped %d", tag, ev.Seq, res.Cut, res.Dropped))
	w.out = appendResults(w.out, &res)
}

// op applies move op (drawn once for both worlds) to key k, with the event ev when
// the move is an event, and time t.
func (w *blockWorld) op(op, k int, ev *event.Event, t int64, skip int, sc *Scratch) {
	key := &w.keys[k]
	switch op {
	case 0: // an event in order (a journal keeps it while the key has a base)
		w.feed("live", key.live, ev, sc)
		if key.open {
			key.journal = append(key.journal, ev)
		}
	case 1: // the journal starts: a snapshot of the live matcher is the base
		if key.open {
			return
		}
		key.open = true
		if skip%4 == 0 { // the rule has no matcher for the key: the base starts one
			return
		}
		d := new(Matcher)
		if n := len(w.snaps); n > 0 {
			d, w.snaps = w.snaps[n-1], w.snaps[:n-1]
		}
		key.live.SnapshotTo(d)
		key.base = d
	case 2: // a fold of the journal's oldest events into the base (foldOldest)
		if !key.open || len(key.journal) == 0 {
			return
		}
		n := 1 + skip%len(key.journal)
		if key.base == nil {
			key.base = w.newMatcher()
		}
		key.base.Recount()
		for _, e := range key.journal[:n] {
			w.feed("fold", key.base, e, sc)
		}
		key.journal = key.journal[n:]
		key.live.Recount()
	case 3: // the journal ends (endJournal): the base goes, the live matcher is thawed
		if !key.open {
			return
		}
		if key.base != nil && key.base.Forget() {
			w.snaps = append(w.snaps, key.base)
		}
		key.base, key.journal, key.open = nil, nil, false
		key.live.Thaw()
	case 4: // a re-match (rematch): the journal replayed from clones of the base (one to
		// know what the first order derived, then one without an event, as if moved),
		// which becomes the live matcher; the old one is recycled
		if !key.open {
			return
		}
		before := w.baseCopy(key)
		for _, e := range key.journal {
			w.feed("before", before, e, sc)
		}
		after := w.baseCopy(key)
		for i, e := range key.journal {
			if i != skip%(len(key.journal)+1) {
				w.feed("after", after, e, sc)
			}
		}
		w.drop(key.live)
		key.live = after
	case 5: // a timer: the live matcher's windows close by t (expired: dropped and made
		// again when an event starts one; here at once)
		if key.live.Expires(t) {
			w.out = append(w.out, "expired")
			w.drop(key.live)
			key.live = w.newMatcher()
			return
		}
		var res Result
		key.live.Advance(t, sc, &res)
		w.out = appendResults(append(w.out, "advance"), &res)
	case 6: // the engine budget cuts the key
		var res Result
		key.live.CutAll("engine", sc, &res)
		w.out = append(w.out, fmt.Sprintf("cutall %d", res.Cut))
	case 7: // a checkpoint restored (importKey): the base is the imported matcher, the
		// live one a replay of the journal from a clone of it
		src := key.live
		if key.open {
			if key.base == nil {
				return
			}
			src = key.base
		}
		snap, list := exportList(src)
		m, err := w.prog.Import(snap, list)
		if err != nil {
			panic(err)
		}
		w.drop(key.live)
		if key.open {
			if key.base.Forget() {
				w.snaps = append(w.snaps, key.base)
			}
			key.base = m
			key.live = m.Clone()
			for _, e := range key.journal {
				w.feed("restore", key.live, e, sc)
			}
			return
		}
		key.live = m
	case 8: // an idle key is released; its next event makes a new matcher
		if key.open || !key.live.Idle() {
			return
		}
		w.drop(key.live)
		key.live = w.newMatcher()
	}
}

func TestReviewBlocksAcrossKeys(t *testing.T) {
	reused := 0
	eachSeededProgram(400, 500, func(seed int, prog *Program, evs []*event.Event) {
		r := rand.New(rand.NewPCG(uint64(seed), 99))
		const nkeys = 3
		worlds := [2]*blockWorld{{prog: prog}, {prog: prog, plain: true}}
		scs := [2]*Scratch{NewScratch(), NewScratch()}
		if seed%3 == 0 {
			b := Budget{Runs: 2 + r.IntN(8), Nodes: 3 + r.IntN(12), Digits: 20 + r.IntN(80)}
			scs[0].Budget, scs[1].Budget = b, b
		}
		for _, w := range worlds {
			w.keys = make([]blockKey, nkeys)
			for k := range w.keys {
				w.keys[k].live = w.newMatcher()
			}
		}
		idx := map[*event.Event]int32{}
		for i, ev := range evs {
			k := r.IntN(nkeys)
			op := 0
			if i > 0 && r.IntN(3) == 0 {
				op = 1 + r.IntN(8)
			}
			tm := ev.Time + int64(r.IntN(20))
			skip := r.IntN(1000)
			if op != 0 {
				tm = ev.Time - 1 + int64(r.IntN(3)) // a timer not past the next event
			}
			for wi, w := range worlds {
				w.op(op, k, ev, tm, skip, scs[wi])
			}
			a, b := worlds[0], worlds[1]
			if !reflect.DeepEqual(a.out, b.out) {
				t0 := len(a.out) - 5
				t0 = max(t0, 0)
				t.Fatalf("seed %d step %d op %d: results differ:\n got %v\nwant %v", seed, i, op, a.out[t0:], b.out[min(t0, len(b.out)):])
			}
			for k := range nkeys {
				ka, kb := &a.keys[k], &b.keys[k]
				if ga, gb := export(ka.live, idx), export(kb.live, idx); !reflect.DeepEqual(ga, gb) {
					t.Fatalf("seed %d step %d op %d: key %d live matchers differ:\n got %+v\nwant %+v", seed, i, op, k, ga, gb)
				}
				if ka.live.Usage() != kb.live.Usage() {
					t.Fatalf("seed %d step %d op %d: key %d usage %+v, want %+v", seed, i, op, k, ka.live.Usage(), kb.live.Usage())
				}
				if (ka.base == nil) != (kb.base == nil) {
					t.Fatalf("seed %d step %d: key %d base", seed, i, k)
				}
				if ka.base != nil {
					if ga, gb := export(ka.base, idx), export(kb.base, idx); !reflect.DeepEqual(ga, gb) {
						t.Fatalf("seed %d step %d op %d: key %d bases differ:\n got %+v\nwant %+v", seed, i, op, k, ga, gb)
					}
				}
			}
			a.out, b.out = a.out[:0], b.out[:0]
		}
		reused += worlds[0].taken
	})
	if reused == 0 {
		t.Fatal("no recycled matcher was taken: the test does not test what it should")
	}
	t.Logf("recycled matchers taken %d times", reused)
}
