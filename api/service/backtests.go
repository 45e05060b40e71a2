package service

import (
	"context"
	"errors"
	"fmt"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	cepv1 "github.com/cepd/cepd/api/cep/v1"
	"github.com/cepd/cepd/backtest"
	"github.com/cepd/cepd/patterns"
	"github.com/cepd/cepd/rules/store"
)

// Bounds of a CreateBacktest request.
const (
	maxBacktestRules  = 100
	maxBacktestSource = 1 << 20
	maxBacktestAlerts = 10000
)

// Backtests implements cepv1.BacktestsServer over a backtest.Manager, which compiles and
// runs them (with the live schema and rules environment it was built with); stored rules
// are read from the rule store. The zero value has no Manager: every method answers
// Unimplemented. Safe for concurrent use.
type Backtests struct {
	cepv1.UnimplementedBacktestsServer
	m     *backtest.Manager
	store store.Store
}

// NewBacktests returns the Backtests service over m, resolving stored rules in st.
func NewBacktests(m *backtest.Manager, st store.Store) *Backtests {
	return &Backtests{m: m, store: st}
}

func (s Backtests) off() error {
	if s.m == nil {
		return status.Error(codes.Unimplemented, "backtests are not enabled on this server: run `cepd replay` on a JSONL file meanwhile")
	}
	return nil
}

// CreateBacktest implements cepv1.BacktestsServer.
func (s Backtests) CreateBacktest(ctx context.Context, req *cepv1.CreateBacktestRequest) (*cepv1.Backtest, error) {
	if err := s.off(); err != nil {
		return nil, err
	}
	n := len(req.GetRules())
	switch {
	case n == 0:
		return nil, status.Error(codes.InvalidArgument, "no rules: give each rule as a draft (source) or a stored rule (rule_id, and version or 0 for the current one)")
	case n > maxBacktestRules:
		return nil, status.Errorf(codes.InvalidArgument, "%d rules: a backtest runs at most %d", n, maxBacktestRules)
	case req.GetMaxAlerts() < 0 || req.GetMaxAlerts() > maxBacktestAlerts:
		return nil, status.Errorf(codes.InvalidArgument, "max_alerts %d: want 0 (the default, %d) to %d", req.GetMaxAlerts(), backtest.DefaultMaxAlerts, maxBacktestAlerts)
	}
	spec := backtest.Spec{EventsFile: req.GetEventsFile(), LabelField: req.GetLabelField(), MaxAlerts: int(req.GetMaxAlerts())}
	for i, r := range req.GetRules() {
		br, err := s.resolve(ctx, i, r)
		if err != nil {
			return nil, err
		}
		spec.Rules = append(spec.Rules, br)
	}
	j, err := s.m.Create(ctx, spec)
	if err != nil {
		return nil, backtestErr(err)
	}
	return toBacktest(j), nil
}

// resolve turns rule i of a request into its source: the draft, or the stored version.
func (s Backtests) resolve(ctx context.Context, i int, r *cepv1.BacktestRule) (backtest.Rule, error) {
	switch {
	case r.GetSource() != "" && r.GetRuleId() != "":
		return backtest.Rule{}, status.Errorf(codes.InvalidArgument, "rules[%d]: give either a draft (source) or a stored rule (rule_id), not both", i)
	case r.GetSource() != "":
		if r.GetVersion() != 0 {
			return backtest.Rule{}, status.Errorf(codes.InvalidArgument, "rules[%d]: version applies to a stored rule (rule_id), not to a draft", i)
		}
		if len(r.GetSource()) > maxBacktestSource {
			return backtest.Rule{}, status.Errorf(codes.InvalidArgument, "rules[%d]: source is larger than %d bytes", i, maxBacktestSource)
		}
		return backtest.Rule{Name: fmt.Sprintf("rules[%d]", i), Source: []byte(r.GetSource())}, nil
	case r.GetRuleId() == "":
		return backtest.Rule{}, status.Errorf(codes.InvalidArgument, "rules[%d]: give a draft (source) or a stored rule (rule_id)", i)
	case r.GetVersion() < 0:
		return backtest.Rule{}, status.Errorf(codes.InvalidArgument, "rules[%d]: version %d: want a version number, or 0 for the current one", i, r.GetVersion())
	}
	var v store.Version
	var err error
	if r.GetVersion() == 0 {
		v, err = s.store.Get(ctx, r.GetRuleId())
	} else {
		v, err = s.store.Version(ctx, r.GetRuleId(), int(r.GetVersion()))
	}
	if err != nil {
		return backtest.Rule{}, storeErr(fmt.Errorf("rules[%d]: %w", i, err))
	}
	return backtest.Rule{Name: v.ID + ".yaml", Source: v.Source}, nil
}

