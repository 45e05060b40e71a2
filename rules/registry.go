package rules

import "sync"

// Registry is shared by the rules of one rule set. It assigns memo slots (nfa.Memo) to
// conditions that do not read match, the same slot to the same checked expression in the
// same environment, so a condition several rules share is evaluated once per event; and
// it lets those rules share the compiled expression. It is safe for concurrent use.
type Registry struct {
	mu    sync.Mutex
	slots map[string]int
	exprs map[string]*compiledExpr
	terms map[string]int // event-only terms of conditions → nfa.Memo term slots
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{slots: make(map[string]int), exprs: make(map[string]*compiledExpr), terms: make(map[string]int)}
}

// Slots returns the number of memo slots assigned so far: the size for nfa.NewMemo.
func (r *Registry) Slots() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.slots)
}

func regKey(env *Env, text string) string { return env.key + "\x00" + text }

// shared returns the compiled expression registered for text in env, if any.
func (r *Registry) shared(env *Env, text string) (*compiledExpr, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	x, ok := r.exprs[regKey(env, text)]
	return x, ok
}

// register records x (which must not read match) under its text and canonical form and
// returns the expression to use (an equal one registered earlier wins) and its slot.
func (r *Registry) register(x *compiledExpr) (*compiledExpr, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	canon := regKey(x.env, x.canonical)
	if prev, ok := r.exprs[canon]; ok {
		x = prev
	} else {
		r.exprs[canon] = x
	}
	r.exprs[regKey(x.env, x.text)] = x
	return x, slotOf(r.slots, canon)
}

// termSlot returns the nfa.Memo slot of an event-only term of a condition, text its
// printed form, in env: the same slot for the same term in every rule of the set, so
// that it is evaluated once an event (closureCompiler.memoTerm).
func (r *Registry) termSlot(env *Env, text string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slotOf(r.terms, regKey(env, text))
}

// slotOf returns key's slot in slots, assigning the next one to a new key (r.mu held).
func slotOf(slots map[string]int, key string) int {
	slot, ok := slots[key]
	if !ok {
		slot = len(slots)
		slots[key] = slot
	}
	return slot
}
