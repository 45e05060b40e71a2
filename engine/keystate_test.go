package engine

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"
	"unsafe"

	"github.com/cepd/cepd/internal/layout"
	"github.com/cepd/cepd/internal/workload"
	"github.com/cepd/cepd/nfa"
	"github.com/cepd/cepd/rules"
)

// TestSlotsMatchDense: the key's matcher slots (sparse up to maxSparse rules, dense
// beyond) read, write and iterate as a plain slice with one entry a rule would, under
// random writes, removals during iteration, assignments and shrinks (as fire does), for
// rule sets of every size around the bound.
func TestSlotsMatchDense(t *testing.T) {
	pool := make([]nfa.Matcher, 8)
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 2, 17, 23, 63, 64, 65, 70, 130} {
		sl, ref := newSlots(n), make([]*nfa.Matcher, n)
		check := func(step int) {
			t.Helper()
			checkSlots(t, &sl, ref, fmt.Sprintf("n=%d step %d", n, step))
		}
		for step := range 400 {
			if n == 0 {
				check(step)
				break
			}
			switch op := r.IntN(11); {
			case op == 10: // give back room, as fire does between writes
				sl.shrink()
			case op < 6: // write or clear one rule
				ri, m := r.IntN(n), &pool[r.IntN(len(pool))]
				if r.IntN(3) == 0 {
					m = nil
				}
				sl.set(ri, m)
				ref[ri] = m
			case op < 8: // clear some rules while iterating, as timers drop idle matchers
				for ri, m := range sl.all() {
					if m != ref[ri] {
						t.Fatalf("n=%d step %d: all gives rule %d's matcher %p while clearing, want %p", n, step, ri, m, ref[ri])
					}
					if r.IntN(2) == 0 {
						sl.set(ri, nil)
						ref[ri] = nil
					}
				}
			case op < 9: // replace them all, as a re-match does
				ms := make([]*nfa.Matcher, n)
				live := 0
				for ri := range ms {
					if r.IntN(4) == 0 {
						ms[ri] = &pool[r.IntN(len(pool))]
						live++
					}
				}
				if got := sl.assign(ms); got != live {
					t.Fatalf("n=%d step %d: assign counts %d live, want %d", n, step, got, live)
				}
				copy(ref, ms)
			default:
				ms := make([]*nfa.Matcher, n)
				sl.copyTo(ms)
				for ri := range ms {
					if ms[ri] != ref[ri] {
						t.Fatalf("n=%d step %d: copyTo rule %d: %p, want %p", n, step, ri, ms[ri], ref[ri])
					}
				}
			}
			check(step)
		}
		if n <= maxSparse && sl.dense() || n > maxSparse && !sl.dense() {
			t.Fatalf("n=%d: dense %v", n, sl.dense())
		}
	}
}

// TestSlotsSparseHoldLive: a key of a rule set of up to maxSparse rules holds a slot
// only for each rule with a live matcher, whatever the number of rules, and up to
// inlineSlots of them in the slots themselves.
func TestSlotsSparseHoldLive(t *testing.T) {
	m := new(nfa.Matcher)
	for _, n := range []int{17, 64} {
		sl := newSlots(n)
		sl.set(n-1, m)
		sl.set(3, m)
		if len(sl.list()) != 2 || sl.bytes() != 0 {
			t.Fatalf("n=%d: two live rules hold %d slots (%d bytes besides the key state)", n, len(sl.list()), sl.bytes())
		}
		sl.set(3, nil)
		sl.set(n-1, nil)
		if len(sl.list()) != 0 || sl.mask != 0 {
			t.Fatalf("n=%d: no live rule leaves %d slots, mask %x", n, len(sl.list()), sl.mask)
		}
	}
}

