package service

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/cepd/cepd/api/auth"
	cepv1 "github.com/cepd/cepd/api/cep/v1"
	"github.com/cepd/cepd/internal/defaults"
	"github.com/cepd/cepd/patterns"
	"github.com/cepd/cepd/rules"
	"github.com/cepd/cepd/rules/store"
)

// RuleLimits bound what the Rules service stores. Zero fields take the defaults.
type RuleLimits struct {
	MaxRules   int // rules the store may hold (default 1000)
	MaxComment int // bytes of a change's comment (default 4096)
	MaxSource  int // bytes of a rule's source (default 1 MiB)
}

func (l RuleLimits) withDefaults() RuleLimits {
	defaults.Positive(&l.MaxRules, 1000)
	defaults.Positive(&l.MaxComment, 4096)
	defaults.Positive(&l.MaxSource, 1<<20)
	return l
}

// changeBy says who makes a change in ctx and why, refusing an oversized comment.
func (s *Rules) changeBy(ctx context.Context, comment string) (store.Change, error) {
	if max := s.Limits.withDefaults().MaxComment; len(comment) > max {
		return store.Change{}, status.Errorf(codes.InvalidArgument, "the comment has %d bytes, more than the %d allowed", len(comment), max)
	}
	return store.Change{Author: author(ctx), Comment: comment}, nil
}

// mayManage reports whether the caller holds the admin capability (always, with access
// control off).
func mayManage(ctx context.Context) bool {
	id, ok := auth.FromContext(ctx)
	return !ok || id.Role.Allows(auth.Manage)
}

// ValidateRule implements cepv1.RulesServer.
func (s *Rules) ValidateRule(_ context.Context, req *cepv1.ValidateRuleRequest) (*cepv1.ValidateRuleResponse, error) {
	if max := s.Limits.withDefaults().MaxSource; len(req.GetSource()) > max {
		return nil, status.Errorf(codes.InvalidArgument, "source is larger than %d bytes", max)
	}
	c, errs := rules.CompileSource("rule.yaml", []byte(req.GetSource()), "", s.sch.Load().env, rules.NewRegistry())
	out := &cepv1.ValidateRuleResponse{Errors: ruleErrors(errs)}
	if c != nil {
		out.Warnings = ruleErrors(c.Warnings)
	}
	return out, nil
}

// change applies one change under s.mu: cand is the whole new set of current versions
// (before storing), save performs the change. The set compiles first; only then is the
// change stored and the set swapped in.
func (s *Rules) change(ctx context.Context, cand func([]store.Version) ([]store.Version, error), save func() (store.Version, error)) (*cepv1.Rule, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, err := s.store.List(ctx)
	if err != nil {
		return nil, storeErr(err)
	}
	next, err := cand(cur)
	if err != nil {
		return nil, storeErr(err)
	}
	slices.SortFunc(next, func(a, b store.Version) int { return strings.Compare(a.ID, b.ID) })
	rs, runs, errs := s.compileSet(ctx, next, s.sch.Load())
	if len(errs) > 0 {
		return nil, rejected(errs)
	}
	v, err := save()
	if err != nil {
		return nil, storeErr(err)
	}
	if s.OnChange != nil {
		s.OnChange(v)
	}
	final, err := s.store.List(ctx)
	if err != nil {
		return nil, storeErr(err)
	}
	if sameSet(next, final) {
		fr, err := s.runs(ctx, final) // the version numbers the store gave
		if err != nil {
			return nil, storeErr(err)
		}
		number := make(map[string]int, len(runs))
		for i := range runs {
			runs[i].version = fr[i].version
			number[runs[i].id] = fr[i].version
		}
		for _, c := range rs.Rules { // not shared yet: the alerts name the stored version
			c.StoreVersion = number[c.Rule.ID]
		}
	} else if rs, runs, errs = s.compileSet(ctx, final, s.sch.Load()); len(errs) > 0 { // another instance's change came between
		return nil, status.Errorf(codes.Aborted, "the change is stored (version %d) but, with another change made meanwhile, the rule set does not compile, so the engine keeps the running set: %v",
			v.Version, errs.Err())
	}
	if err := s.swap(ctx, rs, runs); err != nil {
		return nil, err
	}
	return s.toRule(v), nil
}

