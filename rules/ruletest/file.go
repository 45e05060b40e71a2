package ruletest

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/cepd/cepd/patterns"
)

// defaultStart is the time of "at: 0s" when a test file names no start.
var defaultStart = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// Suite is one parsed rule test file.
type Suite struct {
	File string
	// Start is the event time "at: 0s" stands for (file level; a case may override it).
	Start time.Time
	// Defaults are fields every event of every case has unless the event sets them.
	Defaults map[string]any
	Cases    []*Case
}

// Case is one named test: events and the alerts they must (and must not) raise.
type Case struct {
	Name string
	Pos  patterns.Pos
	// Start overrides the suite's start for this case.
	Start time.Time
	// Events are written inline (Events) or read from a JSON-lines file (EventsFile,
	// relative to the test file).
	Events     []Event
	EventsFile string
	// Alerts are the alerts the events must raise. Unless Partial, they are all the
	// alerts: any other alert fails the case. An empty list means "no alert".
	Alerts  []*Expect
	Partial bool
	// Absent are alerts that must not be raised (useful with Partial).
	Absent []*Expect
}

// Event is one inline event: its fields, and its time as written (At: "90s" from the
// start, "+40s" from the event before; "" when the event sets the time field itself).
type Event struct {
	Pos    patterns.Pos
	Fields map[string]any
	At     string
	ID     string // the "id" shorthand for the schema's id field
}

// Expect describes an alert; only the properties written are compared (a subset match).
type Expect struct {
	Pos      patterns.Pos
	Kind     string
	Key      string
	Severity string
	// Steps maps a step name to the ids of the events it took, in order (exactly).
	Steps     map[string][]string
	StepOrder []string
	// Events are the ids of every matched event, in step order (exactly).
	Events []string
	// Emit maps an emit name to the value it must have (numbers compare as numbers).
	Emit      map[string]any
	EmitOrder []string
}

// Parse reads a rule test file. Every problem comes back at once as a
// patterns.ErrorList with line, column and caret.
func Parse(file string, data []byte) (*Suite, error) {
	p := &parser{file: file, lines: strings.Split(string(data), "\n")}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		p.errs.Add(file, patterns.Pos{}, "not valid YAML: %v", err)
		return nil, p.errs.Err()
	}
	if len(doc.Content) == 0 {
		p.errs.Add(file, patterns.Pos{Line: 1, Col: 1}, "the test file is empty: it needs a tests: list")
		return nil, p.errs.Err()
	}
	s := &Suite{File: file, Start: defaultStart}
	root := doc.Content[0]
	if !p.mapping(root, "the test file") {
		return nil, p.err()
	}
	var tests *yaml.Node
	p.fields(root, []string{"start", "defaults", "tests"}, func(k string, v *yaml.Node) {
		switch k {
		case "start":
			s.Start = p.time(v)
		case "defaults":
			s.Defaults = p.anyMap(v)
		case "tests":
			tests = v
		}
	})
	if tests == nil {
		p.at(root, "the test file has no tests: list")
	} else if tests.Kind != yaml.SequenceNode {
		p.at(tests, "tests must be a list of cases (- name: ...)")
	} else {
		names := map[string]bool{}
		for _, n := range tests.Content {
			if c := p.testCase(n, s.Start); c != nil {
				if names[c.Name] {
					p.at(n, "two cases are named %q: names must be unique", c.Name)
				}
				names[c.Name] = true
				s.Cases = append(s.Cases, c)
			}
		}
	}
	if err := p.err(); err != nil {
		return nil, err
	}
	return s, nil
}

type parser struct {
	file  string
	lines []string
	errs  patterns.ErrorList
}

func (p *parser) err() error {
	if len(p.errs) == 0 {
		return nil
	}
	return p.errs.Err()
}

func pos(n *yaml.Node) patterns.Pos { return patterns.Pos{Line: n.Line, Col: n.Column} }

// at records a problem at n's position with the source line for the caret.
func (p *parser) at(n *yaml.Node, format string, args ...any) {
	e := &patterns.Error{File: p.file, Pos: pos(n), Msg: fmt.Sprintf(format, args...)}
	if n.Line >= 1 && n.Line <= len(p.lines) {
		e.Line = p.lines[n.Line-1]
	}
	p.errs = append(p.errs, e)
}

func (p *parser) mapping(n *yaml.Node, what string) bool {
	if n.Kind != yaml.MappingNode {
		p.at(n, "%s must be a mapping (key: value lines)", what)
		return false
	}
	return true
}

// fields calls f for each key of the mapping n in order; a key not in allowed is an error
// naming the closest allowed key.
func (p *parser) fields(n *yaml.Node, allowed []string, f func(k string, v *yaml.Node)) {
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch {
		case !contains(allowed, k.Value):
			msg := fmt.Sprintf("unknown key %q", k.Value)
			if s := closest(k.Value, allowed); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
			p.at(k, "%s; valid keys here: %s", msg, strings.Join(allowed, ", "))
		case seen[k.Value]:
			p.at(k, "%q is given twice", k.Value)
		default:
			seen[k.Value] = true
			f(k.Value, v)
		}
	}
}

func (p *parser) str(n *yaml.Node, what string) string {
	if n.Kind != yaml.ScalarNode {
		p.at(n, "%s must be a single value", what)
		return ""
	}
	return n.Value
}

