package metrics

import (
	"context"
	_ "embed"
	"math"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/cepd/cepd/alerts"
	"github.com/cepd/cepd/engine"
	"github.com/cepd/cepd/event/eventtest"
	"github.com/cepd/cepd/rules"
)

var schemaSrc = eventtest.CardSchema("ts: int", "kind: string", "amount: double")

// ruleSrc alerts on two authorisations over 100 of a key within a minute.
//
//go:embed testdata/two-large.yaml
var ruleSrc string

type discard struct{}

func (discard) Alert(*alerts.Alert)          {}
func (discard) DeadLetter(engine.DeadLetter) {}

func newEngine(t *testing.T, m *Metrics) *engine.Engine {
	t.Helper()
	eng, err := engine.New(engine.Config{Shards: 2, OnAlert: m.Observe, RecordProcessingTime: true}, ruleSet(t, ruleSrc), discard{}, discard{})
	if err != nil {
		t.Fatal(err)
	}
	return eng
}

// ruleSet compiles the rule src over schemaSrc.
func ruleSet(t *testing.T, src string) *engine.RuleSet {
	t.Helper()
	schema := eventtest.Schema(t, schemaSrc)
	env, err := rules.NewEnv(schema, rules.EnvOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b := engine.NewRuleSetBuilder(schema, env)
	b.Add("rule.yaml", []byte(src), "")
	rs, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func value(t *testing.T, m *Metrics, name string, labels map[string]string) (float64, bool) {
	t.Helper()
	fams, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
	next:
		for _, x := range f.Metric {
			for _, l := range x.Label {
				if want, ok := labels[l.GetName()]; ok && want != l.GetValue() {
					continue next
				}
			}
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				return x.GetCounter().GetValue(), true
			case dto.MetricType_GAUGE:
				return x.GetGauge().GetValue(), true
			case dto.MetricType_HISTOGRAM:
				return float64(x.GetHistogram().GetSampleCount()), true
			case dto.MetricType_SUMMARY:
				return float64(x.GetSummary().GetSampleCount()), true
			}
		}
	}
	return 0, false
}

// TestMetricsFromEngine: the metrics of a real engine follow what it was fed: records by
// partition, decoded and dead-lettered by reason, an alert with its latencies, the live
// partial match counted by the state walk, the partition's watermark; names and help
// pass Prometheus's lint; nothing touches the default registry.
func TestMetricsFromEngine(t *testing.T) {
	m := New(Options{Source: "kafka"})
	eng := newEngine(t, m)
	m.SetEngine(eng)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	eng.Start(ctx)
	defer eng.Close()

	base := time.Now().Add(-time.Minute).UnixMilli()
	recs := []engine.Record{
		{Value: []byte(`{"id":"1","card":"c1","ts":` + itoa(base) + `,"kind":"auth","amount":150}`), Offset: 0},
		{Value: []byte(`{"id":"2","card":"c2","ts":` + itoa(base+1000) + `,"kind":"auth","amount":150,"merchnat":"m1"}`), Offset: 1},
		{Value: []byte(`{not json`), Offset: 2},
		{Value: []byte(`{"id":"3","card":"c1","ts":` + itoa(base+2000) + `,"kind":"auth","amount":200}`), Offset: 3},
	}
	if _, err := eng.Ingest(ctx, 3, recs); err != nil {
		t.Fatal(err)
	}
	if err := eng.Barrier(ctx); err != nil {
		t.Fatal(err)
	}
	walk, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { m.RunInspect(walk, time.Hour); close(done) }() // one walk at once
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if _, ok := value(t, m, "cepd_state_keys", nil); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no state walk within 5s")
		}
	}
	stop()
	<-done

	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"cepd_events_received_total", map[string]string{"source": "kafka", "partition": "3"}, 4},
		{"cepd_events_decoded_total", nil, 3},
		{"cepd_dead_letters_total", map[string]string{"reason": "bad_json"}, 1},
		{"cepd_event_unknown_fields_total", nil, 1},
		{"cepd_alerts_total", map[string]string{"rule": "two-large", "severity": "high", "kind": "match"}, 1},
		{"cepd_detection_latency_seconds", map[string]string{"rule": "two-large"}, 1},
		{"cepd_engine_detection_latency_seconds", nil, 1},
		{"cepd_event_time_latency_seconds", map[string]string{"rule": "two-large"}, 1},
		// c2's first event, and c1's last (which completed a match and starts another)
		{"cepd_partial_matches", map[string]string{"rule": "two-large"}, 2},
		{"cepd_state_keys", nil, 2},
		{"cepd_rule_keys", map[string]string{"rule": "two-large"}, 2},
		{"cepd_rule_eval_errors_total", map[string]string{"rule": "two-large"}, 0},
		{"cepd_rules", nil, 1},
		{"cepd_partition_watermark_seconds", map[string]string{"partition": "3"}, float64(base+2000) / 1e3},
		{"cepd_partition_idle", map[string]string{"partition": "3"}, 0},
		{"cepd_checkpoints_total", nil, 0},
	} {
		got, ok := value(t, m, c.name, c.labels)
		if !ok || math.Abs(got-c.want) > 1e-9 {
			t.Errorf("%s%v = %v (present: %v), want %v", c.name, c.labels, got, ok, c.want)
		}
	}
	if d, ok := value(t, m, "cepd_partition_watermark_delay_seconds", map[string]string{"partition": "3"}); !ok || d < 50 || d > 120 {
		t.Errorf("watermark delay %v (present: %v), want about a minute", d, ok)
	}
	// one a batch: the three decoded events go in one to three (ingest hands an event
	// over on its own when its shard waits on an empty queue: shard.handOff)
	if n, ok := value(t, m, "cepd_shard_queue_wait_seconds", nil); !ok || n < 1 || n > 3 {
		t.Errorf("queue waits sampled %v (present: %v), want one a batch: 1 to 3", n, ok)
	}
	for _, name := range []string{"cepd_engine_detection_latency_seconds", "cepd_shard_queue_wait_seconds"} {
		if q := summaryQuantiles(t, m, name); len(q) != 3 || q[0.5] <= 0 || q[0.99] < q[0.5] || q[0.999] < q[0.99] {
			t.Errorf("%s: quantiles %v, want p50 > 0, p99 and p99.9 at least that", name, q)
		}
	}
	if _, ok := value(t, m, "cepd_checkpoint_age_seconds", nil); ok {
		t.Errorf("a checkpoint age without any checkpoint")
	}
	if _, ok := value(t, m, "go_goroutines", nil); !ok {
		t.Errorf("no Go runtime metrics")
	}
	problems, err := testutil.GatherAndLint(m.Registry())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

// summaryQuantiles returns the quantiles of the summary name (unlabelled).
func summaryQuantiles(t *testing.T, m *Metrics, name string) map[float64]float64 {
	t.Helper()
	fams, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[float64]float64{}
	for _, f := range fams {
		if f.GetName() == name && len(f.Metric) == 1 {
			for _, q := range f.Metric[0].GetSummary().GetQuantile() {
				out[q.GetQuantile()] = q.GetValue()
			}
		}
	}
	return out
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestCollectorDescribesWhatItCollects: a pedantic registry, which refuses a metric
// whose descriptor Describe did not send, gathers the runtime's metrics of an engine.
func TestCollectorDescribesWhatItCollects(t *testing.T) {
	m := New(Options{})
	eng := newEngine(t, m)
	m.SetEngine(eng)
	defer eng.Close()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(&collector{m: m}, &decideCollector{m: m})
	if _, err := reg.Gather(); err != nil {
		t.Fatal(err)
	}
}
