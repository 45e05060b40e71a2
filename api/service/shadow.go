package service

import (
	"hash/maphash"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/cepd/cepd/alerts"
	cepv1 "github.com/cepd/cepd/api/cep/v1"
	"github.com/cepd/cepd/rules/store"
)

// ShadowSuffix ends the engine's rule id of a candidate on trial: rule x on trial runs its
// active version as x and its candidate as x@shadow. ModeSink turns the candidate's alerts
// back into alerts of rule x in shadow mode.
const ShadowSuffix = "@shadow"

// maxCompared bounds the distinct keys, and the distinct matches, a comparison tracks per
// rule (about 100 bytes each).
const maxCompared = 200_000

// run is one rule as the engine runs it.
type run struct {
	id      string // engine rule id: the rule's id, or id + ShadowSuffix for a candidate
	ruleID  string // the store's rule id
	version int    // the store version whose source runs
	mode    store.Mode
	src     []byte
	content string // the compiled rule's content version (set once compiled)
}

// pair is a rule running in shadow: its active version (0 when it runs in shadow alone)
// and its shadow version.
type pair struct {
	activeVer, shadowVer int
	activeCV, shadowCV   string
}

// Modes is the mode of every rule the running set holds and the comparison of every rule
// running in shadow with its active version. It is read by the alert path (ModeSink) and
// written by Rules after each swap. Safe for concurrent use.
type Modes struct {
	m       atomic.Pointer[map[string]store.Mode] // by engine rule id
	running atomic.Pointer[map[string]int]        // the newest version running, by rule id

	mu       sync.Mutex
	seed     maphash.Seed
	cmp      map[string]*comparison // by rule id
	compared atomic.Int32           // len(cmp): the alert path skips the lock when 0
	now      func() time.Time
}

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

// set records the running set: its modes, and the rules to compare (keeping the counts of
// a pair already compared).
func (m *Modes) set(runs []run) {
	mp := make(map[string]store.Mode, len(runs))
	pairs := map[string]pair{}
	for _, r := range runs {
		mp[r.id] = r.mode
		if r.mode != store.Shadow {
			continue
		}
		p := pairs[r.ruleID]
		p.shadowVer, p.shadowCV = r.version, r.content
		pairs[r.ruleID] = p
	}
	for _, r := range runs {
		if p, ok := pairs[r.id]; ok && r.mode == store.Active {
			p.activeVer, p.activeCV = r.version, r.content
			pairs[r.id] = p
		}
	}
	m.m.Store(&mp)
	run := make(map[string]int, len(runs))
	for _, r := range runs {
		run[r.ruleID] = max(run[r.ruleID], r.version)
	}
	m.running.Store(&run)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmp == nil {
		m.cmp, m.seed = map[string]*comparison{}, maphash.MakeSeed()
	}
	now := time.Now
	if m.now != nil {
		now = m.now
	}
	for id, c := range m.cmp {
		if p, ok := pairs[id]; !ok || p.activeCV != c.activeCV || p.shadowCV != c.shadowCV {
			delete(m.cmp, id)
		} else {
			c.pair = p // same content under new version numbers (a mode change)
		}
	}
	for id, p := range pairs {
		if m.cmp[id] == nil {
			m.cmp[id] = &comparison{pair: p, since: now(), keys: map[string]uint8{}, matches: map[uint64]uint8{}}
		}
	}
	m.compared.Store(int32(len(m.cmp)))
}

// observe counts an alert of a rule running in shadow (on either side).
func (m *Modes) observe(a *alerts.Alert) {
	if m.compared.Load() == 0 {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.cmp[a.RuleID]
	if c == nil {
		return
	}
	side := uint8(sideActive)
	if a.Mode == string(store.Shadow) {
		side = sideShadow
		c.shadowAlerts++
	} else {
		c.activeAlerts++
	}
	add(&c.keySets, c.keys, a.Key, side, &c.truncated)
	var h maphash.Hash
	h.SetSeed(m.seed)
	h.WriteString(a.Kind)
	h.WriteByte(0)
	h.WriteString(a.Key)
	var ids []string
	for _, st := range a.Steps {
		for _, e := range st.Events {
			ids = append(ids, e.ID)
		}
	}
	slices.Sort(ids)
	for _, id := range ids {
		h.WriteByte(0)
		h.WriteString(id)
	}
	add(&c.matchSets, c.matches, h.Sum64(), side, &c.truncated)
}

// Comparison returns the comparison of rule id, if it runs in shadow.
func (m *Modes) Comparison(id string) (*cepv1.ShadowComparison, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.cmp[id]
	if c == nil {
		return nil, false
	}
	return c.proto(id), true
}

// Comparisons returns the comparison of every rule running in shadow, by rule id.
func (m *Modes) Comparisons() map[string]*cepv1.ShadowComparison {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]*cepv1.ShadowComparison, len(m.cmp))
	for id, c := range m.cmp {
		out[id] = c.proto(id)
	}
	return out
}

