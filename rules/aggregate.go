package rules

import (
	"fmt"
	"maps"
	"math"
	"reflect"
	"slices"
	"sort"
	"strings"

	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"

	"github.com/cepd/cepd/event"
	"github.com/cepd/cepd/nfa"
	"github.com/cepd/cepd/patterns"
	"github.com/cepd/cepd/velocity"
)

// Aggregates are the values of a rule's velocity aggregates for the event being matched,
// in the order of the rule's aggregates: what its conditions and emit expressions read as
// agg.NAME. A value of KindMissing has none (avg, min or max of an empty window). The
// engine computes them (Aggregate.Observe) before it matches the event and hands them to
// the rule's conditions as nfa.Scratch.Aux, a *Aggregates.
type Aggregates struct {
	Values []event.Value
}

// Aggregate is one compiled velocity aggregate of a rule. It is immutable.
type Aggregate struct {
	Name  string
	Spec  velocity.Spec
	field int // schema index of the field aggregated, -1 for count
	by    int // schema index of the group field, -1 for none
	where *condition
}

// Aggregates returns the rule's compiled aggregates (nil when it has none).
func (c *Compiled) Aggregates() []*Aggregate { return c.aggs }

// AggInput is what an aggregate reads of one event (Read): its group, whether the event
// is taken, and the number or value it adds.
type AggInput struct {
	by      velocity.Key
	grouped bool // the event has the group field (or the aggregate has no by)
	take    bool // the event is taken: its where holds and the field read has a value
	num     float64
	val     velocity.Key
}

// Read works out what the aggregate takes of ev. ctx is the caller's reusable context;
// its Event is set here.
func (g *Aggregate) Read(ev *event.Event, ctx *nfa.EvalContext) AggInput {
	var in AggInput
	if g.by >= 0 {
		v := ev.Value(g.by)
		if v.Kind <= event.KindNull {
			return in // no group: nothing taken, no value
		}
		in.by = aggKeyOf(v)
	}
	in.grouped = true
	ctx.Event = ev
	if g.where != nil && !g.where.Eval(ctx) {
		return in
	}
	in.take = true
	if g.field >= 0 {
		v := ev.Value(g.field)
		switch g.Spec.Func {
		case velocity.Distinct:
			in.take = v.Kind > event.KindNull
			in.val = aggKeyOf(v)
		default:
			in.num, in.take = v.Number()
		}
	}
	return in
}

// Admits reports whether ev has the aggregate's group field (for an aggregate by a
// field) and its where holds: what Read checks before the field it adds, so that an
// event it does not admit is not taken. It evaluates the where as Read does.
func (g *Aggregate) Admits(ev *event.Event, ctx *nfa.EvalContext) bool {
	if g.by >= 0 && ev.Value(g.by).Kind <= event.KindNull {
		return false
	}
	if g.where == nil {
		return true
	}
	ctx.Event = ev
	return g.where.Eval(ctx)
}

// SameGate reports whether h admits every event g admits and no other (Admits), and
// asking h after g evaluates nothing more for the same event: the same group field and
// no where, or the same where memoised once per event (the same memo slot, so the same
// expression, whose evaluation errors are counted once per event either way). A caller
// that has asked g may take its answer for h's.
func (g *Aggregate) SameGate(h *Aggregate) bool {
	if g.by != h.by {
		return false
	}
	switch {
	case g.where == nil || h.where == nil:
		return g.where == h.where
	case g.where.slot < 0 || h.where.slot < 0:
		return false
	}
	return g.where.slot == h.where.slot
}

// Observe adds the event read as in, at time t (its own, or later for an event matched
// out of order), to a when it is taken, then returns the aggregate's value at t for the
// event's group. Times must not go back.
func (g *Aggregate) Observe(a *velocity.Agg, in AggInput, t int64) event.Value {
	if !in.grouped {
		return event.Value{} // no group: no value
	}
	var x float64
	var ok bool
	if in.take {
		x, ok = a.AddValue(t, in.by, in.num, in.val)
	} else {
		x, ok = a.Value(t, in.by)
	}
	switch {
	case !ok:
		return event.Value{}
	case g.Spec.Func == velocity.Count || g.Spec.Func == velocity.Distinct:
		return event.Int(int64(x))
	}
	return event.Double(x)
}

// Add adds the event read as in, at time t, to a when it is taken, as Observe does,
// without reading the value: for an event no condition of the rule can read the values
// of (the engine knows when). The state it leaves reads as Observe's would: what Value
// moves out of a window, the next Add or Value moves out too. Times must not go back.
func (g *Aggregate) Add(a *velocity.Agg, in AggInput, t int64) {
	if in.take {
		a.Add(t, in.by, in.num, in.val)
	}
}

