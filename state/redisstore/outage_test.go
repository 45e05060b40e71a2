package redisstore

import (
	"syscall"
	"testing"
	"time"

	"github.com/cepd/cepd/state"
)

// saveRetrying saves cps in order, as the caller of a store does after a failure: each
// one again until it succeeds (a pooled connection may still be dead on the first try),
// for up to 5 s.
func saveRetrying(t *testing.T, s *Store, cps ...*state.Checkpoint) {
	t.Helper()
	for _, cp := range cps {
		deadline := time.Now().Add(5 * time.Second)
		for {
			err := s.Save(ctx, cp)
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("Save after the restart: %v", err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// TestRedisDownAndBack: with Redis hung (SIGSTOP) or gone, calls fail within the
// configured timeouts; once redis-server is restarted on the same port (reloading its
// AOF), the store works again without being reopened, and re-saving the checkpoints that
// failed (possibly half applied) gives their state.
func TestRedisDownAndBack(t *testing.T) {
	srv := startRedis(t, "--appendonly", "yes", "--appendfsync", "always")
	s, err := New(Options{Addrs: []string{srv.Addr}, Prefix: "outage",
		DialTimeout: 200 * time.Millisecond, ReadTimeout: 200 * time.Millisecond, WriteTimeout: 200 * time.Millisecond, MaxRetries: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	e, err := s.Claim(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	cp1 := randomCheckpoint(0, 1, 0, 100, 50)
	cp1.Epoch = e
	if err := s.Save(ctx, cp1); err != nil {
		t.Fatal(err)
	}
	small := randomCheckpoint(0, 2, 50, 100, 50) // overwrites 50 keys, adds 50
	small.Epoch = e
	small.Deletes = []string{"card-0000000"}
	big := randomCheckpoint(0, 3, 1000, 5000, 300) // staged
	big.Epoch = e
	big.Offset = 100 // checkpoints in order: big, then small
	small.Offset = 200

	failFast := func(what string, call func() error) {
		t.Helper()
		start := time.Now()
		err := call()
		elapsed := time.Since(start)
		if err == nil {
			t.Fatalf("%s succeeded", what)
		}
		if elapsed > 2*time.Second {
			t.Errorf("%s took %v to fail", what, elapsed)
		}
		t.Logf("%s failed after %v: %v", what, elapsed.Round(time.Millisecond), err)
	}
	load := func() error { _, err := s.Load(ctx, 0, func(string, []byte) error { return nil }); return err }

	srv.Signal(syscall.SIGSTOP)
	failFast("staged Save to a hung Redis", func() error { return s.Save(ctx, big) })
	failFast("direct Save to a hung Redis", func() error { return s.Save(ctx, small) })
	failFast("Load from a hung Redis", load)
	srv.Signal(syscall.SIGCONT)
	srv.Stop()
	failFast("Save to a stopped Redis", func() error { return s.Save(ctx, small) })
	failFast("Claim on a stopped Redis", func() error { _, err := s.Claim(ctx, 0, 0); return err })

	start := time.Now()
	srv.Start()
	t.Logf("redis-server restarted on port %d in %v", srv.Port(), time.Since(start).Round(time.Millisecond))
	saveRetrying(t, s, big, small)
	want := map[string][]byte{}
	for _, cp := range []*state.Checkpoint{cp1, big, small} {
		for _, u := range cp.Upserts {
			want[u.Key] = u.Data
		}
		for _, k := range cp.Deletes {
			delete(want, k)
		}
	}
	got, meta := loadAll(t, s, 0)
	if len(got) != len(want) || meta.Offset != 200 || meta.Epoch != e {
		t.Fatalf("after the restart: %d keys (want %d), meta %+v", len(got), len(want), meta)
	}
	for k, v := range want {
		if string(got[k]) != string(v) {
			t.Fatalf("key %s: wrong data", k)
		}
	}
}
