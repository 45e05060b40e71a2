package ruletest

import (
	"context"
	"fmt"
	"strings"

	"github.com/cepd/cepd/event"
	"github.com/cepd/cepd/patterns"
	"github.com/cepd/cepd/rules"
)

// The names a rule and its tests sent as text (through the API) go by in errors and
// reports.
const (
	InlineRuleFile = "rule.yaml"
	InlineTestFile = "rule.test.yaml"
)

// InputError is a problem of the rule or the test file given to RunInline: File is
// InlineRuleFile or InlineTestFile; Err is a patterns.ErrorList when the problems have
// positions.
type InputError struct {
	File string
	Err  error
}

func (e *InputError) Error() string { return e.File + ": " + e.Err.Error() }
func (e *InputError) Unwrap() error { return e.Err }

// InlineOptions configure RunInline.
type InlineOptions struct {
	// MaxEvents, when > 0, bounds the events of all the cases.
	MaxEvents int
	// SkipEventsFiles leaves out the cases that read their events from a file (a test
	// file kept from a rule directory, whose files the API cannot read) instead of
	// refusing them.
	SkipEventsFiles bool
}

// RunInline runs the tests of the test file text tests against the rule text ruleSrc:
// Parse, then Run. It is the one path of tests that arrive with a request: POST
// /v1/rules:test and the check of a rule change through the API. Events must be inline:
// a case with events_file is refused, or left out with o.SkipEventsFiles. Problems of
// the input are an *InputError.
func RunInline(ctx context.Context, ruleSrc, tests []byte, schema *event.Schema, env *rules.Env, o InlineOptions) ([]*Result, error) {
	suite, err := Parse(InlineTestFile, tests)
	if err != nil {
		return nil, &InputError{File: InlineTestFile, Err: err}
	}
	maxEvents := o.MaxEvents
	n := 0
	kept := suite.Cases[:0:0]
	for _, c := range suite.Cases {
		if c.EventsFile != "" && o.SkipEventsFiles {
			continue
		}
		kept = append(kept, c)
		if c.EventsFile != "" {
			var el patterns.ErrorList
			el.Add(InlineTestFile, c.Pos, "case %q: events_file cannot be read through the API: write the events inline", c.Name)
			return nil, &InputError{File: InlineTestFile, Err: el}
		}
		n += len(c.Events)
	}
	if maxEvents > 0 && n > maxEvents {
		return nil, &InputError{File: InlineTestFile, Err: fmt.Errorf("the tests hold %d events, more than the %d a request may", n, maxEvents)}
	}
	suite.Cases = kept
	res, err := Run(ctx, suite, InlineRuleFile, ruleSrc, schema, env)
	if err != nil {
		if _, ok := err.(patterns.ErrorList); ok {
			return nil, &InputError{File: InlineRuleFile, Err: err}
		}
		return nil, err
	}
	return res, nil
}

// Failures is the report of the failed cases of results as cepd test prints it (a FAIL
// block per failed case with what differs, then the "N passed, M failed" line); "" when
// every case passed.
func Failures(results []*Result) string {
	r := &Report{Results: results}
	if r.Failed() == 0 {
		return ""
	}
	var b strings.Builder
	r.Write(&b, false)
	return b.String()
}
