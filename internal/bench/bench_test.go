package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/cepd/cepd/engine"
	"github.com/cepd/cepd/event"
	"github.com/cepd/cepd/event/jsondecode"
	"github.com/cepd/cepd/internal/workload"
	"github.com/cepd/cepd/internal/workload/workloadtest"
	"github.com/cepd/cepd/rules"
)

// records generates n card events over cards keys with seed, numbered by line.
func records(tb testing.TB, seed uint64, cards, n int) []engine.Record {
	tb.Helper()
	cfg := workload.DefaultConfig()
	cfg.Seed, cfg.Cards, cfg.Events = seed, cards, int64(n)
	return workloadtest.Records(tb, cfg)
}

// TestSplitByKey: the one decoding pass counts the distinct keys and splits the records
// over the partitions by key, each key in one partition in written order, a record that
// does not decode in partition 0; every record lands exactly once.
func TestSplitByKey(t *testing.T) {
	rs, err := engine.LoadRuleSet("../../testdata/fraud", "", rules.EnvOptions{})
	if err != nil {
		t.Fatal(err)
	}
	recs := records(t, 3, 300, 5000)
	bad := engine.Record{Value: []byte(`{"not":"an event"`), Offset: int64(len(recs) + 1)}
	recs = append(recs, bad)
	dec := jsondecode.NewDecoder(rs.Schema)
	keyOf := func(r engine.Record) string {
		var ev event.Event
		if dec.Decode(r.Value, &ev) != nil {
			return ""
		}
		return strings.Clone(ev.Key)
	}
	want := map[string]bool{}
	for _, r := range recs {
		if k := keyOf(r); k != "" {
			want[k] = true
		}
	}
	secs, keys, parts := split(rs.Schema, recs, 3)
	if secs <= 0 || keys != len(want) || len(parts) != 3 {
		t.Fatalf("split: %v s, %d keys (want %d), %d partitions", secs, keys, len(want), len(parts))
	}
	partOf, total := map[string]int{}, 0
	lastOffset := map[string]int64{}
	for p, part := range parts {
		total += len(part)
		for _, r := range part {
			k := keyOf(r)
			if k == "" && p != 0 {
				t.Fatalf("record %d does not decode but went to partition %d", r.Offset, p)
			}
			if q, ok := partOf[k]; ok && q != p {
				t.Fatalf("key %q in partitions %d and %d", k, q, p)
			}
			if r.Offset <= lastOffset[k] {
				t.Fatalf("key %q: record %d after %d", k, r.Offset, lastOffset[k])
			}
			partOf[k], lastOffset[k] = p, r.Offset
		}
	}
	if total != len(recs) {
		t.Fatalf("%d records split, want %d", total, len(recs))
	}
}

// TestAtHalfRate: the second run is offered half the first run's rate, finds the same
// alerts, and measures the latency of every one of them.
func TestAtHalfRate(t *testing.T) {
	rs, err := engine.LoadRuleSet("../../testdata/fraud", "", rules.EnvOptions{})
	if err != nil {
		t.Fatal(err)
	}
	recs := records(t, 3, 500, 20000)
	res, err := AtHalfRate(context.Background(), rs, recs, Config{Chunk: 64, Rate: 1})
	if err != nil {
		t.Fatal(err)
	}
	h := res.AtHalfRate
	if h == nil || res.OfferedRate != 0 || h.OfferedRate != int(res.EventsPerSec/2) {
		t.Fatalf("first run offered %d, measured %.0f events/s; second %+v", res.OfferedRate, res.EventsPerSec, h)
	}
	if res.Alerts == 0 || h.Alerts != res.Alerts || h.LatencyP99 <= 0 || h.LatencyP999 < h.LatencyP99 {
		t.Fatalf("alerts %d then %d; latency at half the rate p99 %.0f µs, p99.9 %.0f µs", res.Alerts, h.Alerts, h.LatencyP99, h.LatencyP999)
	}
	if h.Seconds < float64(len(recs))/float64(h.OfferedRate)*0.9 {
		t.Fatalf("the paced run took %.3f s, %d events at %d events/s take %.3f s", h.Seconds, len(recs), h.OfferedRate, float64(len(recs))/float64(h.OfferedRate))
	}
}

// TestLatencyFieldsInJSON: `cepd bench --json` reports the latency and queue-wait
// percentiles and their sample counts, each above zero after a run with alerts.
func TestLatencyFieldsInJSON(t *testing.T) {
	rs, err := engine.LoadRuleSet("../../testdata/fraud", "", rules.EnvOptions{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := Run(context.Background(), rs, records(t, 3, 500, 20000), Config{Chunk: 64})
	if err != nil {
		t.Fatal(err)
	}
	if res.Alerts == 0 {
		t.Fatal("no alerts")
	}
	var out bytes.Buffer
	if err := Print(&out, res, true); err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"latency_p50_us", "latency_p99_us", "latency_p999_us", "latency_samples",
		"queue_wait_p50_us", "queue_wait_p99_us", "queue_wait_p999_us", "queue_wait_samples"} {
		if v, ok := got[k].(float64); !ok || v <= 0 {
			t.Errorf("%s = %v in the JSON, want a number above 0", k, got[k])
		}
	}
	if n := uint64(got["latency_samples"].(float64)); n > res.Alerts {
		t.Errorf("%d latency samples of %d alerts", n, res.Alerts)
	}
}

// BenchmarkLatencyAtHalfRate is the latency figure in go test -bench: every
// rule of testdata/fraud over 200k generated events, run as fast as possible, then
// offered half that rate in chunks of 64 with zero out-of-orderness (AtHalfRate). It
// reports the maximum rate and its ratio to a plain JSON scan in the same run, and the
// paced run's detection latency and the alerts it is of. The events are the first 200k
// of `cepd gen --seed 1 --cards 100000 --events 220000 --fraud-rate 0.05`: 5% fraud
// gives 1,124 samples (of 2,902 alerts; the others close at the end of the stream), where
// the 150k reference slice gives 115, and a stream's own last events are a burst of
// fraud (the generator completes its open scenarios there), which the cut leaves out.
// Run it with -benchtime 1x.
func BenchmarkLatencyAtHalfRate(b *testing.B) {
	rs, err := engine.LoadRuleSet("../../testdata/fraud", "", rules.EnvOptions{})
	if err != nil {
		b.Fatal(err)
	}
	cfg := workload.DefaultConfig()
	cfg.Seed, cfg.Cards, cfg.Events, cfg.FraudRate = 1, 100000, 220000, 0.05
	recs := workloadtest.Records(b, cfg)[:200000]
	var res *Result
	for range b.N {
		if res, err = AtHalfRate(context.Background(), rs, recs, Config{Chunk: 64}); err != nil {
			b.Fatal(err)
		}
	}
	h := res.AtHalfRate
	b.ReportMetric(res.EventsPerSec, "max-events/s")
	b.ReportMetric(res.ScanRatio, "scan-ratio")
	b.ReportMetric(float64(h.OfferedRate), "offered/s")
	b.ReportMetric(h.LatencyP50, "p50-µs")
	b.ReportMetric(h.LatencyP99, "p99-µs")
	b.ReportMetric(h.LatencyP999, "p99.9-µs")
	b.ReportMetric(float64(h.LatencyN), "samples")
	b.ReportMetric(h.PaceBehindMax, "behind-max-µs")
	b.ReportMetric(float64(h.GCCycles), "gc-cycles")
}
