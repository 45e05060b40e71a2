package redisrules

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cepd/cepd/internal/redistest"
	"github.com/cepd/cepd/rules/store"
)

// TestClusterFailover: on a Redis Cluster of 3 masters with a replica each, four
// writers update their rules in a loop through one instance while CLUSTER FAILOVER
// promotes the replica of the master holding the store's slot. Afterwards every rule's
// versions are consecutive, none acknowledged is missing (the current source is the
// last acknowledged one, or one tried after it whose reply was lost), the other
// instance reads the same, and its watcher still hears of changes.
func TestClusterFailover(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rc := redistest.StartClusterN(t, 3, 1)
	cluster := func() redis.UniversalClient {
		c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: rc.Addrs()})
		t.Cleanup(func() { c.Close() })
		return c
	}
	a := open(t, cluster(), Options{Prefix: "fo"})
	b := open(t, cluster(), Options{Prefix: "fo"})
	w := watch(t, b)
	w.next(t, "", 5*time.Second)
	const rules = 4
	src := func(r, i int) []byte { return fmt.Appendf(nil, "id: r%d\n# %d\n", r, i) }
	acked, tried := make([]int, rules), make([]int, rules)
	errs := make([]int, rules)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for r := range rules {
		if _, err := a.Create(ctx, fmt.Sprintf("r%d", r), src(r, 0), store.Change{Author: "a"}); err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 1; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				tried[r] = i
				if _, err := a.Update(ctx, fmt.Sprintf("r%d", r), src(r, i), store.Change{Author: "a"}); err != nil {
					errs[r]++
					time.Sleep(10 * time.Millisecond)
					continue
				}
				acked[r] = i
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)
	began := time.Now()
	from, to := rc.Failover("{fo}:index")
	t.Logf("failover of the store's master %s to %s took %v", from, to, time.Since(began).Round(time.Millisecond))
	time.Sleep(300 * time.Millisecond)
	close(stop)
	wg.Wait()
	for r := range rules {
		id := fmt.Sprintf("r%d", r)
		for _, s := range []*Store{a, b} {
			checkAcknowledged(t, ctx, s, id, acked[r], tried[r], func(i int) []byte { return src(r, i) })
		}
		if acked[r] < 5 {
			t.Errorf("%s: only %d updates acknowledged", id, acked[r])
		}
	}
	t.Logf("updates acknowledged %v, errors %v", acked, errs)
	// The watcher heard of those; a change after the failover must reach it too.
	for quiet := false; !quiet; {
		select {
		case <-w.events:
		case <-time.After(500 * time.Millisecond):
			quiet = true
		}
	}
	if _, err := a.Update(ctx, "r0", []byte("id: r0\n# after\n"), store.Change{Author: "a"}); err != nil {
		t.Fatal(err)
	}
	w.next(t, "r0", 10*time.Second)
}

// checkAcknowledged fails the test when rule id's versions in s are not consecutive or
// miss an acknowledged update: its current source must be update acked (src(acked)) or
// one tried after it, whose reply may have been lost.
func checkAcknowledged(t *testing.T, ctx context.Context, s *Store, id string, acked, tried int, src func(i int) []byte) {
	t.Helper()
	vs, err := s.Versions(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range vs {
		if v.Version != i+1 {
			t.Fatalf("%s: versions %d… not consecutive at %d", id, vs[0].Version, v.Version)
		}
	}
	cur, err := s.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	ok := false
	for i := acked; i <= tried; i++ {
		ok = ok || bytes.Equal(cur.Source, src(i))
	}
	if !ok || len(vs) < acked+1 {
		t.Errorf("%s: current %q with %d versions; acknowledged update %d, tried %d", id, cur.Source, len(vs), acked, tried)
	}
}
