package redisstore

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkSave: one op is one checkpoint of n keys × 300 B overwriting the same keys
// of a partition (1000 keys take the direct path, 10000 the staged one).
func BenchmarkSave(b *testing.B) {
	const size = 300
	for _, n := range []int{1000, 10_000} {
		b.Run(fmt.Sprintf("keys=%d", n), func(b *testing.B) {
			srv := startRedis(b)
			c := client(b, srv.Addr)
			s := NewFromClient(c, "bench")
			cp := randomCheckpoint(0, 1, 0, n, size)
			mem0 := usedMemory(b, c)
			if err := s.Save(ctx, cp); err != nil {
				b.Fatal(err)
			}
			perKey := float64(usedMemory(b, c)-mem0) / float64(n)
			b.SetBytes(int64(n * size))
			start := time.Now()
			for b.Loop() {
				cp.Offset++
				if err := s.Save(ctx, cp); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*n)/time.Since(start).Seconds(), "keys/s")
			b.ReportMetric(perKey, "B/key-in-redis")
		})
	}
}

// BenchmarkLoad: one op is a Load of a whole partition of 1M keys × 300 B (a restore).
// Setup saves it as 20 checkpoints of 50k keys.
func BenchmarkLoad(b *testing.B) {
	const n, size, per = 1_000_000, 300, 50_000
	srv := startRedis(b)
	c := client(b, srv.Addr)
	s := NewFromClient(c, "bench")
	mem0 := usedMemory(b, c)
	start := time.Now()
	for from := 0; from < n; from += per {
		if err := s.Save(ctx, randomCheckpoint(0, 1, from, per, size)); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("saved %d keys × %d B in %v", n, size, time.Since(start).Round(time.Millisecond))
	perKey := float64(usedMemory(b, c)-mem0) / n
	b.SetBytes(n * size)
	start = time.Now()
	for b.Loop() {
		keys := 0
		meta, err := s.Load(ctx, 0, func(string, []byte) error { keys++; return nil })
		if err != nil {
			b.Fatal(err)
		}
		if keys != n || meta.Keys != n {
			b.Fatalf("loaded %d keys, meta %+v", keys, meta)
		}
	}
	elapsed := time.Since(start)
	b.ReportMetric(float64(b.N*n)/elapsed.Seconds(), "keys/s")
	b.ReportMetric(elapsed.Seconds()/float64(b.N), "s/restore")
	b.ReportMetric(perKey, "B/key-in-redis")
}
