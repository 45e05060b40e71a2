package service

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	cepv1 "github.com/cepd/cepd/api/cep/v1"
	"github.com/cepd/cepd/backtest"
	"github.com/cepd/cepd/event"
	"github.com/cepd/cepd/event/jsondecode"
	"github.com/cepd/cepd/internal/fraudtest"
	"github.com/cepd/cepd/rules/store"
)

var (
	fraudDir      = fraudtest.Dir()
	fraudExamples = fraudtest.Examples()
)

// newBacktests returns the service over a rule store holding card-testing (version 1 as
// in testdata/fraud, version 2 alerting on nothing) and a Manager reading the fraud
// examples.
func newBacktests(t *testing.T, o backtest.Options) *Backtests {
	t.Helper()
	schema := fraudtest.Schema(t)
	dir := t.TempDir()
	src := readFile(t, filepath.Join(fraudDir, "card-testing.yaml"))
	if err := os.WriteFile(filepath.Join(dir, "card-testing.yaml"), src, 0o644); err != nil {
		t.Fatal(err)
	}
	st, err := store.OpenDir(dir, store.DirOptions{})
	if err != nil {
		t.Fatal(err)
	}
	never := bytes.Replace(src, []byte("e.amount >= 200.0 && e.card_present"), []byte("e.amount >= 1e12 && e.card_present"), 1)
	if bytes.Equal(never, src) {
		t.Fatal("card-testing.yaml changed: update the test's edit")
	}
	if _, err := st.Update(context.Background(), "card-testing", never, store.Change{Author: "test"}); err != nil {
		t.Fatal(err)
	}
	o.Schema = schema
	if o.EventsDir == "" {
		o.EventsDir = fraudExamples
	}
	m, err := backtest.NewManager(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	return NewBacktests(m, st)
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// goldenIDs returns the alert ids of a replay golden file, in order.
func goldenIDs(t *testing.T, rule string) []string {
	t.Helper()
	var ids []string
	sc := bufio.NewScanner(bytes.NewReader(readFile(t, filepath.Join(fraudExamples, rule+".golden"))))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var a struct{ ID string }
		if err := json.Unmarshal(sc.Bytes(), &a); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, a.ID)
	}
	return ids
}

