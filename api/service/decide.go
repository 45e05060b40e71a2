package service

import (
	"context"
	"encoding/json"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/cepd/cepd/alerts"
	cepv1 "github.com/cepd/cepd/api/cep/v1"
	"github.com/cepd/cepd/engine"
	"github.com/cepd/cepd/patterns"
	"github.com/cepd/cepd/rules/store"
)

// DecideFunc ingests one raw JSON event through the REST ingest's path and waits at most
// timeout for the alerts it completes (rest.Server.Decide).
type DecideFunc func(ctx context.Context, ev json.RawMessage, timeout time.Duration) (engine.Decided, error)

// Decision timeouts.
const (
	DefaultDecideTimeout = time.Second
	MaxDecideTimeout     = 30 * time.Second
)

// Decisions implements cepv1.DecisionsServer.
type Decisions struct {
	cepv1.UnimplementedDecisionsServer
	Ingest DecideFunc
	// Suppressions, if set, are the analysts' suppressions in force: an alert one holds
	// is answered marked so, and does not count (the alert pipeline's gate holds it).
	Suppressions *alerts.Suppressions
}

// Decide implements cepv1.DecisionsServer.
func (s *Decisions) Decide(ctx context.Context, req *cepv1.DecideRequest) (*cepv1.DecideResponse, error) {
	start := time.Now()
	if req.GetEvent() == nil {
		return nil, status.Error(codes.InvalidArgument, "event is missing: send {\"event\": {...}}")
	}
	timeout := time.Duration(req.GetTimeoutMs()) * time.Millisecond
	switch {
	case req.GetTimeoutMs() < 0 || timeout > MaxDecideTimeout:
		return nil, status.Errorf(codes.InvalidArgument, "timeout_ms must be from 0 to %d", MaxDecideTimeout.Milliseconds())
	case timeout == 0:
		timeout = DefaultDecideTimeout
	}
	raw, err := json.Marshal(req.GetEvent().AsMap())
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "event: %v", err)
	}
	d, err := s.Ingest(ctx, raw, timeout)
	if _, ok := status.FromError(err); ok && err != nil {
		return nil, err // a refusal the ingest path already classified (busy, off)
	}
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "engine: %v", err)
	}
	out := Answer(d, s.Suppressions)
	out.LatencyUs = time.Since(start).Microseconds()
	return out, nil
}

// Answer combines what an event completed into an answer: the strongest outcome and the
// sum of the scores (capped at patterns.MaxScore) of the alerts that count (active, not
// suppressed by an analyst; a cooldown does not stop an alert from counting). A rule
// without decision settings counts as review with score 0. sup (may be nil) holds the
// analysts' suppressions, checked as the alert pipeline checks them.
func Answer(d engine.Decided, sup *alerts.Suppressions) *cepv1.DecideResponse {
	out := &cepv1.DecideResponse{Alerts: []*cepv1.DecidedAlert{}}
	switch {
	case d.Pending:
		out.Status = "pending"
		return out
	case d.Outcome == engine.OutcomeRejected:
		out.Status, out.EventOutcome = "rejected", d.Outcome.String()
		if d.Error != nil {
			out.Error = d.Error.Reason + ": " + d.Error.Message
		}
		return out
	case d.Outcome == engine.OutcomeLateDeadLettered || d.Outcome == engine.OutcomeLateDropped:
		out.Status, out.EventOutcome = "late", d.Outcome.String()
		return out
	}
	out.Status, out.EventOutcome = "decided", d.Outcome.String()
	best, score := patterns.OutcomeAllow, 0
	for _, c := range d.Alerts {
		a := c.Alert
		// A cooled alert never reached the pipeline's gate: an analyst's suppression holds
		// it too (and is what its mark says).
		if (a.Suppressed == nil || a.Suppressed.By == alerts.SuppressedByCooldown) && a.Mode != alerts.ModeShadow {
			if why := sup.Check(a); why != nil {
				cp := *a // the alert as the pipeline recorded it: a marked copy
				cp.Suppressed = why
				a = &cp
			}
		}
		o, sc := patterns.OutcomeReview, 0
		if c.Decision != nil {
			o, sc = c.Decision.Outcome, c.Decision.Score
		}
		counted := a.Mode != string(store.Shadow) && (a.Suppressed == nil || a.Suppressed.By == alerts.SuppressedByCooldown)
		if counted {
			best, score = max(best, o), min(score+sc, patterns.MaxScore)
		}
		out.Alerts = append(out.Alerts, &cepv1.DecidedAlert{Alert: ToAlert(a), Outcome: o.String(), Score: int32(sc), Counted: counted})
	}
	out.Outcome, out.Score = best.String(), int32(score)
	return out
}

// suppressedProto is an alert's suppression as the API shows it.
func suppressedProto(s *alerts.Suppressed) *cepv1.AlertSuppressed {
	if s == nil {
		return nil
	}
	return &cepv1.AlertSuppressed{By: s.By, Id: validText(s.ID), Author: validText(s.Author), Reason: validText(s.Reason), Until: timestamppb.New(s.Until)}
}
