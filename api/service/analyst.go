package service

import (
	"context"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/cepd/cepd/alerts"
	"github.com/cepd/cepd/alerts/analyst"
	cepv1 "github.com/cepd/cepd/api/cep/v1"
	"github.com/cepd/cepd/patterns"
)

// Analyst implements cepv1.AnalystServer over an analyst.Book. Feedback names an alert by
// id: it must be among the recent alerts (Ring), which give its rule, key and time.
type Analyst struct {
	cepv1.UnimplementedAnalystServer
	Book *analyst.Book
	Ring *alerts.Ring
	// Scan is how many recent alerts a lookup by id looks through (default 10000).
	Scan int
}

var analystCodes = []errCode{{analyst.ErrInvalid, codes.InvalidArgument, ""}, {analyst.ErrNotFound, codes.NotFound, ""}}

// analystErr answers the book's errors; anything else is its log failing (Unavailable).
func analystErr(err error) error {
	return statusOf(err, analystCodes, func(err error) error {
		return status.Errorf(codes.Unavailable, "analyst log: %v", err)
	})
}

func (s *Analyst) ready() error {
	if s.Book == nil {
		return status.Error(codes.Unimplemented, "suppressions and feedback are not configured on this instance")
	}
	return nil
}

// synced is ready, and the book caught up with the changes other instances made.
func (s *Analyst) synced(ctx context.Context) error {
	if err := s.ready(); err != nil {
		return err
	}
	if err := s.Book.Sync(ctx); err != nil {
		return analystErr(err)
	}
	return nil
}

// answer is the book's answer v as its message, conv(v), or the book's error as a status.
func answer[T, M any](v T, err error, conv func(T) M) (M, error) {
	if err != nil {
		var none M
		return none, analystErr(err)
	}
	return conv(v), nil
}

func suppressionProto(x alerts.Suppression) *cepv1.Suppression {
	return &cepv1.Suppression{Id: x.ID, Key: validText(x.Key), RuleId: validText(x.RuleID), Until: timestamppb.New(x.Until),
		Reason: validText(x.Reason), Author: validText(x.Author), Created: timestamppb.New(x.Created)}
}

// CreateSuppression implements cepv1.AnalystServer.
func (s *Analyst) CreateSuppression(ctx context.Context, req *cepv1.CreateSuppressionRequest) (*cepv1.Suppression, error) {
	if err := s.ready(); err != nil {
		return nil, err
	}
	until := req.GetUntil().AsTime()
	switch {
	case req.GetUntil() != nil && req.GetDuration() != "":
		return nil, status.Error(codes.InvalidArgument, "give until or duration, not both")
	case req.GetDuration() != "":
		ms, err := patterns.ParseDuration(req.GetDuration())
		if err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "duration: %v", err)
		}
		until = time.Now().Add(time.Duration(ms) * time.Millisecond)
	case req.GetUntil() == nil:
		return nil, status.Error(codes.InvalidArgument, "until or duration is required (e.g. \"duration\": \"2h\")")
	}
	x, err := s.Book.Suppress(ctx, alerts.Suppression{Key: req.GetKey(), RuleID: req.GetRuleId(), Until: until, Reason: req.GetReason(), Author: author(ctx)})
	return answer(x, err, suppressionProto)
}

// ListSuppressions implements cepv1.AnalystServer.
func (s *Analyst) ListSuppressions(ctx context.Context, req *cepv1.ListSuppressionsRequest) (*cepv1.ListSuppressionsResponse, error) {
	if err := s.synced(ctx); err != nil {
		return nil, err
	}
	out := &cepv1.ListSuppressionsResponse{Suppressions: []*cepv1.Suppression{}}
	for _, x := range s.Book.Suppressions(req.GetEnded()) {
		if req.GetKey() == "" || x.Key == req.GetKey() {
			out.Suppressions = append(out.Suppressions, suppressionProto(x))
		}
	}
	return out, nil
}

// DeleteSuppression implements cepv1.AnalystServer.
func (s *Analyst) DeleteSuppression(ctx context.Context, req *cepv1.DeleteSuppressionRequest) (*cepv1.DeleteSuppressionResponse, error) {
	if err := s.ready(); err != nil {
		return nil, err
	}
	if err := s.Book.Unsuppress(ctx, req.GetId(), author(ctx), req.GetReason()); err != nil {
		return nil, analystErr(err)
	}
	return &cepv1.DeleteSuppressionResponse{}, nil
}

