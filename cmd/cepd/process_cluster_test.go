package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cepd/cepd/internal/redistest"
)

// TestProcessesRedisClusterFailover (issue 18): two cepd processes in one group keep
// their checkpoints and their rules (--rules-store redis) in a Redis Cluster of 3
// masters with a replica each. Mid-stream, CLUSTER FAILOVER promotes the replica of
// every master in turn (so every partition's checkpoints and the rule store move to a
// new master under the writers); then one instance is killed with SIGKILL and started
// again, restoring its partitions from the new masters and its rules from the cluster.
// At the end the alerts topic holds exactly the replay's alerts. Before the kill the
// test logs the Redis memory the checkpoints take per key state (mid-stream: at the
// end of the stream every window has closed and the keys are gone).
func TestProcessesRedisClusterFailover(t *testing.T) {
	t.Parallel() // beside TestProcessesHandoff's runs
	start := time.Now()
	e := newProcEnv(t, 28000, false)
	e.cluster = redistest.StartClusterN(t, 3, 1)
	const group = "cluster"
	flags := []string{"--rules-store", "redis", "--kafka-commit-interval", "500ms", "--kafka-rebalance-timeout", "4s"}
	a := e.startCepd("cepd-a-run0", "data-a", "cepd-a", group, flags...)
	b := e.startCepd("cepd-b-run0", "data-b", "cepd-b", group, flags...)
	if !e.settled(group, 2, 30*time.Second) {
		state, ms := e.groupMembers(group)
		t.Fatalf("a and b do not hold every partition: %s %+v", state, ms)
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 0))
	const rate = 1500
	prod := e.produce(rate)
	prod.waitSent(t, 1500)
	for _, m := range e.cluster.Masters() {
		time.Sleep(500*time.Millisecond + time.Duration(rng.Int64N(int64(time.Second))))
		began := time.Now()
		to := e.cluster.FailoverMaster(m)
		t.Logf("CLUSTER FAILOVER of %s to %s: done in %v (%d of %d events sent)", m, to,
			time.Since(began).Round(time.Millisecond), prod.sent.Load(), len(e.w.lines))
	}
	time.Sleep(1500 * time.Millisecond) // checkpoints on the new masters
	logClusterMemory(t, e.cluster)      // mid-stream: the live key states
	a.kill9()
	t.Logf("kill -9 of cepd-a after the failovers (%d of %d events sent)", prod.sent.Load(), len(e.w.lines))
	a = e.startCepd("cepd-a-run1", "data-a", "cepd-a", group, flags...)
	if prod.sent.Load() >= int64(len(e.w.lines)) {
		t.Errorf("the producer was done before cepd-a was restarted: the failovers were not mid-stream")
	}
	if !e.settled(group, 2, 30*time.Second) {
		state, ms := e.groupMembers(group)
		t.Fatalf("the group does not settle after the restart: %s %+v", state, ms)
	}
	dups := e.finish(prod, group, 60*time.Second, a, b)
	t.Logf("3 failovers and a kill -9: %d alerts as the replay, %d delivered twice; %v", len(e.w.want), dups,
		time.Since(start).Round(time.Millisecond))
}

// logClusterMemory logs what the checkpoints take in Redis: key states (fields of the
// partitions' keys hashes), MEMORY USAGE of those hashes, the bytes of the encoded
// states, and used_memory_dataset per master.
func logClusterMemory(t *testing.T, rc *redistest.Cluster) {
	t.Helper()
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: rc.Addrs()})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var mu sync.Mutex
	var hashes, states, mem, blob int64
	var dataset []string
	err := c.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
		keys, err := m.Keys(ctx, "{cepd:cepd:p*}:keys").Result()
		if err != nil {
			return err
		}
		var h, s, u, b int64
		for _, k := range keys {
			n, err := m.HLen(ctx, k).Result()
			if err != nil {
				return err
			}
			use, err := m.MemoryUsage(ctx, k, 0).Result()
			if err != nil {
				return err
			}
			vals, err := m.HVals(ctx, k).Result()
			if err != nil {
				return err
			}
			for _, v := range vals {
				b += int64(len(v))
			}
			h, s, u = h+1, s+n, u+use
		}
		info, err := m.Info(ctx, "memory").Result()
		if err != nil {
			return err
		}
		for _, line := range strings.Split(info, "\r\n") {
			if v, ok := strings.CutPrefix(line, "used_memory_dataset:"); ok {
				mu.Lock()
				dataset = append(dataset, fmt.Sprintf("%s: %s B for %d key states", m.Options().Addr, v, s))
				mu.Unlock()
			}
		}
		mu.Lock()
		hashes, states, mem, blob = hashes+h, states+s, mem+u, blob+b
		mu.Unlock()
		return nil
	})
	if err != nil {
		t.Fatalf("reading the checkpoints' memory: %v", err)
	}
	if states == 0 {
		t.Fatalf("no key state in the cluster")
	}
	t.Logf("checkpoints in the cluster: %d partitions, %d key states, %d B of Redis memory per key state (MEMORY USAGE of the hashes), of which %d B is the encoded state; used_memory_dataset %v",
		hashes, states, mem/states, blob/states, dataset)
}
