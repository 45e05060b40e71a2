package backtest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cepd/cepd/event"
	"github.com/cepd/cepd/internal/fraudtest"
	"github.com/cepd/cepd/internal/workload"
	"github.com/cepd/cepd/rules"
	"github.com/cepd/cepd/rules/refdata"
)

var (
	fraudDir      = fraudtest.Dir()
	fraudExamples = fraudtest.Examples()
)

// fraudRules returns the fraud rule set's rules, sorted by id, as a backtest takes them.
func fraudRules(t testing.TB) []Rule {
	t.Helper()
	var out []Rule
	for _, f := range fraudtest.RuleFiles(t) {
		out = append(out, fraudRule(t, strings.TrimSuffix(filepath.Base(f), ".yaml")))
	}
	return out
}

func fraudRule(t testing.TB, id string) Rule {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(fraudDir, id+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return Rule{Name: id + ".yaml", Source: src}
}

// fraudData holds the lists and tables of testdata/fraud/data, which some fraud rules read.
func fraudData() (*refdata.Holder, error) {
	cat, err := refdata.LoadDir(filepath.Join(fraudDir, refdata.DirName))
	if err != nil {
		return nil, err
	}
	return refdata.NewHolder(cat), nil
}

func newEnv(schema *event.Schema) (*rules.Env, error) {
	h, err := fraudData()
	if err != nil {
		return nil, err
	}
	return rules.NewEnv(schema, rules.EnvOptions{Data: h})
}

// newManager returns a Manager over the fraud schema, closed when the test ends.
func newManager(t testing.TB, o Options) *Manager {
	t.Helper()
	if o.Schema == nil {
		o.Schema = fraudtest.Schema(t)
	}
	if o.Env.Data == nil {
		h, err := fraudData()
		if err != nil {
			t.Fatal(err)
		}
		o.Env.Data = h
	}
	m, err := NewManager(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	return m
}

// wait polls job id until it reaches a final state.
func wait(t testing.TB, m *Manager, id string) *Job {
	t.Helper()
	return poll(t, m, id, 2*time.Millisecond, func(j *Job) bool { return j.State.Final() }, func(j *Job) string {
		return fmt.Sprintf("backtest %s still %s after a minute (progress %.2f)", id, j.State, j.Progress)
	})
}

// waitFor polls job id until cond holds.
func waitFor(t testing.TB, m *Manager, id string, what string, cond func(*Job) bool) *Job {
	t.Helper()
	return poll(t, m, id, time.Millisecond, cond, func(j *Job) string {
		return fmt.Sprintf("backtest %s is %s (progress %.2f, %d/%d events) without having been %s", id, j.State, j.Progress, j.EventsProcessed, j.EventsTotal, what)
	})
}

// poll gets job id every interval until cond holds, and fails the test with failure's
// message when the job ends without it or a minute has passed.
func poll(t testing.TB, m *Manager, id string, interval time.Duration, cond func(*Job) bool, failure func(*Job) string) *Job {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		j, err := m.Get(id)
		if err != nil {
			t.Fatal(err)
		}
		if cond(j) {
			return j
		}
		if j.State.Final() || time.Now().After(deadline) {
			t.Fatal(failure(j))
		}
		time.Sleep(interval)
	}
}

// create creates a backtest; an error fails the test.
func create(t testing.TB, m *Manager, spec Spec) *Job {
	t.Helper()
	j, err := m.Create(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// run creates a backtest and waits for it to end DONE.
func run(t testing.TB, m *Manager, spec Spec) *Job {
	t.Helper()
	j := wait(t, m, create(t, m, spec).ID)
	if j.State != Done {
		t.Fatalf("backtest %s: %s: %s", j.ID, j.State, j.Error)
	}
	return j
}

// generate writes a generated workload into dir/name and returns its configuration.
func generate(t testing.TB, dir, name string, cfg workload.Config) workload.Config {
	t.Helper()
	cfg, err := workload.WriteFile(filepath.Join(dir, name), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}