func feedbackProto(f analyst.Feedback) *cepv1.AlertFeedback {
	return &cepv1.AlertFeedback{AlertId: validText(f.AlertID), RuleId: validText(f.RuleID), Key: validText(f.Key), AlertTime: timestamppb.New(f.AlertTime),
		Label: f.Label, Comment: validText(f.Comment), Author: validText(f.Author), At: timestamppb.New(f.At)}
}

func (s *Analyst) scan() int {
	if s.Scan > 0 {
		return s.Scan
	}
	return 10000
}

// MarkAlert implements cepv1.AnalystServer.
func (s *Analyst) MarkAlert(ctx context.Context, req *cepv1.MarkAlertRequest) (*cepv1.AlertFeedback, error) {
	if err := s.ready(); err != nil {
		return nil, err
	}
	var found *alerts.Alert
	for _, a := range s.Ring.Query(alerts.Filter{Limit: s.scan()}) {
		if a.ID == req.GetAlertId() {
			found = a
			break
		}
	}
	if found == nil {
		return nil, status.Errorf(codes.NotFound, "alert %q is not among the recent alerts", req.GetAlertId())
	}
	f, err := s.Book.Mark(ctx, analyst.Feedback{AlertID: found.ID, RuleID: found.RuleID, Key: found.Key, AlertTime: found.LastEventTime,
		Label: req.GetLabel(), Comment: req.GetComment(), Author: author(ctx)})
	return answer(f, err, feedbackProto)
}

// GetAlertFeedback implements cepv1.AnalystServer.
func (s *Analyst) GetAlertFeedback(ctx context.Context, req *cepv1.GetAlertFeedbackRequest) (*cepv1.AlertFeedback, error) {
	if err := s.synced(ctx); err != nil {
		return nil, err
	}
	f, ok := s.Book.FeedbackOn(req.GetAlertId())
	if !ok {
		return nil, status.Errorf(codes.NotFound, "alert %q has no feedback", req.GetAlertId())
	}
	return feedbackProto(f), nil
}

// GetRulePrecision implements cepv1.AnalystServer.
func (s *Analyst) GetRulePrecision(ctx context.Context, req *cepv1.GetRulePrecisionRequest) (*cepv1.GetRulePrecisionResponse, error) {
	if err := s.synced(ctx); err != nil {
		return nil, err
	}
	out := &cepv1.GetRulePrecisionResponse{Rules: []*cepv1.RulePrecision{}}
	for _, p := range s.Book.Precision(req.GetRuleId(), true) {
		rp := &cepv1.RulePrecision{RuleId: validText(p.RuleID), Fraud: p.Fraud, FalsePositive: p.FalsePositive, Precision: p.Precision}
		for _, d := range p.Days {
			rp.Days = append(rp.Days, &cepv1.DayPrecision{Day: d.Day, Fraud: d.Fraud, FalsePositive: d.FalsePositive, Precision: d.Precision})
		}
		out.Rules = append(out.Rules, rp)
	}
	return out, nil
}

// ListAnalystAudit implements cepv1.AnalystServer.
func (s *Analyst) ListAnalystAudit(ctx context.Context, req *cepv1.ListAnalystAuditRequest) (*cepv1.ListAnalystAuditResponse, error) {
	if err := s.ready(); err != nil {
		return nil, err
	}
	if req.GetLimit() < 0 || req.GetLimit() > 10000 {
		return nil, status.Error(codes.InvalidArgument, "limit must be a whole number from 0 to 10000")
	}
	if err := s.Book.Sync(ctx); err != nil {
		return nil, analystErr(err)
	}
	out := &cepv1.ListAnalystAuditResponse{Entries: []*cepv1.AnalystAuditEntry{}}
	for _, e := range s.Book.Audit(req.GetAction(), int(req.GetLimit())) {
		pe := &cepv1.AnalystAuditEntry{Seq: e.Seq, At: timestamppb.New(e.At), Author: validText(e.Author), Action: e.Action, Id: e.ID, Reason: validText(e.Reason)}
		if e.Suppression != nil {
			pe.Suppression = suppressionProto(*e.Suppression)
		}
		if e.Feedback != nil {
			pe.Feedback = feedbackProto(*e.Feedback)
		}
		out.Entries = append(out.Entries, pe)
	}
	return out, nil
}
