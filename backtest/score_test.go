package backtest

import (
	"bufio"
	"cmp"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/cepd/cepd/internal/workload"
	"github.com/cepd/cepd/patterns"
)

func TestLabelOf(t *testing.T) {
	for _, tc := range []struct {
		json  string
		label string // "-" when not labelled
	}{
		{`{"label":"card-testing"}`, "card-testing"},
		{`{"label":"a\"b"}`, `a"b`},
		{`{"label":""}`, "-"},
		{`{"label":true}`, "true"},
		{`{"label":false}`, "-"},
		{`{"label":1}`, "1"},
		{`{"label":0.5}`, "0.5"},
		{`{"label":0}`, "-"},
		{`{"label":0.0}`, "-"},
		{`{"label":null}`, "-"},
		{`{"label":{"s":1}}`, `{"s":1}`},
		{`{"label":{ }}`, "-"},
		{`{"label":[]}`, "-"},
		{`{"label":["x"]}`, `["x"]`},
		{`{"other":"x"}`, "-"},
		{`{"nested":{"label":"x"}}`, "-"},
	} {
		got, ok := labelOf([]byte(tc.json), "label")
		if !ok {
			got = "-"
		}
		if got != tc.label {
			t.Errorf("%s: %q, want %q", tc.json, got, tc.label)
		}
	}
}

// TestScoring checks the precision and recall definitions on a handful of events.
func TestScoring(t *testing.T) {
	dir := t.TempDir()
	ev := func(id, card string, amount float64, label string) string {
		l := ""
		if label != "" {
			l = fmt.Sprintf(`,"label":%q`, label)
		}
		return fmt.Sprintf(`{"event_id":%q,"card_id":%q,"ts":"2024-01-01T10:%s:00Z","type":"auth","amount":%g%s}`, id, card, id[1:], amount, l)
	}
	events := strings.Join([]string{
		ev("e10", "c1", 150, "big"),   // big: alert on its own scenario
		ev("e11", "c1", 200, ""),      // big: unlabelled alert
		ev("e12", "c2", 120, "other"), // big: alert on another label
		ev("e13", "c3", 10, "big"),    // big: missed; small: alert on a labelled event
		ev("e14", "c4", 500, ""),      // big: unlabelled alert
		ev("e15", "c5", 5, ""),        // small: unlabelled alert
	}, "\n") + "\n"
	if err := os.WriteFile(filepath.Join(dir, "e.jsonl"), []byte(events), 0o644); err != nil {
		t.Fatal(err)
	}
	rule := func(id, cond string) Rule {
		return Rule{Name: id, Source: fmt.Appendf(nil, "id: %s\nseverity: low\npattern:\n  - name: a\n    where: %s\n", id, cond)}
	}
	m := newManager(t, Options{EventsDir: dir})
	j := run(t, m, Spec{Rules: []Rule{rule("big", "e.amount >= 100.0"), rule("small", "e.amount < 50.0")}, EventsFile: "e.jsonl", LabelField: "label"})
	var got strings.Builder
	for _, r := range append(j.Rules, j.Overall) {
		fmt.Fprintf(&got, "%q alerts=%d labelled=%d precision=%.3f recall_label=%q keys=%d caught=%d recall=%.3f\n",
			r.RuleID, r.Alerts, r.LabelledAlerts, r.Precision, r.RecallLabel, r.LabelledKeys, r.CaughtKeys, r.Recall)
	}
	want := `"big" alerts=4 labelled=2 precision=0.500 recall_label="big" keys=2 caught=1 recall=0.500
"small" alerts=2 labelled=1 precision=0.500 recall_label="" keys=3 caught=1 recall=0.333
"" alerts=6 labelled=3 precision=0.500 recall_label="" keys=3 caught=3 recall=1.000
`
	if got.String() != want {
		t.Errorf("scores:\n%s\nwant:\n%s", got.String(), want)
	}
	if !j.Scored || j.LabelledEvents != 3 {
		t.Errorf("scored %t, %d labelled events", j.Scored, j.LabelledEvents)
	}
	plain := run(t, m, Spec{Rules: []Rule{rule("big", "e.amount >= 100.0")}, EventsFile: "e.jsonl"})
	if r := plain.Rules[0]; plain.Scored || r.Precision != 0 || r.Recall != 0 || r.LabelledKeys != 0 || r.Alerts != 4 {
		t.Errorf("without a label field: %+v", r)
	}
}