// GetBacktest implements cepv1.BacktestsServer.
func (s Backtests) GetBacktest(_ context.Context, req *cepv1.GetBacktestRequest) (*cepv1.Backtest, error) {
	if err := s.off(); err != nil {
		return nil, err
	}
	j, err := s.m.Get(req.GetId())
	if err != nil {
		return nil, backtestErr(err)
	}
	return toBacktest(j), nil
}

// ListBacktests implements cepv1.BacktestsServer.
func (s Backtests) ListBacktests(context.Context, *cepv1.ListBacktestsRequest) (*cepv1.ListBacktestsResponse, error) {
	if err := s.off(); err != nil {
		return nil, err
	}
	out := &cepv1.ListBacktestsResponse{Backtests: []*cepv1.Backtest{}}
	for _, j := range s.m.List() {
		out.Backtests = append(out.Backtests, toBacktest(j))
	}
	return out, nil
}

// CancelBacktest implements cepv1.BacktestsServer.
func (s Backtests) CancelBacktest(ctx context.Context, req *cepv1.CancelBacktestRequest) (*cepv1.Backtest, error) {
	if err := s.off(); err != nil {
		return nil, err
	}
	j, err := s.m.Cancel(ctx, req.GetId())
	if err != nil {
		return nil, backtestErr(err)
	}
	return toBacktest(j), nil
}

// backtestErr maps the Manager's errors to statuses.
func backtestErr(err error) error {
	var el patterns.ErrorList
	switch {
	case errors.As(err, &el):
		msg := "the backtest's rules do not compile (1 error)"
		if len(el) > 1 {
			msg = fmt.Sprintf("the backtest's rules do not compile (%d errors)", len(el))
		}
		return invalidWith(msg, el)
	}
	return statusOf(err, backtestCodes, internal)
}

var backtestCodes = []errCode{
	{backtest.ErrInvalid, codes.InvalidArgument, ""},
	{backtest.ErrNotFound, codes.NotFound, ""},
	{backtest.ErrNoFiles, codes.FailedPrecondition, ""},
	{backtest.ErrNoRetention, codes.FailedPrecondition, ""},
	{backtest.ErrBusy, codes.ResourceExhausted, ""},
	{backtest.ErrClosed, codes.Unavailable, ""},
}

func toBacktest(j *backtest.Job) *cepv1.Backtest {
	out := &cepv1.Backtest{Id: j.ID, State: string(j.State), Progress: j.Progress, EventsRead: j.EventsRead, Error: j.Error,
		Source: string(j.Source), EventsFile: j.EventsFile, LabelField: j.LabelField, MaxAlerts: int32(j.MaxAlerts),
		EventsTotal: j.EventsTotal, EventsProcessed: j.EventsProcessed, AlertsTotal: j.AlertsTotal, DeadLetters: j.DeadLetters,
		Overall: toRuleResult(j.Overall), Scored: j.Scored, LabelledEvents: j.LabelledEvents,
		CreateTime: stamp(j.Created), StartTime: stamp(j.Started), EndTime: stamp(j.Stopped),
		EventsPerSecond: j.EventsPerSecond, RuleIds: j.RuleIDs}
	if !j.Started.IsZero() {
		out.Duration = durationpb.New(j.Duration)
	}
	for _, r := range j.Rules {
		out.Results = append(out.Results, toRuleResult(r))
	}
	for _, a := range j.Alerts {
		out.Alerts = append(out.Alerts, ToAlert(a))
	}
	return out
}

func toRuleResult(r backtest.RuleResult) *cepv1.BacktestRuleResult {
	out := &cepv1.BacktestRuleResult{RuleId: r.RuleID, Alerts: r.Alerts, Precision: r.Precision, Recall: r.Recall,
		RuleVersion: r.RuleVersion, EvalErrors: int64(r.EvalErrors), LabelledAlerts: r.LabelledAlerts,
		RecallLabel: r.RecallLabel, LabelledKeys: r.LabelledKeys, CaughtKeys: r.CaughtKeys,
		FeedbackFraud: r.FeedbackFraud, FeedbackFalsePositive: r.FeedbackFalsePositive, FeedbackPrecision: r.FeedbackPrecision}
	for _, h := range r.PerHour {
		out.PerHour = append(out.PerHour, &cepv1.HourCount{Hour: timestamppb.New(h.Hour), Alerts: h.Alerts})
	}
	return out
}

func stamp(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}
