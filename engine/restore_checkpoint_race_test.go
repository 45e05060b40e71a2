package engine

import (
	"context"
	"log/slog"
	"testing"
	"time"
)

// TestRestoreRacingCheckpoint: a checkpoint round running while a partition is restored
// (the admin API's checkpoint, which does not go through the Kafka source's commit lock)
// finishes, and so does the restore. (Before, the restore held the partition's lock
// while it took the checkpointer's to record the restored offset, and the checkpoint
// held the checkpointer's while it took the partition's: both waited forever, and every
// later checkpoint and commit with them.)
func TestRestoreRacingCheckpoint(t *testing.T) {
	recs := records(genEvents(23, 400, 6000))
	rs := testRuleSet(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	e := freshCheckpointed(t, ctx, Config{Shards: 2}, rs, &sinkCollector{})
	for i := 0; i < len(recs); i += 500 {
		if _, err := e.Ingest(ctx, 0, recs[i:min(i+500, len(recs))]); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	done := make(chan error, 2)
	go func() {
		for {
			select {
			case <-stop:
				done <- nil
				return
			default:
			}
			_ = e.Checkpoint(ctx) // a save the restore's claim fenced fails: not the point

		}
	}()
	go func() {
		for range 30 {
			if _, err := e.Restore(ctx, 0, slog.Default()); err != nil {
				done <- err
				return
			}
		}
		close(stop)
		done <- nil
	}()
	for range 2 {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("restores and checkpoints of the partition did not finish in 30 s: deadlocked")
		}
	}
}
