// Package alerts owns what cepd tells downstream systems and the one path alerts take
// there: the Alert model (which rule, which key, which events matched which step, the
// rule's emit values, event-time and processing-time stamps) and its deterministic id;
// the Pipeline from the engine to every sink; and the sinks it records to (Ring, History)
// and writes itself (JSONLines, File). Kafka and webhook delivery live in the
// sub-packages kafkasink and webhook and join the pipeline as Outputs. A bounded run (cepd
// replay, a rule's tests) collects its alerts with Collector, sorted by Before; WriteLines
// writes a list in JSONLines' form.
//
// An alert's id is a hash of (rule id, rule version, kind, key, matched event ids): the
// same match derived again after a crash and replay has the same id, so de-duplication
// downstream is exact. Alerts are values: the engine makes each one complete, with its
// final rule id and mode, and no stage or sink modifies it afterwards.
//
// The Pipeline (pipeline.go) counts the alerts of rules on trial (Trials), asks the gate
// whether an active alert is suppressed (Suppressions: the analysts' suppressions in
// force, kept and audited by package analyst), records every alert (the API's ring, the
// history file; a suppressed one as a copy marked Alert.Suppressed), stops shadow and
// suppressed alerts there and delivers the others to the JSON lines and each Output in
// order. Its Flush is what checkpoints and Kafka offset commits wait for. Every Sink is
// called concurrently from the engine's shard goroutines (see Sink); the pipeline adds no
// goroutine and no queue.
//
// History keeps the recent alerts in a file (the embedded mode's data directory), bounded
// by count and age, so that the API lists them again after a restart, each id once.
package alerts
