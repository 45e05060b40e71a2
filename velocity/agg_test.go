package velocity

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

type ev struct {
	t   int64
	by  Key
	num float64
	val Key
}

// brute computes the aggregate by scanning every event of the group in (lo, t].
func brute(f Func, evs []ev, t, lo int64, by Key, grouped bool) (float64, bool) {
	var n int64
	var sum float64
	mn, mx := math.Inf(1), math.Inf(-1)
	seen := map[Key]bool{}
	for _, e := range evs {
		if e.t <= lo || e.t > t || grouped && e.by != by {
			continue
		}
		n++
		sum += e.num
		mn, mx = math.Min(mn, e.num), math.Max(mx, e.num)
		seen[e.val] = true
	}
	switch f {
	case Count:
		return float64(n), true
	case Sum:
		return sum, true
	case Avg:
		if n == 0 {
			return 0, false
		}
		return sum / float64(n), true
	case Min:
		return mn, n > 0
	case Max:
		return mx, n > 0
	case Distinct:
		return float64(len(seen)), true
	}
	return 0, false
}

func near(a, b float64) bool {
	return math.Abs(a-b) <= 1e-9*math.Max(1, math.Max(math.Abs(a), math.Abs(b)))
}

var funcs = []Func{Count, Sum, Avg, Min, Max, Distinct}

// stream makes n events with random gaps (bursts and pauses), a few groups and values.
func stream(rng *rand.Rand, n int, meanGap int64) []ev {
	return streamOf(rng, n, meanGap, func() Key { return Key{S: fmt.Sprint("m", rng.IntN(4))} },
		func() Key { return Key{N: uint64(rng.IntN(12)), Kind: 1} })
}

// streamOf makes n events with random gaps (bursts and pauses), each with a group from by,
// a number, and a value from val (drawn in that order).
func streamOf(rng *rand.Rand, n int, meanGap int64, by, val func() Key) []ev {
	var out []ev
	t := int64(1_000_000)
	for range n {
		if rng.IntN(10) == 0 {
			t += rng.Int64N(meanGap * 20)
		} else {
			t += rng.Int64N(meanGap + 1)
		}
		out = append(out, ev{t: t, by: by(), num: math.Round(rng.Float64()*1000) / 100, val: val()})
	}
	return out
}

// TestDifferentialExact checks every function, with and without by, against a rescan on
// random streams sparse enough that no window buckets: the values must be equal.
func TestDifferentialExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for iter := range 100 {
		const window = 1000
		evs := stream(rng, 200, 4*window/ExactEntries) // about ExactEntries/2 events per window
		for _, f := range funcs {
			for _, grouped := range []bool{false, true} {
				a := New(Spec{Func: f, Window: window, By: grouped})
				for i, e := range evs {
					a.Add(e.t, e.by, e.num, e.val)
					if rng.IntN(3) == 0 { // a read of another group in between
						a.Value(e.t, Key{S: "m9"})
					}
					got, gok := a.Value(e.t, e.by)
					want, wok := brute(f, evs[:i+1], e.t, e.t-window, e.by, grouped)
					if gok != wok || gok && !near(got, want) {
						t.Fatalf("iter %d %v by=%v event %d (t=%d): got %v,%v want %v,%v", iter, f, grouped, i, e.t, got, gok, want, wok)
					}
				}
			}
		}
	}
}

// TestDifferentialHot checks the documented bound when a key is hot: a value lies between
// the rescan of the window and the rescan of the window widened by Window/Resolution
// (count, sum of positive values, distinct), and min/max come from the widened window.
func TestDifferentialHot(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for iter := range 4 {
		const window = 10_000
		evs := stream(rng, 1000, 3) // hundreds of events per window
		wide := int64(window + window/Resolution)
		for _, f := range funcs {
			for _, grouped := range []bool{false, true} {
				a := New(Spec{Func: f, Window: window, By: grouped})
				for i, e := range evs {
					a.Add(e.t, e.by, e.num, e.val)
					got, _ := a.Value(e.t, e.by)
					lo, _ := brute(f, evs[:i+1], e.t, e.t-window, e.by, grouped)
					hi, _ := brute(f, evs[:i+1], e.t, e.t-wide, e.by, grouped)
					switch f {
					case Count, Sum, Distinct:
						if got < lo-1e-6 || got > hi+1e-6 {
							t.Fatalf("iter %d %v by=%v event %d: %v outside [%v, %v]", iter, f, grouped, i, got, lo, hi)
						}
					case Min:
						if got > lo+1e-9 || got < hi-1e-9 {
							t.Fatalf("iter %d min event %d: %v outside [%v, %v]", iter, i, got, hi, lo)
						}
					case Max:
						if got < lo-1e-9 || got > hi+1e-9 {
							t.Fatalf("iter %d max event %d: %v outside [%v, %v]", iter, i, got, lo, hi)
						}
					}
				}
				if n := len(a.w.live()); n > ExactEntries+Resolution+2 {
					t.Fatalf("%v: %d entries, over the bound", f, n)
				}
				if a.byHdr == nil { // (not by a field)
					continue
				}
				for g := a.glist.head; g >= 0; g = a.gs[g].next {
					if n := len(a.gs[g].w.live()); n > ExactEntries+Resolution+2 {
						t.Fatalf("%v by: %d entries in a group, over the bound", f, n)
					}
				}
			}
		}
	}
}