func (p *parser) strs(n *yaml.Node, what string) []string {
	if n.Kind != yaml.SequenceNode {
		p.at(n, "%s must be a list of event ids, like [e1, e2]", what)
		return nil
	}
	out := []string{}
	for _, c := range n.Content {
		out = append(out, p.str(c, what+" entry"))
	}
	return out
}

func (p *parser) time(n *yaml.Node) time.Time {
	t, err := time.Parse(time.RFC3339Nano, p.str(n, "start"))
	if err != nil {
		p.at(n, "start must be an RFC 3339 time such as 2024-03-01T10:00:00Z")
	}
	return t
}

func (p *parser) anyMap(n *yaml.Node) map[string]any {
	if !p.mapping(n, "this") {
		return nil
	}
	var m map[string]any
	if err := n.Decode(&m); err != nil {
		p.at(n, "%v", err)
	}
	return m
}

func (p *parser) testCase(n *yaml.Node, start time.Time) *Case {
	if !p.mapping(n, "a case") {
		return nil
	}
	c := &Case{Pos: pos(n), Start: start}
	hasAlerts := false
	var eventsNode *yaml.Node
	p.fields(n, []string{"name", "start", "events", "events_file", "alerts", "partial", "absent"}, func(k string, v *yaml.Node) {
		switch k {
		case "name":
			c.Name = p.str(v, "name")
		case "start":
			c.Start = p.time(v)
		case "events":
			eventsNode = v
		case "events_file":
			c.EventsFile = p.str(v, "events_file")
		case "alerts":
			hasAlerts = true
			c.Alerts = p.expects(v, "alerts")
		case "absent":
			c.Absent = p.expects(v, "absent")
		case "partial":
			if err := v.Decode(&c.Partial); err != nil {
				p.at(v, "partial must be true or false")
			}
		}
	})
	if c.Name == "" {
		p.at(n, "a case needs a name")
	}
	switch {
	case eventsNode != nil && c.EventsFile != "":
		p.at(eventsNode, "a case has events or events_file, not both")
	case eventsNode == nil && c.EventsFile == "":
		p.at(n, "case %q has no events: give events: (a list) or events_file:", c.Name)
	case eventsNode != nil:
		c.Events = p.events(eventsNode)
	}
	if !hasAlerts {
		p.at(n, "case %q does not say which alerts it expects: add alerts: (alerts: [] for none)", c.Name)
	}
	return c
}

func (p *parser) events(n *yaml.Node) []Event {
	if n.Kind != yaml.SequenceNode {
		p.at(n, "events must be a list of events, one mapping each")
		return nil
	}
	var out []Event
	for _, en := range n.Content {
		if !p.mapping(en, "an event") {
			continue
		}
		ev := Event{Pos: pos(en), Fields: map[string]any{}}
		for i := 0; i+1 < len(en.Content); i += 2 {
			k, v := en.Content[i], en.Content[i+1]
			var val any
			if err := v.Decode(&val); err != nil {
				p.at(v, "%v", err)
				continue
			}
			if t, ok := val.(time.Time); ok {
				val = t.Format(time.RFC3339Nano)
			}
			ev.Fields[k.Value] = val
		}
		out = append(out, ev)
	}
	return out
}

func (p *parser) expects(n *yaml.Node, what string) []*Expect {
	if n.Kind != yaml.SequenceNode {
		p.at(n, "%s must be a list of alerts ([] for none)", what)
		return nil
	}
	out := []*Expect{}
	for _, an := range n.Content {
		if !p.mapping(an, "an alert") {
			continue
		}
		e := &Expect{Pos: pos(an)}
		p.fields(an, []string{"kind", "key", "severity", "steps", "events", "emit"}, func(k string, v *yaml.Node) {
			switch k {
			case "kind":
				e.Kind = p.str(v, "kind")
				if e.Kind != "match" && e.Kind != "timeout" {
					p.at(v, "kind is match or timeout, not %q", e.Kind)
				}
			case "key":
				e.Key = p.str(v, "key")
			case "severity":
				e.Severity = p.str(v, "severity")
			case "events":
				e.Events = p.strs(v, "events")
			case "steps":
				if p.mapping(v, "steps") {
					e.Steps = map[string][]string{}
					for i := 0; i+1 < len(v.Content); i += 2 {
						name := v.Content[i].Value
						e.StepOrder = append(e.StepOrder, name)
						e.Steps[name] = p.strs(v.Content[i+1], "steps."+name)
					}
				}
			case "emit":
				if p.mapping(v, "emit") {
					e.Emit = map[string]any{}
					for i := 0; i+1 < len(v.Content); i += 2 {
						name := v.Content[i].Value
						var val any
						if err := v.Content[i+1].Decode(&val); err != nil {
							p.at(v.Content[i+1], "%v", err)
						}
						e.EmitOrder = append(e.EmitOrder, name)
						e.Emit[name] = val
					}
				}
			}
		})
		out = append(out, e)
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// closest returns the allowed word within edit distance 2 of s, "" if none.
func closest(s string, allowed []string) string {
	best, bestD := "", 3
	sorted := append([]string(nil), allowed...)
	sort.Strings(sorted)
	for _, a := range sorted {
		if d := patterns.EditDistance(s, a); d < bestD {
			best, bestD = a, d
		}
	}
	return best
}
