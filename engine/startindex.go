package engine

import (
	"github.com/cepd/cepd/event"
	"github.com/cepd/cepd/nfa"
)

// startIndex is a shard's nfa.StartIndex over its rule set: which rules' first step
// might take an event (by its type, then by the pins of the rules' start guards), so
// that a key without state for a rule asks CanStart only of those: an event no rule can
// start touches no rule at all.
type startIndex struct {
	rs *RuleSet
	x  *nfa.StartIndex
}

func newStartIndex(rs *RuleSet) *startIndex {
	progs := make([]*nfa.Program, len(rs.Rules))
	for i, c := range rs.Rules {
		progs[i] = c.Program
	}
	return &startIndex{rs: rs, x: nfa.NewStartIndex(progs)}
}

// candidates starts the index's work for ev (nfa.StartIndex.Candidates).
func (x *startIndex) candidates(ev *event.Event) []bool { return x.x.Candidates(ev) }

// mayStart reports whether CanStart must be asked for rule ri given candidates(ev).
func (x *startIndex) mayStart(cand []bool, ri int) bool { return x.x.MayStart(cand, ri) }

// hint tells sc which states of rule ri the event of the last candidates call may change
// (nfa.StartIndex.Waits), for the Process call that follows (which takes it).
func (x *startIndex) hint(sc *nfa.Scratch, ri int, ev *event.Event) { x.x.Hint(sc, ri, ev) }
