package alerts

import (
	"slices"
	"sync"
	"time"
)

// Who suppressed an alert (Suppressed.By).
const (
	// SuppressedByCooldown: the rule's cooldown (`cooldown:` in the rule) for the key had
	// not ended. Such alerts are not delivered at all (only counted, and shown in an
	// inline decision's answer).
	SuppressedByCooldown = "cooldown"
	// SuppressedByAnalyst: a suppression an analyst made through the API.
	SuppressedByAnalyst = "analyst"
)

// Suppressed says why an alert was not delivered to the blocking sinks.
type Suppressed struct {
	By string `json:"by"` // SuppressedByCooldown or SuppressedByAnalyst
	// ID is the analyst suppression's id; Author who made it.
	ID     string    `json:"id,omitempty"`
	Author string    `json:"author,omitempty"`
	Reason string    `json:"reason,omitempty"`
	Until  time.Time `json:"until"`
}

// Suppression is an analyst's: alerts for Key, of rule RuleID ("" = every rule), are
// not delivered until Until (processing time: a suppression is an operator's decision at
// the delivery point, not part of what the events detect, so a replay of old events
// under another set of suppressions is delivered differently).
type Suppression struct {
	ID      string    `json:"id"`
	Key     string    `json:"key"`
	RuleID  string    `json:"rule_id,omitempty"`
	Until   time.Time `json:"until"`
	Reason  string    `json:"reason"`
	Author  string    `json:"author"`
	Created time.Time `json:"created"`
}

// Suppressions is the set of analyst suppressions in force, looked up by key on the alert
// path before delivery. Safe for concurrent use: Check takes a read lock and allocates
// only for a suppressed alert; Set replaces the whole set.
type Suppressions struct {
	mu    sync.RWMutex
	byKey map[string][]Suppression
	now   func() time.Time
}

// NewSuppressions returns an empty set; now (nil: time.Now) is the clock Until is read
// against.
func NewSuppressions(now func() time.Time) *Suppressions {
	if now == nil {
		now = time.Now
	}
	return &Suppressions{byKey: map[string][]Suppression{}, now: now}
}

// Set replaces the suppressions in force.
func (s *Suppressions) Set(list []Suppression) {
	m := make(map[string][]Suppression, len(list))
	for _, x := range list {
		m[x.Key] = append(m[x.Key], x)
	}
	s.mu.Lock()
	s.byKey = m
	s.mu.Unlock()
}

// Check returns why a is suppressed (the suppression of its key and rule, or of its key
// and every rule, that lasts longest), or nil.
func (s *Suppressions) Check(a *Alert) *Suppressed {
	if s == nil {
		return nil
	}
	s.mu.RLock()
	list := s.byKey[a.Key]
	s.mu.RUnlock()
	if len(list) == 0 {
		return nil
	}
	now := s.now()
	var best *Suppression
	for i := range list {
		x := &list[i]
		if (x.RuleID == "" || x.RuleID == a.RuleID) && now.Before(x.Until) && (best == nil || x.Until.After(best.Until)) {
			best = x
		}
	}
	if best == nil {
		return nil
	}
	return &Suppressed{By: SuppressedByAnalyst, ID: best.ID, Author: best.Author, Reason: best.Reason, Until: best.Until}
}

// Active returns the suppressions not yet ended, by key then id.
func (s *Suppressions) Active() []Suppression {
	now := s.now()
	s.mu.RLock()
	var out []Suppression
	for _, l := range s.byKey {
		for _, x := range l {
			if now.Before(x.Until) {
				out = append(out, x)
			}
		}
	}
	s.mu.RUnlock()
	slices.SortFunc(out, func(a, b Suppression) int {
		if a.Key != b.Key {
			if a.Key < b.Key {
				return -1
			}
			return 1
		}
		if a.ID < b.ID {
			return -1
		}
		if a.ID > b.ID {
			return 1
		}
		return 0
	})
	return out
}
