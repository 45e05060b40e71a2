package service

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/cepd/cepd/alerts"
	"github.com/cepd/cepd/api/auth"
	cepv1 "github.com/cepd/cepd/api/cep/v1"
	"github.com/cepd/cepd/engine"
	"github.com/cepd/cepd/event"
	"github.com/cepd/cepd/patterns"
	"github.com/cepd/cepd/rules"
	"github.com/cepd/cepd/rules/store"
)

// RuleEngine is what the Rules service needs of the runtime.
type RuleEngine interface {
	SwapRules(ctx context.Context, rs *engine.RuleSet) (engine.ReloadStats, error)
	// Rules returns the rule set the engine runs (nil: none): after a SwapRules that
	// failed, it tells whether the engine took the new one all the same.
	Rules() *engine.RuleSet
}

// Rules implements cepv1.RulesServer.
type Rules struct {
	cepv1.UnimplementedRulesServer
	mu      sync.Mutex // serialises changes: compile, store, swap
	store   store.Store
	eng     RuleEngine
	envOpts rules.EnvOptions
	sch     atomic.Pointer[schemaState] // the schema the rules compile against (rules_schema.go)
	modes   *Modes
	// OnReload, if set, is told of every swap (for logging).
	OnReload func(engine.ReloadStats)
	// OnChange, if set, is told of every version the store took through the API (for
	// the log: one line per change), before the engine swaps.
	OnChange func(store.Version)
	// Limits bound the rules stored (set before serving).
	Limits RuleLimits
}