// parseID parses a draft for its id; a draft that does not parse is rejected with every
// error.
func (s *Rules) parseID(src string) (string, error) {
	if max := s.Limits.withDefaults().MaxSource; len(src) > max {
		return "", status.Errorf(codes.InvalidArgument, "source is larger than %d bytes", max)
	}
	if src == "" {
		return "", status.Error(codes.InvalidArgument, "source is empty: send the rule as YAML text")
	}
	r, err := patterns.Parse("rule.yaml", []byte(src))
	if err != nil {
		// Compile for the list: it holds the expressions' problems too.
		_, errs := rules.CompileSource("rule.yaml", []byte(src), "", s.sch.Load().env, rules.NewRegistry())
		if len(errs) == 0 {
			errs = rules.Errors("rule.yaml", err)
		}
		return "", rejected(errs)
	}
	return r.ID, nil
}

// CreateRule implements cepv1.RulesServer.
func (s *Rules) CreateRule(ctx context.Context, req *cepv1.CreateRuleRequest) (*cepv1.Rule, error) {
	id, err := s.parseID(req.GetSource())
	if err != nil {
		return nil, err
	}
	src := []byte(req.GetSource())
	ch, err := s.changeBy(ctx, req.GetComment())
	if err != nil {
		return nil, err
	}
	if ch.Tests, err = s.testsOf(req.GetTests()); err != nil {
		return nil, err
	}
	return s.change(ctx, func(cur []store.Version) ([]store.Version, error) {
		if slices.ContainsFunc(cur, func(v store.Version) bool { return v.ID == id }) {
			return nil, fmt.Errorf("%w: %q (update it with PUT /v1/rules/%s)", store.ErrExists, id, id)
		}
		if max := s.Limits.withDefaults().MaxRules; len(cur) >= max {
			return nil, status.Errorf(codes.ResourceExhausted, "the store holds %d rules, the most allowed: delete one first", len(cur))
		}
		if err := s.mayRecreate(ctx, id); err != nil {
			return nil, err
		}
		return replace(cur, store.Version{ID: id, Mode: store.Active, Source: src}), nil
	}, func() (store.Version, error) {
		if err := s.checkTests(ctx, src, ch.Tests, req.GetForce(), &ch); err != nil {
			return store.Version{}, err
		}
		return s.store.Create(ctx, id, src, ch)
	})
}

// sourceOf checks that source is a rule whose id is id (mismatch, a format of the
// source's id and id, says otherwise) and returns it with the change's author and
// comment.
func (s *Rules) sourceOf(ctx context.Context, id, source, comment, mismatch string) ([]byte, store.Change, error) {
	got, err := s.parseID(source)
	if err != nil {
		return nil, store.Change{}, err
	}
	if got != id {
		return nil, store.Change{}, status.Errorf(codes.InvalidArgument, mismatch, got, id)
	}
	ch, err := s.changeBy(ctx, comment)
	if err != nil {
		return nil, store.Change{}, err
	}
	return []byte(source), ch, nil
}

// UpdateRule implements cepv1.RulesServer.
func (s *Rules) UpdateRule(ctx context.Context, req *cepv1.UpdateRuleRequest) (*cepv1.Rule, error) {
	id := req.GetId()
	src, ch, err := s.sourceOf(ctx, id, req.GetSource(), req.GetComment(), "the source's id %q differs from the rule %q it would update")
	if err != nil {
		return nil, err
	}
	if ch.Tests, err = s.testsOf(req.GetTests()); err != nil {
		return nil, err
	}
	var kept []byte // the current version's tests, which a change without tests keeps
	return s.change(ctx, func(cur []store.Version) ([]store.Version, error) {
		i := slices.IndexFunc(cur, func(v store.Version) bool { return v.ID == id })
		if i < 0 {
			return nil, fmt.Errorf("%w: %q (create it with POST /v1/rules)", store.ErrNotFound, id)
		}
		v := cur[i]
		kept = v.Tests
		v.Source = src
		return replace(cur, v), nil
	}, func() (store.Version, error) {
		if err := s.checkTests(ctx, src, ch.NextTests(kept), req.GetForce(), &ch); err != nil {
			return store.Version{}, err
		}
		return s.store.Update(ctx, id, src, ch)
	})
}

// DeleteRule implements cepv1.RulesServer.
func (s *Rules) DeleteRule(ctx context.Context, req *cepv1.DeleteRuleRequest) (*cepv1.Rule, error) {
	id := req.GetId()
	ch, err := s.changeBy(ctx, req.GetComment())
	if err != nil {
		return nil, err
	}
	return s.change(ctx, func(cur []store.Version) ([]store.Version, error) {
		if _, err := s.store.Get(ctx, id); err != nil {
			return nil, err
		}
		return without(cur, id), nil
	}, func() (store.Version, error) { return s.store.Delete(ctx, id, ch) })
}