func waitDone(t *testing.T, s *Backtests, id string) *cepv1.Backtest {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		b, err := s.GetBacktest(context.Background(), &cepv1.GetBacktestRequest{Id: id})
		if err != nil {
			t.Fatal(err)
		}
		switch b.GetState() {
		case "DONE":
			return b
		case "FAILED", "CANCELLED":
			t.Fatalf("backtest %s: %s", b.GetState(), b.GetError())
		}
		if time.Now().After(deadline) {
			t.Fatalf("backtest still %s", b.GetState())
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestBacktestsRequests(t *testing.T) {
	s := newBacktests(t, backtest.Options{})
	draft := string(readFile(t, filepath.Join(fraudDir, "velocity-burst.yaml")))
	stored := &cepv1.BacktestRule{RuleId: "card-testing"}
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		req  *cepv1.CreateBacktestRequest
		code codes.Code
		msg  string
	}{
		{"no rules", &cepv1.CreateBacktestRequest{EventsFile: "card-testing.jsonl"}, codes.InvalidArgument, "no rules"},
		{"source and id", &cepv1.CreateBacktestRequest{Rules: []*cepv1.BacktestRule{{Source: draft, RuleId: "card-testing"}}}, codes.InvalidArgument, "not both"},
		{"empty rule", &cepv1.CreateBacktestRequest{Rules: []*cepv1.BacktestRule{{}}}, codes.InvalidArgument, "rules[0]: give a draft"},
		{"draft version", &cepv1.CreateBacktestRequest{Rules: []*cepv1.BacktestRule{{Source: draft, Version: 2}}}, codes.InvalidArgument, "version applies"},
		{"negative version", &cepv1.CreateBacktestRequest{Rules: []*cepv1.BacktestRule{{RuleId: "card-testing", Version: -1}}}, codes.InvalidArgument, "version -1"},
		{"unknown rule", &cepv1.CreateBacktestRequest{Rules: []*cepv1.BacktestRule{{RuleId: "nope"}}, EventsFile: "card-testing.jsonl"}, codes.NotFound, "nope"},
		{"unknown version", &cepv1.CreateBacktestRequest{Rules: []*cepv1.BacktestRule{{RuleId: "card-testing", Version: 9}}, EventsFile: "card-testing.jsonl"}, codes.NotFound, "rules[0]"},
		{"negative max_alerts", &cepv1.CreateBacktestRequest{Rules: []*cepv1.BacktestRule{stored}, MaxAlerts: -1}, codes.InvalidArgument, "max_alerts -1"},
		{"huge max_alerts", &cepv1.CreateBacktestRequest{Rules: []*cepv1.BacktestRule{stored}, MaxAlerts: 10001}, codes.InvalidArgument, "max_alerts 10001"},
		{"escape", &cepv1.CreateBacktestRequest{Rules: []*cepv1.BacktestRule{stored}, EventsFile: "../card-testing.yaml"}, codes.InvalidArgument, "inside the events directory"},
		{"absolute", &cepv1.CreateBacktestRequest{Rules: []*cepv1.BacktestRule{stored}, EventsFile: "/etc/passwd"}, codes.InvalidArgument, "inside the events directory"},
		{"missing file", &cepv1.CreateBacktestRequest{Rules: []*cepv1.BacktestRule{stored}, EventsFile: "nope.jsonl"}, codes.InvalidArgument, "no such file"},
		{"no retention", &cepv1.CreateBacktestRequest{Rules: []*cepv1.BacktestRule{stored}}, codes.FailedPrecondition, "retention is off"},
		{"same rule twice", &cepv1.CreateBacktestRequest{Rules: []*cepv1.BacktestRule{stored, {RuleId: "card-testing", Version: 1}}, EventsFile: "card-testing.jsonl"}, codes.InvalidArgument, `rule id "card-testing" is already used by`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.CreateBacktest(ctx, tc.req)
			if st := status.Convert(err); st.Code() != tc.code || !strings.Contains(st.Message(), tc.msg) {
				t.Fatalf("%v, want %s with %q", err, tc.code, tc.msg)
			}
		})
	}
	if _, err := s.GetBacktest(ctx, &cepv1.GetBacktestRequest{Id: "bt-none"}); status.Code(err) != codes.NotFound {
		t.Errorf("get unknown: %v", err)
	}
	if _, err := s.CancelBacktest(ctx, &cepv1.CancelBacktestRequest{Id: "bt-none"}); status.Code(err) != codes.NotFound {
		t.Errorf("cancel unknown: %v", err)
	}
	var off Backtests
	if _, err := off.CreateBacktest(ctx, &cepv1.CreateBacktestRequest{}); status.Code(err) != codes.Unimplemented {
		t.Errorf("without a manager: %v", err)
	}
}

// TestBacktestsDraftErrors: a draft that does not compile is rejected with every error's
// line and column, in the message and as a ValidateRuleResponse detail.
func TestBacktestsDraftErrors(t *testing.T) {
	s := newBacktests(t, backtest.Options{})
	_, err := s.CreateBacktest(context.Background(), &cepv1.CreateBacktestRequest{
		Rules:      []*cepv1.BacktestRule{{RuleId: "card-testing"}, {Source: fraudtest.BadDraft}},
		EventsFile: "card-testing.jsonl"})
	st := status.Convert(err)
	if st.Code() != codes.InvalidArgument {
		t.Fatalf("%v, want InvalidArgument", err)
	}
	for _, want := range []string{"(2 errors)", "\nrules[1]:5:13: where: undefined field 'amont'", "\nrules[1]:7:"} {
		if !strings.Contains(st.Message(), want) {
			t.Errorf("message %q lacks %q", st.Message(), want)
		}
	}
	var got []string
	for _, d := range st.Details() {
		if v, ok := d.(*cepv1.ValidateRuleResponse); ok {
			for _, e := range v.GetErrors() {
				got = append(got, fmt.Sprintf("%d:%d", e.GetLine(), e.GetColumn()))
			}
		}
	}
	if strings.Join(got, " ") != "5:13 7:19" {
		t.Errorf("detail positions %v, want 5:13 7:19", got)
	}
}