// NewRules returns the Rules service. modes (which may be nil) is kept up to date with the
// running set. With an engine, the store's rules are swapped in at once; eng may be nil
// until Attach (build the engine from RuleSet, so that restored state finds its rules).
// The rules compile against the schema the store holds (store.SchemaStore), or schema
// when it holds none.
func NewRules(st store.Store, eng RuleEngine, schema *event.Schema, envOpts rules.EnvOptions, modes *Modes) (*Rules, error) {
	if modes == nil {
		modes = &Modes{}
	}
	s := &Rules{store: st, eng: eng, envOpts: envOpts, modes: modes}
	sc, err := s.startSchema(context.Background(), schema)
	if err != nil {
		return nil, err
	}
	s.sch.Store(sc)
	if eng != nil { // the engine runs what the store holds from now on
		if err := s.Reload(context.Background()); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Attach sets the engine the service swaps rule sets into (built from RuleSet).
func (s *Rules) Attach(eng RuleEngine) {
	s.mu.Lock()
	s.eng = eng
	s.mu.Unlock()
}

// RuleSet compiles the store's current rules into the rule set the engine should run (the
// rule set to build the engine with at start-up) and records their modes.
func (s *Rules) RuleSet(ctx context.Context) (*engine.RuleSet, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	vs, err := s.store.List(ctx)
	if err != nil {
		return nil, err
	}
	rs, runs, errs := s.compileSet(ctx, vs, s.sch.Load())
	if len(errs) > 0 {
		return nil, errs.Err()
	}
	s.modes.set(runs)
	return rs, nil
}

// Reload compiles the store's current rules, against the store's current schema, and
// swaps them in (after the rule files or the schema file changed on disk, or another
// instance changed the shared store). A set that does not compile, or a schema that
// cannot replace the running one (event.Compatible), changes nothing.
func (s *Rules) Reload(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	sc, err := s.storedSchema(ctx)
	if err != nil {
		return err
	}
	vs, err := s.store.List(ctx)
	if err != nil {
		return err
	}
	rs, runs, errs := s.compileSet(ctx, vs, sc)
	if len(errs) > 0 {
		return errs.Err()
	}
	ok, err := s.apply(ctx, rs, runs, sc)
	if !ok {
		return status.Errorf(codes.Unavailable, "the engine did not take the reloaded rule set: %v", err)
	}
	return err
}

// runs lists what the engine runs for vs: each rule not disabled under its id, and for a
// candidate on trial, its active version under the id and the candidate under
// id + ShadowSuffix.
func (s *Rules) runs(ctx context.Context, vs []store.Version) ([]run, error) {
	var out []run
	for _, v := range vs {
		if v.Mode == store.Disabled || v.Deleted {
			continue
		}
		if v.Mode == store.Shadow && v.ShadowOf > 0 {
			base, err := s.store.Version(ctx, v.ID, v.ShadowOf)
			if err != nil {
				return nil, fmt.Errorf("rule %s: the active version %d of its trial: %w", v.ID, v.ShadowOf, err)
			}
			out = append(out, run{id: v.ID, ruleID: v.ID, version: base.Version, mode: store.Active, src: base.Source},
				run{id: v.ID + ShadowSuffix, ruleID: v.ID, version: v.Version, mode: store.Shadow, src: v.Source})
			continue
		}
		out = append(out, run{id: v.ID, ruleID: v.ID, version: v.Version, mode: v.Mode, src: v.Source})
	}
	return out, nil
}

// compileSet compiles what the engine runs for vs into a rule set against sc.
func (s *Rules) compileSet(ctx context.Context, vs []store.Version, sc *schemaState) (*engine.RuleSet, []run, patterns.ErrorList) {
	runs, err := s.runs(ctx, vs)
	if err != nil {
		return nil, nil, patterns.ErrorList{&patterns.Error{Msg: err.Error()}}
	}
	b := engine.NewRuleSetBuilder(sc.schema, sc.env)
	for i := range runs {
		r := &runs[i]
		if c := b.Add(r.ruleID+".yaml", r.src, r.id); c != nil {
			r.content = c.Version
			c.StoreVersion = r.version
			c.AlertRuleID, c.Mode = r.ruleID, alertMode(r.mode) // alerts are made final
		}
	}
	rs, err := b.Build()
	if err != nil {
		return nil, nil, rules.Errors("", err)
	}
	return rs, runs, nil
}

func (s *Rules) swap(ctx context.Context, rs *engine.RuleSet, runs []run) error {
	if s.eng == nil {
		return status.Error(codes.Unavailable, "the change is stored but no engine runs the rules yet")
	}
	taken, err := s.swapEngine(ctx, rs, runs)
	switch {
	case !taken:
		return status.Errorf(codes.Unavailable, "the change is stored but the engine did not take the new rule set: %v", err)
	case err != nil:
		return status.Errorf(codes.Unavailable, "the change is stored and the engine took it, but: %v", err)
	}
	return nil
}

// swapEngine swaps rs into the engine (not nil) and, when the engine runs it afterwards,
// records what runs. It reports whether the engine took rs, and the engine's error: a
// swap may fail after the engine took the rule set (the deadline passed while a shard was
// busy; the swap still reaches every shard), and then runs is what runs. It is the one
// place that decides whether a failed swap was taken.
func (s *Rules) swapEngine(ctx context.Context, rs *engine.RuleSet, runs []run) (taken bool, err error) {
	before := s.eng.Rules()
	st, err := s.eng.SwapRules(ctx, rs)
	if err != nil {
		// Taken: the engine put a new rule set in place, of rs's schema (a reload's schema
		// is the running one: the schema alone does not tell).
		if cur := s.eng.Rules(); cur == nil || cur == before || !cur.Schema.Equal(rs.Schema) {
			return false, err
		}
	}
	s.modes.set(runs)
	if s.OnReload != nil {
		s.OnReload(st)
	}
	return true, err
}

func ruleErrors(errs patterns.ErrorList) []*cepv1.RuleError {
	out := make([]*cepv1.RuleError, 0, len(errs))
	for _, e := range errs {
		out = append(out, &cepv1.RuleError{Line: int32(e.Pos.Line), Column: int32(e.Pos.Col), Message: e.Msg})
	}
	return out
}

// rejected is the status of a change whose rule set does not compile: InvalidArgument with
// every error in the message and, as a detail, a ValidateRuleResponse.
func rejected(errs patterns.ErrorList) error {
	return invalidWith(fmt.Sprintf("the rule set does not compile (%d errors); nothing was changed", len(errs)), errs)
}

// invalidWith is InvalidArgument with msg followed by every error (file:line:col:
// message) and, as a detail, a ValidateRuleResponse with them.
func invalidWith(msg string, errs patterns.ErrorList) error {
	for _, e := range errs {
		msg += fmt.Sprintf("\n%s:%d:%d: %s", e.File, e.Pos.Line, e.Pos.Col, e.Msg)
	}
	st := status.New(codes.InvalidArgument, msg)
	if d, err := st.WithDetails(&cepv1.ValidateRuleResponse{Errors: ruleErrors(errs)}); err == nil {
		st = d
	}
	return st.Err()
}

var storeCodes = []errCode{
	{store.ErrNotFound, codes.NotFound, ""},
	{store.ErrExists, codes.AlreadyExists, ""},
	{store.ErrInvalid, codes.InvalidArgument, ""},
}

// storeErr answers the rule store's errors. Anything else is the store failing to read
// or write (a disk, Redis away): the call may be tried again.
func storeErr(err error) error {
	return statusOf(err, storeCodes, func(err error) error {
		return status.Errorf(codes.Unavailable, "the rule store failed: %v", err)
	})
}

// author names who makes a change: with access control on, the name of the caller's token
// (a header cannot override it); without, the x-cepd-author metadata (REST: the
// X-Cepd-Author header) or "anonymous".
func author(ctx context.Context) string {
	if id, ok := auth.FromContext(ctx); ok && id.Verified {
		return id.Name
	}
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		if a := md.Get("x-cepd-author"); len(a) > 0 && a[0] != "" {
			return a[0]
		}
	}
	return "anonymous"
}

// alertMode is the mode alerts of a rule in store mode m carry.
func alertMode(m store.Mode) string {
	if m == store.Shadow {
		return alerts.ModeShadow
	}
	return alerts.ModeActive
}

// modeFilter reads an optional mode filter of a request: "" keeps every mode.
func modeFilter(s string) (store.Mode, error) {
	if s == "" {
		return "", nil
	}
	m, err := store.ParseMode(s)
	if err != nil {
		return "", status.Error(codes.InvalidArgument, err.Error())
	}
	return m, nil
}

// toRule describes v; c (which may be nil) is its compiled form, for the metadata.
func (s *Rules) toRule(v store.Version) *cepv1.Rule {
	r := &cepv1.Rule{Id: v.ID, Version: int32(v.Version), Mode: string(v.Mode), Source: string(v.Source),
		Comment: v.Comment, Author: v.Author, UpdateTime: timestamppb.New(v.Time), ShadowOf: int32(v.ShadowOf),
		RunningVersion: int32(s.modes.Running(v.ID)), Tests: string(v.Tests)}
	if pr, err := patterns.Parse(v.ID+".yaml", v.Source); err == nil {
		r.Name, r.Owner, r.Tags, r.Severity = pr.Name, pr.Owner, pr.Tags, pr.Severity
		if c, err := rules.Compile(pr, s.sch.Load().env, nil); err == nil {
			r.ContentVersion = c.Version
		}
	}
	return r
}

func replace(vs []store.Version, v store.Version) []store.Version {
	out := slices.Clone(vs)
	for i := range out {
		if out[i].ID == v.ID {
			out[i] = v
			return out
		}
	}
	return append(out, v)
}

func without(vs []store.Version, id string) []store.Version {
	return slices.DeleteFunc(slices.Clone(vs), func(v store.Version) bool { return v.ID == id })
}
