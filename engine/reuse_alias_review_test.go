package engine

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"unsafe"

	"github.com/cepd/cepd/nfa"
)

// TestReuseNoAliasing runs the scenarios and, after every step, checks on each shard
// that the memory a journal's end keeps for reuse is referred to from nowhere else, and
// that no matcher writes in place an array another matcher holds:
//   - a run array (partial or completed) held by two matchers is held by a key's live
//     matcher and its base's snapshot, both frozen (the first to change copies it);
//   - no matcher is in two places (two keys, a key's live matchers and its base, a
//     kept list and a key);
//   - a kept base array is all nil and no key's base or slots; a kept matcher is zero.
func TestReuseNoAliasing(t *testing.T) {
	scs := reuseScenariosIdle()
	for i, sc := range scs {
		var failed string
		shared, kept, idle := 0, 0, 0 // steps with run arrays shared by a key and its base, with kept matchers, with an idle partition
		reuseRun(t, sc, func(eng *Engine) {
			if failed != "" {
				return
			}
			if err := eng.onShards(context.Background(), func(s *shard) {
				msg, sh := reuseAliasing(s)
				if msg != "" && failed == "" {
					failed = msg
				}
				if sh {
					shared++
				}
				if len(s.spareSnaps) > 0 && len(s.spareBases) > 0 {
					kept++
				}
				if slices.ContainsFunc(s.plist, func(pc *partClock) bool { return pc.idle }) {
					idle++
				}
			}); err != nil {
				t.Fatal(err)
			}
		})
		if failed != "" {
			t.Fatalf("scenario %d: %s", i, failed)
		}
		if shared == 0 || kept == 0 || (sc.idle > 0) != (idle > 0) {
			t.Fatalf("scenario %d: %d steps with shared run arrays, %d with kept bases, %d with an idle partition: the test does not test what it should", i, shared, kept, idle)
		}
	}
}

// reuseAliasing returns what breaks TestReuseNoAliasing's rules on shard s ("" if none),
// and whether a key and its base share a run array.
func reuseAliasing(s *shard) (string, bool) {
	ix := reuseIndex{where: map[*nfa.Matcher]reusePlace{}, arrays: map[uintptr][]reuseHolder{}, slots: map[uintptr]string{}}
	for _, ks := range s.keys {
		for _, b := range []bool{false, true} {
			if msg := ix.addKeyMatchers(ks, b); msg != "" {
				return msg, false
			}
		}
	}
	shared, msg := ix.sharedRunArrays()
	if msg != "" {
		return msg, false
	}
	if msg := ix.addKept(s); msg != "" {
		return msg, false
	}
	return "", shared
}

// reusePlace is where reuseAliasing found a matcher: a key's live matchers or its base,
// at a rule's index, or a shard's kept lists (key "(spareSnaps)", "(spare)").
type reusePlace struct {
	key  string
	base bool
	ri   int
}

// reuseHolder is a matcher holding a run array, where it is, and whether it is frozen.
type reuseHolder struct {
	m      *nfa.Matcher
	p      reusePlace
	frozen bool
}

// reuseIndex is what reuseAliasing has seen of a shard so far: each matcher's place, the
// matchers holding each run array, and who holds each slot array, by address.
type reuseIndex struct {
	where  map[*nfa.Matcher]reusePlace
	arrays map[uintptr][]reuseHolder
	slots  map[uintptr]string
}

// addKeyMatchers records ks's live slot array and matchers (its base's if base), and
// returns what is already elsewhere ("" if nothing).
func (ix *reuseIndex) addKeyMatchers(ks *keyState, base bool) string {
	ms := ks.m.arr()
	if base {
		ms = ks.baseMatchers()
	}
	if cap(ms) > 0 {
		p := uintptr(unsafe.Pointer(unsafe.SliceData(ms)))
		if o, ok := ix.slots[p]; ok {
			return fmt.Sprintf("key %s (base %v) has the slot array of %s", ks.key, base, o)
		}
		ix.slots[p] = fmt.Sprintf("key %s (base %v)", ks.key, base)
	}
	all := ks.m.all()
	if base {
		all = denseAll(ks.baseMatchers())
	}
	for ri, m := range all {
		pl := reusePlace{ks.key, base, ri}
		if o, ok := ix.where[m]; ok {
			return fmt.Sprintf("matcher at %+v is also at %+v", pl, o)
		}
		ix.where[m] = pl
		v := reflect.ValueOf(m).Elem()
		for _, f := range []string{"partial", "completed"} {
			a := v.FieldByName(f)
			if a.Kind() == reflect.Pointer { // completed is out of line (nfa's Matcher.held)
				if a.IsNil() {
					continue
				}
				a = a.Elem()
			}
			if a.Cap() == 0 {
				continue
			}
			ix.arrays[a.Pointer()] = append(ix.arrays[a.Pointer()], reuseHolder{m, pl, v.FieldByName("frozen").Bool()})
		}
	}
	return ""
}

// sharedRunArrays reports whether two matchers hold one run array, and what breaks the
// rule that only a key's live matcher and its base's, both frozen, may ("" if nothing).
func (ix *reuseIndex) sharedRunArrays() (bool, string) {
	shared := false
	for _, hs := range ix.arrays {
		if len(hs) == 1 {
			continue
		}
		shared = true
		if len(hs) > 2 || hs[0].p.key != hs[1].p.key || hs[0].p.base == hs[1].p.base || !hs[0].frozen || !hs[1].frozen {
			return shared, fmt.Sprintf("a run array is held by %+v and %+v (frozen %v, %v)", hs[0].p, hs[1].p, hs[0].frozen, hs[1].frozen)
		}
	}
	return shared, ""
}

// addKept records the matchers and base arrays shard s keeps for reuse, and returns what
// is also elsewhere or not emptied ("" if nothing).
func (ix *reuseIndex) addKept(s *shard) string {
	for _, m := range s.spareSnaps {
		if o, ok := ix.where[m]; ok {
			return fmt.Sprintf("a kept snapshot matcher is at %+v", o)
		}
		if !reflect.ValueOf(m).Elem().IsZero() {
			return "a kept snapshot matcher is not zero"
		}
		ix.where[m] = reusePlace{key: "(spareSnaps)"}
	}
	for ri, l := range s.spare {
		for _, m := range l {
			if o, ok := ix.where[m]; ok {
				return fmt.Sprintf("an idle matcher kept for rule %d is at %+v", ri, o)
			}
			ix.where[m] = reusePlace{key: "(spare)", ri: ri}
		}
	}
	for _, sb := range s.spareBases {
		if sb.cool != nil || sb.vel != nil {
			return "a kept base holds a key's cooldowns or velocity state"
		}
		b := sb.ms
		if o, ok := ix.slots[uintptr(unsafe.Pointer(unsafe.SliceData(b)))]; ok {
			return "a kept base array is the slot array of " + o
		}
		ix.slots[uintptr(unsafe.Pointer(unsafe.SliceData(b)))] = "(spareBases)"
		for _, m := range b {
			if m != nil {
				return "a kept base array is not cleared"
			}
		}
	}
	return ""
}
