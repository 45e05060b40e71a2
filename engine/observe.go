package engine

import (
	"sort"
	"time"

	"github.com/cepd/cepd/alerts"
)

// PartitionStats describes one source partition the engine holds.
type PartitionStats struct {
	ID     int
	Events uint64 // records ingested (decoded or not)
	// Watermark is the partition's watermark (ms); math.MinInt64 before its first event.
	Watermark int64
	Idle      bool // not holding the engine watermark back
	Backlog   bool // its source reports unread records
}

// Partitions returns the partitions the engine holds, by id. It reads atomics only: it
// never waits for an Ingest.
func (e *Engine) Partitions() []PartitionStats {
	e.mu.Lock()
	out := make([]PartitionStats, 0, len(e.parts))
	for _, p := range e.parts {
		out = append(out, PartitionStats{ID: p.id, Events: p.in.Load(), Watermark: p.wm.Load(),
			Idle: p.idle.Load(), Backlog: p.backlog.Load()})
	}
	e.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// AlertObserver is told of every alert the engine makes, after the sink took it, with
// the time since the Ingest call whose event completed it, or moved event time past its
// window, began (negative when no ingested event made it: the end of the stream, an idle
// partition; see unstamped). It runs on the shard goroutine, once per
// alert (never per event), concurrently for different shards: it must be quick.
type AlertObserver func(a *alerts.Alert, sinceIngest time.Duration)

// LatencyParts splits one sampled alert's latency (the time AlertObserver is told, from
// the start of the Ingest call to the sink having the alert) into where it passed:
//   - Ingest: from the call's start to the hand-off of the event's batch to its shard
//     (decoding the call's records before it, waiting on a full shard queue);
//   - Queue: in the shard's queue (behind earlier batches, or the shard waking up);
//   - Before: the shard's work on the events before it in its batch;
//   - Own: from the shard taking the event up to the alert reaching the sink (its
//     matching and, for an alert the event's move of time made, the timers it fired
//     first).
//
// An alert made by a watermark message (the call had no event for the shard) has Ingest
// up to the shard taking the message up and the rest in Own.
type LatencyParts struct {
	Ingest, Queue, Before, Own time.Duration
	// Position is how many events came before the event in its batch.
	Position int
	// Timed: the timers the event's watermark (or a watermark message) fired made the
	// alert, after the event's matching, not the matching itself.
	Timed bool
}

// LatencyObserver is told the parts of every sampled alert's latency (Config.OnLatency):
// on the shard goroutine, once per alert, concurrently for different shards.
type LatencyObserver func(LatencyParts)
