// Package ruletest runs rule tests: named cases written beside a rule (card-testing.test.yaml
// beside card-testing.yaml), each a list of events and the alerts they must, and must not,
// raise. It is what `cepd test` and POST /v1/rules:test run.
//
// # A test file
//
//	start: 2024-03-01T10:00:00Z      # the time "at: 0s" stands for (optional)
//	defaults: {card_id: c1, type: auth, card_present: false}   # fields every event has
//	tests:
//	  - name: three probes then a large authorisation
//	    events:
//	      - {id: p1, at: 0s, amount: 0.99}
//	      - {id: p2, at: +40s, amount: 1.00}      # 40 s after the event before
//	      - {id: p3, at: +40s, amount: 0.50}
//	      - {id: big, at: 5m, amount: 649.00}     # 5 min after the start
//	    alerts:
//	      - kind: match
//	        steps: {probes: [p1, p2, p3], large: [big]}
//	        emit: {probe_count: 3}
//	  - name: two probes are not enough
//	    events: [...]
//	    alerts: []                                # no alert
//
// An event is a mapping of the schema's fields. Two keys are shorthands unless the schema
// declares a field of that name: id is the schema's id field (an event without an id is
// e1, e2, … by position), and at is its time: "90s" after the start, "+40s" after the event
// before; an event with neither at nor the time field comes one second after the event
// before. events_file: FILE.jsonl (relative to the test file) replaces events.
//
// alerts: lists every alert the events must raise; an alert raised and not listed fails the
// case unless partial: true. absent: lists alerts that must not be raised. An expected alert
// names only what it checks (a subset match): kind, key, severity, steps (each named step's
// event ids, in order), events (every matched event id, in order) and emit (each named
// value; numbers compare as numbers). Each expectation takes the first alert, in replay
// order, that matches it and that no earlier expectation took.
//
// # Running
//
// The rule is compiled as the live rule set compiles it (engine.RuleSetBuilder), and each
// case's events are read with backtest.Read and run by backtest.Replay, the loop of `cepd
// replay`, on an engine of its own; at the end event time advances to infinity, so windows
// close and timeouts fire. A failed case says which expected alert was not raised, the
// closest alert that was and what differs, and which alerts were not expected.
//
// # Through the API
//
// RunInline runs a rule and a test file sent as text (events inline, a bound on their
// number): POST /v1/rules:test answers with its results, and a rule change through the
// rules API runs the tests the new version keeps with it first and is refused, with
// Failures' report, when a case fails (unless forced). The rule store keeps a rule's tests
// with each version; in a rule directory the current ones are NAME.test.yaml.
//
// # Concurrency
//
// Run and RunPaths may be called concurrently; each case's engine is its own.
package ruletest
