// Package alerts defines what cepd tells downstream systems: the Alert model (which rule,
// which key, which events matched which step, the rule's emit values, event-time and
// processing-time stamps) and its deterministic id, plus the sinks alerts are delivered to.
//
// An alert's id is a hash of (rule id, rule version, kind, key, matched event ids): the
// same match derived again after a crash and replay has the same id, so de-duplication
// downstream is exact. Alerts are values; once built they are not modified, except by the
// alert path's first stage, which stamps the mode and the suppression before any sink
// reads them.
//
// Suppressions is the analysts' suppressions in force, checked on the alert path before
// delivery: a suppressed alert is recorded with Alert.Suppressed set and not delivered to
// the blocking sinks (the suppressions are kept and audited by package analyst).
//
// History keeps the recent alerts in a file (the embedded mode's data directory), bounded
// by count and age, so that the API lists them again after a restart, each id once.
package alerts
