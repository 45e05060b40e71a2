package redisstore

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cepd/cepd/state"
)

// randomCheckpoint has keys from..from+n-1 ("card-%07d"), each with size random bytes
// drawn from seed.
func randomCheckpoint(p int, seed uint64, from, n, size int) *state.Checkpoint {
	r := rand.New(rand.NewPCG(seed, uint64(from)))
	cp := &state.Checkpoint{Partition: p, Epoch: 1, Offset: int64(from + n), Watermark: int64(seed), RuleSet: "rs-1",
		Upserts: make([]state.KeyBlob, n)}
	buf := make([]byte, n*size)
	for i := 0; i+8 <= len(buf); i += 8 {
		v := r.Uint64()
		for j := range 8 {
			buf[i+j] = byte(v >> (8 * j))
		}
	}
	for i := range n {
		cp.Upserts[i] = state.KeyBlob{Key: fmt.Sprintf("card-%07d", from+i), Data: buf[i*size : (i+1)*size : (i+1)*size]}
	}
	return cp
}

// usedMemory reads INFO memory's used_memory.
func usedMemory(tb testing.TB, c *redis.Client) int64 {
	tb.Helper()
	info, err := c.Info(context.Background(), "memory").Result()
	if err != nil {
		tb.Fatal(err)
	}
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, "used_memory:"); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				tb.Fatal(err)
			}
			return n
		}
	}
	tb.Fatalf("no used_memory in INFO memory:\n%s", info)
	return 0
}

// pinger measures the latency other clients see while a test runs: one PING per
// millisecond on its own connection.
type pinger struct {
	stop chan struct{}
	wg   sync.WaitGroup
	max  time.Duration
	n    int
}

func startPinger(addr string) *pinger {
	p := &pinger{stop: make(chan struct{})}
	c := redis.NewClient(&redis.Options{Addr: addr, PoolSize: 1})
	c.Ping(context.Background())
	p.wg.Go(func() {
		defer c.Close()
		for {
			select {
			case <-p.stop:
				return
			case <-time.After(time.Millisecond):
			}
			start := time.Now()
			c.Ping(context.Background())
			p.max = max(p.max, time.Since(start))
			p.n++
		}
	})
	return p
}

func (p *pinger) done() time.Duration {
	close(p.stop)
	p.wg.Wait()
	return p.max
}

// slowest returns the longest command duration in the slow log and its name.
func slowest(tb testing.TB, c *redis.Client) (time.Duration, string) {
	entries, err := c.SlowLogGet(context.Background(), 1000).Result()
	if err != nil {
		tb.Fatal(err)
	}
	var d time.Duration
	var name string
	for _, e := range entries {
		if e.Duration > d && len(e.Args) > 0 {
			d, name = e.Duration, e.Args[0]
		}
	}
	return d, name
}

// loadChecked loads partition 0 of s, checks it holds exactly cp's n keys, and returns
// how long it took.
func loadChecked(t *testing.T, s *Store, cp *state.Checkpoint, n int) time.Duration {
	t.Helper()
	want := make(map[string][]byte, n)
	for _, u := range cp.Upserts {
		want[u.Key] = u.Data
	}
	start := time.Now()
	got := 0
	meta, err := s.Load(ctx, 0, func(k string, v []byte) error {
		if !bytes.Equal(want[k], v) {
			return fmt.Errorf("key %q: wrong data", k)
		}
		got++
		return nil
	})
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	if got != n || meta.Keys != n || meta.Offset != int64(n) {
		t.Fatalf("loaded %d keys, meta %+v", got, meta)
	}
	return took
}

