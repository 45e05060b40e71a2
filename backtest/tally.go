package backtest

import (
	"container/heap"
	"maps"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/cepd/cepd/alerts"
	"github.com/cepd/cepd/engine"
	"github.com/cepd/cepd/rules"
)

// tally is a run's alert sink and dead-letter sink. It counts alerts per rule and hour,
// scores them against the labels, and keeps the earliest max alerts in replay order.
// Safe for concurrent use (the engine's shards call it).
type tally struct {
	lab *labels // nil: no label field
	max int
	fb  func(alertID string) string // analysts' feedback label of an alert id (nil: none)

	mu      sync.Mutex
	rules   map[string]*ruleTally
	overall ruleTally
	kept    alertHeap
	dead    map[string]int64
}

// ruleTally is what one rule (or all of them together) has done so far.
type ruleTally struct {
	alerts    int64
	perHour   map[int64]int64     // unix seconds of the hour → alerts
	labelled  int64               // alerts with a labelled event
	caughtOwn map[string]struct{} // keys alerted on with an event labelled with the rule id
	caughtAny map[string]struct{} // keys alerted on with any labelled event
	// alerts analysts marked (in production, by alert id) as fraud or false positive
	fbFraud, fbFalse int64
}

func newRuleTally() *ruleTally {
	return &ruleTally{perHour: map[int64]int64{}, caughtOwn: map[string]struct{}{}, caughtAny: map[string]struct{}{}}
}

func newTally(ruleIDs []string, lab *labels, max int) *tally {
	t := &tally{lab: lab, max: max, rules: map[string]*ruleTally{}, overall: *newRuleTally(), dead: map[string]int64{}}
	for _, id := range ruleIDs {
		t.rules[id] = newRuleTally()
	}
	return t
}

// Alert implements alerts.Sink.
func (t *tally) Alert(a *alerts.Alert) {
	own, any := false, false
	if t.lab != nil {
		for _, st := range a.Steps {
			for _, e := range st.Events {
				if l, ok := t.lab.of[e.ID]; ok {
					any = true
					own = own || l == a.RuleID
				}
			}
		}
	}
	hour := a.LastEventTime.Truncate(time.Hour).Unix()
	verdict := ""
	if t.fb != nil {
		verdict = t.fb(a.ID)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	rt := t.rules[a.RuleID]
	if rt == nil {
		rt = newRuleTally()
		t.rules[a.RuleID] = rt
	}
	for _, x := range []*ruleTally{rt, &t.overall} {
		x.alerts++
		x.perHour[hour]++
		if any {
			x.labelled++
			x.caughtAny[a.Key] = struct{}{}
		}
		switch verdict {
		case FeedbackFraud:
			x.fbFraud++
		case FeedbackFalsePositive:
			x.fbFalse++
		}
	}
	if own {
		rt.caughtOwn[a.Key] = struct{}{}
	}
	switch {
	case t.max <= 0:
	case len(t.kept) < t.max:
		heap.Push(&t.kept, a)
	case alerts.Before(a, t.kept[0]):
		t.kept[0] = a
		heap.Fix(&t.kept, 0)
	}
}

// DeadLetter implements engine.DeadLetterSink.
func (t *tally) DeadLetter(d engine.DeadLetter) {
	t.mu.Lock()
	t.dead[d.Reason]++
	t.mu.Unlock()
}

// result summarises the tally for the rules of rs in the order of ids, with the alerts
// kept when withAlerts.
func (t *tally) result(ids []string, rs *engine.RuleSet, withAlerts bool) Result {
	t.mu.Lock()
	defer t.mu.Unlock()
	res := Result{Scored: t.lab != nil, AlertsTotal: t.overall.alerts, DeadLetters: maps.Clone(t.dead)}
	if t.lab != nil {
		res.LabelledEvents = t.lab.events
	}
	byID := make(map[string]*rules.Compiled, len(rs.Rules))
	for _, c := range rs.Rules {
		byID[c.Rule.ID] = c
	}
	for _, id := range ids {
		c := byID[id]
		rt := t.rules[c.Rule.ID]
		rr := t.ruleResult(c.Rule.ID, rt)
		rr.RuleVersion = c.Version
		rr.EvalErrors = c.EvalErrors()
		res.Rules = append(res.Rules, rr)
	}
	res.Overall = t.ruleResult("", &t.overall)
	if withAlerts {
		res.Alerts = slices.Clone(t.kept)
		sort.Slice(res.Alerts, func(i, j int) bool { return alerts.Before(res.Alerts[i], res.Alerts[j]) })
	}
	return res
}

func (t *tally) ruleResult(id string, rt *ruleTally) RuleResult {
	rr := RuleResult{RuleID: id, Alerts: rt.alerts, FeedbackFraud: rt.fbFraud, FeedbackFalsePositive: rt.fbFalse,
		FeedbackPrecision: ratio(rt.fbFraud, rt.fbFraud+rt.fbFalse)}
	for h, n := range rt.perHour {
		rr.PerHour = append(rr.PerHour, HourCount{Hour: time.Unix(h, 0).UTC(), Alerts: n})
	}
	sort.Slice(rr.PerHour, func(i, j int) bool { return rr.PerHour[i].Hour.Before(rr.PerHour[j].Hour) })
	if t.lab == nil {
		return rr
	}
	rr.LabelledAlerts = rt.labelled
	rr.Precision = ratio(rt.labelled, rt.alerts)
	if own := t.lab.keys[id]; id != "" && len(own) > 0 {
		rr.RecallLabel = id
		rr.LabelledKeys, rr.CaughtKeys = int64(len(own)), int64(len(rt.caughtOwn))
	} else {
		rr.LabelledKeys, rr.CaughtKeys = int64(len(t.lab.anyKeys)), int64(len(rt.caughtAny))
	}
	rr.Recall = ratio(rr.CaughtKeys, rr.LabelledKeys)
	return rr
}

func ratio(n, d int64) float64 {
	if d == 0 {
		return 0
	}
	return float64(n) / float64(d)
}

// alertHeap is a max-heap in replay order: its root is the latest alert kept, the one a
// earlier alert displaces.
type alertHeap []*alerts.Alert

func (h alertHeap) Len() int           { return len(h) }
func (h alertHeap) Less(i, j int) bool { return alerts.Before(h[j], h[i]) }
func (h alertHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *alertHeap) Push(x any)        { *h = append(*h, x.(*alerts.Alert)) }
func (h *alertHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
