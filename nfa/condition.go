package nfa

import "github.com/cepd/cepd/event"

// Condition decides whether an event satisfies a step's where or until expression.
//
// Contract: a Condition belongs to an immutable compiled rule and is called concurrently
// by every shard, so it must not keep per-call state outside the EvalContext. Eval never
// panics: an evaluation error (a missing optional field, a division by zero, a cost limit)
// makes the condition false, and the implementation counts it. Eval must not retain ctx
// or the slices it returns after it returns.
type Condition interface {
	Eval(ctx *EvalContext) bool
}

// ConditionFunc adapts a plain function to Condition (tests, built-in conditions).
type ConditionFunc func(ctx *EvalContext) bool

// Eval calls f.
func (f ConditionFunc) Eval(ctx *EvalContext) bool { return f(ctx) }

// EvalContext is what a condition sees: the event under evaluation, the partial match it
// would extend (Flink's IterativeCondition.Context), and the shard's per-event memo.
// The matcher owns it and reuses it between calls.
type EvalContext struct {
	// Event is the event being evaluated.
	Event *event.Event
	// Memo caches results of conditions that do not read the partial match, for the
	// current event, across every rule of the shard. It may be nil.
	Memo *Memo

	m      *Matcher
	sc     *Scratch
	run    *run
	loaded bool
	byStep [][]*event.Event // by step index (extract.go)
}

// Matched returns the events the partial match under evaluation has already accepted into
// the named step, oldest first (never including Event). The result is computed lazily on
// the first call for the evaluation and must not be modified.
func (c *EvalContext) Matched(step string) []*event.Event {
	if !c.loaded {
		c.loaded = true
		c.loadSteps()
	}
	if c.m == nil {
		return nil
	}
	i, ok := c.m.prog.stepIdx[step]
	if !ok || i < 0 || i >= len(c.byStep) {
		return nil
	}
	return c.byStep[i]
}

// Aux returns the value the caller set in the Scratch's Aux field (nil if none).
func (c *EvalContext) Aux() any {
	if c.sc == nil {
		return nil
	}
	return c.sc.Aux
}

// reset prepares the context for evaluating against r.
func (c *EvalContext) reset(r *run) {
	c.run = r
	c.loaded = false
}

// Memo holds per-event results of shared, non-iterative conditions. Slots are assigned
// by whoever compiles the conditions (the rules package) and are stable for a rule set.
// A Memo is owned by one shard; Next invalidates every slot in O(1).
//
// Its terms are a second set of slots, for the event-only terms of conditions (e.type ==
// 'auth', has(e.amount)): a term every rule's conditions share is evaluated once per
// event, with its error if it has one (a term's value is 0, 1 or 2: the rules package's
// false, true or error).
type Memo struct {
	gen   uint32   // below 1<<31
	slots []uint32 // slot i's result for the event of gen: gen<<1 | 1 if true (one word: one read)
	terms []termVal
}

// termVal is one term's value for the event of generation gen.
type termVal struct {
	gen uint32
	v   uint8
}

// NewMemo returns a memo with n slots.
func NewMemo(n int) *Memo { return &Memo{gen: 1, slots: make([]uint32, n)} }

// Next starts a new event: every slot becomes unknown.
func (m *Memo) Next() {
	m.gen++
	if m.gen == 1<<31 { // wrapped: clear the slots so stale ones cannot match
		clear(m.slots)
		clear(m.terms)
		m.gen = 1
	}
}

// Get returns the cached result of slot, if known for the current event.
func (m *Memo) Get(slot int) (val, ok bool) {
	if slot >= len(m.slots) || m.slots[slot]>>1 != m.gen {
		return false, false
	}
	return m.slots[slot]&1 != 0, true
}

// Put stores the result of slot for the current event.
func (m *Memo) Put(slot int, val bool) {
	if slot >= len(m.slots) {
		m.slots = append(m.slots, make([]uint32, max(slot+1, 2*len(m.slots))-len(m.slots))...)
	}
	w := m.gen << 1
	if val {
		w |= 1
	}
	m.slots[slot] = w
}

// Term returns the value remembered for term slot slot, if known for the current event.
func (m *Memo) Term(slot int) (v uint8, ok bool) {
	if uint(slot) >= uint(len(m.terms)) || m.terms[slot].gen != m.gen {
		return 0, false
	}
	return m.terms[slot].v, true
}

// PutTerm remembers v for term slot slot and the current event.
func (m *Memo) PutTerm(slot int, v uint8) {
	if slot >= len(m.terms) {
		m.terms = append(m.terms, make([]termVal, max(slot+1, 2*len(m.terms))-len(m.terms))...)
	}
	m.terms[slot] = termVal{m.gen, v}
}
