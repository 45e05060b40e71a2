package engine

import (
	"sync/atomic"
	"time"

	"github.com/cepd/cepd/nfa"
)

// DefaultMemoryBudget is the default bound on the accounted bytes of all key states of an
// engine (Config.MemoryBudget).
const DefaultMemoryBudget = 4 << 30

// budgetLogEvery is the least time between two budget log lines of one shard; the cuts in
// between are counted and summed into the next line.
const budgetLogEvery = 10 * time.Second

// budgetLog rate-limits one shard's budget log lines.
type budgetLog struct {
	last       time.Time
	suppressed int // cuts not logged since the last line
	runs       int // partial matches they cut
}

// account records what ks's matchers hold (nfa's exact Usage, without the events, as
// ks.mbytes has it: settle reads every matcher, a timer only those it advances) and
// what its journal's velocity log holds (the arrays of the log and of the values the
// journal's events saw) in the shard's total, and enforces the engine budget: when the
// shard holds more than its share of Config.MemoryBudget and the key being settled holds
// at least the shard's average per key, that key loses every partial match of its rules
// and, when it has a velocity log, its journal (folded: its older events can no longer be
// re-matched, and come late). A small key settled while a large one holds the memory is
// left alone; the large one is cut at its next event or timer. After a cut, *next is the
// key's matchers' earliest deadline.
// Which keys are cut depends on the interleaving of keys, unlike the budget per key and
// rule: the engine budget is a last line of defence, to be sized well above normal use.
func (s *shard) account(ks *keyState, next *int64) {
	vb := ks.velLogBytes()
	b := ks.mbytes + vb
	s.used += int64(b - ks.bytes)
	ks.bytes = b
	if s.used > s.share && (ks.live > 0 || vb > 0) && int64(b)*int64(len(s.keys)) >= s.used {
		if vb > 0 {
			s.fold(ks)
			ks.budgetCut = true
		}
		for ri, m := range ks.m.all() {
			m.CutAll("engine", s.sc, &s.res)
			s.emit(ri, ks.key, unstamped)
			if m.Idle() {
				s.idle(ks, ri, m)
			}
		}
		*next = s.scan(ks)
		s.used += int64(ks.mbytes - ks.bytes)
		ks.bytes = ks.mbytes
	}
	s.e.stats.shard[s.id].memory.Store(s.used)
}

// peak is the largest use of one key and rule a shard has seen, each measure on its own
// (written by the shard, read by Stats.Snapshot).
type peak struct{ runs, nodes, digits, bytes atomic.Int64 }

func (p *peak) note(u nfa.Usage) {
	if int64(u.Bytes) > p.bytes.Load() {
		p.bytes.Store(int64(u.Bytes))
	}
	if int64(u.Digits) > p.digits.Load() {
		p.digits.Store(int64(u.Digits))
	}
	if int64(u.Runs) > p.runs.Load() {
		p.runs.Store(int64(u.Runs))
	}
	if int64(u.Nodes) > p.nodes.Load() {
		p.nodes.Store(int64(u.Nodes))
	}
}

// forget takes a released key out of the shard's total.
func (s *shard) forget(ks *keyState) {
	s.used -= int64(ks.bytes)
	ks.bytes = 0
	s.e.stats.shard[s.id].memory.Store(s.used)
}

// budgetCut counts and logs (at a bounded rate) the partial matches the memory budget
// cut from rule ri's matcher of key.
func (s *shard) budgetCut(ri int, key string, r *nfa.Result) {
	id := s.rules.Rules[ri].Rule.ID
	s.e.stats.budgetCut(key, id, r.CutBy, r.Cut)
	if ks := s.keys[key]; ks != nil {
		ks.budgetCut = true
	}
	bl := &s.blog
	bl.suppressed++
	bl.runs += r.Cut
	now := time.Now()
	if now.Sub(bl.last) < budgetLogEvery {
		return
	}
	s.e.log.Warn("memory budget: partial matches cut", "rule", id, "key", key, "limit", r.CutBy,
		"cut", r.Cut, "cuts_since_last_line", bl.suppressed, "partial_matches_since_last_line", bl.runs, "shard", s.id)
	bl.last, bl.suppressed, bl.runs = now, 0, 0
}

// logWarnings logs the warnings (rules.Compiled.Warnings: what can exhaust a key's memory
// budget) of the rules of rs that old does not run in the same version.
func (e *Engine) logWarnings(old, rs *RuleSet) {
	had := map[string]bool{}
	if old != nil {
		for _, c := range old.Rules {
			had[c.Rule.ID+"@"+c.Version] = true
		}
	}
	for _, c := range rs.Rules {
		if had[c.Rule.ID+"@"+c.Version] {
			continue
		}
		for _, w := range c.Warnings {
			e.log.Warn("rule can exhaust its memory budget", "rule", c.Rule.ID, "warning", w.Error())
		}
	}
}
