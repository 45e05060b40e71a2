// Package bench measures the whole runtime over a file of events in one process: the
// logic of `cepd bench`, which only wires flags to it. Run splits the records by key over
// partitions (as Kafka keying would), feeds them through an engine with engine.Runner
// (the loop every bounded run uses, so the tests that compare replay, bench and REST
// alerts exercise this very path), and reports throughput beside the cost of decoding
// alone, detection latency, live state, memory per key, checkpoint and reload costs, and
// alerts by rule. Rules keyed by other fields run in their key spaces, as replay runs
// them, the records then on one partition (Run). The records are decoded once outside the
// engine: the timed pass that measures the decoder's floor also keys the split. AtHalfRate
// runs as fast as possible, then offered half that rate, for the detection latency at half
// the maximum. Replicate builds a rule set with every rule repeated, to measure many
// rules.
//
// Run is safe to call from several goroutines; each call runs an engine of its own.
package bench
