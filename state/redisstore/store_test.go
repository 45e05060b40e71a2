package redisstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/cepd/cepd/internal/redistest"
	"github.com/cepd/cepd/state"
	"github.com/cepd/cepd/state/statetest"
)

var ctx = context.Background()

// smallChunks makes every checkpoint take the staged path, in many tiny chunks, and
// Load scan a few keys at a time.
func smallChunks(s *Store) {
	s.directMax = -1
	s.chunkBytes = 1024
	s.chunkKeys = 7
	s.scanCount = 5
}

// runSuite is statetest.Run.
func runSuite(t *testing.T, open func(t *testing.T) state.Store) { statetest.Run(t, open) }

// conformance runs the shared suite, each subtest with its own key prefix.
func conformance(t *testing.T, c redis.UniversalClient, tune func(*Store)) {
	var n atomic.Int64
	statetest.Run(t, func(t *testing.T) state.Store {
		s := NewFromClient(c, fmt.Sprintf("%s-%d", t.Name(), n.Add(1)))
		if tune != nil {
			tune(s)
		}
		return s
	})
}

func TestConformance(t *testing.T) {
	c := client(t, startRedis(t).Addr)
	t.Run("direct", func(t *testing.T) { conformance(t, c, nil) })
	t.Run("staged", func(t *testing.T) { conformance(t, c, smallChunks) })
}

// TestCluster runs the suite against a Redis Cluster of 3 masters with a replica each,
// checks the layout, then fails every master over while checkpoints are saved.
func TestCluster(t *testing.T) {
	rc := redistest.StartClusterN(t, 3, 1)
	c := clusterClient(t, rc.Addrs())
	t.Run("direct", func(t *testing.T) { conformance(t, c, nil) })
	t.Run("staged", func(t *testing.T) { conformance(t, c, smallChunks) })
	t.Run("layout", func(t *testing.T) { testClusterLayout(t, c) })
	t.Run("failover", func(t *testing.T) { testClusterFailover(t, rc, c) })
}

