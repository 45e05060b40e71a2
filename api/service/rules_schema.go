package service

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

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
	if err := s.swap(ctx, rs, runs); err != nil {
		return v, err
	}
	s.sch.Store(next)
	return v, nil
}

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