// TestWorkloadScores backtests the fraud rules over the stream cmd/cepd's
// TestFraudWorkloadDetection scores (same generator settings) with the label field:
// every rule's scenario is injected on several cards, each rule catches at least 80% of
// them and at least 70% of its alerts involve fraud, as that test demands. Recall is
// checked against a count made here from the file, as that test makes it.
func TestWorkloadScores(t *testing.T) {
	dir := t.TempDir()
	cfg := workload.DefaultConfig()
	cfg.Seed, cfg.Cards, cfg.Events, cfg.FraudRate = 7, 3000, 30000, 0.04
	generate(t, dir, "gen.jsonl", cfg)
	m := newManager(t, Options{EventsDir: dir})
	j := run(t, m, Spec{Rules: fraudRules(t), EventsFile: "gen.jsonl", LabelField: "label"})

	instances := map[string]map[string]bool{} // label → keys (cards, or the rule's key field)
	keyOf := map[string]string{}              // rule → its key field, when not the card
	for _, r := range fraudRules(t) {
		pr, err := patterns.Parse(r.Name, r.Source)
		if err != nil {
			t.Fatal(err)
		}
		if k := pr.KeyField(); k != "" {
			keyOf[pr.ID] = k
		}
	}
	f, err := os.Open(filepath.Join(dir, "gen.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	labelled := int64(0)
	for sc.Scan() {
		var e map[string]any
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatal(err)
		}
		if l, _ := e["label"].(string); l != "" {
			labelled++
			if instances[l] == nil {
				instances[l] = map[string]bool{}
			}
			if k, ok := e[cmp.Or(keyOf[l], "card_id")].(string); ok {
				instances[l][k] = true
			}
		}
	}
	if j.LabelledEvents != labelled || len(j.DeadLetters) != 0 {
		t.Errorf("%d labelled events, want %d; dead letters %v", j.LabelledEvents, labelled, j.DeadLetters)
	}
	var report strings.Builder
	fmt.Fprintf(&report, "%-24s %6s %8s %9s %7s %6s\n", "rule", "alerts", "labelled", "precision", "recall", "caught")
	for _, r := range append(j.Rules, j.Overall) {
		fmt.Fprintf(&report, "%-24s %6d %8d %9.2f %7.2f %3d/%-3d\n", r.RuleID, r.Alerts, r.LabelledAlerts, r.Precision, r.Recall, r.CaughtKeys, r.LabelledKeys)
		if r.RuleID == "" {
			continue
		}
		switch {
		case r.RecallLabel != r.RuleID:
			t.Errorf("%s: recall over label %q, want its own scenario", r.RuleID, r.RecallLabel)
		case r.LabelledKeys != int64(len(instances[r.RuleID])):
			t.Errorf("%s: %d labelled keys, the file has %d", r.RuleID, r.LabelledKeys, len(instances[r.RuleID]))
		case r.LabelledKeys < 5:
			t.Errorf("%s: only %d instances injected", r.RuleID, r.LabelledKeys)
		case r.Recall < 0.8:
			t.Errorf("%s: recall %.2f, want at least 0.8", r.RuleID, r.Recall)
		case r.Precision < 0.7:
			t.Errorf("%s: precision %.2f, want at least 0.7", r.RuleID, r.Precision)
		}
	}
	var names []string
	for n := range instances {
		names = append(names, n)
	}
	sort.Strings(names)
	if got, want := strings.Join(names, ","), strings.Join(sortedCopy(workload.ScenarioNames()), ","); got != want {
		t.Errorf("labels in the file %s, scenarios %s", got, want)
	}
	if o := j.Overall; o.Alerts != j.AlertsTotal || o.Precision < 0.7 || o.Recall < 0.8 {
		t.Errorf("overall: %+v", o)
	}
	t.Logf("scores on a generated stream:\n%s", report.String())
}

func sortedCopy(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}
