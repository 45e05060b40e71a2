package redisstore

import (
	"bytes"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cepd/cepd/internal/redistest"
	"github.com/cepd/cepd/state"
)

// testClusterFailover: 12 partitions (even ones saved by one script, odd ones staged
// in small chunks) are checkpointed in a loop while CLUSTER FAILOVER promotes a
// replica of each master in turn. Every checkpoint rewrites all 40 keys of its
// partition with its own offset (and deletes a key it names), so a loaded state is
// one checkpoint exactly: every key holds the meta's offset. After the failovers the
// loaded offset is at least the last one Save acknowledged (nothing acknowledged is
// lost) and at most the last one tried.
func testClusterFailover(t *testing.T, rc *redistest.Cluster, c *redis.ClusterClient) {
	const parts, keys = 12, 40
	direct, staged := NewFromClient(c, "failover"), NewFromClient(c, "failover")
	smallChunks(staged)
	store := func(p int) *Store {
		if p%2 == 1 {
			return staged
		}
		return direct
	}
	var acked, tried [parts]atomic.Int64
	var errs atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for p := range parts {
		if _, err := store(p).Claim(ctx, p, 1); err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for off := int64(1); ; off++ {
				select {
				case <-stop:
					return
				default:
				}
				cp := failoverCheckpoint(p, off, keys)
				tried[p].Store(off)
				if err := store(p).Save(ctx, cp); err != nil {
					errs.Add(1) // during a failover: the next one is tried on top of it
					time.Sleep(10 * time.Millisecond)
					continue
				}
				acked[p].Store(off)
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)
	// One partition per master as the cluster started, failed over in turn.
	first := map[string]int{}
	for p := range parts {
		if m := rc.MasterOf(fmt.Sprintf("{cepd:failover:p%d}:meta", p)); first[m] == 0 {
			first[m] = p + 1
		}
	}
	for _, p1 := range first {
		p := p1 - 1
		before := acked[p].Load()
		began := time.Now()
		from, to := rc.Failover(fmt.Sprintf("{cepd:failover:p%d}:meta", p))
		t.Logf("failover of partition %d's master %s to %s took %v; %d checkpoints of it saved meanwhile",
			p, from, to, time.Since(began).Round(time.Millisecond), acked[p].Load()-before)
		time.Sleep(300 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	if len(first) != 3 {
		t.Errorf("12 partitions on %d masters, want 3", len(first))
	}
	for p := range parts {
		checkFailoverPartition(t, store(p), p, keys, acked[p].Load(), tried[p].Load())
	}
	t.Logf("%d Save errors during the failovers (retried by the next checkpoint)", errs.Load())
}

// failoverCheckpoint is testClusterFailover's checkpoint at offset off of partition p:
// keys keys holding the offset, a key named for it and the deletion of the previous
// one's.
func failoverCheckpoint(p int, off int64, keys int) *state.Checkpoint {
	cp := &state.Checkpoint{Partition: p, Epoch: 1, Offset: off, Watermark: off, RuleSet: "rs", Continues: true,
		Deletes: []string{"gone-" + strconv.FormatInt(off-1, 10)}}
	for k := range keys {
		cp.Upserts = append(cp.Upserts, state.KeyBlob{Key: fmt.Sprintf("k%02d", k),
			Data: []byte(strconv.FormatInt(off, 10) + string(bytes.Repeat([]byte{'x'}, 40)))})
	}
	cp.Upserts = append(cp.Upserts, state.KeyBlob{Key: "gone-" + strconv.FormatInt(off, 10), Data: []byte("x")})
	return cp
}

// checkFailoverPartition loads partition p from s and fails the test unless it is one
// failoverCheckpoint exactly, at an offset between the last acknowledged (a) and the
// last tried (tr).
func checkFailoverPartition(t *testing.T, s *Store, p, keys int, a, tr int64) {
	t.Helper()
	got, meta := loadAll(t, s, p)
	if meta.Offset < a || meta.Offset > tr {
		t.Errorf("partition %d: loaded offset %d, acknowledged %d, last tried %d", p, meta.Offset, a, tr)
	}
	want := strconv.FormatInt(meta.Offset, 10)
	for k, v := range got {
		if k == "gone-"+want {
			continue
		}
		if len(k) < 1 || k[0] != 'k' || !bytes.HasPrefix(v, []byte(want+"x")) {
			t.Errorf("partition %d at offset %s: key %s = %.12s…, not of this checkpoint", p, want, k, v)
		}
	}
	if len(got) != keys+1 {
		t.Errorf("partition %d: %d keys, want %d", p, len(got), keys+1)
	}
	if a < 5 {
		t.Errorf("partition %d: only %d checkpoints acknowledged", p, a)
	}
}
