package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cepd/cepd/internal/workload"
)

// BenchmarkDecideREST: concurrent authorisers each POST /v1/decide, one event per
// request, with every shipped fraud rule loaded, over real HTTP through the gateway and
// gRPC; the events are the reference workload's (cepd gen) in order, handed out to the
// clients as they ask. Reports the latency percentiles each client saw (from sending the
// request to reading the whole answer).
//
//	go test ./cmd/cepd -run '^$' -bench DecideREST -benchtime 20000x
func BenchmarkDecideREST(b *testing.B) {
	dir := b.TempDir()
	files, err := filepath.Glob(filepath.Join("..", "..", "testdata", "fraud", "*.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	for _, p := range files {
		data, err := os.ReadFile(p)
		if err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(p)), data, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	f := startDecideFixture(b, dir)
	cfg := workload.DefaultConfig()
	cfg.Events, cfg.LateRate = int64(b.N), 0
	gen, err := workload.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	bodies := make([][]byte, 0, b.N)
	for {
		ev, ok := gen.Next(nil)
		if !ok {
			break
		}
		bodies = append(bodies, append(append([]byte(`{"event": `), bytes.TrimSpace(ev)...), '}'))
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	var next atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	var decided, blocked, pending, late atomic.Int64
	b.SetParallelism(4) // 4 × GOMAXPROCS concurrent clients
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		for pb.Next() {
			i := next.Add(1) - 1
			t0 := time.Now()
			resp, err := client.Post(f.base+"/v1/decide", "application/json", bytes.NewReader(bodies[i]))
			if err != nil {
				b.Error(err)
				return
			}
			data, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			mine = append(mine, time.Since(t0))
			if resp.StatusCode != http.StatusOK {
				b.Errorf("decide: %d %s", resp.StatusCode, data)
				return
			}
			var out struct{ Status, Outcome string }
			if json.Unmarshal(data, &out) != nil {
				b.Errorf("decide: %s", data)
				return
			}
			switch out.Status {
			case "decided":
				decided.Add(1)
				if out.Outcome == "block" {
					blocked.Add(1)
				}
			case "pending":
				pending.Add(1)
			case "late":
				late.Add(1) // a client overtaken by more than the out-of-orderness
			}
		}
		mu.Lock()
		lat = append(lat, mine...)
		mu.Unlock()
	})
	elapsed := time.Since(start)
	b.StopTimer()
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	pct := func(p float64) float64 { return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) }
	b.ReportMetric(pct(0.50), "p50-µs")
	b.ReportMetric(pct(0.99), "p99-µs")
	b.ReportMetric(pct(0.999), "p99.9-µs")
	b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "decisions/s")
	b.ReportMetric(float64(decided.Load())/float64(len(lat)), "decided-share")
	b.ReportMetric(float64(blocked.Load()), "blocked")
	b.ReportMetric(float64(pending.Load()), "pending")
	b.ReportMetric(float64(late.Load()), "late")
}