// TestCloneAndCodecContinue: a clone and an encode/decode round trip taken mid-stream go
// on giving exactly the values (bit for bit) of the original.
func TestCloneAndCodecContinue(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for iter := range 100 {
		evs := stream(rng, 400, 5)
		cut := rng.IntN(len(evs))
		for _, f := range funcs {
			for _, grouped := range []bool{false, true} {
				spec := Spec{Func: f, Window: 500, By: grouped}
				a := New(spec)
				for _, e := range evs[:cut] {
					a.Add(e.t, e.by, e.num, e.val)
				}
				c := a.Clone()
				d, rest, err := Decode(spec, a.AppendBinary([]byte{7}[:0]))
				if err != nil || len(rest) != 0 {
					t.Fatalf("decode: %v (%d bytes left)", err, len(rest))
				}
				for i, e := range evs[cut:] {
					a.Add(e.t, e.by, e.num, e.val)
					c.Add(e.t, e.by, e.num, e.val)
					d.Add(e.t, e.by, e.num, e.val)
					av, aok := a.Value(e.t, e.by)
					cv, cok := c.Value(e.t, e.by)
					dv, dok := d.Value(e.t, e.by)
					if av != cv || aok != cok || av != dv || aok != dok {
						t.Fatalf("iter %d %v by=%v event %d: original %v, clone %v, decoded %v", iter, f, grouped, cut+i, av, cv, dv)
					}
				}
			}
		}
	}
}

func TestDistinctAndGroupCaps(t *testing.T) {
	a := New(Spec{Func: Distinct, Window: 1 << 40})
	for i := range MaxDistinct + 50 {
		a.Add(int64(i), Key{}, 0, Key{N: uint64(i), Kind: 1})
	}
	if v, _ := a.Value(MaxDistinct+50, Key{}); v != MaxDistinct {
		t.Fatalf("distinct past the cap = %v, want %d", v, MaxDistinct)
	}
	g := New(Spec{Func: Count, Window: 1 << 40, By: true})
	for i := range MaxGroups + 10 {
		g.Add(int64(i), Key{N: uint64(i)}, 0, Key{})
	}
	if int(g.ng) != MaxGroups {
		t.Fatalf("%d groups, want %d", g.ng, MaxGroups)
	}
	if v, _ := g.Value(1000, Key{N: 0}); v != 0 {
		t.Fatalf("the oldest group should have been dropped, count %v", v)
	}
	if v, _ := g.Value(1000, Key{N: MaxGroups + 9}); v != 1 {
		t.Fatalf("newest group count %v", v)
	}
}

func TestExpireFreesEverything(t *testing.T) {
	a := New(Spec{Func: Sum, Window: 100, By: true})
	a.Add(10, Key{S: "x"}, 5, Key{})
	a.Add(50, Key{S: "y"}, 5, Key{})
	if a.Expire(149) {
		t.Fatal("empty before the newest event left the window")
	}
	if at := a.EmptyAt(); at != 150 {
		t.Fatalf("EmptyAt = %d", at)
	}
	if !a.Expire(150) || a.ng != 0 || a.groups != nil || a.EmptyAt() != math.MinInt64 {
		t.Fatal("not freed at EmptyAt")
	}
}

func FuzzDecode(f *testing.F) {
	a := New(Spec{Func: Distinct, Window: 100, By: true})
	a.Add(1, Key{S: "a"}, 1, Key{S: "x"})
	f.Add(uint8(Distinct), true, a.AppendBinary(nil))
	f.Fuzz(func(t *testing.T, fn uint8, by bool, data []byte) {
		spec := Spec{Func: Func(fn%6 + 1), Window: 100, By: by}
		if a, _, err := Decode(spec, data); err == nil {
			a.Add(1000, Key{}, 1, Key{})
			a.Value(1000, Key{})
		}
	})
}

// TestDifferentialIndex runs distinct counts and grouped counts whose values and groups
// grow past smallIndex and shrink below it again (found by a scan, then by a map kept
// while values leave), through clones and encode/decode round trips taken at random
// points, against a rescan: every copy must give the exact values.
func TestDifferentialIndex(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	const window = 1000
	for iter := range 60 {
		spread := []int{3, smallIndex, smallIndex + 1, 3 * smallIndex}[iter%4]
		var evs []ev
		tm := int64(1_000_000)
		for range 300 {
			if rng.IntN(15) == 0 {
				tm += rng.Int64N(2 * window) // a pause: values leave, the set shrinks
			} else {
				tm += rng.Int64N(window/ExactEntries + 1)
			}
			evs = append(evs, ev{t: tm, by: Key{S: fmt.Sprint("m", rng.IntN(spread)), Kind: 2},
				num: 1, val: Key{S: fmt.Sprint("v", rng.IntN(spread)), N: uint64(rng.IntN(2)), Kind: 1}})
		}
		for _, f := range []Func{Count, Distinct} {
			for _, grouped := range []bool{false, true} {
				spec := Spec{Func: f, Window: window, By: grouped}
				aggs := []*Agg{New(spec)}
				for i, e := range evs {
					switch rng.IntN(20) {
					case 0:
						aggs = append(aggs, aggs[rng.IntN(len(aggs))].Clone())
					case 1:
						j := rng.IntN(len(aggs))
						d, rest, err := Decode(spec, aggs[j].AppendBinary(nil))
						if err != nil || len(rest) != 0 {
							t.Fatalf("iter %d: decode: %v (%d bytes left)", iter, err, len(rest))
						}
						aggs[j] = d
					}
					want, _ := brute(f, evs[:i+1], e.t, e.t-window, e.by, grouped)
					for k, a := range aggs {
						a.Add(e.t, e.by, e.num, e.val)
						if got, _ := a.Value(e.t, e.by); got != want {
							t.Fatalf("iter %d %v by=%v copy %d event %d: got %v want %v", iter, f, grouped, k, i, got, want)
						}
					}
				}
			}
		}
	}
}
