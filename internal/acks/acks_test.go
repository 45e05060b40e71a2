package acks

import (
	"context"
	"testing"
	"time"
)

func TestTrackerOutOfOrder(t *testing.T) {
	tr := New()
	for i := 0; i < 5; i++ {
		tr.Add()
	}
	target := tr.Issued()
	tr.Add() // after the Flush started: not waited for
	done := make(chan error, 1)
	go func() { done <- tr.Wait(context.Background(), target) }()
	for _, n := range []uint64{5, 2, 4, 3, 6} {
		tr.Ack(n)
	}
	select {
	case <-done:
		t.Fatal("wait returned before message 1 was acknowledged")
	case <-time.After(20 * time.Millisecond):
	}
	if p := tr.Pending(); p != 1 {
		t.Fatalf("pending %d, want 1", p)
	}
	tr.Ack(1)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if p := tr.Pending(); p != 0 {
		t.Fatalf("pending %d", p)
	}
}
