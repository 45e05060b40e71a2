package main

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cepd/cepd/alerts"
	"github.com/cepd/cepd/internal/redistest"
)

// TestAnalystSharedThroughRedis: with the rules in Redis, two instances' analyst books
// share one log: a suppression made on one is in force on the other within its sync
// interval (a second), and a third instance started later has it from the start.
func TestAnalystSharedThroughRedis(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	addr := redistest.Start(t)
	open := func() (*alerts.Suppressions, func(alerts.Suppression) error) {
		c := redis.NewClient(&redis.Options{Addr: addr})
		book, sup, closeBook, err := openAnalyst(ctx, t.TempDir(), c, "cepd-test")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { closeBook(); c.Close() })
		return sup, func(s alerts.Suppression) error { _, err := book.Suppress(ctx, s); return err }
	}
	_, suppress1 := open()
	sup2, _ := open()
	if err := suppress1(alerts.Suppression{Key: "c1", Until: time.Now().Add(time.Hour), Reason: "shared", Author: "ann"}); err != nil {
		t.Fatal(err)
	}
	a := &alerts.Alert{Key: "c1", RuleID: "r"}
	deadline := time.Now().Add(3 * time.Second)
	for sup2.Check(a) == nil {
		if time.Now().After(deadline) {
			t.Fatal("the other instance never applied the suppression")
		}
		time.Sleep(20 * time.Millisecond)
	}
	sup3, _ := open()
	if sup3.Check(a) == nil {
		t.Fatal("a new instance does not have the suppression")
	}
}
