package service

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cepd/cepd/engine"
	"github.com/cepd/cepd/event"
	"github.com/cepd/cepd/patterns"
	"github.com/cepd/cepd/rules"
	"github.com/cepd/cepd/rules/store"
)

// schemaState is the schema the rules compile against, its CEL environment and the
// store's version of it (Version 0: not stored, the schema given to NewRules). Immutable.
type schemaState struct {
	schema  *event.Schema
	env     *rules.Env
	version store.SchemaVersion
}

func (s *Rules) newSchemaState(schema *event.Schema, v store.SchemaVersion) (*schemaState, error) {
	env, err := rules.NewEnv(schema, s.envOpts)
	if err != nil {
		return nil, fmt.Errorf("rules environment: %w", err)
	}
	return &schemaState{schema: schema, env: env, version: v}, nil
}

// Schema returns the event schema the rules run against.
func (s *Rules) Schema() *event.Schema { return s.sch.Load().schema }

// Compiler returns the running schema and the CEL environment rules compile in, so that
// drafts (tests, explanations) see a field added live as the stored rules do.
func (s *Rules) Compiler() (*event.Schema, *rules.Env) {
	sc := s.sch.Load()
	return sc.schema, sc.env
}

// SchemaVersion returns the running schema and its version in the store (Version 0 and
// no Source when the store holds none).
func (s *Rules) SchemaVersion() (*event.Schema, store.SchemaVersion) {
	sc := s.sch.Load()
	return sc.schema, sc.version
}

// schemaStore returns the store's SchemaStore, if it is one.
func (s *Rules) schemaStore() (store.SchemaStore, bool) {
	ss, ok := s.store.(store.SchemaStore)
	return ss, ok
}

// startSchema is the schema NewRules starts with: the store's, or given.
func (s *Rules) startSchema(ctx context.Context, given *event.Schema) (*schemaState, error) {
	ss, ok := s.schemaStore()
	if !ok {
		return s.newSchemaState(given, store.SchemaVersion{})
	}
	v, err := ss.GetSchema(ctx)
	if errors.Is(err, store.ErrNotFound) {
		return s.newSchemaState(given, store.SchemaVersion{})
	}
	if err != nil {
		return nil, fmt.Errorf("the rule store's schema: %w", err)
	}
	schema, err := event.ParseSchema(v.Source)
	if err != nil {
		return nil, fmt.Errorf("the rule store's schema (version %d): %w", v.Version, err)
	}
	return s.newSchemaState(schema, v)
}

// storedSchema returns the schema a reload runs with: the running one, or the store's
// newest when it differs and may replace the running one (event.Compatible). s.mu is held.
func (s *Rules) storedSchema(ctx context.Context) (*schemaState, error) {
	cur := s.sch.Load()
	ss, ok := s.schemaStore()
	if !ok {
		return cur, nil
	}
	v, err := ss.GetSchema(ctx)
	if errors.Is(err, store.ErrNotFound) {
		return cur, nil
	}
	if err != nil {
		return nil, fmt.Errorf("the rule store's schema: %w", err)
	}
	if v.Version == cur.version.Version && bytes.Equal(v.Source, cur.version.Source) {
		return cur, nil
	}
	schema, err := event.ParseSchema(v.Source)
	if err != nil {
		return nil, fmt.Errorf("schema version %d: %w; the running schema stays", v.Version, err)
	}
	if !schema.Equal(cur.schema) {
		if err := event.Compatible(cur.schema, schema); err != nil {
			return nil, fmt.Errorf("schema version %d cannot replace the running one while cepd runs: %w", v.Version, err)
		}
	}
	return s.newSchemaState(schema, v)
}