// Taken reports whether the event read as in is added to the aggregate.
func (in AggInput) Taken() bool { return in.take }

// Empty is the aggregate's value for ev when the key has no velocity state: 0 for count,
// sum and distinct, none for the others and for an event without the group field.
func (g *Aggregate) Empty(ev *event.Event) event.Value {
	if g.by >= 0 && ev.Value(g.by).Kind <= event.KindNull {
		return event.Value{}
	}
	switch g.Spec.Func {
	case velocity.Count, velocity.Distinct:
		return event.Int(0)
	case velocity.Sum:
		return event.Double(0)
	}
	return event.Value{}
}

// Takes reports whether Observe would add ev to the aggregate.
func (g *Aggregate) Takes(ev *event.Event, ctx *nfa.EvalContext) bool {
	return g.Read(ev, ctx).take
}

// aggKeyOf turns a field value into a group or distinct key.
func aggKeyOf(v event.Value) velocity.Key {
	switch v.Kind {
	case event.KindString:
		return velocity.Key{S: v.AsString(), Kind: uint8(v.Kind)}
	case event.KindDouble:
		f := v.AsDouble()
		if f == math.Trunc(f) && math.Abs(f) < 1<<53 { // 3.0 and 3 are one value
			return velocity.Key{N: uint64(int64(f)), Kind: uint8(event.KindInt)}
		}
		if f == 0 {
			f = 0 // -0
		}
		return velocity.Key{N: math.Float64bits(f), Kind: uint8(v.Kind)}
	case event.KindInt:
		return velocity.Key{N: uint64(v.AsInt()), Kind: uint8(v.Kind)}
	case event.KindBool:
		if v.AsBool() {
			return velocity.Key{N: 1, Kind: uint8(v.Kind)}
		}
		return velocity.Key{Kind: uint8(v.Kind)}
	case event.KindTimestamp:
		return velocity.Key{N: uint64(v.AsTimeNanos()), Kind: uint8(v.Kind)}
	}
	return velocity.Key{Kind: uint8(v.Kind)}
}

var aggFuncs = map[patterns.AggFunc]velocity.Func{
	patterns.AggCount: velocity.Count, patterns.AggSum: velocity.Sum, patterns.AggAvg: velocity.Avg,
	patterns.AggMin: velocity.Min, patterns.AggMax: velocity.Max, patterns.AggDistinct: velocity.Distinct,
}

// compileAggregates compiles the rule's aggregates: their fields against the schema and
// their where conditions, which read only the event.
func (c *Compiled) compileAggregates(reg *Registry) patterns.ErrorList {
	r := c.Rule
	var errs patterns.ErrorList
	for _, a := range r.Aggregates {
		g := &Aggregate{Name: a.Name, Spec: velocity.Spec{Func: aggFuncs[a.Func], Window: a.WindowMs, By: a.By != ""}, field: -1, by: -1}
		at := func(pos patterns.Pos, format string, args ...any) {
			if pos.Line == 0 {
				pos = a.Pos
			}
			errs.Add(r.Source, pos, "aggregate '%s': "+format, append([]any{a.Name}, args...)...)
		}
		if s := c.env.schema; s != nil {
			if a.Field != "" {
				if i, ok := s.Index(a.Field); !ok {
					at(a.FieldPos, "field: the events have no field %q%s (fields: %s)", a.Field, fieldSuggestion(a.Field, s), c.env.fieldNamesHint())
				} else {
					g.field = i
					if t := s.Fields[i].Type; a.Func.Numeric() && t != event.TypeInt && t != event.TypeDouble && t != event.TypeAny {
						at(a.FieldPos, "%s needs a number field; %s is a %s", a.Func, a.Field, t)
					}
				}
			}
			if a.By != "" {
				if i, ok := s.Index(a.By); !ok {
					at(a.ByPos, "by: the events have no field %q%s (fields: %s)", a.By, fieldSuggestion(a.By, s), c.env.fieldNamesHint())
				} else {
					g.by = i
				}
			}
		} else if a.Field != "" || a.By != "" {
			at(a.Pos, "aggregates over fields need a typed schema")
		}
		if a.Where != "" {
			cond, el := c.condition(a.Where, a.WhereSrc, roleWhere, "aggregate "+a.Name, nil, nil, reg)
			switch {
			case el != nil:
				for _, e := range el {
					e.Msg = "aggregate '" + a.Name + "' " + e.Msg
				}
				errs = append(errs, el...)
			case cond.x.usesMatch || cond.x.usesAgg:
				errs.Add(r.Source, a.WhereSrc.Pos, "aggregate '%s' where: an aggregate's condition reads only the event (e), not match or agg", a.Name)
			default:
				cond.label = "aggregate " + a.Name + " where"
				g.where = cond
			}
		}
		c.aggs = append(c.aggs, g)
	}
	return errs
}

