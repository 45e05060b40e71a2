package run

import (
	"context"
	"time"
)

// Every calls fn every interval until ctx ends: the calls start interval apart. A fn
// slower than interval runs again as soon as it returns (time.Ticker keeps one tick that
// came while fn ran and drops the others); Paced waits interval after each call.
func Every(ctx context.Context, interval time.Duration, fn func()) {
	t := time.NewTicker(interval)
	defer t.Stop()
	onTick(ctx, t.C, fn)
}

// Paced calls fn at once and then interval after each call returns, until ctx ends: a
// slow fn (a walk of the whole state) stretches the period instead of running back to
// back.
func Paced(ctx context.Context, interval time.Duration, fn func()) {
	t := time.NewTimer(0)
	defer t.Stop()
	onTick(ctx, t.C, func() {
		fn()
		t.Reset(interval)
	})
}

// onTick calls fn for each value on ticks until ctx ends.
func onTick(ctx context.Context, ticks <-chan time.Time, fn func()) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticks:
			fn()
		}
	}
}
