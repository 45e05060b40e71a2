package kafka

import (
	"context"
	"sync"
)

// tracker numbers messages as they are handed in and knows up to which number every
// message has been acknowledged, so that Flush can wait for "everything before now"
// while new messages keep arriving.
type tracker struct {
	mu      sync.Mutex
	next    uint64 // number of the next message (the first is 1)
	base    uint64 // lowest number not yet acknowledged
	acked   []bool // acked[i] is message base+i; trimmed from the front as it fills
	changed chan struct{}
}

func newTracker() *tracker {
	return &tracker{next: 1, base: 1, changed: make(chan struct{})}
}

// add numbers a new message.
func (t *tracker) add() uint64 {
	t.mu.Lock()
	n := t.next
	t.next++
	t.acked = append(t.acked, false)
	t.mu.Unlock()
	return n
}

// ack records that message n was delivered.
func (t *tracker) ack(n uint64) {
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

// issued returns the number of the last message handed in (0: none).
func (t *tracker) issued() uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.next - 1
}

// pending returns how many messages are not yet acknowledged.
func (t *tracker) pending() uint64 {
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

// wait returns once every message up to and including n has been acknowledged.
func (t *tracker) wait(ctx context.Context, n uint64) error {
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
