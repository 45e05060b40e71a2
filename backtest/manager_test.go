package backtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/cepd/cepd/rules"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cepd/cepd/internal/fraudtest"
	"github.com/cepd/cepd/internal/workload"
	"github.com/cepd/cepd/patterns"
)

// TestExamplesLikeReplay backtests each fraud rule over its example events and compares
// the alerts, byte for byte, with the golden file `cepd replay` is held to
// (cmd/cepd TestFraudExamples), on one shard and on three.
func TestExamplesLikeReplay(t *testing.T) {
	for _, shards := range []int{1, 3} {
		m := newManager(t, Options{EventsDir: fraudExamples, Shards: shards})
		for _, r := range fraudRules(t) {
			id := strings.TrimSuffix(r.Name, ".yaml")
			t.Run(fmt.Sprintf("%s/shards=%d", id, shards), func(t *testing.T) {
				want, err := os.ReadFile(filepath.Join(fraudExamples, id+".golden"))
				if err != nil {
					t.Fatal(err)
				}
				j := run(t, m, Spec{Rules: []Rule{r}, EventsFile: id + ".jsonl"})
				if got := fraudtest.AlertLines(t, j.Alerts); !bytes.Equal(got, want) {
					t.Errorf("alerts differ from %s.golden\n got:\n%s\nwant:\n%s", id, got, want)
				}
				lines := int64(bytes.Count(want, []byte("\n")))
				if j.AlertsTotal != lines || len(j.Rules) != 1 || j.Rules[0].Alerts != lines || j.Overall.Alerts != lines {
					t.Errorf("counts: total %d, rule %+v, overall %d; want %d", j.AlertsTotal, j.Rules, j.Overall.Alerts, lines)
				}
				if j.Progress != 1 || j.EventsRead == 0 || j.EventsRead != j.EventsTotal || j.EventsProcessed != j.EventsTotal || len(j.DeadLetters) != 0 {
					t.Errorf("progress %.2f, events read %d, total %d, processed %d, dead letters %v", j.Progress, j.EventsRead, j.EventsTotal, j.EventsProcessed, j.DeadLetters)
				}
				if j.Source != SourceFile || j.Duration <= 0 || j.EventsPerSecond <= 0 || j.Started.IsZero() || j.Stopped.Before(j.Started) {
					t.Errorf("source %s, duration %v, %f events/s, started %v, stopped %v", j.Source, j.Duration, j.EventsPerSecond, j.Started, j.Stopped)
				}
			})
		}
	}
}

// TestPerHourAndMaxAlerts: the per-hour counts cover every alert, sorted by hour, and
// max_alerts keeps the earliest alerts in replay order.
func TestPerHourAndMaxAlerts(t *testing.T) {
	dir := t.TempDir()
	cfg := workload.DefaultConfig()
	cfg.Seed, cfg.Cards, cfg.Events, cfg.FraudRate, cfg.LateRate = 3, 300, 8000, 0.05, 0
	generate(t, dir, "w.jsonl", cfg)
	m := newManager(t, Options{EventsDir: dir})
	all := run(t, m, Spec{Rules: fraudRules(t), EventsFile: "w.jsonl", MaxAlerts: 100000})
	few := run(t, m, Spec{Rules: fraudRules(t), EventsFile: "w.jsonl", MaxAlerts: 7})
	if all.AlertsTotal < 20 || int64(len(all.Alerts)) != all.AlertsTotal {
		t.Fatalf("%d alerts kept of %d", len(all.Alerts), all.AlertsTotal)
	}
	if few.AlertsTotal != all.AlertsTotal || len(few.Alerts) != 7 {
		t.Fatalf("max 7: %d alerts kept of %d", len(few.Alerts), few.AlertsTotal)
	}
	if got, want := fraudtest.AlertLines(t, few.Alerts), fraudtest.AlertLines(t, all.Alerts[:7]); !bytes.Equal(got, want) {
		t.Errorf("the 7 alerts kept are not the 7 earliest:\n got:\n%s\nwant:\n%s", got, want)
	}
	var sum int64
	for _, r := range all.Rules {
		var n int64
		for i, h := range r.PerHour {
			n += h.Alerts
			if h.Hour.Truncate(time.Hour) != h.Hour || i > 0 && !r.PerHour[i-1].Hour.Before(h.Hour) {
				t.Errorf("%s: per hour not sorted whole hours: %v", r.RuleID, r.PerHour)
			}
		}
		if n != r.Alerts {
			t.Errorf("%s: per hour sums to %d, alerts %d", r.RuleID, n, r.Alerts)
		}
		sum += r.Alerts
	}
	if sum != all.AlertsTotal || all.Overall.Alerts != sum {
		t.Errorf("rules sum to %d, total %d, overall %d", sum, all.AlertsTotal, all.Overall.Alerts)
	}
	for _, a := range all.Alerts[:10] {
		h := a.LastEventTime.Truncate(time.Hour)
		found := false
		for _, r := range all.Rules {
			for _, hc := range r.PerHour {
				found = found || r.RuleID == a.RuleID && hc.Hour.Equal(h) && hc.Alerts > 0
			}
		}
		if !found {
			t.Errorf("alert %s of %s at %v is in no hour count", a.ID, a.RuleID, a.LastEventTime)
		}
	}
}

