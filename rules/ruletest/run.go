package ruletest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/cepd/cepd/alerts"
	"github.com/cepd/cepd/backtest"
	"github.com/cepd/cepd/engine"
	"github.com/cepd/cepd/event"
	"github.com/cepd/cepd/patterns"
	"github.com/cepd/cepd/rules"
)

// Result is the outcome of one case.
type Result struct {
	File string // the test file
	Case string
	Pos  patterns.Pos
	// Problems say why the case failed, each a few lines of text; none when it passed.
	Problems []string
	// Alerts are the alerts the case's events raised, in replay order.
	Alerts []*alerts.Alert
}

// Passed reports whether the case passed.
func (r *Result) Passed() bool { return len(r.Problems) == 0 }

// Run runs every case of s against the rule whose source is ruleSrc (ruleFile names it in
// errors). The rule is compiled once, as the live rule set compiles it
// (engine.RuleSetBuilder); each case runs its events through an engine of its own with
// backtest.Replay, the loop `cepd replay` uses, and event time advances to infinity at the
// end (windows close, timeouts fire). A rule that does not compile is the error.
func Run(ctx context.Context, s *Suite, ruleFile string, ruleSrc []byte, schema *event.Schema, env *rules.Env) ([]*Result, error) {
	b := engine.NewRuleSetBuilder(schema, env)
	b.Add(ruleFile, ruleSrc, "")
	rs, err := b.Build()
	if err != nil {
		return nil, err
	}
	var out []*Result
	for _, tc := range s.Cases {
		r, err := runCase(ctx, s, tc, rs)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

func runCase(ctx context.Context, s *Suite, tc *Case, rs *engine.RuleSet) (*Result, error) {
	res := &Result{File: s.File, Case: tc.Name, Pos: tc.Pos}
	var recs []engine.Record
	var err error
	if tc.EventsFile != "" {
		path := tc.EventsFile
		if !filepath.IsAbs(path) {
			path = filepath.Join(filepath.Dir(s.File), path)
		}
		recs, err = backtest.ReadFile(path, rs.Schema, true)
	} else {
		var lines []byte
		lines, err = eventLines(s, tc, rs.Schema)
		if err == nil {
			recs, err = backtest.Read(bytes.NewReader(lines), s.File, rs.Schema, true)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%s: case %q: %w", s.File, tc.Name, err)
	}
	col := &collector{}
	if err := backtest.Replay(ctx, engine.Config{Shards: 1}, rs, recs, col, col, true); err != nil {
		return nil, fmt.Errorf("%s: case %q: %w", s.File, tc.Name, err)
	}
	res.Alerts = col.Sorted()
	for _, d := range col.deadLetters() {
		where := fmt.Sprintf("line %d of %s", d.Offset, tc.EventsFile)
		if tc.EventsFile == "" && int(d.Offset) >= 1 && int(d.Offset) <= len(tc.Events) {
			where = fmt.Sprintf("event %d (line %d)", d.Offset, tc.Events[d.Offset-1].Pos.Line)
		}
		res.Problems = append(res.Problems, fmt.Sprintf("%s was not matched: %s", where, d.Error))
	}
	res.Problems = append(res.Problems, compare(tc, res.Alerts)...)
	return res, nil
}

// eventLines writes the case's inline events as JSON lines: defaults, then the event's
// fields; "id" is the schema's id field unless the schema declares a field "id" (an event
// without an id gets e1, e2, … by position); "at" gives the time field (see Event).
func eventLines(s *Suite, tc *Case, schema *event.Schema) ([]byte, error) {
	var b bytes.Buffer
	prev := tc.Start
	for i, ev := range tc.Events {
		m := make(map[string]any, len(s.Defaults)+len(ev.Fields)+2)
		for k, v := range s.Defaults {
			m[k] = v
		}
		at, hasAt := "", false
		for k, v := range ev.Fields {
			if _, declared := schema.Index(k); !declared {
				switch k {
				case "at":
					at, hasAt = fmt.Sprint(v), true
					continue
				case "id":
					if schema.IDField != "" {
						m[schema.IDField] = v
						continue
					}
				}
			}
			m[k] = v
		}
		if schema.IDField != "" {
			if _, ok := m[schema.IDField]; !ok {
				m[schema.IDField] = fmt.Sprintf("e%d", i+1)
			}
		}
		if _, ok := ev.Fields[schema.TimeField]; ok && !hasAt {
			if t, err := time.Parse(time.RFC3339Nano, fmt.Sprint(ev.Fields[schema.TimeField])); err == nil {
				prev = t
			}
		} else {
			t, err := eventTime(at, hasAt, i == 0, tc.Start, prev)
			if err != nil {
				return nil, fmt.Errorf("%s:%d:%d: %w", s.File, ev.Pos.Line, ev.Pos.Col, err)
			}
			prev = t
			if idx, _ := schema.Index(schema.TimeField); schema.Fields[idx].Type == event.TypeInt {
				m[schema.TimeField] = t.UnixMilli()
			} else {
				m[schema.TimeField] = t.UTC().Format(time.RFC3339Nano)
			}
		}
		line, err := json.Marshal(m)
		if err != nil {
			return nil, fmt.Errorf("%s:%d:%d: the event cannot be written as JSON: %w", s.File, ev.Pos.Line, ev.Pos.Col, err)
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	return b.Bytes(), nil
}

// eventTime resolves "at": "+D" is D after the event before, "D" is D after the start, no
// "at" is one second after the event before (the first event is at the start).
func eventTime(at string, hasAt, first bool, start, prev time.Time) (time.Time, error) {
	if !hasAt {
		if first {
			return start, nil
		}
		return prev.Add(time.Second), nil
	}
	rel := strings.HasPrefix(at, "+")
	d, err := parseOffset(strings.TrimPrefix(at, "+"))
	if err != nil {
		return time.Time{}, fmt.Errorf("at: %q is not a time offset: write 90s, 10m or 1d2h from the start, or +40s from the event before", at)
	}
	if rel {
		return prev.Add(d), nil
	}
	return start.Add(d), nil
}

func parseOffset(s string) (time.Duration, error) {
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return d, nil
	}
	ms, err := patterns.ParseDuration(s)
	if err != nil {
		return 0, err
	}
	return time.Duration(ms) * time.Millisecond, nil
}

// collector keeps a case's alerts and dead letters.
type collector struct {
	alerts.Collector
	mu   sync.Mutex
	dead []engine.DeadLetter
}

func (c *collector) DeadLetter(d engine.DeadLetter) {
	c.mu.Lock()
	c.dead = append(c.dead, d)
	c.mu.Unlock()
}

// deadLetters returns the dead letters in the order of their offsets (lines).
func (c *collector) deadLetters() []engine.DeadLetter {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := append([]engine.DeadLetter(nil), c.dead...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Offset < out[j].Offset })
	return out
}

// LoadRule reads the rule a test file tests: NAME.yaml (or .yml, .json) beside
// NAME.test.yaml.
func LoadRule(testFile string) (string, []byte, error) {
	for _, file := range patterns.TestedRuleFiles(testFile) {
		data, err := os.ReadFile(file)
		if err == nil {
			return file, data, nil
		}
		if !os.IsNotExist(err) {
			return "", nil, err
		}
	}
	return "", nil, fmt.Errorf("%s: no rule %s.yaml beside it", testFile, filepath.Base(strings.TrimSuffix(testFile, rules.TestSuffix)))
}

// jsonEqual compares a value written in a test file with one in an alert as JSON values
// (so 3 equals 3.0, and lists and maps compare element by element).
func jsonEqual(want, got any) bool {
	norm := func(v any) any {
		b, err := json.Marshal(v)
		if err != nil {
			return v
		}
		var out any
		if json.Unmarshal(b, &out) != nil {
			return v
		}
		return out
	}
	return reflect.DeepEqual(norm(want), norm(got))
}
