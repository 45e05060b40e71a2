package rules

import (
	"sync"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/interpreter"

	"github.com/cepd/cepd/event"
)

// activation binds `e` and `match` for one interpreter evaluation. Activations are pooled
// per Env, so an evaluation allocates no variable map.
type activation struct {
	dyn bool
	ev  *event.Event
	src matchSource
	mm  matchMap
	am  aggMap
}

var _ interpreter.Activation = (*activation)(nil)

// ResolveName implements interpreter.Activation.
func (a *activation) ResolveName(name string) (any, bool) {
	switch name {
	case "e":
		if a.ev == nil {
			return nil, false
		}
		if a.dyn {
			return dynEvent{a.ev}, true
		}
		return typedEvent{a.ev}, true
	case "match":
		return &a.mm, true
	case "agg":
		return &a.am, true
	}
	return nil, false
}

// Parent implements interpreter.Activation.
func (a *activation) Parent() interpreter.Activation { return nil }

type activationPool struct{ p sync.Pool }

func newActivationPool(dyn bool) *activationPool {
	ap := &activationPool{}
	ap.p.New = func() any {
		a := &activation{dyn: dyn}
		a.mm = matchMap{k: matchKind{src: &a.src, dyn: dyn}}
		a.am = aggMap{k: aggKind{src: &a.src}}
		return a
	}
	return ap
}

// eval runs p with e = ev and match from src.
func (env *Env) eval(p cel.Program, ev *event.Event, src matchSource) (ref.Val, error) {
	a := env.acts.p.Get().(*activation)
	a.ev, a.src = ev, src
	v, _, err := p.Eval(a)
	a.ev, a.src = nil, matchSource{}
	env.acts.p.Put(a)
	return v, err
}