// TestBacktestsRun runs a stored rule at an old version, the current version of it and a
// draft over the examples; the alerts are those `cepd replay` gives.
func TestBacktestsRun(t *testing.T) {
	s := newBacktests(t, backtest.Options{})
	ctx := context.Background()
	old, err := s.CreateBacktest(ctx, &cepv1.CreateBacktestRequest{
		Rules:      []*cepv1.BacktestRule{{RuleId: "card-testing", Version: 1}, {Source: string(readFile(t, filepath.Join(fraudDir, "velocity-burst.yaml")))}},
		EventsFile: "card-testing.jsonl", LabelField: "label"})
	if err != nil {
		t.Fatal(err)
	}
	if old.GetState() != "RUNNING" && old.GetState() != "QUEUED" || old.GetSource() != "FILE" || old.GetCreateTime() == nil {
		t.Errorf("created: %v", old)
	}
	b := waitDone(t, s, old.GetId())
	var ids []string
	for _, a := range b.GetAlerts() {
		if a.GetRuleId() == "card-testing" {
			ids = append(ids, a.GetId())
		}
	}
	if want := goldenIDs(t, "card-testing"); strings.Join(ids, ",") != strings.Join(want, ",") {
		t.Errorf("alerts %v, want %v", ids, want)
	}
	if len(b.GetResults()) != 2 || b.GetResults()[0].GetRuleId() != "card-testing" || b.GetResults()[1].GetRuleId() != "velocity-burst" ||
		b.GetResults()[0].GetAlerts() != int64(len(ids)) || len(b.GetResults()[0].GetPerHour()) == 0 || b.GetResults()[0].GetRuleVersion() == "" {
		t.Errorf("results %v", b.GetResults())
	}
	if b.GetProgress() != 1 || b.GetDuration() == nil || b.GetEventsTotal() == 0 || b.GetEventsRead() != b.GetEventsTotal() ||
		b.GetOverall().GetAlerts() != b.GetAlertsTotal() || !b.GetScored() || b.GetEndTime() == nil || len(b.GetRuleIds()) != 2 {
		t.Errorf("backtest %v", b)
	}
	cur, err := s.CreateBacktest(ctx, &cepv1.CreateBacktestRequest{Rules: []*cepv1.BacktestRule{{RuleId: "card-testing"}}, EventsFile: "card-testing.jsonl", MaxAlerts: 1})
	if err != nil {
		t.Fatal(err)
	}
	if b := waitDone(t, s, cur.GetId()); b.GetAlertsTotal() != 0 || b.GetResults()[0].GetRuleVersion() == old.GetResults()[0].GetRuleVersion() {
		t.Errorf("the current version (alerting on nothing): %d alerts, version %s", b.GetAlertsTotal(), b.GetResults()[0].GetRuleVersion())
	}
	list, err := s.ListBacktests(ctx, &cepv1.ListBacktestsRequest{})
	if err != nil || len(list.GetBacktests()) != 2 || list.GetBacktests()[0].GetId() != cur.GetId() || len(list.GetBacktests()[1].GetAlerts()) != 0 {
		t.Errorf("list: %v %v", list, err)
	}
	c, err := s.CancelBacktest(ctx, &cepv1.CancelBacktestRequest{Id: old.GetId()})
	if err != nil || c.GetState() != "DONE" {
		t.Errorf("cancelling a finished backtest: %v %v", c, err)
	}
}

// TestBacktestsRetained runs a backtest over the events a Retainer holds.
func TestBacktestsRetained(t *testing.T) {
	ret := backtest.NewRetainer(backtest.RetainerOptions{})
	schema := fraudtest.Schema(t)
	recs, err := backtest.ReadFile(filepath.Join(fraudExamples, "card-testing.jsonl"), schema, false)
	if err != nil {
		t.Fatal(err)
	}
	dec := jsondecode.NewDecoder(schema)
	for _, r := range recs {
		var ev event.Event
		if err := dec.Decode(r.Value, &ev); err != nil {
			t.Fatal(err)
		}
		ret.Add(0, ev.Key, ev.Time, r.Value)
	}
	s := newBacktests(t, backtest.Options{Retainer: ret})
	b, err := s.CreateBacktest(context.Background(), &cepv1.CreateBacktestRequest{Rules: []*cepv1.BacktestRule{{RuleId: "card-testing", Version: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	b = waitDone(t, s, b.GetId())
	var ids []string
	for _, a := range b.GetAlerts() {
		ids = append(ids, a.GetId())
	}
	if want := goldenIDs(t, "card-testing"); b.GetSource() != "RETAINED" || strings.Join(ids, ",") != strings.Join(want, ",") {
		t.Errorf("source %s, alerts %v, want %v", b.GetSource(), ids, want)
	}
}