func fieldSuggestion(name string, s *event.Schema) string {
	best, bestD := "", 1<<30
	for _, f := range s.FieldNames() {
		// as patterns' "did you mean": a third of the letters of a long name may differ
		budget := max(1, min(2, len(f)/2), len(f)/3)
		if d := patterns.EditDistance(name, f); d <= budget && d < bestD {
			best, bestD = f, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf("; did you mean %q?", best)
}

// aggNames maps the rule's aggregate names to their indexes (nil when it has none).
func aggNames(r *patterns.Rule) map[string]int {
	if len(r.Aggregates) == 0 {
		return nil
	}
	m := make(map[string]int, len(r.Aggregates))
	for i, a := range r.Aggregates {
		m[a.Name] = i
	}
	return m
}

// checkAggs reports agg.NAME / agg['NAME'] references to aggregates the rule lacks.
func checkAggs(a *ast.AST, names map[string]int, report func(id int64, msg string)) {
	visit(a.Expr(), func(e ast.Expr) {
		operand, name, ok := member(e, "agg")
		if !ok {
			return
		}
		if _, ok := names[name]; ok {
			return
		}
		if len(names) == 0 {
			report(operand.ID(), fmt.Sprintf("agg.%s: this rule has no aggregates (declare it under aggregates:, e.g. - {name: %s, function: count, window: 1h})", name, name))
			return
		}
		list := make([]string, 0, len(names))
		for n := range names {
			list = append(list, n)
		}
		sort.Strings(list)
		hint := ""
		best, bestD := "", 3
		for _, n := range list {
			if d := patterns.EditDistance(name, n); d < bestD {
				best, bestD = n, d
			}
		}
		if best != "" {
			hint = fmt.Sprintf("; did you mean agg.%s?", best)
		}
		report(operand.ID(), fmt.Sprintf("agg.%s: this rule has no aggregate named %q%s (its aggregates: %s)", name, name, hint, strings.Join(list, ", ")))
	})
}

// aggMap is `agg`: the rule's aggregate values by name.
type aggMap = nameMap[aggKind]

// aggKind is what agg maps: the rule's aggregates; one without a value (outside the
// event that completes a match, or with an empty window) is an error, absent for has().
type aggKind struct{ src *matchSource }

func (k aggKind) find(name string) (ref.Val, bool) {
	i, ok := k.src.aggNames[name]
	if !ok {
		return nil, false
	}
	vals := k.src.aggValues()
	if vals == nil || i >= len(vals.Values) {
		return types.NewErr("agg.%s: aggregates are known only for the event that completes a match", name), false
	}
	v := vals.Values[i]
	if v.Kind <= event.KindNull {
		return types.NewErr("agg.%s has no value: its window is empty", name), false
	}
	cv, _ := valueToCEL(v)
	return cv, !types.IsError(cv)
}

func (k aggKind) names() []string { return slices.Collect(maps.Keys(k.src.aggNames)) }

func (k aggKind) size() int                                     { return len(k.src.aggNames) }
func (k aggKind) native(v ref.Val, _ reflect.Type) (any, error) { return v.Value(), nil }
func (k aggKind) what() string                                  { return "an aggregate of this rule" }
func (k aggKind) source() *matchSource                          { return k.src }

// aggValue compiles agg.NAME to a closure reading the value the engine handed the
// conditions (nfa.Scratch.Aux); a value the aggregate lacks is an error, as in the
// interpreter.
func (c *closureCompiler) aggValue(e ast.Expr) (evalFn, bool) {
	if e.Kind() != ast.SelectKind || e.AsSelect().IsTestOnly() {
		return nil, false
	}
	sel := e.AsSelect()
	if op := sel.Operand(); op.Kind() != ast.IdentKind || op.AsIdent() != "agg" {
		return nil, false
	}
	i, ok := c.aggs[sel.FieldName()]
	if !ok {
		return nil, false
	}
	return func(x *nfa.EvalContext) cval {
		a, _ := x.Aux().(*Aggregates)
		if a == nil || i >= len(a.Values) {
			return cval{}
		}
		return fromValue(a.Values[i])
	}, true
}
