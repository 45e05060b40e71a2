package main

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/cepd/cepd/alerts"
	"github.com/cepd/cepd/engine"
	"github.com/cepd/cepd/internal/fraudtest"
	"github.com/cepd/cepd/internal/workload"
)

// updateFraud rewrites testdata/fraud/examples/*.golden from what the rules produce. A
// rewritten golden is a new specification: read every alert (and every absence) before
// committing it. Other tests of package main that want -update must share this flag.
var updateFraud = flag.Bool("update", false, "rewrite the golden files of testdata/fraud/examples")

var (
	fraudDir      = fraudtest.Dir()
	fraudExamples = fraudtest.Examples()
	fraudSchema   = fraudtest.SchemaPath()
)

// fraudRuleSet is the shipped fraud rule set (testdata/fraud with its schema.yaml) as
// cepd loads it; it fails tb if the rules do not load.
func fraudRuleSet(tb testing.TB) *engine.RuleSet {
	tb.Helper()
	rs, err := loadRuleSet(fraudDir, fraudSchema)
	if err != nil {
		tb.Fatal(err)
	}
	return rs
}

// servedRules is the part of rs that cepd serve and cepd bench run: the rules keyed by
// the schema's key (engine.New leaves the others out; docs/rekeying.md). Tests comparing
// those paths with cepd replay compare these rules' alerts: a rule keyed by another field
// runs in replay only.
func servedRules(t testing.TB, rs *engine.RuleSet) *engine.RuleSet {
	t.Helper()
	spaces, err := engine.SplitKeySpaces(rs)
	if err != nil {
		t.Fatal(err)
	}
	return spaces[0].Rules
}

// replayFraud runs the rules at rulesPath over the events file and returns the alerts as
// cepd replay prints them (one JSON object a line). Dead letters fail the test: example
// files hold only well-formed events.
func replayFraud(t *testing.T, rulesPath, eventsPath string) ([]*alerts.Alert, []byte) {
	t.Helper()
	rs, err := loadRuleSet(rulesPath, fraudSchema)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := readSorted(eventsPath, rs.Schema)
	if err != nil {
		t.Fatal(err)
	}
	out := replayAll(t, rs, recs, engine.Config{Shards: 2})
	return out, fraudtest.AlertLines(t, out)
}

// replayAll is cepd replay's alerts over recs, ended by the end of the stream; it fails
// the test when the replay fails or dead-letters an event.
func replayAll(t testing.TB, rs *engine.RuleSet, recs []engine.Record, cfg engine.Config) []*alerts.Alert {
	t.Helper()
	dlq := &dlqWriter{}
	out, err := runReplay(context.Background(), rs, recs, cfg, &alerts.Collector{}, dlq, true)
	if err != nil {
		t.Fatal(err)
	}
	if n := dlq.count(); n > 0 {
		t.Fatalf("%d events dead-lettered: %v", n, dlq.reasons)
	}
	return out
}

// TestFraudExamples replays each rule alone over its hand-written example events and
// compares the alerts with the golden file byte for byte.
func TestFraudExamples(t *testing.T) {
	for _, file := range fraudtest.RuleFiles(t) {
		id := strings.TrimSuffix(filepath.Base(file), ".yaml")
		t.Run(id, func(t *testing.T) {
			rs, err := loadRuleSet(file, fraudSchema)
			if err != nil {
				t.Fatal(err)
			}
			if got := rs.Rules[0].Rule.ID; got != id {
				t.Fatalf("rule id %q differs from its file name", got)
			}
			events := filepath.Join(fraudExamples, id+".jsonl")
			golden := filepath.Join(fraudExamples, id+".golden")
			_, got := replayFraud(t, file, events)
			if *updateFraud {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -run TestFraudExamples -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("alerts differ from %s (-update rewrites it)\n got:\n%s\nwant:\n%s", golden, got, want)
			}
			if len(want) == 0 {
				t.Errorf("%s expects no alert: every example should show the rule firing", golden)
			}
		})
	}
}