// saveIncremental saves a checkpoint of partition 0 that changes 10% of its n keys and
// deletes 1%, checks the result, and returns it and how long the save took.
func saveIncremental(t *testing.T, s *Store, n, size int) (*state.Checkpoint, time.Duration) {
	t.Helper()
	inc := randomCheckpoint(0, 2, 0, n/10, size)
	for i := range n / 100 {
		inc.Deletes = append(inc.Deletes, fmt.Sprintf("card-%07d", n-1-i))
	}
	start := time.Now()
	if err := s.Save(ctx, inc); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	if _, meta := loadAll(t, s, 0); meta.Keys != n-n/100 {
		t.Fatalf("after the incremental checkpoint: meta %+v", meta)
	}
	return inc, took
}

// TestLargeCheckpoint saves one checkpoint of 200k keys × 300 B and loads it back,
// measuring time, Redis memory per key and the longest single command (no command may
// block Redis for long, however large the checkpoint).
func TestLargeCheckpoint(t *testing.T) {
	const n, size = 200_000, 300
	srv := startRedis(t, "--slowlog-log-slower-than", "2000", "--slowlog-max-len", "10000")
	c := client(t, srv.Addr)
	s := NewFromClient(c, "large")
	cp := randomCheckpoint(0, 1, 0, n, size)
	mem0 := usedMemory(t, c)

	ping := startPinger(srv.Addr)
	start := time.Now()
	if err := s.Save(ctx, cp); err != nil {
		t.Fatal(err)
	}
	saveTime := time.Since(start)
	maxPing := ping.done()
	slow, slowCmd := slowest(t, c)
	mem1 := usedMemory(t, c)

	loadTime := loadChecked(t, s, cp, n)

	inc, incTime := saveIncremental(t, s, n, size)

	// The same checkpoint into a partition that already has keys: the staged upserts are
	// moved into place chunk by chunk instead of renamed.
	seed := randomCheckpoint(1, 3, n, 1, size)
	seed.Partition = 1
	if err := s.Save(ctx, seed); err != nil {
		t.Fatal(err)
	}
	cp.Partition = 1
	ping = startPinger(srv.Addr)
	start = time.Now()
	if err := s.Save(ctx, cp); err != nil {
		t.Fatal(err)
	}
	moveTime := time.Since(start)
	maxPing = max(maxPing, ping.done())
	if slow2, cmd := slowest(t, c); slow2 > slow {
		slow, slowCmd = slow2, cmd
	}
	if _, meta := loadAll(t, s, 1); meta.Keys != n+1 {
		t.Fatalf("partition 1: meta %+v", meta)
	}

	perKey := float64(mem1-mem0) / n
	t.Logf("save %d keys × %d B: %v (%.0f keys/s, %.0f MB/s); load: %v (%.0f keys/s)",
		n, size, saveTime.Round(time.Millisecond), n/saveTime.Seconds(), float64(n*size)/saveTime.Seconds()/1e6,
		loadTime.Round(time.Millisecond), n/loadTime.Seconds())
	t.Logf("the same into a partition with keys (moved, not renamed): %v (%.0f keys/s)", moveTime.Round(time.Millisecond), n/moveTime.Seconds())
	t.Logf("incremental save of %d upserts + %d deletes: %v", len(inc.Upserts), len(inc.Deletes), incTime.Round(time.Millisecond))
	t.Logf("Redis used_memory: +%.1f MB, %.0f B/key (%.0f B over the %d B blob)", float64(mem1-mem0)/1e6, perKey, perKey-size, size)
	t.Logf("during the save: longest command %v (%s), longest PING seen by another client %v over %d pings",
		slow, slowCmd, maxPing.Round(time.Microsecond), ping.n)
	if perKey > 2*size {
		t.Errorf("%.0f B per key of %d B", perKey, size)
	}
	// A chunk takes a few milliseconds, a sixtieth of the save; the checkpoint in one
	// command would take about all of it. The slow log measures wall time, which a
	// loaded machine stretches (a 317 ms chunk seen once), so a command is too long
	// when it is both over 200 ms and over a quarter of its save.
	if slow > 200*time.Millisecond && slow > max(saveTime, moveTime)/4 {
		t.Errorf("a command blocked Redis for %v (%s)", slow, slowCmd)
	}
}
