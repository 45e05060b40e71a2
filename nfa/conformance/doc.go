// Package conformance runs the language-neutral CEP conformance cases (transcribed from
// Apache Flink CEP's test suite; format in shared/conformance/FORMAT.md) through cepd's
// real compiler and matcher, and compares the matches and timeouts with what Flink's
// tests assert.
//
// The harness mirrors Flink's NFA test harness: for each event in arrival order, time
// advances to the event's timestamp, then the event is processed; after the last event
// time may advance to end_time_ms. Everything here is single-goroutine.
package conformance
