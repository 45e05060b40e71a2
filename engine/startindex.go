package engine

import (
	"github.com/cepd/cepd/event"
)

// startIndex tells, from one string field of an event (usually its type), which rules'
// first step might take it (nfa.Program.StartDispatch), so that a key without state for a
// rule asks CanStart only of those: an event no rule can start touches no rule at all.
type startIndex struct {
	rs     *RuleSet
	field  int               // the indexed field, -1 when none
	always []bool            // rules CanStart must always be asked of
	by     map[string][]bool // field value → rules that might start
}

func newStartIndex(rs *RuleSet) *startIndex {
	x := &startIndex{rs: rs, field: -1, always: make([]bool, len(rs.Rules)), by: map[string][]bool{}}
	count := map[int]int{}
	for _, c := range rs.Rules {
		if f, _, ok := c.Program.StartDispatch(); ok {
			count[f]++
		}
	}
	for f, n := range count {
		if x.field < 0 || n > count[x.field] || n == count[x.field] && f < x.field {
			x.field = f
		}
	}
	for ri, c := range rs.Rules {
		f, vals, ok := c.Program.StartDispatch()
		if !ok || f != x.field {
			x.always[ri] = true
			continue
		}
		for _, v := range vals {
			l := x.by[v]
			if l == nil {
				l = make([]bool, len(rs.Rules))
				x.by[v] = l
			}
			l[ri] = true
		}
	}
	return x
}

// candidates returns, for ev, the rules that might start (nil: every rule, when the
// event's field is not a present string).
func (x *startIndex) candidates(ev *event.Event) []bool {
	if x.field < 0 || x.field >= ev.Len() || ev.Value(x.field).Kind != event.KindString {
		return nil
	}
	if l := x.by[ev.Value(x.field).AsString()]; l != nil {
		return l
	}
	return x.always
}

// mayStart reports whether CanStart must be asked for rule ri given candidates(ev).
func (x *startIndex) mayStart(cand []bool, ri int) bool {
	return cand == nil || cand[ri] || x.always[ri]
}
