package nfa

import "slices"

// Clone returns an independent copy of the matcher: processing events with one leaves
// the other unchanged. It is cheap, O(runs): runs share shared-buffer nodes, Dewey
// numbers and events, which never change once made. The engine keeps a clone as the
// snapshot it re-matches a key from when an event arrives out of order for its key.
func (m *Matcher) Clone() *Matcher {
	c := *m
	c.partial = slices.Clone(m.partial)
	c.completed = slices.Clone(m.completed)
	return &c
}
