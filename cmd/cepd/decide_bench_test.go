package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
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
	copyRules(b, dir)
	f := startDecideFixture(b, dir)
	bodies := decideBodies(b, b.N)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	var next atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	var counts decideCounts
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
			if !counts.add(data) {
				b.Errorf("decide: %s", data)
				return
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
	reportDecideLatency(b, lat, elapsed, &counts)
}

// decideBodies is n events of the reference workload (in order, none late), each as a
// POST /v1/decide body.
func decideBodies(b testing.TB, n int) [][]byte {
	cfg := workload.DefaultConfig()
	cfg.Events, cfg.LateRate = int64(n), 0
	gen, err := workload.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	bodies := make([][]byte, 0, n)
	for {
		ev, ok := gen.Next(nil)
		if !ok {
			break
		}
		bodies = append(bodies, append(append([]byte(`{"event": `), bytes.TrimSpace(ev)...), '}'))
	}
	return bodies
}

// decideCounts counts the decisions' statuses and blocks.
type decideCounts struct {
	decided, blocked, pending, late atomic.Int64
}

// add counts one answer; false if it is not a decision's JSON.
func (c *decideCounts) add(data []byte) bool {
	var out struct{ Status, Outcome string }
	if json.Unmarshal(data, &out) != nil {
		return false
	}
	switch out.Status {
	case "decided":
		c.decided.Add(1)
		if out.Outcome == "block" {
			c.blocked.Add(1)
		}
	case "pending":
		c.pending.Add(1)
	case "late":
		c.late.Add(1) // a client overtaken by more than the out-of-orderness
	}
	return true
}

// reportDecideLatency reports the latency percentiles, the rate and the counts.
func reportDecideLatency(b *testing.B, lat []time.Duration, elapsed time.Duration, c *decideCounts) {
	slices.Sort(lat)
	pct := func(p float64) float64 { return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) }
	b.ReportMetric(pct(0.50), "p50-µs")
	b.ReportMetric(pct(0.99), "p99-µs")
	b.ReportMetric(pct(0.999), "p99.9-µs")
	b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "decisions/s")
	b.ReportMetric(float64(c.decided.Load())/float64(len(lat)), "decided-share")
	b.ReportMetric(float64(c.blocked.Load()), "blocked")
	b.ReportMetric(float64(c.pending.Load()), "pending")
	b.ReportMetric(float64(c.late.Load()), "late")
}
