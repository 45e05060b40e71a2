package rules

import (
	"fmt"
	"maps"
	"reflect"
	"slices"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"

	"github.com/cepd/cepd/event"
	"github.com/cepd/cepd/nfa"
)

// matchSource gives the events of the partial (or complete) match a condition or emit
// expression sees as `match`.
type matchSource struct {
	ctx   *nfa.EvalContext // condition evaluation: the lazily computed partial match
	match *nfa.Match       // emit evaluation: a complete match
	// steps, when non-nil, are the step names of the rule: other names are not found.
	steps map[string]bool
	// aggNames are the rule's aggregates (agg.NAME → index); aggs their values for an
	// emit evaluation (conditions find them in ctx.Aux()).
	aggNames map[string]int
	aggs     *Aggregates
}

// aggValues returns the aggregate values of the evaluation, nil when there are none.
func (s *matchSource) aggValues() *Aggregates {
	if s.aggs != nil {
		return s.aggs
	}
	if s.ctx != nil {
		a, _ := s.ctx.Aux().(*Aggregates)
		return a
	}
	return nil
}

func (s *matchSource) events(step string) ([]*event.Event, bool) {
	if s.steps != nil && !s.steps[step] {
		return nil, false
	}
	switch {
	case s.ctx != nil:
		return s.ctx.Matched(step), true
	case s.match != nil:
		for _, st := range s.match.Steps {
			if st.Step == step {
				return st.Events, true
			}
		}
	}
	return nil, true
}

// matchMap is `match`: a map from step name to the list of events the step took.
type matchMap = nameMap[matchKind]

// matchKind is what match maps: the rule's steps.
type matchKind struct {
	src *matchSource
	dyn bool
}

var _ traits.Lister = (*eventList)(nil)

func (k matchKind) find(step string) (ref.Val, bool) {
	evs, ok := k.src.events(step)
	if !ok {
		return nil, false
	}
	return &eventList{evs: evs, dyn: k.dyn}, true
}

func (k matchKind) names() []string { return slices.Collect(maps.Keys(k.src.steps)) }

func (k matchKind) size() int { return len(k.src.steps) }

func (k matchKind) native(v ref.Val, typeDesc reflect.Type) (any, error) {
	return v.ConvertToNative(typeDesc)
}

func (k matchKind) what() string         { return "a step of this rule" }
func (k matchKind) source() *matchSource { return k.src }

// eventList is a list of events as CEL values (typed objects or dynamic maps).
type eventList struct {
	evs []*event.Event
	dyn bool
}

func (l *eventList) elem(i int) ref.Val {
	if l.dyn {
		return dynEvent{l.evs[i]}
	}
	return typedEvent{l.evs[i]}
}

func (l *eventList) ConvertToNative(typeDesc reflect.Type) (any, error) {
	switch typeDesc.Kind() {
	case reflect.Slice, reflect.Interface:
		out := make([]any, len(l.evs))
		for i, ev := range l.evs {
			out[i] = ev.Fields()
		}
		return out, nil
	}
	return nil, fmt.Errorf("type conversion error from list to '%v'", typeDesc)
}

func (l *eventList) ConvertToType(typeVal ref.Type) ref.Val {
	return convertToType(l, types.ListType, typeVal)
}

func (l *eventList) Equal(other ref.Val) ref.Val {
	o, ok := other.(traits.Lister)
	if !ok || o.Size() != l.Size() {
		return types.False
	}
	for i := range l.evs {
		if eq := l.elem(i).Equal(o.Get(types.Int(i))); eq != types.True {
			return types.False
		}
	}
	return types.True
}

func (l *eventList) Type() ref.Type { return types.ListType }
func (l *eventList) Value() any     { return l.evs }

func (l *eventList) Add(other ref.Val) ref.Val {
	o, ok := other.(traits.Lister)
	if !ok {
		return types.MaybeNoSuchOverloadErr(other)
	}
	n := int(o.Size().(types.Int))
	vals := make([]ref.Val, 0, len(l.evs)+n)
	for i := range l.evs {
		vals = append(vals, l.elem(i))
	}
	for i := 0; i < n; i++ {
		vals = append(vals, o.Get(types.Int(i)))
	}
	return types.NewRefValList(types.DefaultTypeAdapter, vals)
}

func (l *eventList) Contains(elem ref.Val) ref.Val {
	for i := range l.evs {
		if l.elem(i).Equal(elem) == types.True {
			return types.True
		}
	}
	return types.False
}

func (l *eventList) Get(index ref.Val) ref.Val {
	i, err := types.GetOrError(index)
	if err != nil {
		return types.WrapErr(err)
	}
	if i < 0 || i >= len(l.evs) {
		return types.NewErr("index out of bounds: %d", i)
	}
	return l.elem(i)
}

func (l *eventList) Size() ref.Val { return types.Int(len(l.evs)) }

func (l *eventList) Iterator() traits.Iterator { return &listIterator{l: l} }

type listIterator struct {
	iteratorVal
	l *eventList
	i int
}

func (it *listIterator) HasNext() ref.Val { return types.Bool(it.i < len(it.l.evs)) }
func (it *listIterator) Next() ref.Val {
	if it.i >= len(it.l.evs) {
		return nil
	}
	v := it.l.elem(it.i)
	it.i++
	return v
}
