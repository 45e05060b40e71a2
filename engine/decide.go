package engine

import (
	"context"
	"slices"
	"time"

	"github.com/cepd/cepd/alerts"
	"github.com/cepd/cepd/event"
	"github.com/cepd/cepd/patterns"
)

// Completed is one alert an event completed, as an inline decision sees it: the alert
// (after the sink saw it: its mode and, for an analyst's suppression, Suppressed are set)
// and the decision settings of the rule that made it (nil: the rule has none).
type Completed struct {
	Alert    *alerts.Alert
	Decision *patterns.Decision
}

// Decided is what an inline decision found out about one event (rest.Server.Decide).
type Decided struct {
	// Pending: the event was accepted (numbered, logged, submitted) but not matched
	// within the timeout; its alerts leave as usual, not in this answer.
	Pending bool
	// Outcome is what the engine did with the event (when not pending); OutcomeRejected
	// with Error set when it could not be decoded.
	Outcome Outcome
	Error   *RecordError
	// Alerts are the alerts the event completed (SubmitCollect).
	Alerts []Completed
}

// Completions returns, once a SubmitCollect call's Outcomes returned without error, the
// alerts each event completed (out[i] for recs[i]).
type Completions func() [][]Completed

// SubmitCollect is Submit that also keeps, per event, the alerts the event completed:
// the match alerts made while the shard handled that event (matched in order, re-matched
// into its key's journal, or late and processed) whose matched events include it, both
// those delivered and those its rule's cooldown suppressed (marked Suppressed by
// "cooldown"; not delivered). Alerts that time moving on fired (windows closing,
// absences, timeouts, even when the event's own time closed them) belong to no event,
// with one exception: an alert whose matched events include the event and whose window
// the partition's time had closed before the event arrived (an event in order for its
// key but behind its partition) fires while the event is handled and is the event's.
// With `release: in_start_order` a match completed by the event may leave later, when
// earlier partial matches resolve: it is then not among the event's. With
// Config.KeySpaces the alerts are those of every key space the event reaches: the
// engine's own key space's first, then each other key space's in the order they were
// made (submitSpaces).
func (e *Engine) SubmitCollect(ctx context.Context, part int, recs []Record) (Outcomes, Completions, []RecordError, error) {
	if e.feedsSpaces() {
		return e.submitSpaces(ctx, part, recs, true)
	}
	return e.submitOwn(ctx, part, recs, true, nil)
}

// submitOwn is Submit into the engine's own key space; with collect, it also keeps the
// alerts each event completes (SubmitCollect). sh: see share.
func (e *Engine) submitOwn(ctx context.Context, part int, recs []Record, collect bool, sh *share) (Outcomes, Completions, []RecordError, error) {
	t := newTicket(len(recs))
	if collect {
		t.completed = make([][]Completed, len(recs))
	}
	wait, errs, err := e.submitTicket(ctx, part, recs, t, sh)
	return wait, func() [][]Completed { return t.completed }, errs, err
}

// mergeCompletions returns the completions of one call over every key space: own's
// (indexed by recs, n of them) followed, per event, by each other key space's (indexed
// by the accepted records, those not named in errs).
func mergeCompletions(n int, errs []RecordError, own Completions, others []Completions) Completions {
	return func() [][]Completed {
		base := own()
		if base == nil {
			return nil
		}
		out := make([][]Completed, n)
		copy(out, base)
		orig := acceptedIndex(n, errs) // accepted record j is recs[orig[j]]
		for _, c := range others {
			for j, cs := range c() {
				if len(cs) > 0 {
					out[orig[j]] = append(slices.Clip(out[orig[j]]), cs...)
				}
			}
		}
		return out
	}
}

// complete keeps alert a of rule ri for the event the shard is handling, when its ingest
// call collects them.
func (s *shard) complete(ri int, a *alerts.Alert) {
	it := s.cur
	if it == nil || it.ticket == nil || it.ticket.completed == nil || a.Kind != alerts.KindMatch || !takes(a, it.ev) {
		return
	}
	c := &it.ticket.completed[it.idx]
	*c = append(*c, Completed{Alert: a, Decision: s.rules.Rules[ri].Rule.Decision})
}

// completeCooled keeps an alert rule ri's cooldown suppressed, marked so, for the event
// the shard is handling (when collected): for an inline decision the pattern still holds.
// The alert never reaches the sink; it is made complete (its rule id and mode final) as
// every alert is, and marked here before anyone else sees it.
func (s *shard) completeCooled(ri int, a *alerts.Alert) {
	if !s.collecting() {
		return
	}
	a.Suppressed = cooledMark(s.keys[a.Key].cool[s.rules.Rules[ri].Rule.ID])
	s.complete(ri, a)
}

// collecting reports whether the event the shard is handling collects its alerts.
func (s *shard) collecting() bool {
	it := s.cur
	return it != nil && it.ticket != nil && it.ticket.completed != nil
}

// cooledMark is the mark of an alert a cooldown lasting until (event time, ms) held back.
func cooledMark(until int64) *alerts.Suppressed {
	return &alerts.Suppressed{By: alerts.SuppressedByCooldown, Until: time.UnixMilli(until).UTC(),
		Reason: "an alert of this rule for this key was delivered less than its cooldown before"}
}

// takes reports whether ev is among the alert's matched events.
func takes(a *alerts.Alert, ev *event.Event) bool {
	id, t := EventID(ev), time.UnixMilli(ev.Time)
	for _, st := range a.Steps {
		for _, e := range st.Events {
			if e.ID == id && e.Time.Equal(t) {
				return true
			}
		}
	}
	return false
}
