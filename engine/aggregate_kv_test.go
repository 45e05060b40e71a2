package engine

import (
	"math"
	"testing"

	"github.com/cepd/cepd/rules"
)

// TestNewKeyVelocitySizes checks a key's velocity state for layouts of every size around
// allocKeyVelocity's arrays: as many aggregates as the layout places, none set, none
// shared with another key's, every hold unset, and its bounds known (newKeyVelocity).
func TestNewKeyVelocitySizes(t *testing.T) {
	for n := range 20 {
		for holds := range 6 {
			aggs, hold := make([][]*rules.Aggregate, 2), make([]int64, 2+holds)
			aggs[0] = make([]*rules.Aggregate, n)
			for i := range aggs[0] {
				aggs[0][i] = &rules.Aggregate{}
			}
			aggs = append(aggs, make([][]*rules.Aggregate, holds)...)
			for i := range holds {
				hold[2+i] = 1000
			}
			lay := newVelLayout(aggs, hold)
			a, b := newKeyVelocity(lay), newKeyVelocity(lay)
			if len(a.aggs) != n || cap(a.aggs) != n || len(a.quiet) != holds {
				t.Fatalf("%d aggregates, %d holds: state of %d (room %d) and %d holds", n, holds, len(a.aggs), cap(a.aggs), len(a.quiet))
			}
			for i := range a.aggs {
				if a.aggs[i] != nil || &a.aggs[i] == &b.aggs[i] {
					t.Fatalf("%d aggregates: place %d set or shared", n, i)
				}
			}
			for i, q := range a.quiet {
				if q != math.MinInt64 || &a.quiet[i] == &b.quiet[i] {
					t.Fatalf("%d holds: hold %d set or shared", holds, i)
				}
			}
			// (its bounds known, with no aggregate: soon MaxInt64, late MinInt64)
			if a.at != math.MinInt64 || a.soon != math.MaxInt64 || a.late != math.MinInt64 || a.lay != lay || !a.blank() {
				t.Fatalf("%d aggregates: a new state is not blank", n)
			}
		}
	}
}