const (
	sideActive = 1
	sideShadow = 2
)

// sets counts the members of a set of keys (or matches) seen by one side, the other or
// both, as members are added.
type sets struct{ both, activeOnly, shadowOnly int64 }

func add[K comparable](s *sets, m map[K]uint8, k K, side uint8, truncated *bool) {
	old, ok := m[k]
	switch {
	case old&side != 0:
		return
	case !ok && len(m) >= maxCompared:
		*truncated = true
		return
	case old == 0 && side == sideActive:
		s.activeOnly++
	case old == 0:
		s.shadowOnly++
	case side == sideActive: // seen by the shadow side alone until now
		s.shadowOnly--
		s.both++
	default:
		s.activeOnly--
		s.both++
	}
	m[k] = old | side
}

// comparison is a rule's shadow-versus-active record.
type comparison struct {
	pair
	since                      time.Time
	activeAlerts, shadowAlerts int64
	keys                       map[string]uint8
	matches                    map[uint64]uint8 // hash of kind, key and event ids
	keySets, matchSets         sets
	truncated                  bool
}

func (c *comparison) proto(id string) *cepv1.ShadowComparison {
	return &cepv1.ShadowComparison{RuleId: id, ActiveVersion: int32(c.activeVer), ShadowVersion: int32(c.shadowVer),
		ActiveContentVersion: c.activeCV, ShadowContentVersion: c.shadowCV, Since: timestamppb.New(c.since),
		ActiveAlerts: c.activeAlerts, ShadowAlerts: c.shadowAlerts,
		KeysBoth: c.keySets.both, KeysActiveOnly: c.keySets.activeOnly, KeysShadowOnly: c.keySets.shadowOnly,
		MatchesBoth: c.matchSets.both, MatchesActiveOnly: c.matchSets.activeOnly, MatchesShadowOnly: c.matchSets.shadowOnly,
		Truncated: c.truncated}
}

// ModeSink stands first in the alert path: it stamps each alert with its rule's mode
// (turning a candidate's alerts into shadow alerts of its rule), counts the alerts of rules
// running in shadow for their comparison, and sends shadow alerts to Record only, active
// ones to Record and Deliver (the blocking sinks). Alert is safe for concurrent use.
type ModeSink struct {
	Modes   *Modes
	Record  alerts.Sink // the ring and other recording sinks
	Deliver alerts.Sink // blocking sinks (Kafka, webhooks); may be nil
	// Suppress, if set, holds the analysts' suppressions: a suppressed alert is marked
	// (Alert.Suppressed) and goes to Record only.
	Suppress *alerts.Suppressions
}

// Alert implements alerts.Sink.
func (m *ModeSink) Alert(a *alerts.Alert) {
	mode := m.Modes.Stamp(a)
	m.Modes.observe(a)
	if s := m.Suppress.Check(a); s != nil {
		a.Suppressed = s
	}
	m.Record.Alert(a)
	if mode != store.Shadow && a.Suppressed == nil && m.Deliver != nil {
		m.Deliver.Alert(a)
	}
}

// Stamp sets an alert's mode from its engine rule id, turning a candidate's alert into a
// shadow alert of its rule, and returns the mode.
func (m *Modes) Stamp(a *alerts.Alert) store.Mode {
	mode := m.Mode(a.RuleID)
	a.RuleID = strings.TrimSuffix(a.RuleID, ShadowSuffix)
	a.Mode = string(mode)
	return mode
}
