package ruletest

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/cepd/cepd/alerts"
)

// compare matches the alerts raised against the case's expectations and returns what
// differs. Each expected alert takes the first raised alert (in replay order) that has
// every property it names and that no earlier expectation took.
func compare(tc *Case, got []*alerts.Alert) []string {
	var problems []string
	used := make([]bool, len(got))
	var missing []int
	for i, e := range tc.Alerts {
		found := false
		for j, a := range got {
			if !used[j] && len(diff(e, a)) == 0 {
				used[j], found = true, true
				break
			}
		}
		if !found {
			missing = append(missing, i)
		}
	}
	shown := make([]bool, len(got)) // shown as the closest alert of a missing one
	for _, i := range missing {
		e := tc.Alerts[i]
		msg := fmt.Sprintf("expected alert %d (line %d) was not raised", i+1, e.Pos.Line)
		best, bestDiff := -1, []string(nil)
		for j, a := range got {
			if used[j] {
				continue
			}
			if d := diff(e, a); best < 0 || len(d) < len(bestDiff) {
				best, bestDiff = j, d
			}
		}
		if best < 0 {
			if len(got) == 0 {
				msg += ": no alert was raised"
			} else {
				msg += ": every alert raised was taken by an earlier expectation"
			}
		} else {
			shown[best] = true
			msg += "; the closest alert raised (not expected as it is) differs:\n    " + summary(got[best]) + "\n      " + strings.Join(bestDiff, "\n      ")
		}
		problems = append(problems, msg)
	}
	if !tc.Partial {
		for j, a := range got {
			if !used[j] && !shown[j] {
				problems = append(problems, "unexpected alert (list it under alerts:, or set partial: true):\n    "+summary(a))
			}
		}
	}
	for i, e := range tc.Absent {
		for _, a := range got {
			if len(diff(e, a)) == 0 {
				problems = append(problems, fmt.Sprintf("absent alert %d (line %d) was raised:\n    %s", i+1, e.Pos.Line, summary(a)))
			}
		}
	}
	return problems
}

// diff lists the properties e names that a does not have, as "what: want …, got …".
func diff(e *Expect, a *alerts.Alert) []string {
	var d []string
	str := func(what, want, got string) {
		if want != "" && want != got {
			d = append(d, fmt.Sprintf("%s: want %s, got %s", what, want, got))
		}
	}
	str("kind", e.Kind, a.Kind)
	str("key", e.Key, a.Key)
	str("severity", e.Severity, a.Severity)
	for _, name := range e.StepOrder {
		if got := stepIDs(a, name); !sameIDs(e.Steps[name], got) {
			d = append(d, fmt.Sprintf("steps.%s: want %s, got %s", name, ids(e.Steps[name]), ids(got)))
		}
	}
	if e.Events != nil {
		if got := a.EventIDs(); !sameIDs(e.Events, got) {
			d = append(d, fmt.Sprintf("events: want %s, got %s", ids(e.Events), ids(got)))
		}
	}
	for _, name := range e.EmitOrder {
		want := e.Emit[name]
		v, ok := emitted(a, name)
		switch {
		case !ok:
			d = append(d, fmt.Sprintf("emit.%s: want %s, the rule emits no such value", name, compact(want)))
		case v.Error != "":
			d = append(d, fmt.Sprintf("emit.%s: want %s, its expression failed: %s", name, compact(want), v.Error))
		case !jsonEqual(want, v.Value):
			d = append(d, fmt.Sprintf("emit.%s: want %s, got %s", name, compact(want), compact(v.Value)))
		}
	}
	return d
}

func stepIDs(a *alerts.Alert, step string) []string {
	var out []string
	for _, s := range a.Steps {
		if s.Step == step {
			for _, e := range s.Events {
				out = append(out, e.ID)
			}
		}
	}
	return out
}

func emitted(a *alerts.Alert, name string) (alerts.Value, bool) {
	for _, v := range a.Emit {
		if v.Name == name {
			return v, true
		}
	}
	return alerts.Value{}, false
}

func sameIDs(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func ids(l []string) string { return "[" + strings.Join(l, ", ") + "]" }

func compact(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// summary is one line describing an alert as a test file would: kind, key, each step's
// event ids and the emitted values.
func summary(a *alerts.Alert) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s key=%s", a.Kind, a.Key)
	for _, s := range a.Steps {
		var l []string
		for _, e := range s.Events {
			l = append(l, e.ID)
		}
		fmt.Fprintf(&b, " %s=%s", s.Step, ids(l))
	}
	if len(a.Emit) > 0 {
		em, _ := json.Marshal(a.Emit)
		fmt.Fprintf(&b, " emit=%s", em)
	}
	return b.String()
}
