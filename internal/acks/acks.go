// Package acks numbers messages handed to an asynchronous sink and knows up to which
// number all of them are acknowledged, so that a Flush can wait for "everything handed in
// before now" while new messages keep arriving and acknowledgements come out of order.
package acks

import (
	"context"
	"sync"
)

// Tracker numbers messages as they are handed in and knows up to which number every
// message has been acknowledged, so that Flush can wait for "everything before now"
// while new messages keep arriving.
type Tracker struct {
	mu      sync.Mutex
	next    uint64 // number of the next message (the first is 1)
	base    uint64 // lowest number not yet acknowledged
	acked   []bool // acked[i] is message base+i; trimmed from the front as it fills
	changed chan struct{}
}

// New returns an empty Tracker.
func New() *Tracker {
	return &Tracker{next: 1, base: 1, changed: make(chan struct{})}
}

// Add numbers a new message.
func (t *Tracker) Add() uint64 {
	t.mu.Lock()
	n := t.next
	t.next++
	t.acked = append(t.acked, false)
	t.mu.Unlock()
	return n
}

// Ack records that message n was delivered.
func (t *Tracker) Ack(n uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if n < t.base || n >= t.next {
		return
	}
	t.acked[n-t.base] = true
	moved := false
	for len(t.acked) > 0 && t.acked[0] {
		t.acked = t.acked[1:]
		t.base++
		moved = true
	}
	if moved {
		close(t.changed)
		t.changed = make(chan struct{})
	}
}

// Issued returns the number of the last message handed in (0: none).
func (t *Tracker) Issued() uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.next - 1
}

// Pending returns how many messages are not yet acknowledged.
func (t *Tracker) Pending() uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := uint64(0)
	for _, a := range t.acked {
		if !a {
			n++
		}
	}
	return n
}

// Wait returns once every message up to and including n has been acknowledged.
func (t *Tracker) Wait(ctx context.Context, n uint64) error {
	for {
		t.mu.Lock()
		if t.base > n {
			t.mu.Unlock()
			return nil
		}
		ch := t.changed
		t.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