// testClusterLayout: all keys of a partition, staging keys included, hash to one slot,
// and partitions spread over the masters.
func testClusterLayout(t *testing.T, c *redis.ClusterClient) {
	s := NewFromClient(c, "layout")
	for p := range 16 {
		cp := bigCheckpoint(p, 1, 50, 2000) // staged: 100 KB
		if err := s.Save(ctx, cp); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Claim(ctx, p, 0); err != nil {
			t.Fatal(err)
		}
	}
	// leave one partition's staging keys behind, as a crashed writer would
	l := s.layout(3)
	if _, _, err := s.stage(ctx, l, "crashed", bigCheckpoint(3, 9, 10, 100)); err != nil {
		t.Fatal(err)
	}
	slots := map[string]map[int64]bool{} // partition tag → slots
	masters := map[string]bool{}
	var mu sync.Mutex // ForEachMaster calls fn concurrently
	err := c.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
		mu.Lock()
		defer mu.Unlock()
		keys, err := m.Keys(ctx, "{cepd:layout:*").Result()
		if err != nil {
			return err
		}
		for _, k := range keys {
			slot, err := m.ClusterKeySlot(ctx, k).Result()
			if err != nil {
				return err
			}
			tag := k[:strings.Index(k, "}")+1]
			if slots[tag] == nil {
				slots[tag] = map[int64]bool{}
			}
			slots[tag][slot] = true
			masters[m.Options().Addr] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(slots) != 16 {
		t.Fatalf("%d partition tags, want 16: %v", len(slots), slots)
	}
	for tag, sl := range slots {
		if len(sl) != 1 {
			t.Errorf("%s: keys in %d slots", tag, len(sl))
		}
	}
	if len(masters) < 2 {
		t.Errorf("16 partitions on %d master(s)", len(masters))
	}
}

// bigCheckpoint has n keys of size bytes each.
func bigCheckpoint(p int, epoch uint64, n, size int) *state.Checkpoint {
	cp := &state.Checkpoint{Partition: p, Epoch: epoch, Offset: int64(n), Watermark: 1000, RuleSet: "rs"}
	for i := range n {
		data := bytes.Repeat([]byte{byte(i)}, size)
		cp.Upserts = append(cp.Upserts, state.KeyBlob{Key: fmt.Sprintf("card-%07d", i), Data: data})
	}
	return cp
}

// loadAll loads a partition into a map.
func loadAll(t *testing.T, s *Store, p int) (map[string][]byte, state.Meta) {
	t.Helper()
	got := map[string][]byte{}
	meta, err := s.Load(ctx, p, func(k string, v []byte) error {
		got[k] = bytes.Clone(v)
		return nil
	})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return got, meta
}

// stageKeys lists the partition's staging keys left in a standalone server.
func stageKeys(t *testing.T, c *redis.Client, prefix string) []string {
	t.Helper()
	keys, err := c.Keys(ctx, "{cepd:"+prefix+":*}:stage:*").Result()
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// TestFencingTwoInstances: two stores with their own connections; the one that lost
// the partition can write nothing, on either path, and leaves no staging keys.
func TestFencingTwoInstances(t *testing.T) {
	srv := startRedis(t)
	a, b := NewFromClient(client(t, srv.Addr), "fence"), NewFromClient(client(t, srv.Addr), "fence")
	const p = 4
	ea, err := a.Claim(ctx, p, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Save(ctx, bigCheckpoint(p, ea, 10, 100)); err != nil {
		t.Fatal(err)
	}
	eb, err := b.Claim(ctx, p, 0)
	if err != nil {
		t.Fatal(err)
	}
	if eb <= ea {
		t.Fatalf("B claimed %d after A's %d", eb, ea)
	}
	for name, cp := range map[string]*state.Checkpoint{
		"direct": {Partition: p, Epoch: ea, Offset: 99, Deletes: []string{"card-0000000"}},
		"staged": bigCheckpoint(p, ea, 5000, 300), // 1.5 MB
	} {
		if err := a.Save(ctx, cp); !errors.Is(err, state.ErrFenced) {
			t.Errorf("%s save by the fenced owner: %v, want ErrFenced", name, err)
		}
	}
	// fenced at commit (the epoch moved after the early check): staging keys dropped
	cp := bigCheckpoint(p, ea, 5000, 300)
	l := a.layout(p)
	nUp, nDel, err := a.stage(ctx, l, "late", cp)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.commit(ctx, l, "late", cp, nUp, nDel); !errors.Is(err, state.ErrFenced) {
		t.Fatalf("commit by the fenced owner: %v", err)
	}
	if keys := stageKeys(t, client(t, srv.Addr), "fence"); len(keys) != 0 {
		t.Errorf("staging keys left after fenced saves: %v", keys)
	}
	got, meta := loadAll(t, b, p)
	if len(got) != 10 || meta.Offset != 10 || meta.Epoch != eb {
		t.Fatalf("after fenced saves: %d keys, meta %+v", len(got), meta)
	}
	if err := b.Save(ctx, &state.Checkpoint{Partition: p, Epoch: eb, Offset: 11, Deletes: []string{"card-0000000"}}); err != nil {
		t.Fatal(err)
	}
	got, meta = loadAll(t, a, p)
	if len(got) != 9 || meta.Offset != 11 {
		t.Fatalf("after the new owner's save: %d keys, meta %+v", len(got), meta)
	}
}

// TestCrashAfterStaging: a writer that dies after staging and before commit changes
// nothing visible; its staging keys expire.
func TestCrashAfterStaging(t *testing.T) {
	srv := startRedis(t)
	c := client(t, srv.Addr)
	s := NewFromClient(c, "crash1")
	if err := s.Save(ctx, bigCheckpoint(0, 1, 100, 10)); err != nil {
		t.Fatal(err)
	}
	cp := bigCheckpoint(0, 1, 3000, 300)
	cp.Offset = 7777
	if _, _, err := s.stage(ctx, s.layout(0), "dead", cp); err != nil {
		t.Fatal(err)
	}
	got, meta := loadAll(t, s, 0)
	if len(got) != 100 || meta.Offset != 100 || !bytes.Equal(got["card-0000001"], bytes.Repeat([]byte{1}, 10)) {
		t.Fatalf("staged-only checkpoint visible: %d keys, meta %+v", len(got), meta)
	}
	for _, k := range stageKeys(t, c, "crash1") {
		if ttl := c.TTL(ctx, k).Val(); ttl <= 0 || ttl > defaultStageTTL {
			t.Errorf("staging key %s TTL %v", k, ttl)
		}
	}
}

// TestCrashAfterCommit: a writer that dies after commit and before the keys were moved
// into place: the checkpoint is committed, and the next Load (of another instance)
// sees all of it.
func TestCrashAfterCommit(t *testing.T) {
	srv := startRedis(t)
	c := client(t, srv.Addr)
	a := NewFromClient(c, "crash2")
	smallChunks(a)
	if err := a.Save(ctx, bigCheckpoint(0, 1, 100, 10)); err != nil {
		t.Fatal(err)
	}
	cp := bigCheckpoint(0, 1, 500, 50)
	cp.Offset = 7777
	cp.Deletes = []string{"card-0000001", "card-0000499"}
	l := a.layout(0)
	nUp, nDel, err := a.stage(ctx, l, "half", cp)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.commit(ctx, l, "half", cp, nUp, nDel); err != nil {
		t.Fatal(err)
	}
	// move a few chunks, then "crash"
	for range 3 {
		if _, err := moveScript.Run(ctx, c, []string{l.meta(), l.keys(), l.stageUp("half"), l.stageDel("half")}, "half", 7, 1024).Result(); err != nil {
			t.Fatal(err)
		}
	}
	b := NewFromClient(client(t, srv.Addr), "crash2")
	if _, err := b.Claim(ctx, 0, 0); err != nil {
		t.Fatal(err)
	}
	got, meta := loadAll(t, b, 0)
	if len(got) != 498 || meta.Offset != 7777 || meta.Keys != 498 {
		t.Fatalf("committed checkpoint after a crash: %d keys, meta %+v", len(got), meta)
	}
	if _, ok := got["card-0000001"]; ok {
		t.Error("deleted key present")
	}
	if !bytes.Equal(got["card-0000002"], bytes.Repeat([]byte{2}, 50)) {
		t.Errorf("card-0000002 = %q", got["card-0000002"])
	}
	if keys := stageKeys(t, c, "crash2"); len(keys) != 0 {
		t.Errorf("staging keys left: %v", keys)
	}
}

// TestLoadDuringSave: a checkpoint committed while Load scans is reported, not mixed in.
func TestLoadDuringSave(t *testing.T) {
	s := NewFromClient(client(t, startRedis(t).Addr), "during")
	s.scanCount = 10
	if err := s.Save(ctx, bigCheckpoint(0, 1, 1000, 10)); err != nil {
		t.Fatal(err)
	}
	saved := false
	_, err := s.Load(ctx, 0, func(string, []byte) error {
		if !saved {
			saved = true
			return s.Save(ctx, &state.Checkpoint{Partition: 0, Epoch: 1, Offset: 2000, Deletes: []string{"card-0000999"}})
		}
		return nil
	})
	if !errors.Is(err, ErrConcurrentSave) {
		t.Fatalf("Load during a Save: %v, want ErrConcurrentSave", err)
	}
	if got, meta := loadAll(t, s, 0); len(got) != 999 || meta.Offset != 2000 {
		t.Fatalf("after reload: %d keys, meta %+v", len(got), meta)
	}
}

// TestScriptFlush: every script still runs after SCRIPT FLUSH (EVALSHA gets NOSCRIPT,
// the store falls back to EVAL).
func TestScriptFlush(t *testing.T) {
	c := client(t, startRedis(t).Addr)
	s := NewFromClient(c, "flush")
	e, err := s.Claim(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Save(ctx, bigCheckpoint(0, e, 10, 10)); err != nil {
		t.Fatal(err)
	}
	for i, size := range []int{10, 1000} { // direct, then staged (commit and move scripts)
		if err := c.ScriptFlush(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		if exists := c.ScriptExists(ctx, directScript.Hash(), commitScript.Hash(), moveScript.Hash(), claimScript.Hash(), metaScript.Hash()).Val(); exists[0] || exists[1] {
			t.Fatalf("scripts still cached after SCRIPT FLUSH: %v", exists)
		}
		cp := bigCheckpoint(0, e, 1000, size)
		cp.Offset = int64(100 + i)
		if err := s.Save(ctx, cp); err != nil {
			t.Fatalf("Save after SCRIPT FLUSH: %v", err)
		}
		c.ScriptFlush(ctx)
		if got, meta := loadAll(t, s, 0); len(got) != 1000 || meta.Offset != cp.Offset {
			t.Fatalf("Load after SCRIPT FLUSH: %d keys, meta %+v", len(got), meta)
		}
		c.ScriptFlush(ctx)
		if e2, err := s.Claim(ctx, 0, 0); err != nil || e2 != e+1 {
			t.Fatalf("Claim after SCRIPT FLUSH: %d, %v", e2, err)
		}
		e++
	}
}

// TestEpochRange: Lua compares epochs as doubles, so the store refuses epochs above 2^53-1
// and handles those below exactly.
func TestEpochRange(t *testing.T) {
	s := NewFromClient(client(t, startRedis(t).Addr), "epochs")
	big := uint64(maxEpoch - 1)
	e, err := s.Claim(ctx, 0, big)
	if err != nil || e != big {
		t.Fatalf("Claim(%d) = %d, %v", big, e, err)
	}
	if e, err = s.Claim(ctx, 0, 0); err != nil || e != big+1 {
		t.Fatalf("Claim after %d = %d, %v", big, e, err)
	}
	if err := s.Save(ctx, &state.Checkpoint{Partition: 0, Epoch: big}); !errors.Is(err, state.ErrFenced) {
		t.Fatalf("Save below by one: %v", err)
	}
	if err := s.Save(ctx, &state.Checkpoint{Partition: 0, Epoch: big + 1, Offset: -5, Watermark: -1 << 63}); err != nil {
		t.Fatal(err)
	}
	if _, meta := loadAll(t, s, 0); meta.Epoch != big+1 || meta.Offset != -5 || meta.Watermark != -1<<63 {
		t.Fatalf("meta %+v", meta)
	}
	if err := s.Save(ctx, &state.Checkpoint{Partition: 0, Epoch: 1 << 60}); err == nil {
		t.Fatal("Save with epoch 2^60 accepted")
	}
}

func TestNewOptions(t *testing.T) {
	for _, o := range []Options{
		{},
		{Addrs: []string{"a:1"}, Prefix: "x{y}"},
		{Addrs: []string{"a:1", "b:1"}, DB: 2},
		{Addrs: []string{"a:1"}, Cluster: true, MasterName: "m"},
	} {
		if _, err := New(o); err == nil {
			t.Errorf("New(%+v) accepted", o)
		}
	}
	srv := startRedis(t)
	s, err := New(Options{Addrs: []string{srv.Addr}, Prefix: "new", DB: 3, PoolSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Save(ctx, bigCheckpoint(1, 1, 3, 3)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(&redis.Options{Addr: srv.Addr, DB: 3})
	defer c.Close()
	if n := c.HLen(ctx, "{cepd:new:p1}:keys").Val(); n != 3 {
		t.Fatalf("DB 3 holds %d keys of partition 1", n)
	}
}