// TestSlotsInlineSpill: a sparse set keeps its first inlineSlots live matchers in the
// slots themselves; one more moves them all to a spill array of minSpill entries, which
// doubles as rules go live (up to maxSparse), stays while rules go idle and live again
// (set never gives it back), and is given back by shrink: to the slots themselves once
// inlineSlots or fewer are live, to a smaller array once a quarter of it or less is used.
// No entry outside the live ones keeps a matcher reachable (checkSlots).
func TestSlotsInlineSpill(t *testing.T) {
	ms := make([]nfa.Matcher, maxSparse)
	ref := make([]*nfa.Matcher, maxSparse)
	sl := newSlots(maxSparse)
	put := func(ri int, live bool) {
		t.Helper()
		m := &ms[ri]
		if !live {
			m = nil
		}
		sl.set(ri, m)
		ref[ri] = m
		checkSlots(t, &sl, ref, fmt.Sprintf("rule %d live %v", ri, live))
	}
	want := func(at string, sp bool, bytes int) {
		t.Helper()
		if (sl.sp != nil) != sp || sl.bytes() != bytes {
			t.Fatalf("%s: spilled %v with %d bytes, want %v with %d", at, sl.sp != nil, sl.bytes(), sp, bytes)
		}
	}
	for ri := range inlineSlots { // out of rule order: inserts shift the inline entries
		put(maxSparse-1-3*ri, true)
	}
	want("inlineSlots live", false, 0)
	put(1, true)
	want("one more", true, 8*minSpill)
	put(1, false)
	put(2, true)
	want("idle and live again", true, 8*minSpill)
	sl.shrink()
	want("one more after shrink", true, 8*minSpill)
	toggle := func() { sl.set(3, &ms[3]); sl.set(3, nil) } // rules going live and idle in a burst
	if a := testing.AllocsPerRun(100, toggle); a != 0 {
		t.Fatalf("a rule going live and idle in a spill array with room allocates %v times", a)
	}
	put(2, false)
	sl.shrink()
	want("inlineSlots live after shrink", false, 0)
	checkSlots(t, &sl, ref, "after shrink")
	for ri := range maxSparse {
		put(ri, true)
	}
	want("every rule live", true, 8*maxSparse)
	for ri := range maxSparse - 2*minSpill {
		put(ri, false)
	}
	sl.shrink() // 16 of 64 used: a quarter
	want("a quarter used", true, 8*2*minSpill)
	checkSlots(t, &sl, ref, "after shrink to 16")
	put(maxSparse-2*minSpill-1, true) // full: doubles
	want("one more than 16", true, 8*4*minSpill)
	for ri := range maxSparse - 1 {
		put(ri, false)
	}
	sl.shrink()
	want("one live after shrink", false, 0)
	if a := testing.AllocsPerRun(100, toggle); a != 0 {
		t.Fatalf("a rule going live and idle inline allocates %v times", a)
	}
	put(maxSparse-1, false)
	sl.shrink()
	want("none live", false, 0)
	checkSlots(t, &sl, ref, "none live")
}

// TestSlotsDenseBeyondMask: a rule set of more than maxSparse rules keeps one slot a rule
// in its array, whatever is live (shrink keeps it), and reads and writes rules past the
// mask's 64 bits; assign moves between dense and sparse by the rule set's size.
func TestSlotsDenseBeyondMask(t *testing.T) {
	const n = 3*maxSparse + 7
	ms := make([]nfa.Matcher, n)
	ref := make([]*nfa.Matcher, n)
	sl := newSlots(n)
	for _, ri := range []int{0, maxSparse, maxSparse + 1, 2 * maxSparse, n - 1} {
		sl.set(ri, &ms[ri])
		ref[ri] = &ms[ri]
	}
	sl.shrink()
	checkSlots(t, &sl, ref, "dense")
	if !sl.dense() || sl.bytes() != 8*n || sl.mask != 0 || len(sl.list()) != n {
		t.Fatalf("dense slots of %d rules: dense %v, %d bytes, mask %x, list of %d", n, sl.dense(), sl.bytes(), sl.mask, len(sl.list()))
	}
	sparse := make([]*nfa.Matcher, maxSparse)
	sparse[3] = &ms[3]
	if got := sl.assign(sparse); got != 1 || sl.dense() || sl.bytes() != 0 {
		t.Fatalf("assign of a sparse rule set: %d live, dense %v, %d bytes", got, sl.dense(), sl.bytes())
	}
	checkSlots(t, &sl, sparse, "sparse after dense")
	if got := sl.assign(ref); got != 5 || !sl.dense() {
		t.Fatalf("assign of a dense rule set: %d live, dense %v", got, sl.dense())
	}
	checkSlots(t, &sl, ref, "dense after sparse")
}

