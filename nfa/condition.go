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
	slots eventBits // condition slots
	terms []termVal
}

// termVal is one term's value for the event of generation gen.
type termVal struct {
	gen uint32
	v   uint8
}

// NewMemo returns a memo with n slots.
func NewMemo(n int) *Memo { return &Memo{slots: eventBits{gen: 1, w: make([]uint32, n)}} }

// Next starts a new event: every slot becomes unknown.
func (m *Memo) Next() {
	if m.slots.next() { // wrapped: the terms' stale generations cannot match either
		clear(m.terms)
	}
}

// Get returns the cached result of slot, if known for the current event.
func (m *Memo) Get(slot int) (val, ok bool) { return m.slots.get(slot) }

// Put stores the result of slot for the current event.
func (m *Memo) Put(slot int, val bool) {
	if w := m.slots.w; slot >= len(w) {
		m.slots.w = append(w, make([]uint32, max(slot+1, 2*len(w))-len(w))...)
	}
	m.slots.put(slot, val)
}

// eventBits are booleans known for one event at a time (a memo's conditions, a start
// index's pin verdicts): word i is gen<<1 | 1 if true, set for the event of generation
// gen; a word of an older generation is unknown. One word a value, so one read.
type eventBits struct {
	gen uint32 // the current event's, below 1<<31
	w   []uint32
}

// next starts a new event: every value becomes unknown. It reports whether the
// generation wrapped (the words were cleared, so that stale ones cannot match).
func (b *eventBits) next() bool {
	if b.gen++; b.gen < 1<<31 {
		return false
	}
	clear(b.w)
	b.gen = 1
	return true
}

// get returns value i for the current event, if known.
func (b *eventBits) get(i int) (v, ok bool) {
	if i >= len(b.w) || b.w[i]>>1 != b.gen {
		return false, false
	}
	return b.w[i]&1 != 0, true
}

// put sets value i for the current event (i < len(b.w)).
func (b *eventBits) put(i int, v bool) {
	w := b.gen << 1
	if v {
		w |= 1
	}
	b.w[i] = w
}

// Term returns the value remembered for term slot slot, if known for the current event.
func (m *Memo) Term(slot int) (v uint8, ok bool) {
	if uint(slot) >= uint(len(m.terms)) || m.terms[slot].gen != m.slots.gen {
		return 0, false
	}
	return m.terms[slot].v, true
}

// PutTerm remembers v for term slot slot and the current event.
func (m *Memo) PutTerm(slot int, v uint8) {
	if slot >= len(m.terms) {
		m.terms = append(m.terms, make([]termVal, max(slot+1, 2*len(m.terms))-len(m.terms))...)
	}
	m.terms[slot] = termVal{m.slots.gen, v}
}