// TestDraftErrors: a draft that does not compile is rejected at Create with every error
// at its line and column, in the file named after the rule's place.
func TestDraftErrors(t *testing.T) {
	m := newManager(t, Options{EventsDir: fraudExamples})
	good := fraudRule(t, "card-testing")
	for _, tc := range []struct {
		name  string
		rules []Rule
		want  []string // file:line:col: message prefix, in order
	}{
		{"two bad conditions", []Rule{{Name: "rules[0]", Source: []byte(fraudtest.BadDraft)}}, []string{"rules[0]:5:13: where: undefined field 'amont'", "rules[0]:7:19: "}},
		{"yaml", []Rule{good, {Name: "rules[1]", Source: []byte("id: x\npattern: [\n")}}, []string{"rules[1]:"}},
		{"bad emit beside a good rule", []Rule{{Name: "rules[0]", Source: []byte(`id: draft
severity: low
pattern:
  - name: a
    where: e.type == 'auth'
emit:
  n: size(match.zz) + 'x'
`)}, good}, []string{"rules[0]:7:"}},
		{"empty", []Rule{{Name: "rules[0]"}}, []string{"rules[0]: the rule's source is empty"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := m.Create(context.Background(), Spec{Rules: tc.rules, EventsFile: "card-testing.jsonl"})
			var el patterns.ErrorList
			if !errors.As(err, &el) {
				t.Fatalf("error %v (%T), want a patterns.ErrorList", err, err)
			}
			if len(el) != len(tc.want) {
				t.Fatalf("%d errors, want %d:\n%v", len(el), len(tc.want), err)
			}
			for i, e := range el {
				got := fmt.Sprintf("%s:%d:%d: %s", e.File, e.Pos.Line, e.Pos.Col, e.Msg)
				if e.Pos.Line == 0 && e.File != "" && tc.name == "empty" {
					got = e.File + ": " + e.Msg
				}
				if !strings.HasPrefix(got, tc.want[i]) {
					t.Errorf("error %d: %s\nwant it to start with %q", i, got, tc.want[i])
				}
				if tc.name != "empty" && (e.Pos.Line == 0 || e.Pos.Col == 0) {
					t.Errorf("error %d has no position: %v", i, e)
				}
			}
		})
	}
	if js := m.List(); len(js) != 0 {
		t.Errorf("rejected drafts left %d backtests", len(js))
	}
	_, err := m.Create(context.Background(), Spec{Rules: []Rule{good, {Name: "rules[1]", Source: good.Source}}, EventsFile: "card-testing.jsonl"})
	var dup patterns.ErrorList
	if !errors.As(err, &dup) || len(dup) != 1 || dup[0].File != "rules[1]" || !strings.Contains(err.Error(), `rule id "card-testing" is already used by card-testing.yaml`) {
		t.Errorf("the same rule twice: %v", err)
	}
}

