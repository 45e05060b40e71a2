package service

import (
	"strings"
	"sync/atomic"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/cepd/cepd/alerts"
	cepv1 "github.com/cepd/cepd/api/cep/v1"
	"github.com/cepd/cepd/rules/store"
)

// ShadowSuffix ends the engine's rule id of a candidate on trial: rule x on trial runs its
// active version as x and its candidate as x@shadow. The candidate's alerts are made as
// alerts of rule x in mode shadow (rules.Compiled.AlertRuleID and Mode, set when the set
// is compiled); the alert pipeline records them and never delivers them.
const ShadowSuffix = "@shadow"

// run is one rule as the engine runs it.
type run struct {
	id      string // engine rule id: the rule's id, or id + ShadowSuffix for a candidate
	ruleID  string // the store's rule id
	version int    // the store version whose source runs
	mode    store.Mode
	src     []byte
	content string // the compiled rule's content version (set once compiled)
}

// Modes is the mode of every rule the running set holds and the version running, written
// by Rules after each swap; it tells the alert pipeline's Trials which trials run, and
// reads their comparisons back for the API. The zero value has no trials (comparisons are
// then empty). Safe for concurrent use.
type Modes struct {
	m       atomic.Pointer[map[string]store.Mode] // by engine rule id
	running atomic.Pointer[map[string]int]        // the newest version running, by rule id
	trials  *alerts.Trials
}

// NewModes returns Modes that keep trials (the alert pipeline's) told of the trials running.
func NewModes(trials *alerts.Trials) *Modes { return &Modes{trials: trials} }

// Mode returns the mode of engine rule id (active when unknown).
func (m *Modes) Mode(id string) store.Mode {
	if _, ok := strings.CutSuffix(id, ShadowSuffix); ok {
		return store.Shadow
	}
	if p := m.m.Load(); p != nil {
		if md, ok := (*p)[id]; ok {
			return md
		}
	}
	return store.Active
}

// Running returns the newest store version of rule id the engine runs (0: none).
func (m *Modes) Running(id string) int {
	if p := m.running.Load(); p != nil {
		return (*p)[id]
	}
	return 0
}

// set records the running set: its modes and versions, and the trials it runs (a rule in
// shadow, beside its active version or alone).
func (m *Modes) set(runs []run) {
	mp := make(map[string]store.Mode, len(runs))
	running := make(map[string]int, len(runs))
	trials := map[string]alerts.Trial{}
	for _, r := range runs {
		mp[r.id] = r.mode
		running[r.ruleID] = max(running[r.ruleID], r.version)
		if r.mode == store.Shadow {
			tr := trials[r.ruleID]
			tr.RuleID, tr.ShadowVersion, tr.ShadowContent = r.ruleID, r.version, r.content
			trials[r.ruleID] = tr
		}
	}
	for _, r := range runs {
		if tr, ok := trials[r.id]; ok && r.mode == store.Active {
			tr.ActiveVersion, tr.ActiveContent = r.version, r.content
			trials[r.id] = tr
		}
	}
	m.m.Store(&mp)
	m.running.Store(&running)
	if m.trials != nil {
		list := make([]alerts.Trial, 0, len(trials))
		for _, tr := range trials {
			list = append(list, tr)
		}
		m.trials.Set(list)
	}
}

// Comparison returns the comparison of rule id, if it runs in shadow.
func (m *Modes) Comparison(id string) (*cepv1.ShadowComparison, bool) {
	if m.trials == nil {
		return nil, false
	}
	c, ok := m.trials.Comparison(id)
	if !ok {
		return nil, false
	}
	return comparisonProto(c), true
}

// Comparisons returns the comparison of every rule running in shadow, by rule id.
func (m *Modes) Comparisons() map[string]*cepv1.ShadowComparison {
	out := map[string]*cepv1.ShadowComparison{}
	if m.trials == nil {
		return out
	}
	for id, c := range m.trials.Comparisons() {
		out[id] = comparisonProto(c)
	}
	return out
}

func comparisonProto(c alerts.Comparison) *cepv1.ShadowComparison {
	return &cepv1.ShadowComparison{RuleId: c.RuleID, ActiveVersion: int32(c.ActiveVersion), ShadowVersion: int32(c.ShadowVersion),
		ActiveContentVersion: c.ActiveContent, ShadowContentVersion: c.ShadowContent, Since: timestamppb.New(c.Since),
		ActiveAlerts: c.ActiveAlerts, ShadowAlerts: c.ShadowAlerts,
		KeysBoth: c.Keys.Both, KeysActiveOnly: c.Keys.ActiveOnly, KeysShadowOnly: c.Keys.ShadowOnly,
		MatchesBoth: c.Matches.Both, MatchesActiveOnly: c.Matches.ActiveOnly, MatchesShadowOnly: c.Matches.ShadowOnly,
		Truncated: c.Truncated}
}
