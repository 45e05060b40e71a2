package backtest

import (
	"context"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cepd/cepd/alerts"
	"github.com/cepd/cepd/engine"
)

// State is where a backtest is in its life.
type State string

// States. QUEUED and RUNNING are live; the others are final.
const (
	Queued    State = "QUEUED"
	Running   State = "RUNNING"
	Done      State = "DONE"
	Cancelled State = "CANCELLED"
	Failed    State = "FAILED"
)

// Final reports whether s is a final state.
func (s State) Final() bool { return s == Done || s == Cancelled || s == Failed }

// Source says where a backtest's events come from.
type Source string

// Sources.
const (
	SourceFile     Source = "FILE"     // a JSON-lines file in the events directory
	SourceRetained Source = "RETAINED" // the events the Retainer kept from the live stream
)

// Rule is one rule of a backtest: its YAML text, and the name its errors are reported
// under (a draft's place in the request, a stored rule's file name).
type Rule struct {
	Name   string
	Source []byte
}

// Spec says what to backtest.
type Spec struct {
	Rules []Rule
	// EventsFile is a JSON-lines file, relative to the Manager's events directory; empty
	// means the retained events.
	EventsFile string
	// LabelField, when set, is the top-level event field that marks fraud: precision and
	// recall are computed against it (see the package documentation).
	LabelField string
	// MaxAlerts bounds the alerts kept (0: DefaultMaxAlerts; negative is invalid).
	MaxAlerts int
}

// DefaultMaxAlerts is how many alerts a backtest keeps unless told otherwise.
const DefaultMaxAlerts = 1000

// Job is a snapshot of a backtest. It is a copy: it does not change.
type Job struct {
	ID         string
	State      State
	Source     Source
	EventsFile string
	LabelField string
	MaxAlerts  int
	RuleIDs    []string
	// Progress is in [0, 1]: reading the input counts for the first ReadShare of it,
	// matching for the rest. 1 once DONE; a cancelled or failed job keeps where it stopped.
	Progress float64
	// EventsRead is how many events (lines) have been read from the source;
	// EventsTotal how many it holds (0 until it has been read); EventsProcessed how many
	// have been handed to the engine.
	EventsRead, EventsTotal, EventsProcessed int64
	// Error says why a job FAILED (or what cancelled it).
	Error                     string
	Created, Started, Stopped time.Time // zero until they happen
	// Duration is how long the job has been running (until it stopped);
	// EventsPerSecond is EventsProcessed over it.
	Duration        time.Duration
	EventsPerSecond float64
	Result
}

// ReadShare is the part of Progress that reading the input accounts for.
const ReadShare = 0.2

// Result is what a backtest found (so far, while it runs).
type Result struct {
	// Rules has one entry per rule, in the order of the Spec; Overall counts the alerts of
	// all of them (its RuleID is empty).
	Rules   []RuleResult
	Overall RuleResult
	// Alerts are the earliest MaxAlerts alerts in `cepd replay` order (last event time,
	// rule id, kind, alert id), whatever the number of shards; AlertsTotal counts all.
	Alerts      []*alerts.Alert
	AlertsTotal int64
	// DeadLetters counts the events the engine could not match, by reason.
	DeadLetters map[string]int64
	// Scored is set when the Spec has a label field; LabelledEvents counts the events
	// it marks.
	Scored         bool
	LabelledEvents int64
}

// RuleResult is one rule's part of a Result.
type RuleResult struct {
	RuleID string
	// RuleVersion is the compiled rule's content version (alerts carry it).
	RuleVersion string
	Alerts      int64
	// PerHour counts alerts by the hour (UTC) of their last event, in time order.
	PerHour []HourCount
	// EvalErrors counts condition evaluations that failed (each made a condition false).
	EvalErrors uint64
	// With a label field (Result.Scored):
	// LabelledAlerts are the alerts with at least one labelled event among their matched
	// events; Precision is LabelledAlerts / Alerts (0 without alerts).
	LabelledAlerts int64
	Precision      float64
	// RecallLabel is the label value recall counts: the rule id when some events carry it
	// (the scenario the rule is meant to catch), else empty (any label). LabelledKeys are
	// the distinct keys having an event so labelled; CaughtKeys those on which the rule
	// alerted with at least one such event among the matched ones; Recall is CaughtKeys /
	// LabelledKeys (0 without labelled keys).
	RecallLabel              string
	LabelledKeys, CaughtKeys int64
	Recall                   float64
	// With Options.Feedback: FeedbackFraud and FeedbackFalsePositive count the alerts
	// analysts marked so (the same alert, by id, delivered live: the same rule version
	// over the same events); FeedbackPrecision is fraud / (fraud + false positive).
	FeedbackFraud, FeedbackFalsePositive int64
	FeedbackPrecision                    float64
}

