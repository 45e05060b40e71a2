package service

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cepd/cepd/patterns"
	"github.com/cepd/cepd/rules"
	"github.com/cepd/cepd/rules/ruletest"
	"github.com/cepd/cepd/rules/store"
)

// MaxTestEvents bounds the events of the tests of one rule change (and of one POST
// /v1/rules:test request).
const MaxTestEvents = 10000

// testsOf returns the tests a change request carries (nil: none, the store keeps the
// current version's), refusing oversized ones.
func (s *Rules) testsOf(tests string) ([]byte, error) {
	if tests == "" {
		return nil, nil
	}
	if max := s.Limits.withDefaults().MaxSource; len(tests) > max {
		return nil, status.Errorf(codes.InvalidArgument, "tests are larger than %d bytes", max)
	}
	return []byte(tests), nil
}

// checkTests runs tests (the rule's tests the new version keeps; none: nothing to run;
// ch.Tests nil: they are the current version's) against src with ruletest.RunInline, the runner of POST /v1/rules:test. Failing tests
// refuse the change with FailedPrecondition and the runner's report, unless force: then
// ch records the report for the audit entry. A test file with problems is refused
// (InvalidArgument with each problem's position), forced or not.
func (s *Rules) checkTests(ctx context.Context, src, tests []byte, force bool, ch *store.Change) error {
	if len(tests) == 0 {
		return nil
	}
	// Kept tests may come from a rule directory's NAME.test.yaml, whose events files the
	// API cannot read: their cases with events_file are left out (cepd test runs them).
	// Tests sent with the change must be inline, as for POST /v1/rules:test.
	o := ruletest.InlineOptions{MaxEvents: MaxTestEvents, SkipEventsFiles: ch.Tests == nil}
	sc := s.sch.Load()
	res, err := ruletest.RunInline(ctx, src, tests, sc.schema, sc.env, o)
	if err != nil {
		var ie *ruletest.InputError
		var el patterns.ErrorList
		switch {
		case errors.As(err, &ie) && errors.As(ie.Err, &el):
			return rejectedTests(rules.Errors(ie.File, ie.Err))
		case ie != nil:
			return status.Errorf(codes.InvalidArgument, "the rule's tests cannot run: %v", ie.Err)
		}
		return status.Errorf(codes.Internal, "running the rule's tests: %v", err)
	}
	report := ruletest.Failures(res)
	if report == "" {
		return nil
	}
	if !force {
		return status.Errorf(codes.FailedPrecondition, "the rule's tests fail; nothing was changed (fix the rule or its tests, or force the change):\n%s", report)
	}
	ch.TestsForced = report
	return nil
}

// rejectedTests is the status of a change whose test file has problems: InvalidArgument
// with every problem and, as a detail, a ValidateRuleResponse.
func rejectedTests(errs patterns.ErrorList) error {
	return invalidWith(fmt.Sprintf("the rule's tests have %d problems; nothing was changed", len(errs)), errs)
}
