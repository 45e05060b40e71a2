package ruletest

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cepd/cepd/internal/fraudtest"
	"github.com/cepd/cepd/patterns"
	"github.com/cepd/cepd/rules"
)

var fraudDir = fraudtest.Dir()

// TestFraudRules runs every rule test of the shipped fraud rules: all must pass, and every
// rule must have a test file with a case expecting an alert and a case expecting none.
func TestFraudRules(t *testing.T) {
	rep, err := RunPaths(context.Background(), []string{fraudDir}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	rep.Write(&out, false)
	if rep.Failed() > 0 || len(rep.Untested) > 0 {
		t.Fatalf("cepd test %s:\n%s", fraudDir, out.String())
	}
	ents, err := os.ReadDir(fraudDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, en := range ents {
		if !patterns.IsRuleFile(en.Name()) {
			continue
		}
		tf := filepath.Join(fraudDir, strings.TrimSuffix(en.Name(), ".yaml")+rules.TestSuffix)
		data, err := os.ReadFile(tf)
		if err != nil {
			t.Errorf("%s has no tests: %v", en.Name(), err)
			continue
		}
		s, err := Parse(tf, data)
		if err != nil {
			t.Fatal(err)
		}
		pos, neg := false, false
		for _, c := range s.Cases {
			if len(c.Alerts) > 0 {
				pos = true
			} else if !c.Partial {
				neg = true
			}
		}
		if !pos || !neg {
			t.Errorf("%s: want a case expecting an alert (has one: %v) and a case expecting none (has one: %v)", tf, pos, neg)
		}
	}
	if got := rep.Passed(); got < 34 {
		t.Errorf("%d cases passed; the fraud rules have at least two cases each", got)
	}
}

// TestFailureReport checks what a failing test file prints: the expected alert, the
// closest alert raised, what differs, unexpected alerts and events the engine refused.
func TestFailureReport(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"schema.yaml", "card-testing.yaml"} {
		data, err := os.ReadFile(filepath.Join(fraudDir, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile("testdata/failing.test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tf := filepath.Join(dir, "card-testing.test.yaml")
	if err := os.WriteFile(tf, data, 0o644); err != nil {
		t.Fatal(err)
	}
	rep, err := RunPaths(context.Background(), []string{dir}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	rep.Write(&out, false)
	got := strings.ReplaceAll(out.String(), dir+string(filepath.Separator), "")
	for _, want := range []string{
		"FAIL card-testing.test.yaml:2: wrong expectations\n  expected alert 1 (line 9) was not raised; the closest alert raised (not expected as it is) differs:\n    match key=c1 probes=[p1, p2, p3] large=[big] emit=",
		"      steps.probes: want [p1, p2], got [p1, p2, p3]\n      emit.probe_count: want 2, got 3\n      emit.nope: want 1, the rule emits no such value\n",
		"FAIL card-testing.test.yaml:11: no alert expected\n  event 5 (line 17) was not matched: wrong_type: field \"amount\": want a number, got x\n  unexpected alert (list it under alerts:, or set partial: true):\n    match key=c1 probes=[p1, p2, p3] large=[big]",
		"0 passed, 2 failed\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("report lacks\n%s\n--- report:\n%s", want, got)
		}
	}
}

// TestParseErrors checks that every problem of a test file is reported at once with its
// position.
func TestParseErrors(t *testing.T) {
	src := "tests:\n  - name: a\n    event: []\n    alerts: []\n  - name: a\n    events: [{at: 1x}]\n    alerts: [{kind: matched}]\n  - name: b\n    events: []\n"
	_, err := Parse("x.test.yaml", []byte(src))
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		`x.test.yaml:3:5: unknown key "event" (did you mean "events"?)`,
		`x.test.yaml:2:5: case "a" has no events`,
		`x.test.yaml:5:5: two cases are named "a"`,
		`x.test.yaml:7:21: kind is match or timeout, not "matched"`,
		`x.test.yaml:8:5: case "b" does not say which alerts it expects`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

// TestEventTimes checks the at shorthand: from the start, from the event before, and the
// one-second default.
func TestEventTimes(t *testing.T) {
	s, err := Parse("t.test.yaml", []byte("start: 2024-03-01T10:00:00Z\ntests:\n  - name: t\n    events:\n      - {id: a}\n      - {id: b}\n      - {id: c, at: +1m}\n      - {id: d, at: 1h}\n      - {at: 1d}\n    alerts: []\n"))
	if err != nil {
		t.Fatal(err)
	}
	schema := loadFraudSchema(t)
	lines, err := eventLines(s, s.Cases[0], schema)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"event_id":"a","ts":"2024-03-01T10:00:00Z"}
{"event_id":"b","ts":"2024-03-01T10:00:01Z"}
{"event_id":"c","ts":"2024-03-01T10:01:01Z"}
{"event_id":"d","ts":"2024-03-01T11:00:00Z"}
{"event_id":"e5","ts":"2024-03-02T10:00:00Z"}
`
	if string(lines) != want {
		t.Errorf("got\n%s\nwant\n%s", lines, want)
	}
	if _, err := eventTime("soon", true, false, s.Start, s.Start); err == nil || !strings.Contains(err.Error(), "not a time offset") {
		t.Errorf("at: soon: %v", err)
	}
}