// TestEventsFilePaths: events files are read inside the events directory only.
func TestEventsFilePaths(t *testing.T) {
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "secret.jsonl"), []byte(`{"card_id":"c"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	ex, err := os.ReadFile(filepath.Join(fraudExamples, "card-testing.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"ok.jsonl", "sub/ok.jsonl"} {
		if err := os.WriteFile(filepath.Join(dir, f), ex, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "big.jsonl"), bytes.Repeat(ex, 40), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "secret.jsonl"), filepath.Join(dir, "link.jsonl")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(dir, "out")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("sub/ok.jsonl", filepath.Join(dir, "inner.jsonl")); err != nil {
		t.Fatal(err)
	}
	m := newManager(t, Options{EventsDir: dir, MaxFileBytes: int64(len(ex)) * 10})
	rules := []Rule{fraudRule(t, "card-testing")}
	for _, tc := range []struct {
		file string
		want string // "" for success, else a piece of the error
	}{
		{"ok.jsonl", ""},
		{"sub/ok.jsonl", ""},
		{"sub/../ok.jsonl", ""},
		{"inner.jsonl", ""}, // a link that stays inside
		{"../" + filepath.Base(outside) + "/secret.jsonl", "relative path inside the events directory"},
		{"sub/../../x.jsonl", "relative path inside the events directory"},
		{filepath.Join(outside, "secret.jsonl"), "relative path inside the events directory"},
		{"link.jsonl", "cannot be read"},
		{"out/secret.jsonl", "cannot be read"},
		{"missing.jsonl", "no such file"},
		{"sub", "not a regular file"},
		{"big.jsonl", "more than the"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			j, err := m.Create(context.Background(), Spec{Rules: rules, EventsFile: tc.file})
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if j = wait(t, m, j.ID); j.State != Done || j.AlertsTotal == 0 {
					t.Fatalf("%s, %d alerts: %s", j.State, j.AlertsTotal, j.Error)
				}
				return
			}
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want ErrInvalid with %q", err, tc.want)
			}
		})
	}
	noFiles := newManager(t, Options{})
	if _, err := noFiles.Create(context.Background(), Spec{Rules: rules, EventsFile: "ok.jsonl"}); !errors.Is(err, ErrNoFiles) {
		t.Errorf("without an events directory: %v", err)
	}
	if _, err := noFiles.Create(context.Background(), Spec{Rules: rules}); !errors.Is(err, ErrNoRetention) {
		t.Errorf("without a file or retention: %v", err)
	}
	if _, err := noFiles.Create(context.Background(), Spec{EventsFile: "ok.jsonl"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("without rules: %v", err)
	}
}

// bigFile generates a workload large enough that a backtest of it lasts a while.
func bigFile(t testing.TB, dir string, events int64) {
	t.Helper()
	cfg := workload.DefaultConfig()
	cfg.Seed, cfg.Cards, cfg.Events, cfg.LateRate = 11, 20000, events, 0
	generate(t, dir, "big.jsonl", cfg)
}

// TestCancelRunning: a backtest cancelled while it matches stops promptly, CANCELLED,
// with its partial counts.
func TestCancelRunning(t *testing.T) {
	dir := t.TempDir()
	bigFile(t, dir, 150000)
	m := newManager(t, Options{EventsDir: dir})
	j := create(t, m, Spec{Rules: fraudRules(t), EventsFile: "big.jsonl"})
	waitFor(t, m, j.ID, "matching", func(j *Job) bool { return j.EventsProcessed > 0 })
	start := time.Now()
	c, err := m.Cancel(context.Background(), j.ID)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("cancel took %v", d)
	}
	if c.State != Cancelled || c.Error != "cancelled" {
		t.Fatalf("after cancel: %s %q", c.State, c.Error)
	}
	if c.EventsProcessed == 0 || c.EventsProcessed >= c.EventsTotal || c.EventsTotal != 150000 || c.EventsRead != c.EventsTotal {
		t.Errorf("partial counts: processed %d of %d, read %d", c.EventsProcessed, c.EventsTotal, c.EventsRead)
	}
	if c.Progress <= ReadShare || c.Progress >= 1 {
		t.Errorf("progress %.3f, want between %.1f and 1", c.Progress, ReadShare)
	}
	if later, _ := m.Get(j.ID); later.EventsProcessed != c.EventsProcessed || later.State != Cancelled {
		t.Errorf("the cancelled backtest moved on: %d → %d events, %s", c.EventsProcessed, later.EventsProcessed, later.State)
	}
	if again, err := m.Cancel(context.Background(), j.ID); err != nil || again.State != Cancelled {
		t.Errorf("cancelling again: %v %v", again, err)
	}
	if _, err := m.Cancel(context.Background(), "bt-nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("cancel unknown: %v", err)
	}
}

// TestQueue: with one backtest running at a time the next waits QUEUED, runs when the
// first ends (here: is cancelled), and a queued one cancelled never runs; the queue and
// the finished list are bounded.
func TestQueue(t *testing.T) {
	dir := t.TempDir()
	bigFile(t, dir, 100000)
	ex, err := os.ReadFile(filepath.Join(fraudExamples, "card-testing.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "small.jsonl"), ex, 0o644); err != nil {
		t.Fatal(err)
	}
	m := newManager(t, Options{EventsDir: dir, MaxQueued: 2, MaxFinished: 3})
	ctx := context.Background()
	all := fraudRules(t)
	small := Spec{Rules: []Rule{fraudRule(t, "card-testing")}, EventsFile: "small.jsonl"}
	first := create(t, m, Spec{Rules: all, EventsFile: "big.jsonl"})
	second := create(t, m, small)
	third := create(t, m, small)
	if _, err := m.Create(ctx, small); !errors.Is(err, ErrBusy) {
		t.Fatalf("a third waiting backtest: %v, want ErrBusy", err)
	}
	if first.State != Running || second.State != Queued || third.State != Queued {
		t.Fatalf("states %s %s %s, want RUNNING QUEUED QUEUED", first.State, second.State, third.State)
	}
	time.Sleep(20 * time.Millisecond)
	if j, _ := m.Get(second.ID); j.State != Queued || !j.Started.IsZero() || j.Progress != 0 {
		t.Fatalf("second: %s, started %v, progress %f while the first runs", j.State, j.Started, j.Progress)
	}
	c, err := m.Cancel(ctx, third.ID)
	if err != nil || c.State != Cancelled || !c.Started.IsZero() {
		t.Fatalf("cancel queued: %+v %v", c, err)
	}
	list := m.List()
	if len(list) != 3 || list[0].ID != third.ID || list[1].ID != second.ID || list[2].ID != first.ID || list[2].Alerts != nil {
		t.Fatalf("list: %v", ids(list))
	}
	done, err := m.Cancel(ctx, first.ID)
	if err != nil || done.State != Cancelled {
		t.Fatalf("first: %v %v", done, err)
	}
	if j := wait(t, m, second.ID); j.State != Done || j.AlertsTotal == 0 || j.Started.Before(done.Stopped) {
		t.Fatalf("second: %s, %d alerts, started %v before the first stopped at %v", j.State, j.AlertsTotal, j.Started, done.Stopped)
	}
	if j, _ := m.Get(third.ID); j.State != Cancelled || !j.Started.IsZero() {
		t.Fatalf("the cancelled queued backtest ran: %s", j.State)
	}
	for range 3 {
		run(t, m, small)
	}
	if list := m.List(); len(list) != 3 {
		t.Errorf("%d backtests kept, want 3 (MaxFinished)", len(list))
	}
	if _, err := m.Get(first.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("the oldest finished backtest is still kept: %v", err)
	}
}

func ids(js []*Job) []string {
	var out []string
	for _, j := range js {
		out = append(out, j.ID+":"+string(j.State))
	}
	return out
}

// TestClose: Close cancels running and queued backtests and waits for them; so does a
// second Close called meanwhile.
func TestClose(t *testing.T) {
	dir := t.TempDir()
	bigFile(t, dir, 100000)
	data, err := fraudData()
	if err != nil {
		t.Fatal(err)
	}
	o := Options{Schema: fraudtest.Schema(t), EventsDir: dir, Env: rules.EnvOptions{Data: data}}
	m, err := NewManager(o)
	if err != nil {
		t.Fatal(err)
	}
	spec := Spec{Rules: fraudRules(t), EventsFile: "big.jsonl"}
	a := create(t, m, spec)
	b := create(t, m, spec)
	waitFor(t, m, a.ID, "running", func(j *Job) bool { return j.EventsRead > 0 })
	var closers sync.WaitGroup
	for range 2 {
		closers.Go(func() {
			m.Close()
			for _, id := range []string{a.ID, b.ID} {
				j, err := m.Get(id)
				if err != nil || j.State != Cancelled || !strings.Contains(j.Error, "shut down") {
					t.Errorf("%s after Close: %v (%s) %v", id, j.State, j.Error, err)
				}
			}
		})
	}
	closers.Wait()
	if _, err := m.Create(context.Background(), spec); !errors.Is(err, ErrClosed) {
		t.Errorf("create after close: %v", err)
	}
}