// TestSlotsShrinkAfterBurst: a key whose live rules fall from a burst's 7 to one keeps
// no array, not the burst's 8, and so does one with none live.
// The matchers read back are the live ones (TestSlotsMatchDense checks them under random
// writes).
func TestSlotsShrinkAfterBurst(t *testing.T) {
	ms := make([]nfa.Matcher, 23)
	sl := newSlots(23)
	for ri := range 7 {
		sl.set(3*ri, &ms[3*ri])
	}
	if sl.bytes() != 64 {
		t.Fatalf("7 live rules hold %d bytes of slots, want 64", sl.bytes())
	}
	for ri := range 6 {
		sl.set(3*ri, nil)
	}
	sl.shrink()
	if len(sl.list()) != 1 || sl.bytes() != 0 || sl.get(18) != &ms[18] {
		t.Fatalf("one live rule after 7 holds %d slots in %d bytes (rule 18: %p)", len(sl.list()), sl.bytes(), sl.get(18))
	}
	for ri := range 7 {
		sl.set(3*ri, &ms[3*ri])
	}
	for ri := range 7 {
		sl.set(3*ri, nil)
	}
	sl.shrink()
	if sl.bytes() != 0 || sl.mask != 0 {
		t.Fatalf("no live rule after 7 keeps %d bytes of slots, mask %x", sl.bytes(), sl.mask)
	}
	sl.assign(make([]*nfa.Matcher, 23))
	sl.set(5, &ms[5])
	for ri := range 7 {
		sl.set(3*ri+1, &ms[3*ri+1])
	}
	live := make([]*nfa.Matcher, 23)
	live[5] = &ms[5]
	if n := sl.assign(live); n != 1 || sl.bytes() != 0 || sl.get(5) != &ms[5] {
		t.Fatalf("assign of one live rule after 8 keeps %d bytes of slots (rule 5: %p, %d live)", sl.bytes(), sl.get(5), n)
	}
}

