// Package metrics exports cepd's state as Prometheus metrics under the cepd_ namespace.
//
// Almost everything is read at scrape time from counters the runtime keeps anyway
// (engine.Stats, the checkpointer, the partitions' atomics, the Kafka source and the
// sinks), so a scrape adds no work to the event path. Only three things are recorded as
// they happen, each at most once per alert or per reload, never per event: alerts by rule,
// severity and kind, and the two detection latencies (Observe, wired as the engine's
// OnAlert); rule reloads and their pause (ObserveReload).
//
// Live partial matches and keys per rule come from engine.Inspect, the stepped walk over
// the shards (a few thousand keys per shard message), run by RunInspect every interval
// and cached: a scrape never walks the state.
//
// Labels are bounded: rule ids, severities, kinds, partitions, topics, sinks and
// dead-letter reasons. No key or event id is ever a label.
//
// Concurrency: every method is safe for concurrent use. Each Metrics has its own
// registry; nothing is registered with Prometheus's global default registry.
package metrics
