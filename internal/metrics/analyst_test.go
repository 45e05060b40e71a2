package metrics

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/cepd/cepd/alerts"
	"github.com/cepd/cepd/engine"
)

// suppressKey marks the alerts of one key suppressed, as the alert path does for an
// analyst's suppression.
type suppressKey string

func (k suppressKey) Alert(a *alerts.Alert) {
	if a.Key == string(k) {
		a.Suppressed = &alerts.Suppressed{By: alerts.SuppressedByAnalyst}
	}
}
func (suppressKey) DeadLetter(engine.DeadLetter) {}

func TestMetricsCooldownSuppressionFeedback(t *testing.T) {
	m := New(Options{})
	rs := ruleSet(t, "id: big\ncooldown: 1h\npattern:\n  - name: a\n    where: e.amount > 100.0\n")
	eng, err := engine.New(engine.Config{Shards: 1, OnAlert: m.Observe}, rs, suppressKey("c2"), suppressKey(""))
	if err != nil {
		t.Fatal(err)
	}
	m.SetEngine(eng)
	m.SetFeedback(func() []RuleFeedback { return []RuleFeedback{{Rule: "big", Fraud: 3, FalsePositive: 1}} })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	eng.Start(ctx)
	defer eng.Close()
	var recs []engine.Record
	for i, ev := range []string{
		`{"id":"1","card":"c1","ts":1000,"kind":"auth","amount":150}`,
		`{"id":"2","card":"c1","ts":2000,"kind":"auth","amount":150}`, // cooled
		`{"id":"3","card":"c1","ts":3000,"kind":"auth","amount":150}`, // cooled
		`{"id":"4","card":"c2","ts":4000,"kind":"auth","amount":150}`, // suppressed
	} {
		recs = append(recs, engine.Record{Value: []byte(ev), Offset: int64(i)})
	}
	if _, err := eng.Ingest(ctx, 0, recs); err != nil {
		t.Fatal(err)
	}
	if err := eng.Barrier(ctx); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"cepd_rule_alerts_cooled_total", map[string]string{"rule": "big"}, 2},
		{"cepd_alerts_suppressed_total", map[string]string{"rule": "big"}, 1},
		{"cepd_rule_feedback_alerts", map[string]string{"rule": "big", "label": "fraud"}, 3},
		{"cepd_rule_feedback_precision", map[string]string{"rule": "big"}, 0.75},
	} {
		if v, ok := value(t, m, tt.name, tt.labels); !ok || v != tt.want {
			t.Errorf("%s%v = %v (found %t), want %v", tt.name, tt.labels, v, ok, tt.want)
		}
	}
	if problems, err := testutil.GatherAndLint(m.Registry()); err != nil || len(problems) > 0 {
		t.Fatalf("lint: %v %v", err, problems)
	}
}
