package rules

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/cepd/cepd/event"
	"github.com/cepd/cepd/nfa"
	"github.com/cepd/cepd/patterns"
)

// Compiled is a rule ready to run: its NFA program with compiled conditions, its emit
// expressions, and its identity (fingerprint, version). It is immutable and safe for
// concurrent use; the only mutable parts are its atomic error counters.
type Compiled struct {
	// Rule is the rule as parsed. It must not be modified.
	Rule *patterns.Rule
	// Program is the rule's NFA.
	Program *nfa.Program
	// Version identifies the rule's content: it changes whenever the pattern, a
	// condition, an emit expression or the severity changes. Alerts carry it.
	Version string
	// Warnings are what lets the rule's matching state grow without bound
	// (patterns.Warnings): the rule runs, but a key with many matching events will reach
	// its memory budget.
	Warnings patterns.ErrorList
	// StoreVersion is the rule store's version number of the source (1, 2, 3…), set by
	// whoever compiled it from the store before the rule is shared; 0 for a file. Alerts
	// carry it as rule_version_number.
	StoreVersion int
	// AlertRuleID and Mode are what the rule's alerts carry as rule_id and mode, set like
	// StoreVersion by whoever compiled the rule from the store: a candidate on trial runs
	// as RULE@shadow (Rule.ID) and its alerts are RULE's, in mode shadow. Empty: Rule.ID,
	// and mode active.
	AlertRuleID, Mode string

	env         *Env
	fingerprint string
	conds       map[condKey]*condition
	emits       []compiledEmit
	aggs        []*Aggregate
	stats       ruleStats
	data        []string // the datasets the rule reads, sorted
}

type condKey struct {
	step string
	kind nfa.CondKind
}

type compiledEmit struct {
	name string
	x    *compiledExpr
}

// CompileOption configures Compile.
type CompileOption func(*compileConfig)

type compileConfig struct {
	source []byte
}

// WithSource gives Compile the text of the rule file, so that errors show the source line
// under their position.
func WithSource(data []byte) CompileOption {
	return func(c *compileConfig) { c.source = data }
}

// Compile compiles every expression of r in env (conditions must be true/false, costs
// within the environment's limit), then its pattern. All expression errors are reported
// together as a patterns.ErrorList in file coordinates. reg (which may be nil) assigns
// memo slots and shares expressions between the rules of a rule set.
func Compile(r *patterns.Rule, env *Env, reg *Registry, opts ...CompileOption) (*Compiled, error) {
	if r == nil || env == nil {
		return nil, errors.New("rules: Compile needs a rule and an environment")
	}
	var cfg compileConfig
	for _, o := range opts {
		o(&cfg)
	}
	c := &Compiled{Rule: r, env: env, conds: make(map[condKey]*condition)}
	errs := c.compileExprs(reg)
	if len(errs) > 0 {
		if cfg.source != nil {
			errs.WithSource(r.Source, cfg.source)
		}
		return nil, errs.Err()
	}
	for _, cond := range c.conds {
		c.data = mergeNames(c.data, cond.x.data)
	}
	for _, em := range c.emits {
		c.data = mergeNames(c.data, em.x.data)
	}
	resolve := func(step *patterns.Step, kind nfa.CondKind) (nfa.Condition, error) {
		if cond, ok := c.conds[condKey{step.Name, kind}]; ok {
			return cond, nil
		}
		return nil, nil
	}
	prog, err := nfa.Compile(&r.Pattern, resolve, nfa.Options{Timeouts: r.Timeouts, NoGuards: c.env.opts.NoGuards})
	if err != nil {
		var ne *nfa.Error
		if !errors.As(err, &ne) {
			return nil, fmt.Errorf("rule %s: %w", r.ID, err)
		}
		// The compiler's problems point into the rule's file like the parser's.
		errs := patterns.ErrorList{{File: r.Source, Pos: ne.Pos, Msg: ne.Msg}}
		if cfg.source != nil {
			errs.WithSource(r.Source, cfg.source)
		}
		return nil, errs.Err()
	}
	c.Program = prog
	c.Warnings = patterns.Warnings(r)
	if cfg.source != nil {
		c.Warnings.WithSource(r.Source, cfg.source)
	}
	c.fingerprint = fingerprint(c)
	c.Version = version(c)
	return c, nil
}

// compileExprs compiles the conditions and emit expressions of the rule.
func (c *Compiled) compileExprs(reg *Registry) patterns.ErrorList {
	r := c.Rule
	steps := make(map[string]bool)
	for _, n := range r.Pattern.StepNames() {
		steps[n] = true
	}
	var errs patterns.ErrorList
	aggs := aggNames(r)
	errs = append(errs, c.compileAggregates(reg)...)
	if s := c.env.schema; s != nil && r.Key != "" {
		errs = append(errs, checkKey(s, r)...)
	}
	patterns.Walk(r.Pattern.Steps, func(s *patterns.Step) {
		if s.Where != "" && !s.IsGroup() {
			if cond, el := c.condition(s.Where, s.WhereSrc, roleWhere, s.Name, steps, aggs, reg); el != nil {
				errs = append(errs, el...)
			} else {
				c.conds[condKey{s.Name, nfa.CondWhere}] = cond
			}
		}
		if s.Until != "" {
			if cond, el := c.condition(s.Until, s.UntilSrc, roleUntil, s.Name, steps, aggs, reg); el != nil {
				errs = append(errs, el...)
			} else {
				c.conds[condKey{s.Name, nfa.CondUntil}] = cond
			}
		}
	})
	for _, em := range r.Emit {
		x, el := c.env.compileExprAggs(em.Expr, em.Src, r.Source, roleEmit, steps, aggs)
		if el != nil {
			for _, e := range el {
				e.Msg = "emit " + em.Name + strings.TrimPrefix(e.Msg, "emit")
			}
			errs = append(errs, el...)
			continue
		}
		c.emits = append(c.emits, compiledEmit{name: em.Name, x: x})
	}
	return errs
}

