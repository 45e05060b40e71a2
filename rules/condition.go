package rules

import (
	"fmt"
	"sync/atomic"

	"cel.dev/cel-go/common/types"

	"github.com/cepd/cepd/nfa"
)

// ruleStats counts a rule's evaluation errors. It is the only mutable part of a compiled
// rule; every field is atomic.
type ruleStats struct {
	errs atomic.Uint64
	last atomic.Pointer[string]
}

// condition is a compiled where or until expression of one rule: it implements
// nfa.Condition. The expression may be shared with other rules (same text, same
// environment); the error counter is the rule's own.
type condition struct {
	x     *compiledExpr
	slot  int // memo slot, -1 when the condition reads match (or has no registry)
	stats *ruleStats
	label string        // "step where" / "step until", for messages
	guard nfa.Condition // event-only necessary condition (guard.go), nil when none
	disp  dispatch      // when guard is the condition itself: the field it pins
	pins  []nfa.Pin     // when guard is the condition itself: its pin terms (pinsOf)
}

var _ nfa.Condition = (*condition)(nil)

// Eval implements nfa.Condition: true when the expression is true for ctx.Event; false
// when it is false or its evaluation fails (the failure is counted). Conditions that do
// not read match are evaluated once per event per shard through ctx.Memo.
func (c *condition) Eval(ctx *nfa.EvalContext) bool {
	if v, ok := memoGet(ctx, c.slot); ok {
		return v
	}
	return memoPut(ctx, c.slot, c.eval(ctx))
}

// memoGet returns the value remembered for ctx.Event in memo slot slot (none when slot
// is negative or ctx has no memo): an event-only expression (a condition or a guard)
// that several rules share is evaluated once per event.
func memoGet(ctx *nfa.EvalContext, slot int) (bool, bool) {
	if slot < 0 || ctx.Memo == nil {
		return false, false
	}
	return ctx.Memo.Get(slot)
}

// memoPut remembers v for ctx.Event in memo slot slot (as memoGet) and returns it.
func memoPut(ctx *nfa.EvalContext, slot int, v bool) bool {
	if slot >= 0 && ctx.Memo != nil {
		ctx.Memo.Put(slot, v)
	}
	return v
}

func (c *condition) eval(ctx *nfa.EvalContext) (res bool) {
	fn := c.x.fn
	if fn == nil {
		return c.interpreted(ctx)
	}
	defer func() {
		if r := recover(); r != nil { // a bug in a closure: count it, never crash a shard
			res = false
			c.failed(ctx, fmt.Errorf("internal error: %v", r))
		}
	}()
	switch fn(ctx) {
	case tTrue:
		return true
	case tFalse:
		return false
	}
	c.failed(ctx, nil)
	return false
}

func (c *condition) interpreted(ctx *nfa.EvalContext) (ok bool) {
	defer func() {
		if r := recover(); r != nil {
			c.failed(ctx, fmt.Errorf("internal error: %v", r))
			ok = false
		}
	}()
	v, err := c.x.interpret(ctx)
	if err != nil {
		c.failed(ctx, err)
		return false
	}
	b, isBool := v.(types.Bool)
	if !isBool {
		c.failed(ctx, fmt.Errorf("the result is %s, not true or false", v.Type().TypeName()))
		return false
	}
	return bool(b)
}

// failed counts an evaluation error. The message is kept for the first error and then
// at every power of two and every 4096th: finding it on the closure path means running
// the interpreter, which an expression failing on every event must not pay each time.
func (c *condition) failed(ctx *nfa.EvalContext, err error) {
	n := c.stats.errs.Add(1)
	if n&(n-1) != 0 && n%4096 != 0 {
		return
	}
	if err == nil {
		err = c.explain(ctx)
	}
	msg := fmt.Sprintf("%s: %v", c.label, err)
	c.stats.last.Store(&msg)
}

// explain finds the message of an error the closure reported, by interpreting.
func (c *condition) explain(ctx *nfa.EvalContext) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("internal error: %v", r)
		}
	}()
	v, err := c.x.interpret(ctx)
	if err != nil {
		return err
	}
	if _, ok := v.(types.Bool); !ok {
		return fmt.Errorf("the result is %s, not true or false", v.Type().TypeName())
	}
	return fmt.Errorf("evaluation error")
}
