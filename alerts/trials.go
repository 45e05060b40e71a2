package alerts

import (
	"hash/maphash"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Modes an alert carries (Alert.Mode).
const (
	ModeActive = "active" // delivered
	ModeShadow = "shadow" // recorded, never delivered
)

// maxCompared bounds the distinct keys, and the distinct matches, a comparison tracks per
// rule (about 100 bytes each).
const maxCompared = 200_000

// Trial is one rule on trial: its active version running beside a shadow candidate (or,
// with ActiveVersion 0, a rule running in shadow alone).
type Trial struct {
	RuleID                       string
	ActiveVersion, ShadowVersion int    // the rule store's version numbers
	ActiveContent, ShadowContent string // the compiled rules' content versions (Alert.RuleVersion)
}

// Overlap counts the members of a set (keys, or matches) seen by both sides, by the active
// side alone and by the shadow side alone.
type Overlap struct{ Both, ActiveOnly, ShadowOnly int64 }

// Comparison is what the pipeline recorded of one trial since it began.
type Comparison struct {
	Trial
	Since                      time.Time
	ActiveAlerts, ShadowAlerts int64
	Keys, Matches              Overlap // a match is (kind, key, event ids)
	// Truncated: a side saw more than 200,000 distinct keys or matches; the overlaps
	// count the first ones only.
	Truncated bool
}

// Trials records, for every rule on trial, its active and shadow alerts side by side. The
// pipeline records into it; the rules service says which trials run (Set) and the API
// reads the comparisons. The zero value is ready; safe for concurrent use.
type Trials struct {
	mu       sync.Mutex
	seed     maphash.Seed
	cmp      map[string]*comparison // by rule id
	compared atomic.Int32           // len(cmp): the alert path skips the lock when 0
	// Now is the clock (nil: time.Now); set before use.
	Now func() time.Time
}

// comparison is one trial's record.
type comparison struct {
	Comparison
	keys    map[string]uint8
	matches map[uint64]uint8 // hash of kind, key and event ids
}

// Set says which trials run now. A trial already recorded with the same contents on both
// sides keeps its counts (a version number may change, as when a mode changes); the
// others start from zero, and trials not listed end.
func (t *Trials) Set(trials []Trial) {
	now := time.Now
	if t.Now != nil {
		now = t.Now
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.cmp == nil {
		t.cmp, t.seed = map[string]*comparison{}, maphash.MakeSeed()
	}
	byID := make(map[string]Trial, len(trials))
	for _, tr := range trials {
		byID[tr.RuleID] = tr
	}
	for id, c := range t.cmp {
		if tr, ok := byID[id]; !ok || tr.ActiveContent != c.ActiveContent || tr.ShadowContent != c.ShadowContent {
			delete(t.cmp, id)
		} else {
			c.Trial = tr
		}
	}
	for id, tr := range byID {
		if t.cmp[id] == nil {
			t.cmp[id] = &comparison{Comparison: Comparison{Trial: tr, Since: now()},
				keys: map[string]uint8{}, matches: map[uint64]uint8{}}
		}
	}
	t.compared.Store(int32(len(t.cmp)))
}

const (
	sideActive = 1
	sideShadow = 2
)

// observe counts a if its rule is on trial (on either side).
func (t *Trials) observe(a *Alert) {
	if t == nil || t.compared.Load() == 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	c := t.cmp[a.RuleID]
	if c == nil {
		return
	}
	side := uint8(sideActive)
	if a.Mode == ModeShadow {
		side = sideShadow
		c.ShadowAlerts++
	} else {
		c.ActiveAlerts++
	}
	add(&c.Keys, c.keys, a.Key, side, &c.Truncated)
	var h maphash.Hash
	h.SetSeed(t.seed)
	h.WriteString(a.Kind)
	h.WriteByte(0)
	h.WriteString(a.Key)
	ids := a.EventIDs()
	slices.Sort(ids)
	for _, id := range ids {
		h.WriteByte(0)
		h.WriteString(id)
	}
	add(&c.Matches, c.matches, h.Sum64(), side, &c.Truncated)
}

// add records that side saw k, moving k between the overlap's counts.
func add[K comparable](s *Overlap, m map[K]uint8, k K, side uint8, truncated *bool) {
	old, ok := m[k]
	switch {
	case old&side != 0:
		return
	case !ok && len(m) >= maxCompared:
		*truncated = true
		return
	case old == 0 && side == sideActive:
		s.ActiveOnly++
	case old == 0:
		s.ShadowOnly++
	case side == sideActive: // seen by the shadow side alone until now
		s.ShadowOnly--
		s.Both++
	default:
		s.ActiveOnly--
		s.Both++
	}
	m[k] = old | side
}

// Comparison returns the comparison of rule id, if it is on trial.
func (t *Trials) Comparison(id string) (Comparison, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	c := t.cmp[id]
	if c == nil {
		return Comparison{}, false
	}
	return c.Comparison, true
}

// Comparisons returns the comparison of every rule on trial, by rule id.
func (t *Trials) Comparisons() map[string]Comparison {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make(map[string]Comparison, len(t.cmp))
	for id, c := range t.cmp {
		out[id] = c.Comparison
	}
	return out
}
