package event

import (
	"sync"
	"sync/atomic"
)

// MaxUnknownNames bounds the distinct unknown field names an UnknownFields lists; fields
// beyond it are counted in Other.
const MaxUnknownNames = 64

// UnknownFields counts the fields of decoded events that the schema does not declare: in
// all, and by name for the first MaxUnknownNames names seen. A Decoder given one
// (SetUnknown) reports every such field it skips, so a field a producer added, or a
// misspelt one, shows in the stats instead of being silently ignored. Safe for
// concurrent use; the cost, an atomic add and a short lock, is paid only per unknown
// field.
type UnknownFields struct {
	total atomic.Uint64
	mu    sync.Mutex
	names map[string]uint64
	other uint64
}

// NewUnknownFields returns an empty tracker.
func NewUnknownFields() *UnknownFields { return &UnknownFields{names: map[string]uint64{}} }

// Add counts one field named name that the schema does not declare.
func (u *UnknownFields) Add(name []byte) {
	u.total.Add(1)
	u.mu.Lock()
	if _, ok := u.names[string(name)]; ok || len(u.names) < MaxUnknownNames {
		u.names[string(name)]++
	} else {
		u.other++
	}
	u.mu.Unlock()
}

// UnknownSnapshot is what an UnknownFields counted.
type UnknownSnapshot struct {
	// Total is every unknown field of every event decoded.
	Total uint64 `json:"total"`
	// ByName counts them by name, for at most MaxUnknownNames names (the first seen).
	ByName map[string]uint64 `json:"by_name"`
	// Other counts the fields whose name did not fit in ByName.
	Other uint64 `json:"other,omitempty"`
}

// Snapshot copies the counts (a nil tracker counted nothing).
func (u *UnknownFields) Snapshot() UnknownSnapshot {
	sn := UnknownSnapshot{ByName: map[string]uint64{}}
	if u == nil {
		return sn
	}
	sn.Total = u.total.Load()
	u.mu.Lock()
	for k, v := range u.names {
		sn.ByName[k] = v
	}
	sn.Other = u.other
	u.mu.Unlock()
	return sn
}
