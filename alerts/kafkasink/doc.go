// Package kafkasink writes cepd's output to Kafka: alerts to an alerts topic, malformed and
// late events to a dead-letter topic, and (LineWriter) JSON-lines events to an input
// topic for load tests and demos, all through one idempotent sarama producer with
// acks=all.
//
// Delivery: every message handed in is numbered; Flush(ctx) returns once every message
// handed in before the call has been acknowledged by the brokers. The Kafka source
// calls it before committing offsets, so an offset is committed only after the alerts
// derived from the events before it are durable. A message that sarama reports as
// failed (after its own retries) is counted and handed in again, with backoff, until it
// is delivered: nothing is dropped, and Flush reports the pending count and the last
// delivery error when its context ends first. A redelivered message may be written
// twice and out of order; alert consumers de-duplicate by the alert_id header (alert ids
// are deterministic).
//
// Concurrency: Alert and DeadLetter are safe for concurrent use (the engine calls them
// from its shard and ingest goroutines). They block only while sarama's bounded input
// queue is full, that is while the brokers are slow or away: that backpressure slows the
// engine, and through it the consumer, instead of growing a queue. The Producer owns
// three goroutines (successes, errors, redelivery) that stop in Close. Close the
// Producer after the engine that feeds it.
package kafkasink