func (c *Compiled) condition(text string, src patterns.Src, role exprRole, step string, steps map[string]bool, aggs map[string]int, reg *Registry) (*condition, patterns.ErrorList) {
	cond := &condition{slot: -1, stats: &c.stats, label: fmt.Sprintf("step %s %s", step, role)}
	if reg != nil {
		if x, ok := reg.shared(c.env, text); ok {
			cond.x, cond.slot = reg.register(x)
			c.attachGuard(cond, role, steps, reg)
			return cond, nil
		}
	}
	x, errs := c.env.compileExprAggs(text, src, c.Rule.Source, role, steps, aggs)
	if errs != nil {
		return nil, errs
	}
	x.useTermMemo(reg)
	cond.x = x
	if reg != nil && !x.usesMatch && !x.usesAgg {
		cond.x, cond.slot = reg.register(x)
	}
	c.attachGuard(cond, role, steps, reg)
	return cond, nil
}

// EvalErrors returns how many condition evaluations of this rule failed (and counted as
// false) so far.
func (c *Compiled) EvalErrors() uint64 { return c.stats.errs.Load() }

// LastEvalError returns the message of a recent evaluation error ("" if none).
func (c *Compiled) LastEvalError() string {
	if p := c.stats.last.Load(); p != nil {
		return *p
	}
	return ""
}

// Fingerprint identifies the rule's matching behaviour: a sha256 (hex) of its canonical
// pattern, conditions, windows, skip strategy, key and timeouts flag. Equal fingerprints
// mean partial matches can carry over a reload. Name, description, owner, tags, severity
// and emit expressions do not enter it.
func (c *Compiled) Fingerprint() string { return c.fingerprint }

// Env returns the environment the rule was compiled in.
func (c *Compiled) Env() *Env { return c.env }

// Explain lists the rule's conditions, how each is evaluated (closure, hybrid or
// interpreter), its memo slot and its estimated worst-case cost. Deterministic.
func (c *Compiled) Explain() string {
	keys := make([]condKey, 0, len(c.conds))
	for k := range c.conds {
		keys = append(keys, k)
	}
	order := make(map[string]int)
	for i, n := range c.Rule.Pattern.StepNames() {
		order[n] = i
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].step != keys[j].step {
			return order[keys[i].step] < order[keys[j].step]
		}
		return keys[i].kind < keys[j].kind
	})
	var b strings.Builder
	for _, k := range keys {
		cond := c.conds[k]
		kind := "where"
		if k.kind == nfa.CondUntil {
			kind = "until"
		}
		slot := "-"
		if cond.slot >= 0 {
			slot = fmt.Sprint(cond.slot)
		}
		fmt.Fprintf(&b, "%s %s: %s [%s, memo %s, cost %d]\n", k.step, kind, cond.x.canonical, cond.x.mode, slot, cond.x.cost)
	}
	for _, em := range c.emits {
		fmt.Fprintf(&b, "emit %s: %s [cost %d]\n", em.name, em.x.canonical, em.x.cost)
	}
	return b.String()
}

// EmitValue is the value of one emit expression for a match.
type EmitValue struct {
	Name string
	// Value is a plain Go value (bool, int64, uint64, float64, string, RFC 3339 string for
	// a timestamp, CEL duration string such as "90s", []any, map[string]any, nil); nil
	// when Err is set.
	Value any
	// Err is the evaluation error, "" if none.
	Err string
}

// EmitValues evaluates the rule's emit expressions for a match, with e = last (the last
// event of the match) and match = the events of m per step. An evaluation error gives a
// nil value and the error's message, never a panic. The order is the rule's.
func (c *Compiled) EmitValues(m nfa.Match, last *event.Event) []EmitValue {
	return c.EmitValuesWith(m, last, nil)
}

// EmitValuesWith is EmitValues with the rule's aggregate values for last (agg.NAME);
// with aggs nil, an emit expression reading agg gets an error.
func (c *Compiled) EmitValuesWith(m nfa.Match, last *event.Event, aggs *Aggregates) []EmitValue {
	if len(c.emits) == 0 {
		return nil
	}
	out := make([]EmitValue, len(c.emits))
	steps := make(map[string]bool)
	for _, n := range c.Rule.Pattern.StepNames() {
		steps[n] = true
	}
	for i, em := range c.emits {
		out[i] = EmitValue{Name: em.name}
		v, err := evalEmitAggs(em.x, &m, last, steps, aggs)
		if err != nil {
			out[i].Err = err.Error()
			continue
		}
		out[i].Value = v
	}
	return out
}

func evalEmit(x *compiledExpr, m *nfa.Match, last *event.Event, steps map[string]bool) (val any, err error) {
	return evalEmitAggs(x, m, last, steps, nil)
}

func evalEmitAggs(x *compiledExpr, m *nfa.Match, last *event.Event, steps map[string]bool, aggs *Aggregates) (val any, err error) {
	defer func() {
		if r := recover(); r != nil {
			val, err = nil, fmt.Errorf("internal error: %v", r)
		}
	}()
	v, err := x.env.eval(x.prog, last, matchSource{match: m, steps: steps, aggNames: x.aggs, aggs: aggs})
	if err != nil {
		return nil, err
	}
	return plain(v)
}