// Feedback labels Options.Feedback returns (as the analysts' API takes them).
const (
	FeedbackFraud         = "fraud"
	FeedbackFalsePositive = "false_positive"
)

// HourCount is the number of alerts whose last event falls in one hour.
type HourCount struct {
	Hour   time.Time
	Alerts int64
}

// clone copies r, leaving the alerts out unless withAlerts.
func (r *Result) clone(withAlerts bool) Result {
	out := *r
	out.Rules = slices.Clone(r.Rules)
	for i := range out.Rules {
		out.Rules[i].PerHour = slices.Clone(out.Rules[i].PerHour)
	}
	out.Overall.PerHour = slices.Clone(r.Overall.PerHour)
	out.DeadLetters = maps.Clone(r.DeadLetters)
	out.Alerts = nil
	if withAlerts {
		out.Alerts = slices.Clone(r.Alerts)
	}
	return out
}

// job is a backtest's live state, owned by the Manager.
type job struct {
	id         string
	spec       Spec
	source     Source
	ids        []string        // the rules' ids
	rs         *engine.RuleSet // nil once final is set
	created    time.Time
	ctx        context.Context // the job's own; cancel ends it
	cancel     context.CancelFunc
	done       chan struct{} // closed when the job has stopped
	read       atomic.Int64  // lines read
	total      atomic.Int64  // events in the input, once read
	processed  atomic.Int64  // events handed to the engine
	readFrac   atomic.Uint64 // reading progress in 1/1e6
	mu         sync.Mutex    // guards what follows
	state      State
	err        string
	started    time.Time
	stopped    time.Time
	tally      *tally  // replaced, with the labels, once the input has been read; nil once final is set
	final      *Result // the result once the job has stopped (its tally, labels and rules are let go)
	cancelNote string  // why it was cancelled, set by Cancel or Close
}

// freeze computes the final result and lets go of what only a running job needs. Called
// once the job's engine has stopped.
func (j *job) freeze() {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.final == nil {
		r := j.tally.result(j.ids, j.rs, true)
		j.final, j.tally, j.rs = &r, nil, nil
	}
}

// snapshot copies the job's state; withAlerts leaves the alerts out when false.
func (j *job) snapshot(withAlerts bool) *Job {
	j.mu.Lock()
	out := &Job{ID: j.id, State: j.state, Source: j.source, EventsFile: j.spec.EventsFile, LabelField: j.spec.LabelField,
		MaxAlerts: j.spec.MaxAlerts, RuleIDs: slices.Clone(j.ids), Error: j.err, Created: j.created, Started: j.started, Stopped: j.stopped}
	t, rs, final := j.tally, j.rs, j.final
	j.mu.Unlock()
	out.EventsRead, out.EventsTotal, out.EventsProcessed = j.read.Load(), j.total.Load(), j.processed.Load()
	switch {
	case out.State == Done:
		out.Progress = 1
	case out.EventsTotal > 0:
		out.Progress = ReadShare + (1-ReadShare)*float64(out.EventsProcessed)/float64(out.EventsTotal)
	default:
		out.Progress = ReadShare * float64(j.readFrac.Load()) / 1e6
	}
	if out.State != Done {
		out.Progress = min(out.Progress, 0.999) // the end of the stream is still to be flushed
	}
	if !out.Started.IsZero() {
		end := out.Stopped
		if end.IsZero() {
			end = time.Now()
		}
		out.Duration = end.Sub(out.Started)
		if s := out.Duration.Seconds(); s > 0 {
			out.EventsPerSecond = float64(out.EventsProcessed) / s
		}
	}
	if final != nil {
		out.Result = final.clone(withAlerts)
	} else {
		out.Result = t.result(j.ids, rs, withAlerts)
	}
	out.Scored = j.spec.LabelField != ""
	return out
}
