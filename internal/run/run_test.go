package run

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestStopOrder: a signal stops nothing by itself; the stages stop one at a time, in the
// order added, each goroutine stage joined before the next begins; a stage that overruns
// its bound is reported and left behind; errors are collected.
func TestStopOrder(t *testing.T) {
	for i := 0; i < 20; i++ { // varied timing: goroutines take different times to stop
		var mu sync.Mutex
		var log []string
		note := func(s string) { mu.Lock(); log = append(log, s); mu.Unlock() }
		var logged bytes.Buffer
		g := New(slog.New(slog.NewTextHandler(&logged, nil)))
		intake := g.Stage("intake", time.Second)
		loops := g.Stage("loops", time.Second)
		stuck := g.Stage("stuck", 20*time.Millisecond)
		delay := time.Duration(i%4) * time.Millisecond
		for _, n := range []string{"a", "b"} {
			intake.Go(n, func(ctx context.Context) error {
				<-ctx.Done()
				time.Sleep(delay)
				note("intake " + n)
				return ctx.Err()
			})
		}
		loops.Go("loop", func(ctx context.Context) error {
			<-ctx.Done()
			if intake.Context().Err() == nil {
				t.Error("loops stopped before intake")
			}
			note("loop")
			return errors.New("loop failed")
		})
		release := make(chan struct{})
		stuck.Go("stuck", func(context.Context) error { <-release; return nil })
		g.Then("checkpoint", time.Second, func(ctx context.Context) error { note("checkpoint"); return nil })
		g.Then("flush", 10*time.Millisecond, func(ctx context.Context) error { <-ctx.Done(); note("flush"); return ctx.Err() })

		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if intake.Context().Err() != nil {
			t.Fatal("the caller's context ended a stage")
		}
		err := g.Run(ctx)
		close(release)
		got := strings.Join(log, ", ")
		if got != "intake a, intake b, loop, checkpoint, flush" && got != "intake b, intake a, loop, checkpoint, flush" {
			t.Fatalf("order: %s", got)
		}
		if err == nil || err.Error() != "loop: loop failed" {
			t.Errorf("Run: %v, want the goroutine's error", err)
		}
		for _, want := range []string{"err=\"stuck: did not stop in time (20ms)\"", "err=\"flush: context deadline exceeded\""} {
			if !strings.Contains(logged.String(), want) {
				t.Errorf("log lacks %s:\n%s", want, logged.String())
			}
		}
		if err := g.Stop(); err != nil {
			t.Errorf("second stop: %v", err)
		}
	}
}

// TestGoroutineEndStops: a goroutine returning before the stop stops the whole group.
func TestGoroutineEndStops(t *testing.T) {
	g := New(nil)
	s := g.Stage("work", time.Second)
	other := g.Stage("other", time.Second)
	s.Go("fails", func(context.Context) error { return errors.New("boom") })
	other.Go("waits", func(ctx context.Context) error { <-ctx.Done(); return nil })
	done := make(chan error, 1)
	go func() { done <- g.Run(context.Background()) }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "fails: boom") {
			t.Errorf("err %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the group did not stop")
	}
}
