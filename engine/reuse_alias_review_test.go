package engine

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"
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
	// and one whose partitions go idle between steps (timers follow the engine watermark)
	scs := append(slices.Clone(reuseScenarios), reuseScenario{seed: 6, ooo: 3 * time.Second, maxJournal: 4, late: LateProcess, restores: true, idle: time.Millisecond})
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
	type place struct {
		key  string
		base bool
		ri   int
	}
	where := map[*nfa.Matcher]place{}
	type holder struct {
		m      *nfa.Matcher
		p      place
		frozen bool
	}
	arrays := map[uintptr][]holder{}
	slots := map[uintptr]string{}
	for _, ks := range s.keys {
		for _, b := range []bool{false, true} {
			ms := ks.m
			if b {
				ms = ks.base
			}
			if cap(ms) > 0 {
				p := uintptr(unsafe.Pointer(unsafe.SliceData(ms)))
				if o, ok := slots[p]; ok {
					return fmt.Sprintf("key %s (base %v) has the slot array of %s", ks.key, b, o), false
				}
				slots[p] = fmt.Sprintf("key %s (base %v)", ks.key, b)
			}
			for ri, m := range ms {
				if m == nil {
					continue
				}
				pl := place{ks.key, b, ri}
				if o, ok := where[m]; ok {
					return fmt.Sprintf("matcher at %+v is also at %+v", pl, o), false
				}
				where[m] = pl
				v := reflect.ValueOf(m).Elem()
				for _, f := range []string{"partial", "completed"} {
					a := v.FieldByName(f)
					if a.Cap() == 0 {
						continue
					}
					arrays[a.Pointer()] = append(arrays[a.Pointer()], holder{m, pl, v.FieldByName("frozen").Bool()})
				}
			}
		}
	}
	shared := false
	for _, hs := range arrays {
		if len(hs) == 1 {
			continue
		}
		shared = true
		if len(hs) > 2 || hs[0].p.key != hs[1].p.key || hs[0].p.base == hs[1].p.base || !hs[0].frozen || !hs[1].frozen {
			return fmt.Sprintf("a run array is held by %+v and %+v (frozen %v, %v)", hs[0].p, hs[1].p, hs[0].frozen, hs[1].frozen), false
		}
	}
	for _, m := range s.spareSnaps {
		if o, ok := where[m]; ok {
			return fmt.Sprintf("a kept snapshot matcher is at %+v", o), false
		}
		if !reflect.ValueOf(m).Elem().IsZero() {
			return "a kept snapshot matcher is not zero", false
		}
		where[m] = place{key: "(spareSnaps)"}
	}
	for ri, l := range s.spare {
		for _, m := range l {
			if o, ok := where[m]; ok {
				return fmt.Sprintf("an idle matcher kept for rule %d is at %+v", ri, o), false
			}
			where[m] = place{key: "(spare)", ri: ri}
		}
	}
	for _, b := range s.spareBases {
		if o, ok := slots[uintptr(unsafe.Pointer(unsafe.SliceData(b)))]; ok {
			return "a kept base array is the slot array of " + o, false
		}
		slots[uintptr(unsafe.Pointer(unsafe.SliceData(b)))] = "(spareBases)"
		for _, m := range b {
			if m != nil {
				return "a kept base array is not cleared", false
			}
		}
	}
	return "", shared
}
