package conformance

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/cepd/cepd/event"
	"github.com/cepd/cepd/event/jsondecode"
	"github.com/cepd/cepd/nfa"
	"github.com/cepd/cepd/patterns"
)

// ConditionCompiler compiles a step's where or until for events of schema.
type ConditionCompiler func(schema *event.Schema, pattern *patterns.Pattern, step *patterns.Step, kind nfa.CondKind) (nfa.Condition, error)

// ProgramCompiler compiles a case's whole pattern (with timeouts reported) for events of
// schema; it is how the production rule compiler is plugged in.
type ProgramCompiler func(schema *event.Schema, pattern *patterns.Pattern) (*nfa.Program, error)

// WithConditions makes a ProgramCompiler from a ConditionCompiler and nfa.Compile.
func WithConditions(compile ConditionCompiler) ProgramCompiler {
	return func(schema *event.Schema, pat *patterns.Pattern) (*nfa.Program, error) {
		resolve := func(s *patterns.Step, kind nfa.CondKind) (nfa.Condition, error) {
			if (kind == nfa.CondWhere && s.Where == "") || (kind == nfa.CondUntil && s.Until == "") {
				return nil, nil
			}
			return compile(schema, pat, s, kind)
		}
		return nfa.Compile(pat, resolve, nfa.Options{Timeouts: true})
	}
}

// Outcome is the result of running one case.
type Outcome struct {
	Case     *Case
	Err      error // the case could not be run (compile error, bad event)
	Matches  [][]int64
	Timeouts []timeout
	Pass     bool
	Detail   string // what differs, when !Pass
}

type timeout struct {
	ids []int64
	ts  int64
}

// InferSchema builds a schema for the case's events: every field seen, of type any,
// with ts as the event time and id as the event id; keyed by key_by when set.
func (c *Case) InferSchema() (*event.Schema, error) {
	seen := map[string]bool{}
	var names []string
	for _, raw := range c.Events {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, fmt.Errorf("event %s: %w", raw, err)
		}
		for k := range m {
			if !seen[k] {
				seen[k] = true
				names = append(names, k)
			}
		}
	}
	sort.Strings(names)
	fields := make([]event.Field, len(names))
	for i, n := range names {
		fields[i] = event.Field{Name: n, Type: event.TypeAny, Optional: true}
	}
	return event.NewSchema(c.ID, fields, c.KeyBy, "ts", "id")
}

// Run compiles the case's pattern with the real compiler and feeds its events through
// the real matcher.
func Run(c *Case, compile ProgramCompiler) *Outcome {
	out := &Outcome{Case: c}
	if err := c.run(compile, out); err != nil {
		out.Err = err
		out.Detail = err.Error()
		return out
	}
	out.Pass, out.Detail = c.compare(out)
	return out
}

func (c *Case) run(compile ProgramCompiler, out *Outcome) error {
	schema, err := c.InferSchema()
	if err != nil {
		return err
	}
	pat, err := c.PatternAST()
	if err != nil {
		return err
	}
	prog, err := compile(schema, pat)
	if err != nil {
		return fmt.Errorf("compile: %w", err)
	}
	dec := jsondecode.NewDecoder(schema)
	sc := nfa.NewScratch()
	sc.Memo = nfa.NewMemo(0)
	matchers := map[string]*nfa.Matcher{}
	var order []string
	var res nfa.Result
	collect := func() {
		for _, m := range res.Matches {
			out.Matches = append(out.Matches, ids(m))
		}
		for _, t := range res.Timeouts {
			out.Timeouts = append(out.Timeouts, timeout{ids(t.Match), t.At})
		}
		res.Reset()
	}
	for i, raw := range c.Events {
		ev := &event.Event{}
		if err := dec.Decode(raw, ev); err != nil {
			return fmt.Errorf("event %d: %w", i+1, err)
		}
		ev.Seq = uint64(i + 1)
		m := matchers[ev.Key]
		if m == nil {
			m = prog.NewMatcher()
			matchers[ev.Key] = m
			order = append(order, ev.Key)
		}
		sc.Memo.Next()
		m.Advance(ev.Time, sc, &res)
		m.Process(ev, sc, &res)
		collect()
	}
	if len(c.EndTimeMs) > 0 && string(c.EndTimeMs) != "null" {
		end := int64(math.MaxInt64)
		if s := strings.Trim(string(c.EndTimeMs), `"`); s != "inf" {
			if end, err = strconv.ParseInt(s, 10, 64); err != nil {
				return fmt.Errorf("end_time_ms: %w", err)
			}
		}
		for _, k := range order {
			matchers[k].Advance(end, sc, &res)
			collect()
		}
	}
	return nil
}

func ids(m nfa.Match) []int64 {
	var out []int64
	for _, s := range m.Steps {
		for _, e := range s.Events {
			id, _ := strconv.ParseInt(e.ID(), 10, 64)
			out = append(out, id)
		}
	}
	return out
}

// canon maps ids through the equivalence groups and renders each match as a sorted id
// list, the whole as a sorted multiset.
func (c *Case) canon(ms [][]int64) []string {
	eq := map[int64]int64{}
	for _, g := range c.EquivalentEvents {
		for _, id := range g {
			eq[id] = g[0]
		}
	}
	out := make([]string, len(ms))
	for i, m := range ms {
		cp := make([]int64, len(m))
		for j, id := range m {
			if r, ok := eq[id]; ok {
				id = r
			}
			cp[j] = id
		}
		slices.Sort(cp)
		out[i] = fmt.Sprint(cp)
	}
	sort.Strings(out)
	return out
}

func (c *Case) compare(o *Outcome) (bool, string) {
	var b bytes.Buffer
	want, got := c.canon(c.ExpectedMatches), c.canon(o.Matches)
	ok := slices.Equal(want, got)
	if !ok {
		fmt.Fprintf(&b, "  matches expected: %s\n  matches actual:   %s\n", strings.Join(want, " "), strings.Join(got, " "))
	}
	if c.ExpectedTimeouts != nil {
		wantT := make([]string, 0, len(c.ExpectedTimeouts))
		gotT := make([]string, 0, len(o.Timeouts))
		withTS := false
		for _, t := range c.ExpectedTimeouts {
			withTS = withTS || t.TS != nil
		}
		for _, t := range c.ExpectedTimeouts {
			s := c.canon([][]int64{t.IDs})[0]
			if t.TS != nil {
				s += "@" + strconv.FormatInt(*t.TS, 10)
			}
			wantT = append(wantT, s)
		}
		for _, t := range o.Timeouts {
			s := c.canon([][]int64{t.ids})[0]
			if withTS {
				s += "@" + strconv.FormatInt(t.ts, 10)
			}
			gotT = append(gotT, s)
		}
		sort.Strings(wantT)
		sort.Strings(gotT)
		if !slices.Equal(wantT, gotT) {
			ok = false
			fmt.Fprintf(&b, "  timeouts expected: %s\n  timeouts actual:   %s\n", strings.Join(wantT, " "), strings.Join(gotT, " "))
		}
	}
	return ok, b.String()
}