// mayRecreate refuses a caller without the admin capability to create again a deleted
// rule whose last mode was not active: deleting and re-creating would otherwise undo an
// admin's mode change.
func (s *Rules) mayRecreate(ctx context.Context, id string) error {
	if mayManage(ctx) {
		return nil
	}
	vs, err := s.store.Versions(ctx, id)
	if errors.Is(err, store.ErrNotFound) || len(vs) == 0 {
		return nil
	}
	if err != nil {
		return err
	}
	for i := len(vs) - 1; i >= 0; i-- {
		if vs[i].Deleted {
			continue
		}
		if vs[i].Mode != store.Active {
			return status.Errorf(codes.PermissionDenied, "rule %q was %s when it was deleted: only an admin may create it again", id, vs[i].Mode)
		}
		return nil
	}
	return nil
}

// changeCurrent is a change of rule id's current version: the candidate set has edit's
// version of it, and save stores the change.
func (s *Rules) changeCurrent(ctx context.Context, id string, edit func(store.Version) (store.Version, error), save func() (store.Version, error)) (*cepv1.Rule, error) {
	return s.change(ctx, func(cur []store.Version) ([]store.Version, error) {
		v, err := s.store.Get(ctx, id)
		if err != nil {
			return nil, err
		}
		if v, err = edit(v); err != nil {
			return nil, err
		}
		return replace(cur, v), nil
	}, save)
}

// RollbackRule implements cepv1.RulesServer.
func (s *Rules) RollbackRule(ctx context.Context, req *cepv1.RollbackRuleRequest) (*cepv1.Rule, error) {
	id, n := req.GetId(), int(req.GetVersion())
	ch, err := s.changeBy(ctx, req.GetComment())
	if err != nil {
		return nil, err
	}
	return s.changeCurrent(ctx, id, func(v store.Version) (store.Version, error) {
		old, err := s.store.Version(ctx, id, n)
		if err != nil {
			return v, err
		}
		if v.Mode == store.Shadow && v.ShadowOf > 0 && n != v.ShadowOf && !mayManage(ctx) {
			// The candidate (or any version but the active one) would run active: a
			// promotion, which is a mode change.
			return v, status.Errorf(codes.PermissionDenied, "rule %q is on trial: a rollback to version %d would make it active in place of version %d, which only an admin may do (a rollback to %d ends the trial)", id, n, v.ShadowOf, v.ShadowOf)
		}
		st := store.RollbackState(v)
		v.Source, v.Mode, v.ShadowOf = old.Source, st.Mode, st.ShadowOf
		return v, nil
	}, func() (store.Version, error) { return s.store.Rollback(ctx, id, n, ch) })
}

// SetRuleMode implements cepv1.RulesServer.
func (s *Rules) SetRuleMode(ctx context.Context, req *cepv1.SetRuleModeRequest) (*cepv1.Rule, error) {
	m, err := store.ParseMode(req.GetMode())
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	id := req.GetId()
	ch, err := s.changeBy(ctx, req.GetComment())
	if err != nil {
		return nil, err
	}
	return s.changeCurrent(ctx, id, func(v store.Version) (store.Version, error) {
		st := store.ModeChange(v, m)
		v.Mode, v.ShadowOf = st.Mode, st.ShadowOf
		return v, nil
	}, func() (store.Version, error) { return s.store.SetMode(ctx, id, m, ch) })
}

// ShadowRule implements cepv1.RulesServer.
func (s *Rules) ShadowRule(ctx context.Context, req *cepv1.ShadowRuleRequest) (*cepv1.Rule, error) {
	id := req.GetId()
	src, ch, err := s.sourceOf(ctx, id, req.GetSource(), req.GetComment(), "the candidate's id %q differs from the rule %q it would run beside")
	if err != nil {
		return nil, err
	}
	return s.changeCurrent(ctx, id, func(v store.Version) (store.Version, error) {
		st, err := store.TrialState(v)
		if err != nil {
			return v, err
		}
		v.Source, v.Mode, v.ShadowOf = src, st.Mode, st.ShadowOf
		return v, nil
	}, func() (store.Version, error) { return s.store.Shadow(ctx, id, src, ch) })
}

// CompareShadow implements cepv1.RulesServer.
func (s *Rules) CompareShadow(ctx context.Context, req *cepv1.CompareShadowRequest) (*cepv1.ShadowComparison, error) {
	v, err := s.store.Get(ctx, req.GetId())
	if err != nil {
		return nil, storeErr(err)
	}
	c, ok := s.modes.Comparison(v.ID)
	if !ok {
		return nil, status.Errorf(codes.FailedPrecondition, "rule %q is %s, not running in shadow here: put a candidate on trial with POST /v1/rules/%s:shadow", v.ID, v.Mode, v.ID)
	}
	return c, nil
}

