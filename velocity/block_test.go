package velocity

import "testing"

// TestNewBlockAllocs checks the allocations NewBlock makes: one for up to 4 aggregates
// not by a field, with their windows' first entries, or for aggregates by a field; and
// that the first event of an aggregate of a Count, Sum, Avg, Min or Max window then
// needs none of its own (a Distinct window's, its values' array).
func TestNewBlockAllocs(t *testing.T) {
	c, s, d, mx := Spec{Window: 10, Func: Count}, Spec{Window: 10, Func: Sum}, Spec{Window: 10, Func: Distinct}, Spec{Window: 10, Func: Max}
	cb, db := Spec{Window: 10, Func: Count, By: true}, Spec{Window: 10, Func: Distinct, By: true}
	for _, tc := range []struct {
		specs         []Spec
		allocs, first float64 // NewBlock's, and the first events'
	}{
		{[]Spec{c}, 1, 0}, {[]Spec{d}, 1, 1}, {[]Spec{c, s, d}, 1, 1}, {[]Spec{s, c, d, mx}, 1, 1}, {[]Spec{d, d, d, d}, 1, 4},
		{[]Spec{cb, db, cb}, 1, 0},
		{[]Spec{c, cb}, 2, 0},          // the aggregates by a field apart
		{[]Spec{c, s, d, mx, c}, 2, 0}, // more than 4: aggregates, entries
		{[]Spec{c, s, d, mx, c, cb}, 3, 0},
	} {
		out := make([]*Agg, len(tc.specs))
		if n := testing.AllocsPerRun(10, func() { NewBlock(tc.specs, out) }); n != tc.allocs {
			t.Errorf("%v: %v allocations, want %v", tc.specs, n, tc.allocs)
		}
		NewBlock(tc.specs, out)
		seen := map[*Agg]bool{}
		for i, a := range out {
			if a.Spec() != tc.specs[i] || seen[a] {
				t.Fatalf("%v: place %d: %+v (seen %v)", tc.specs, i, a.Spec(), seen[a])
			}
			seen[a] = true
		}
		if len(tc.specs) > 4 {
			continue
		}
		if n := testing.AllocsPerRun(10, func() {
			NewBlock(tc.specs, out)
			for _, a := range out {
				if !a.spec.By {
					a.Add(1, Key{}, 1, Key{S: "v1"})
				}
			}
		}); n != tc.allocs+tc.first {
			t.Errorf("%v: %v allocations with each aggregate's first event, want %v", tc.specs, n, tc.allocs+tc.first)
		}
	}
}