// TestFraudRulesTogether replays every rule at once over every example file and checks
// that each rule gives exactly the alerts it gives alone over the same events: rules do
// not disturb each other (shared memo slots, shared keys, one engine).
func TestFraudRulesTogether(t *testing.T) {
	files := fraudtest.RuleFiles(t)
	var all []byte
	for _, file := range files {
		id := strings.TrimSuffix(filepath.Base(file), ".yaml")
		b, err := os.ReadFile(filepath.Join(fraudExamples, id+".jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, b...)
		if len(b) > 0 && b[len(b)-1] != '\n' {
			all = append(all, '\n')
		}
	}
	events := filepath.Join(t.TempDir(), "all.jsonl")
	if err := os.WriteFile(events, all, 0o644); err != nil {
		t.Fatal(err)
	}
	together, _ := replayFraud(t, fraudDir, events)
	want := map[string]string{} // alert id → rule
	for _, file := range files {
		alone, _ := replayFraud(t, file, events)
		for _, a := range alone {
			want[a.ID] = a.RuleID
		}
	}
	got := map[string]string{}
	for _, a := range together {
		got[a.ID] = a.RuleID
	}
	for id, rule := range want {
		if _, ok := got[id]; !ok {
			t.Errorf("rule %s alone gives alert %s, all rules together do not", rule, id)
		}
	}
	for id, rule := range got {
		if _, ok := want[id]; !ok {
			t.Errorf("all rules together give alert %s of rule %s, the rule alone does not", id, rule)
		}
	}
	if len(together) != len(got) {
		t.Errorf("%d alerts together but %d distinct ids", len(together), len(got))
	}
	if len(got) == 0 {
		t.Fatal("no alerts at all")
	}
}

// generateFraud writes a generated stream with a high fraud rate (so that every scenario
// is injected several times) and returns its path and configuration.
func generateFraud(t *testing.T) (string, workload.Config) {
	t.Helper()
	cfg := workload.DefaultConfig()
	cfg.Seed, cfg.Cards, cfg.Events, cfg.FraudRate = 7, 3000, 30000, 0.04
	path := filepath.Join(t.TempDir(), "generated.jsonl")
	cfg, err := workload.WriteFile(path, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return path, cfg
}

// ruleScore is how one rule did on a generated stream.
type ruleScore struct {
	alerts, own, other int // alerts; of which involve its scenario's events; another scenario's only
	instances, caught  int // injected instances of its scenario; of which an alert involves
}

func (s ruleScore) precision() float64 { return float64(s.own) / float64(max(s.alerts, 1)) }
func (s ruleScore) recall() float64    { return float64(s.caught) / float64(max(s.instances, 1)) }

// scoreRules matches alerts with the labels of the events they involve. A scenario
// instance is identified by (label, key), the key being the field the scenario's rule is
// keyed by (the card, or the device for a rule keyed by device_id): the generator never
// injects one scenario twice on a key close enough in time for the distinction to matter
// at these rates.
func scoreRules(t *testing.T, eventsPath string, out []*alerts.Alert) map[string]*ruleScore {
	t.Helper()
	rs := fraudRuleSet(t)
	keyOf := map[string]string{} // rule → key field
	for _, c := range rs.Rules {
		keyOf[c.Rule.ID] = cmp.Or(c.Rule.KeyField(), rs.Schema.KeyField)
	}
	f, err := os.Open(eventsPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	labelOf := map[string]string{}    // event id → label
	instances := map[string]bool{}    // label/card
	scores := map[string]*ruleScore{} // rule → score
	caught := map[string]bool{}       // label/card caught by its rule
	for _, name := range workload.ScenarioNames() {
		scores[name] = &ruleScore{}
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	for sc.Scan() {
		var e map[string]any
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatal(err)
		}
		if l, _ := e["label"].(string); l != "" {
			labelOf[e["event_id"].(string)] = l
			if v, ok := e[keyOf[l]]; ok && v != nil && !instances[l+"/"+fmt.Sprint(v)] {
				instances[l+"/"+fmt.Sprint(v)] = true
				scores[l].instances++
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	for _, a := range out {
		s := scores[a.RuleID]
		if s == nil {
			s = &ruleScore{}
			scores[a.RuleID] = s
		}
		s.alerts++
		own, other := false, false
		for _, id := range a.EventIDs() {
			switch l := labelOf[id]; {
			case l == a.RuleID:
				own = true
			case l != "":
				other = true
			}
		}
		switch {
		case own:
			s.own++
			if k := a.RuleID + "/" + a.Key; instances[k] && !caught[k] {
				caught[k] = true
				s.caught++
			}
		case other:
			s.other++
		}
	}
	return scores
}

// TestFraudWorkloadDetection replays a generated stream through the whole rule set: each
// rule must catch most instances of the scenario injected for it (recall), and most of
// its alerts must involve that scenario's events (precision).
func TestFraudWorkloadDetection(t *testing.T) {
	path, _ := generateFraud(t)
	out, _ := replayFraud(t, fraudDir, path)
	scores := scoreRules(t, path, out)
	names := make([]string, 0, len(scores))
	for n := range scores {
		names = append(names, n)
	}
	sort.Strings(names)
	var report strings.Builder
	fmt.Fprintf(&report, "%-24s %6s %5s %5s %7s %9s %7s\n", "rule", "alerts", "own", "other", "genuine", "precision", "recall")
	for _, n := range names {
		s := scores[n]
		fmt.Fprintf(&report, "%-24s %6d %5d %5d %7d %9.2f %3d/%-3d\n", n, s.alerts, s.own, s.other, s.alerts-s.own-s.other, s.precision(), s.caught, s.instances)
		switch {
		case s.instances < 5:
			t.Errorf("%s: only %d instances injected", n, s.instances)
		case s.recall() < 0.8:
			t.Errorf("%s: recall %.2f, want at least 0.8", n, s.recall())
		case s.precision() < 0.7:
			t.Errorf("%s: precision %.2f, want at least 0.7", n, s.precision())
		}
	}
	t.Logf("per-rule detection on %s:\n%s", path, report.String())
}

// TestFraudWorkloadOutOfOrder feeds the generated stream in the order it was written
// (a few events late) to an engine whose out-of-orderness is the generator's
// MaxLateness: nothing is late, and the alerts are those of the sorted replay.
func TestFraudWorkloadOutOfOrder(t *testing.T) {
	path, cfg := generateFraud(t)
	sorted, _ := replayFraud(t, fraudDir, path)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var recs []engine.Record
	for i, line := range bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n")) {
		recs = append(recs, engine.Record{Value: line, Offset: int64(i + 1)})
	}
	rs := fraudRuleSet(t)
	out := replayAll(t, rs, recs, engine.Config{Shards: 2, OutOfOrderness: cfg.MaxLateness})
	ids := func(as []*alerts.Alert) []string {
		var s []string
		for _, a := range as {
			s = append(s, a.ID)
		}
		sort.Strings(s)
		return s
	}
	if got, want := ids(out), ids(sorted); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("in written order: %d alerts; sorted: %d alerts; ids differ", len(got), len(want))
	}
}
