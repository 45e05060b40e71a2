package kafka

import (
	"testing"
	"time"

	"github.com/cepd/cepd/engine"
)

// TestRepartitionClaimGoesIdle: a claim of a repartition topic read to its end reports
// no backlog, so its partition turns idle after the idle timeout, and a new transaction
// makes it active again. The topic is written only in transactions, each ending in a
// commit marker no consumer receives: before, the claim's next offset stayed one short
// of the end for ever, its backlog never cleared, and the partition held its key space's
// watermark back (the other partitions' keys' windows waited for its next event).
func TestRepartitionClaimGoesIdle(t *testing.T) {
	addr, send := repCluster(t)
	send(true, repRecord("e0", 0, ""), repRecord("e1", 1, ""), repRecord("e2", 2, ""), repRecord("", 2, MarkerIdle))

	const idle = time.Second
	eng := idleSource(t, idle, Config{Brokers: []string{addr}, Topics: []string{"rep"}, BacklogCheck: 100 * time.Millisecond,
		Merge: &MergeConfig{Sources: []SourcePartition{{Topic: "events", Partition: 0}}}})
	part := func() engine.PartitionStats {
		ps := eng.Partitions()
		if len(ps) != 1 {
			return engine.PartitionStats{}
		}
		return ps[0]
	}
	// Each transaction ends with the source's idle marker (as the forwarder sends when its
	// source goes quiet), which releases the records the merge holds.
	waitFor(t, "the claim to read the transaction", func() bool { return part().Events >= 3 })
	waitFor(t, "the partition to turn idle (no backlog)", func() bool { return part().Idle })
	send(true, repRecord("e3", 3, ""), repRecord("", 3, MarkerIdle))
	waitFor(t, "the next transaction to make it active", func() bool { p := part(); return p.Events >= 4 && !p.Idle })
	waitFor(t, "the partition to turn idle again", func() bool { return part().Idle })
	if p := part(); p.Backlog {
		t.Errorf("an idle partition with a backlog: %+v", p)
	}
}
