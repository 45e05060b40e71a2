package run

import (
	"context"
	"testing"
	"time"
)

// calls runs loop with fn recording when each call began and ended, until n calls have
// ended; it then cancels the loop's context and fails t unless the loop returns.
func calls(t *testing.T, n int, loop func(ctx context.Context, fn func()), took time.Duration) (began, ended []time.Time) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		loop(ctx, func() {
			if len(ended) == n {
				return
			}
			began = append(began, time.Now())
			time.Sleep(took)
			ended = append(ended, time.Now())
			if len(ended) == n {
				cancel()
			}
		})
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatalf("%d calls in 30 s, want %d", len(ended), n)
	}
	return began, ended
}

// TestPaced: the first call comes at once (not an interval later), each later one at
// least interval after the previous call returned, however long the call took; the loop
// ends with its context.
func TestPaced(t *testing.T) {
	for _, took := range []time.Duration{0, time.Millisecond, 15 * time.Millisecond} {
		const interval = 10 * time.Millisecond
		start := time.Now()
		began, ended := calls(t, 4, func(ctx context.Context, fn func()) { Paced(ctx, interval, fn) }, took)
		if d := began[0].Sub(start); d >= interval {
			t.Errorf("took %v: the first call came after %v, want at once", took, d)
		}
		for i := 1; i < len(began); i++ {
			if gap := began[i].Sub(ended[i-1]); gap < interval {
				t.Errorf("took %v: call %d began %v after call %d returned, want at least %v", took, i, gap, i-1, interval)
			}
		}
	}
}

// TestEvery: the first call comes an interval after the start (a ticker's first tick),
// and the loop ends with its context.
func TestEvery(t *testing.T) {
	const interval = 10 * time.Millisecond
	start := time.Now()
	began, _ := calls(t, 4, func(ctx context.Context, fn func()) { Every(ctx, interval, fn) }, 0)
	if d := began[0].Sub(start); d < interval {
		t.Errorf("the first call came after %v, want an interval (%v)", d, interval)
	}
}
