package bench

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/cepd/cepd/alerts"
	"github.com/cepd/cepd/engine"
	"github.com/cepd/cepd/rules"
)

// TestRunnerBehindSchedule: a paced Runner tells Behind, for every chunk, how long after
// its due time its Ingest call began. A feed held up 100 ms after its third chunk (as a
// call blocked on full shard queues would be) starts the fourth about 90 ms late, and a
// chunk that came on time is late by at most the sleep's overshoot.
func TestRunnerBehindSchedule(t *testing.T) {
	rs, err := engine.LoadRuleSet("../../testdata/fraud", "", rules.EnvOptions{})
	if err != nil {
		t.Fatal(err)
	}
	recs := records(t, 5, 50, 100)
	var mu sync.Mutex
	var late []time.Duration
	chunks := 0
	r := engine.Runner{Rules: rs, Sink: &alerts.Collector{}, DeadLetters: countDLQ{}, Chunk: 10, Rate: 1000, EndOfStream: true,
		Ingested: func(_, _ int) {
			if chunks++; chunks == 3 {
				time.Sleep(100 * time.Millisecond)
			}
		},
		Behind: func(p int, d time.Duration) {
			mu.Lock()
			late = append(late, d)
			mu.Unlock()
		}}
	if err := r.Run(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
	if len(late) != 10 {
		t.Fatalf("%d chunks told, want 10", len(late))
	}
	if late[3] < 80*time.Millisecond {
		t.Fatalf("the chunk after a 100 ms hold-up began %v after its due time, want about 90 ms", late[3])
	}
	if late[0] < 0 || late[0] > 50*time.Millisecond {
		t.Fatalf("the first chunk began %v after its due time", late[0])
	}
}

// TestPaceBehindInResult: a paced bench run reports how far its feed fell behind
// schedule (offered far above what it can take, every call but the first is late) and
// where its alerts' latency went (over every sample: the slowest 1% band holds as many
// as its rank says); an unpaced run reports neither.
func TestPaceBehindInResult(t *testing.T) {
	rs, err := engine.LoadRuleSet("../../testdata/fraud", "", rules.EnvOptions{})
	if err != nil {
		t.Fatal(err)
	}
	recs := records(t, 6, 200, 3000)
	paced, err := Run(context.Background(), rs, recs, Config{Chunk: 64, Rate: 100_000_000})
	if err != nil {
		t.Fatal(err)
	}
	if paced.PaceBehindMax <= 0 || paced.PaceBehindP99 <= 0 || paced.PaceBehindP99 > paced.PaceBehindMax {
		t.Fatalf("paced far above capacity: behind p99 %.0f µs, max %.0f µs", paced.PaceBehindP99, paced.PaceBehindMax)
	}
	n := int(paced.LatencyN)
	if p := paced.Parts; p == nil || n == 0 || p.Tail.N != n-n*99/100 || p.Tail.TotalUs < p.Median.TotalUs {
		t.Fatalf("paced run: %d samples, parts %+v", n, p)
	}
	free, err := Run(context.Background(), rs, recs, Config{Chunk: 64})
	if err != nil {
		t.Fatal(err)
	}
	if free.PaceBehindMax != 0 || free.PaceBehindP99 != 0 || free.Parts != nil {
		t.Fatalf("unpaced: behind p99 %.0f µs, max %.0f µs; parts %+v", free.PaceBehindP99, free.PaceBehindMax, free.Parts)
	}
}