// TestFiredKeysShrinkSlots: once the timers have closed a key's windows after its last
// event (its timer time past its newest event), its matcher slots hold no spill array
// unless more than inlineSlots rules are live, and then at most four times the room they
// need: the burst's room is given back (shrink, called by fire). Generated fraud
// traffic, where keys go from several live rules to one or none.
func TestFiredKeysShrinkSlots(t *testing.T) {
	fraud, err := LoadRuleSet("../testdata/fraud", "../testdata/fraud/schema.yaml", rules.EnvOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := workload.DefaultConfig()
	cfg.Events, cfg.Cards, cfg.Seed = 20000, 1500, 14
	recs := generatedRecords(t, cfg)
	eng, ctx, stop := startEngine(t, Config{Shards: 1, OutOfOrderness: 3 * time.Second}, fraud, &sinkCollector{}, &dlqCollector{})
	defer stop()
	// a login of another card two days after the stream: the timers close every window of
	// a day or less (refund-exceeds-purchase's captures stay for 7 days)
	var last struct {
		TS time.Time `json:"ts"`
	}
	if err := json.Unmarshal(recs[len(recs)-1].Value, &last); err != nil {
		t.Fatal(err)
	}
	late := fmt.Sprintf(`{"event_id":"late","card_id":"late","ts":%q,"type":"login"}`, last.TS.Add(48*time.Hour).Format(time.RFC3339Nano))
	recs = append(recs, Record{Value: []byte(late), Offset: int64(len(recs) + 1)})
	for i := 0; i < len(recs); i += 500 { // not Flush: it would close every window
		if _, err := eng.Ingest(ctx, 0, recs[i:min(i+500, len(recs))]); err != nil {
			t.Fatal(err)
		}
	}
	fired, shrunk := 0, 0
	if err := eng.onShards(ctx, func(s *shard) {
		for _, ks := range s.list {
			if ks.m.dense() || ks.timedTo <= ks.newest {
				continue
			}
			fired++
			n, c := len(ks.m.list()), ks.m.bytes()/8
			if c > 0 && (n <= inlineSlots || c > max(minSpill, 4*n)) {
				t.Errorf("key %s: %d live rules in %d spilled slots after its windows closed", ks.key, n, c)
			} else if c == 0 && n <= 1 {
				shrunk++
			}
		}
	}); err != nil {
		t.Fatal(err)
	}
	if fired < 100 || shrunk < 100 {
		t.Fatalf("%d keys fired after their last event, %d of them hold one rule or none in under 4 slots: weak test", fired, shrunk)
	}
}

// TestReleasedKeyStartsInline: a key whose every rule went live (its matchers spilled)
// and then idle is released holding no matcher (they went to the shard's spares, and the
// released state stays reachable from stale timer entries), and the key seen again gets
// a state of its own with its matchers inline, none shared with the released one.
func TestReleasedKeyStartsInline(t *testing.T) {
	fraud, err := LoadRuleSet("../testdata/fraud", "../testdata/fraud/schema.yaml", rules.EnvOptions{})
	if err != nil {
		t.Fatal(err)
	}
	eng, ctx, stop := startEngine(t, Config{Shards: 1}, fraud, &sinkCollector{}, &dlqCollector{})
	defer stop()
	if err := eng.onShards(ctx, func(s *shard) {
		n := len(s.rules.Rules)
		if n <= inlineSlots {
			t.Fatalf("%d rules: none spills", n)
		}
		live := func(ks *keyState) map[*nfa.Matcher]bool {
			got := map[*nfa.Matcher]bool{}
			for ri := range n {
				m := s.newMatcher(ri)
				ks.m.set(ri, m)
				ks.live++
				got[m] = true
			}
			return got
		}
		old := s.key("k", 0)
		first := live(old)
		if old.m.bytes() != 8*32 {
			t.Fatalf("%d live rules spill %d bytes, want %d", n, old.m.bytes(), 8*32)
		}
		for ri, m := range old.m.all() {
			s.idle(old, ri, m)
		}
		s.settle(old)
		if !old.released || s.keys["k"] != nil {
			t.Fatal("a key with nothing live is kept")
		}
		for i, m := range old.m.arr() {
			if m != nil {
				t.Fatalf("the released key holds a matcher in slot %d", i)
			}
		}
		ks := s.key("k", 0)
		if ks == old || ks.m.bytes() != 0 || ks.m.mask != 0 || ks.live != 0 {
			t.Fatalf("the key seen again has %d bytes of slots, mask %x, %d live (same state: %v)", ks.m.bytes(), ks.m.mask, ks.live, ks == old)
		}
		ks.m.set(2, s.newMatcher(2))
		ks.live++
		if m := ks.m.get(2); !first[m] || ks.m.bytes() != 0 {
			t.Fatalf("the key seen again holds %p (a spare: %v) in %d bytes of slots", m, first[m], ks.m.bytes())
		}
		for ri, m := range ks.m.all() {
			s.idle(ks, ri, m)
		}
		s.settle(ks)
	}); err != nil {
		t.Fatal(err)
	}
}

// TestKeyStateSize: the key state, its first inlineSlots live matchers with it, fills
// the 192-byte size class, three cache lines exactly (its journal, with the journal's
// base, is behind a pointer); the live matchers of a key with more are a separate array
// of 8 bytes a slot.
func TestKeyStateSize(t *testing.T) {
	if n := unsafe.Sizeof(keyState{}); n != 192 {
		t.Errorf("keyState is %d bytes, want 192 (a size class)", n)
	}
}

// TestKeyStatePointersFirst: every pointer word of the key state (its own pointer
// fields, its key's bytes, its slots' inline matchers and spill array, and any added
// later: layout.PointerEnd) is in its first 104 bytes, so the collector scans 104 of its
// 192 bytes: 13 words, 5 of them the inline matchers (the slot arrays they spare were
// scanned whole).
func TestKeyStatePointersFirst(t *testing.T) {
	if end := layout.PointerEnd(reflect.TypeFor[keyState]()); end != 104 {
		t.Fatalf("the key state's pointers end at byte %d, want 104", end)
	}
}

// TestKeptBaseHoldsNothing: a base kept for other keys' journals (keepBase) holds
// nothing of the key it was, whichever way it was dropped (a released key's base still
// has its velocity state and cooldowns), and newBase gives it back empty.
func TestKeptBaseHoldsNothing(t *testing.T) {
	s := &shard{rules: &RuleSet{Rules: make([]*rules.Compiled, 3)}}
	b := s.newBase(3)
	b.ms[1], b.cool, b.vel = new(nfa.Matcher), cooldowns{"r": 1}, new(keyVelocity)
	b.set = 1 << 1 // as journal marks the rules it takes snapshots of
	s.keepBase(b)
	if len(s.spareBases) != 1 {
		t.Fatalf("%d bases kept, want 1", len(s.spareBases))
	}
	got := s.newBase(3)
	if got != b || got.cool != nil || got.vel != nil || got.ms[1] != nil || len(got.ms) != 3 {
		t.Fatalf("the kept base is %+v, want it empty with 3 slots", got)
	}
	if other := s.newBase(4); other == b || len(other.ms) != 4 {
		t.Fatalf("a base of 4 rules has %d slots", len(other.ms))
	}
	// a base that matched events (foldOldest) or was restored may hold any rule's matcher
	got.ms[0], got.ms[2] = new(nfa.Matcher), new(nfa.Matcher)
	got.anySet()
	s.keepBase(got)
	if again := s.newBase(3); again != got || again.ms[0] != nil || again.ms[2] != nil || again.set != 0 {
		t.Fatalf("the kept base is %+v, want it empty with 3 slots", again)
	}
}

// checkSlots fails t unless sl reads (get, has, all) exactly as ref, one entry a rule.
func checkSlots(t *testing.T, sl *slots, ref []*nfa.Matcher, at string) {
	t.Helper()
	var got []int
	for ri, m := range sl.all() {
		got = append(got, ri)
		if m != ref[ri] {
			t.Fatalf("%s: all gives rule %d's matcher %p, want %p", at, ri, m, ref[ri])
		}
	}
	var want []int
	for ri, m := range ref {
		if sl.get(ri) != m || sl.has(ri) != (m != nil) {
			t.Fatalf("%s: rule %d: get %p, want %p", at, ri, sl.get(ri), m)
		}
		if m != nil {
			want = append(want, ri)
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("%s: all gives rules %v, want %v", at, got, want)
	}
	// no entry but the live ones holds a matcher (it would keep an idle one reachable)
	live := len(want)
	if sl.dense() {
		live = len(ref)
	} else if l := sl.list(); len(l) != live {
		t.Fatalf("%s: list has %d entries, want %d", at, len(l), live)
	}
	for i, m := range sl.arr()[live:] {
		if m != nil {
			t.Fatalf("%s: entry %d past the %d live holds %p", at, live+i, live, m)
		}
	}
	if sl.sp != nil && sl.in != [inlineSlots]*nfa.Matcher{} {
		t.Fatalf("%s: a spilled set keeps matchers inline: %v", at, sl.in)
	}
}
