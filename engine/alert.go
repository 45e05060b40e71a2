package engine

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"time"

	"github.com/cepd/cepd/alerts"
	"github.com/cepd/cepd/event"
	"github.com/cepd/cepd/nfa"
	"github.com/cepd/cepd/rules"
)

// emit turns what the last matcher call produced into alerts for rule ri.
func (s *shard) emit(ri int, key string, ingest int64) {
	r := &s.res
	if len(r.Matches) == 0 && len(r.Timeouts) == 0 && r.Dropped == 0 && r.Cut == 0 {
		return
	}
	c := s.rules.Rules[ri]
	st := s.e.stats
	if r.Dropped > 0 {
		st.dropped.Add(uint64(r.Dropped))
	}
	if r.Cut > 0 {
		s.budgetCut(ri, key, r)
	}
	vp := s.velocity()
	for i, m := range r.Matches {
		var aggs *rules.Aggregates
		if ks := s.keys[key]; vp != nil && ks != nil {
			var keep bool
			if keep, aggs = vp.admit(&ks.vel, ri, &r.Matches[i]); !keep {
				st.rearmDropped.Add(1)
				continue
			}
		}
		a := buildAlert(c, key, alerts.KindMatch, m, 0, aggs)
		if !s.cool(ri, key, a) {
			s.completeCooled(ri, a)
			continue
		}
		s.deliver(ri, a, ingest)
	}
	for _, t := range r.Timeouts {
		a := BuildAlert(c, key, alerts.KindTimeout, t.Match, t.At)
		if !s.cool(ri, key, a) {
			continue
		}
		s.deliver(ri, a, ingest)
	}
	r.Reset()
}

// deliver hands alert a of rule ri to the sink and, when it carries an ingest stamp
// (ingest; see unstamped), samples its latency.
func (s *shard) deliver(ri int, a *alerts.Alert, ingest int64) {
	st := s.e.stats
	if s.e.cfg.RecordProcessingTime {
		now := time.Now().UTC()
		a.DetectedAt = &now
	}
	s.e.sink.Alert(a)
	s.complete(ri, a)
	st.alerts.Add(1)
	s.rules.alerts[ri].Add(1)
	since := time.Duration(-1)
	if ingest != unstamped {
		now := s.e.now()
		since = time.Duration(now - ingest)
		s.latency.record(int64(since))
		if s.e.cfg.OnLatency != nil {
			s.e.cfg.OnLatency(s.latencyParts(ingest, now))
		}
	}
	if s.e.cfg.OnAlert != nil {
		s.e.cfg.OnAlert(a, since)
	}
}

// latencyParts splits the latency of an alert delivered at now with ingest stamp ingest
// (LatencyParts) by the times the shard noted for the message and event it handles.
func (s *shard) latencyParts(ingest, now int64) LatencyParts {
	sent := max(s.sent, ingest) // a watermark message: sent is when it was taken up
	took := max(s.took, sent)
	started := max(s.started, took)
	return LatencyParts{Ingest: time.Duration(sent - ingest), Queue: time.Duration(took - sent),
		Before: time.Duration(started - took), Own: time.Duration(now - started), Position: s.pos, Timed: s.cur == nil}
}

// BuildAlert makes the alert for a match (or, with kind timeout, a partial match that
// expired at timeoutAt) of rule c on key, complete with its final rule id and mode
// (c.AlertRuleID, c.Mode): the pipeline and the sinks only read it. The id hashes the
// rule id the engine runs (Rule.ID), so a trial candidate's ids are its own.
func BuildAlert(c *rules.Compiled, key, kind string, m nfa.Match, timeoutAt int64) *alerts.Alert {
	return buildAlert(c, key, kind, m, timeoutAt, nil)
}

// buildAlert is BuildAlert with the rule's aggregate values for the match's last event
// (nil when the emit expressions cannot read them).
func buildAlert(c *rules.Compiled, key, kind string, m nfa.Match, timeoutAt int64, aggs *rules.Aggregates) *alerts.Alert {
	r := c.Rule
	a := &alerts.Alert{Kind: kind, RuleID: cmp.Or(c.AlertRuleID, r.ID), RuleVersion: c.Version, RuleVersionNumber: c.StoreVersion,
		Mode: cmp.Or(c.Mode, alerts.ModeActive), Severity: r.Severity, Key: key}
	var first, last *event.Event
	for _, se := range m.Steps {
		st := alerts.Step{Step: se.Step, Events: make([]alerts.Event, len(se.Events))}
		for i, ev := range se.Events {
			st.Events[i] = alerts.Event{ID: EventID(ev), Time: time.UnixMilli(ev.Time).UTC(), Fields: ev.Fields()}
			if first == nil || after(first, ev) {
				first = ev
			}
			if last == nil || after(ev, last) {
				last = ev
			}
		}
		a.Steps = append(a.Steps, st)
	}
	if first != nil {
		a.FirstEventTime = time.UnixMilli(first.Time).UTC()
		a.LastEventTime = time.UnixMilli(last.Time).UTC()
	}
	if kind == alerts.KindTimeout {
		t := time.UnixMilli(timeoutAt).UTC()
		a.TimeoutAt = &t
	}
	if last != nil {
		for _, v := range c.EmitValuesWith(m, last, aggs) {
			a.Emit = append(a.Emit, alerts.Value{Name: v.Name, Value: v.Value, Error: v.Err})
		}
	}
	for _, d := range c.DataVersions() {
		a.Data = append(a.Data, alerts.DataVersion{Name: d.Name, Version: d.Version, Digest: d.Digest})
	}
	a.SetIDAs(r.ID)
	return a
}

// EventID is an event's identity in alerts: its id field, or when the schema declares
// none a hash of its time and values (stable across replays of the same data).
func EventID(ev *event.Event) string {
	if id := ev.ID(); id != "" {
		return id
	}
	h := sha256.New()
	h.Write([]byte(strconv.FormatInt(ev.Time, 10)))
	for i := range ev.Len() {
		v := ev.Value(i)
		h.Write([]byte{0, byte(v.Kind)})
		if x := v.Interface(); x != nil {
			switch t := x.(type) {
			case string:
				h.Write([]byte(t))
			default:
				h.Write([]byte(strconv.Quote(toString(t))))
			}
		}
	}
	return "h" + hex.EncodeToString(h.Sum(nil)[:8])
}

func toString(x any) string {
	switch t := x.(type) {
	case bool:
		return strconv.FormatBool(t)
	case int64:
		return strconv.FormatInt(t, 10)
	case float64:
		return strconv.FormatFloat(t, 'g', -1, 64)
	}
	return ""
}