// PutSchema replaces the schema with source (schema.yaml's format) if it may replace the
// running one (event.Compatible) and every stored rule compiles against it; it stores it
// (expect, when not 0, is the version it is made from) and swaps the recompiled rules in.
// If the engine does not take them, the stored schema is put back (a new version with
// the running schema's text, audited), so that the store never holds a schema the
// engine does not run; the answer is Unavailable.
// Errors are gRPC statuses: InvalidArgument for text that is not a schema,
// FailedPrecondition for an incompatible change or rules that break (each named with
// why), Aborted when the stored schema moved on from expect, Unimplemented when the
// store keeps no schema.
func (s *Rules) PutSchema(ctx context.Context, source []byte, expect int, ch store.Change) (store.SchemaVersion, error) {
	ss, ok := s.schemaStore()
	if !ok {
		return store.SchemaVersion{}, status.Error(codes.Unimplemented, "this rule store does not keep the schema")
	}
	schema, err := event.ParseSchema(source)
	if err != nil {
		return store.SchemaVersion{}, status.Errorf(codes.InvalidArgument, "the schema does not parse: %v", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur := s.sch.Load()
	if expect == 0 {
		expect = cur.version.Version
	}
	if expect != cur.version.Version {
		return store.SchemaVersion{}, status.Errorf(codes.Aborted, "the schema is at version %d, not %d: read it again", cur.version.Version, expect)
	}
	next, err := s.newSchemaState(schema, store.SchemaVersion{})
	if err != nil {
		return store.SchemaVersion{}, status.Errorf(codes.InvalidArgument, "%v", err)
	}
	vs, err := s.store.List(ctx)
	if err != nil {
		return store.SchemaVersion{}, storeErr(err)
	}
	// The rules are compiled against the new schema even when it is refused anyway, so
	// that the answer names every rule the change would break.
	rs, runs, errs := s.compileSet(ctx, vs, next)
	incompatible := event.Compatible(cur.schema, schema)
	switch {
	case incompatible != nil && len(errs) > 0:
		return store.SchemaVersion{}, status.Errorf(codes.FailedPrecondition, "%v\n%s", incompatible, brokenRules(errs))
	case incompatible != nil:
		return store.SchemaVersion{}, status.Errorf(codes.FailedPrecondition, "%v; nothing was changed", incompatible)
	case len(errs) > 0:
		return store.SchemaVersion{}, status.Error(codes.FailedPrecondition, brokenRules(errs))
	}
	v, err := ss.PutSchema(ctx, source, expect, ch)
	if errors.Is(err, store.ErrConflict) {
		return store.SchemaVersion{}, status.Errorf(codes.Aborted, "%v: read the schema again", err)
	}
	if err != nil {
		return store.SchemaVersion{}, storeErr(err)
	}
	next.version = v
	runsNext, err := s.apply(ctx, rs, runs, next)
	if !runsNext {
		return store.SchemaVersion{}, s.rollBack(ctx, ss, cur, v, ch, err)
	}
	return v, err
}

// apply swaps rs, compiled against sc, into the engine and makes sc the schema the rules
// compile against if the engine runs it afterwards: when the swap succeeded, when it
// failed after the engine had taken the rule set (the deadline passed while a shard was
// busy), or when no engine runs yet (it is then built from RuleSet, under sc). It reports
// whether sc runs, and the swap's error. It is the one place that decides which schema
// the service holds after a swap. s.mu is held.
func (s *Rules) apply(ctx context.Context, rs *engine.RuleSet, runs []run, sc *schemaState) (bool, error) {
	if s.eng == nil {
		s.sch.Store(sc)
		return true, status.Error(codes.Unavailable, "the change is stored but no engine runs the rules yet")
	}
	taken, err := s.swapEngine(ctx, rs, runs)
	if !taken {
		return false, err
	}
	if err != nil {
		err = status.Errorf(codes.Unavailable, "the change is stored and the engine took it, but: %v", err)
	}
	s.sch.Store(sc)
	return true, err
}

// rollBack puts the stored schema back to the running one (cur) after the engine did not
// take version v (why), as a new version in the store's history, so that the store, the
// service and the engine agree again. If that fails too, the store keeps v, which the
// next reload applies; the error says so. It returns the status for the caller.
func (s *Rules) rollBack(ctx context.Context, ss store.SchemaStore, cur *schemaState, v store.SchemaVersion, ch store.Change, why error) error {
	reason := why.Error()
	src := cur.version.Source
	if len(src) == 0 { // the store held no schema: the one given to NewRules runs
		src = []byte(cur.schema.String())
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rollBackTimeout)
	defer cancel()
	back, err := ss.PutSchema(rctx, src, v.Version, store.Change{Author: ch.Author,
		Comment: fmt.Sprintf("rolled back: the engine did not take version %d (%s)", v.Version, reason)})
	if err != nil {
		return status.Errorf(codes.Unavailable, "the engine did not take the schema (%s), and putting the stored schema back failed (%v): the store keeps version %d, which the next reload applies", reason, err, v.Version)
	}
	s.sch.Store(&schemaState{schema: cur.schema, env: cur.env, version: back})
	return status.Errorf(codes.Unavailable, "the engine did not take the schema (%s); it runs the schema it ran, which the store holds again as version %d", reason, back.Version)
}

// rollBackTimeout bounds putting the stored schema back, also when the request's context
// has ended.
const rollBackTimeout = 10 * time.Second

// brokenRules says which rules a schema change breaks and why, one rule a line.
func brokenRules(errs patterns.ErrorList) string {
	byRule := map[string][]string{}
	for _, e := range errs {
		rule := strings.TrimSuffix(e.File, ".yaml")
		byRule[rule] = append(byRule[rule], fmt.Sprintf("%d:%d: %s", e.Pos.Line, e.Pos.Col, e.Msg))
	}
	ids := make([]string, 0, len(byRule))
	for id := range byRule {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var b strings.Builder
	fmt.Fprintf(&b, "the schema change breaks %d rule(s); nothing was changed", len(ids))
	for _, id := range ids {
		fmt.Fprintf(&b, "\nrule %s: %s", id, strings.Join(byRule[id], "; "))
	}
	return b.String()
}