// GetRule implements cepv1.RulesServer.
func (s *Rules) GetRule(ctx context.Context, req *cepv1.GetRuleRequest) (*cepv1.Rule, error) {
	v, err := s.store.Get(ctx, req.GetId())
	if err != nil {
		return nil, storeErr(err)
	}
	return s.toRule(v), nil
}

// ListRules implements cepv1.RulesServer.
func (s *Rules) ListRules(ctx context.Context, req *cepv1.ListRulesRequest) (*cepv1.ListRulesResponse, error) {
	mode, err := modeFilter(req.GetMode())
	if err != nil {
		return nil, err
	}
	vs, err := s.store.List(ctx)
	if err != nil {
		return nil, storeErr(err)
	}
	out := &cepv1.ListRulesResponse{Rules: []*cepv1.Rule{}}
	for _, v := range vs {
		r := s.toRule(v)
		if (req.GetTag() != "" && !slices.Contains(r.Tags, req.GetTag())) ||
			(req.GetOwner() != "" && r.Owner != req.GetOwner()) ||
			(mode != "" && r.Mode != string(mode)) {
			continue
		}
		out.Rules = append(out.Rules, r)
	}
	return out, nil
}

func toVersion(v store.Version) *cepv1.RuleVersion {
	return &cepv1.RuleVersion{Id: v.ID, Version: int32(v.Version), Mode: string(v.Mode), Source: string(v.Source),
		Comment: v.Comment, Author: v.Author, CreateTime: timestamppb.New(v.Time), Action: v.Action, ShadowOf: int32(v.ShadowOf),
		Tests: string(v.Tests)}
}

// ListRuleVersions implements cepv1.RulesServer.
func (s *Rules) ListRuleVersions(ctx context.Context, req *cepv1.ListRuleVersionsRequest) (*cepv1.ListRuleVersionsResponse, error) {
	vs, err := s.store.Versions(ctx, req.GetId())
	if err != nil {
		return nil, storeErr(err)
	}
	out := &cepv1.ListRuleVersionsResponse{Versions: make([]*cepv1.RuleVersion, 0, len(vs))}
	for _, v := range vs {
		out.Versions = append(out.Versions, toVersion(v))
	}
	return out, nil
}

// GetRuleVersion implements cepv1.RulesServer.
func (s *Rules) GetRuleVersion(ctx context.Context, req *cepv1.GetRuleVersionRequest) (*cepv1.RuleVersion, error) {
	v, err := s.store.Version(ctx, req.GetId(), int(req.GetVersion()))
	if err != nil {
		return nil, storeErr(err)
	}
	return toVersion(v), nil
}

// DiffRuleVersions implements cepv1.RulesServer.
func (s *Rules) DiffRuleVersions(ctx context.Context, req *cepv1.DiffRuleVersionsRequest) (*cepv1.DiffRuleVersionsResponse, error) {
	a, err := s.store.Version(ctx, req.GetId(), int(req.GetFrom()))
	if err != nil {
		return nil, storeErr(err)
	}
	b, err := s.store.Version(ctx, req.GetId(), int(req.GetTo()))
	if err != nil {
		return nil, storeErr(err)
	}
	return &cepv1.DiffRuleVersionsResponse{Diff: store.Diff(a.Source, b.Source)}, nil
}

// ListAuditEntries implements cepv1.RulesServer.
func (s *Rules) ListAuditEntries(ctx context.Context, req *cepv1.ListAuditEntriesRequest) (*cepv1.ListAuditEntriesResponse, error) {
	es, err := s.store.Audit(ctx, store.AuditFilter{RuleID: req.GetRuleId(), Limit: int(req.GetLimit())})
	if err != nil {
		return nil, storeErr(err)
	}
	out := &cepv1.ListAuditEntriesResponse{Entries: make([]*cepv1.AuditEntry, 0, len(es))}
	for _, e := range es {
		out.Entries = append(out.Entries, &cepv1.AuditEntry{Time: timestamppb.New(e.Time), Author: e.Author, Action: e.Action,
			RuleId: e.RuleID, Version: int32(e.Version), Comment: e.Comment, Diff: e.Diff, TestsForced: e.TestsForced})
	}
	return out, nil
}

// sameSet reports whether two lists of current versions run the same rules the same way.
func sameSet(a, b []store.Version) bool {
	return slices.EqualFunc(a, b, func(x, y store.Version) bool {
		return x.ID == y.ID && x.Mode == y.Mode && x.ShadowOf == y.ShadowOf && string(x.Source) == string(y.Source)
	})
}
