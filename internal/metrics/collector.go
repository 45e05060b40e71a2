package metrics

import (
	"math"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cepd/cepd/engine"
)

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc("cepd_"+name, help, labels, nil)
}

var (
	dEventsIn       = desc("events_received_total", "Records handed to the engine, by source and engine partition (decoded or not).", "source", "partition")
	dDecoded        = desc("events_decoded_total", "Records decoded into events (the others are dead-lettered).")
	dMatched        = desc("events_matched_total", "Events fed to the matchers.")
	dLate           = desc("events_late_total", "Events behind their partition's watermark (handled by --late-policy).")
	dDeadLetters    = desc("dead_letters_total", "Records dead-lettered, by reason.", "reason")
	dUnknownFields  = desc("event_unknown_fields_total", "Fields of decoded events that the schema does not declare (GET /v1/stats lists them by name).")
	dDropped        = desc("partial_matches_dropped_total", "Partial matches dropped by the per-key bound.")
	dEvalErrors     = desc("rule_eval_errors_total", "Condition evaluations of a rule that failed (and counted as false), by rule; restarts at 0 when the rule changes.", "rule")
	dRules          = desc("rules", "Rules running (shadow candidates included).")
	dWatermark      = desc("partition_watermark_seconds", "The partition's watermark (event time, Unix seconds); absent before its first event.", "partition")
	dWatermarkDelay = desc("partition_watermark_delay_seconds", "Wall clock minus the partition's watermark.", "partition")
	dIdle           = desc("partition_idle", "1 when the partition is idle (not holding the watermark back).", "partition")
	dBacklog        = desc("partition_backlog", "1 when the partition's source reports unread records.", "partition")
	dLag            = desc("kafka_lag_records", "Records between the claim's read position and the partition's end offset.", "topic", "partition")
	dKafkaErrors    = desc("kafka_consumer_errors_total", "Consumer errors reported by the Kafka client (fetch, commit, coordinator).")
	dKafkaSession   = desc("kafka_session_errors_total", "Failed consumer group joins and sessions.")
	dRebalances     = desc("kafka_rebalances_total", "Consumer group sessions started.")
	dCommitsSkipped = desc("kafka_commits_skipped_total", "Offset commit rounds skipped (sinks not delivered in time, engine not answering).")
	dCkptSaves      = desc("checkpoints_total", "Partition checkpoints saved.")
	dCkptFailures   = desc("checkpoint_failures_total", "Checkpoint rounds that failed (the store, Redis or disk, refused or did not answer).")
	dCkptDuration   = desc("checkpoint_duration_seconds", "Duration of the saved partition checkpoints, from the cut to the store's answer.")
	dCkptLast       = desc("checkpoint_last_duration_seconds", "Duration of the last saved partition checkpoint.")
	dCkptSize       = desc("checkpoint_last_size_bytes", "Encoded key states in the last saved checkpoint.")
	dCkptTime       = desc("checkpoint_last_success_timestamp_seconds", "When the last checkpoint was saved (Unix seconds); absent before the first.")
	dCkptAge        = desc("checkpoint_age_seconds", "Seconds since the last saved checkpoint; absent before the first.")
	dCkptLost       = desc("checkpoint_store_lost_total", "Times the checkpoint store was found to have lost a partition's data.")
	dRestored       = desc("state_restored_partial_matches_total", "Partial matches restored from checkpoints.")
	dSinkAlerts     = desc("sink_alerts_total", "Alerts handed to a delivering sink.", "sink")
	dSinkDelivered  = desc("sink_delivered_total", "Alerts (and dead letters, for Kafka) the sink's receiver acknowledged.", "sink")
	dSinkRetries    = desc("sink_retries_total", "Deliveries sent again after a failure.", "sink")
	dSinkFailures   = desc("sink_failures_total", "Deliveries given up on (rejected, or failed after the client's retries).", "sink")
	dSinkPending    = desc("sink_pending", "Alerts handed in and not yet acknowledged.", "sink")
	dIngestLog      = desc("ingest_log_bytes", "Size of the REST ingest log on disk.")
	dIngestSegs     = desc("ingest_log_segments", "Segment files of the REST ingest log.")
	dKeys           = desc("state_keys", "Keys with live state, at the last state walk.")
	dLive           = desc("partial_matches", "Live partial matches by rule, at the last state walk.", "rule")
	dRuleKeys       = desc("rule_keys", "Keys with a live partial match of the rule, at the last state walk.", "rule")
	dWalkTime       = desc("state_walk_timestamp_seconds", "When the last state walk (the source of cepd_partial_matches) ended.")
	dWalkTook       = desc("state_walk_duration_seconds", "How long the last state walk took (matching waits one step of it at most).")
	dLatency        = desc("engine_detection_latency_seconds", "Ingest of the event that made an alert (completed it, or moved event time past its window) to the alert handed to the sinks, all rules, since start (the engine's histogram: quantiles within about 6%; alerts made at the end of a stream or by an idle partition are not sampled).")
	dQueueWait      = desc("shard_queue_wait_seconds", "How long each batch of events waited in its shard's queue before the shard took it up, since start (the engine's histogram: quantiles within about 6%).")
)

var allDescs = []*prometheus.Desc{dEventsIn, dDecoded, dMatched, dLate, dDeadLetters, dUnknownFields, dDropped, dEvalErrors, dRules,
	dWatermark, dWatermarkDelay, dIdle, dBacklog, dLag, dKafkaErrors, dKafkaSession, dRebalances, dCommitsSkipped,
	dCkptSaves, dCkptFailures, dCkptDuration, dCkptLast, dCkptSize, dCkptTime, dCkptAge, dCkptLost, dRestored,
	dSinkAlerts, dSinkDelivered, dSinkRetries, dSinkFailures, dSinkPending, dIngestLog, dIngestSegs,
	dKeys, dLive, dRuleKeys, dWalkTime, dWalkTook, dLatency, dQueueWait}

// collector reads the runtime's counters at scrape time.
type collector struct{ m *Metrics }

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range allDescs {
		ch <- d
	}
}

func counter(ch chan<- prometheus.Metric, d *prometheus.Desc, v float64, labels ...string) {
	ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
}

func gauge(ch chan<- prometheus.Metric, d *prometheus.Desc, v float64, labels ...string) {
	ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
}

// quantiles are a summary's p50, p99 and p99.9 given in µs, in seconds.
func quantiles(p50, p99, p999 float64) map[float64]float64 {
	return map[float64]float64{0.5: p50 / 1e6, 0.99: p99 / 1e6, 0.999: p999 / 1e6}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	m := c.m
	now := time.Now()
	if eng := m.engine(); eng != nil {
		collectEngine(ch, eng, m.opts.Source, now)
	}
	c.collectEdges(ch)
}

// collectEngine reads the engine's counters, partitions and checkpointer.
func collectEngine(ch chan<- prometheus.Metric, eng Engine, source string, now time.Time) {
	sn := eng.Stats().Snapshot()
	var undecoded uint64
	for reason, n := range sn.DeadLetter {
		counter(ch, dDeadLetters, float64(n), reason)
		if reason != engine.ReasonLate {
			undecoded += n
		}
	}
	counter(ch, dDecoded, float64(sn.Events-min(undecoded, sn.Events)))
	counter(ch, dMatched, float64(sn.Matched))
	counter(ch, dLate, float64(sn.Late))
	counter(ch, dDropped, float64(sn.Dropped))
	counter(ch, dUnknownFields, float64(sn.UnknownFields.Total))
	ch <- prometheus.MustNewConstSummary(dLatency, sn.LatencyN, sn.LatencySum.Seconds(), quantiles(sn.LatencyP50, sn.LatencyP99, sn.LatencyP999))
	ch <- prometheus.MustNewConstSummary(dQueueWait, sn.QueueN, sn.QueueSum.Seconds(), quantiles(sn.QueueP50, sn.QueueP99, sn.QueueP999))

	rs := eng.Rules()
	gauge(ch, dRules, float64(len(rs.Rules)))
	for _, r := range rs.Rules {
		counter(ch, dEvalErrors, float64(r.EvalErrors()), r.Rule.ID)
	}

	for _, p := range eng.Partitions() {
		id := strconv.Itoa(p.ID)
		counter(ch, dEventsIn, float64(p.Events), source, id)
		gauge(ch, dIdle, b2f(p.Idle), id)
		gauge(ch, dBacklog, b2f(p.Backlog), id)
		if p.Watermark != math.MinInt64 {
			wm := time.UnixMilli(p.Watermark)
			gauge(ch, dWatermark, float64(p.Watermark)/1e3, id)
			gauge(ch, dWatermarkDelay, now.Sub(wm).Seconds(), id)
		}
	}

	ck := eng.CheckpointStats()
	counter(ch, dCkptSaves, float64(ck.Saves))
	counter(ch, dCkptFailures, float64(ck.Failures))
	counter(ch, dCkptLost, float64(ck.Lost))
	counter(ch, dRestored, float64(ck.Restored))
	ch <- prometheus.MustNewConstSummary(dCkptDuration, ck.Saves, ck.SaveTime.Seconds(), nil)
	gauge(ch, dCkptLast, ck.LastSaveTime.Seconds())
	gauge(ch, dCkptSize, float64(ck.LastBytes))
	if ck.Saves > 0 {
		gauge(ch, dCkptTime, float64(ck.LastSave.UnixNano())/1e9)
		gauge(ch, dCkptAge, now.Sub(ck.LastSave).Seconds())
	}

}

// collectEdges reads the Kafka source, the sinks, the ingest log and the last state walk.
func (c *collector) collectEdges(ch chan<- prometheus.Metric) {
	m := c.m
	m.mu.Lock()
	kafka := m.kafka
	sinks := make(map[string]func() SinkStats, len(m.sinks))
	for k, v := range m.sinks {
		sinks[k] = v
	}
	m.mu.Unlock()
	if kafka != nil {
		ks := kafka()
		counter(ch, dKafkaErrors, float64(ks.Errors))
		counter(ch, dKafkaSession, float64(ks.SessionErrors))
		counter(ch, dRebalances, float64(ks.Rebalances))
		counter(ch, dCommitsSkipped, float64(ks.CommitsSkipped))
		for _, p := range ks.Partitions {
			if p.Lag >= 0 {
				gauge(ch, dLag, float64(p.Lag), p.Topic, strconv.Itoa(int(p.Partition)))
			}
		}
	}
	for name, fn := range sinks {
		s := fn()
		counter(ch, dSinkAlerts, float64(s.Alerts), name)
		counter(ch, dSinkDelivered, float64(s.Delivered), name)
		counter(ch, dSinkRetries, float64(s.Retries), name)
		counter(ch, dSinkFailures, float64(s.Failures), name)
		gauge(ch, dSinkPending, float64(s.Pending), name)
	}
	if m.opts.IngestLog != nil {
		size, segs := m.opts.IngestLog()
		gauge(ch, dIngestLog, float64(size))
		gauge(ch, dIngestSegs, float64(segs))
	}
	if s := m.state.Load(); s != nil {
		gauge(ch, dKeys, float64(s.st.Keys))
		for i, id := range s.st.RuleIDs {
			if i < len(s.st.ByRule) {
				gauge(ch, dLive, float64(s.st.ByRule[i]), id)
			}
			if i < len(s.st.KeysByRule) {
				gauge(ch, dRuleKeys, float64(s.st.KeysByRule[i]), id)
			}
		}
		gauge(ch, dWalkTime, float64(s.at.UnixNano())/1e9)
		gauge(ch, dWalkTook, s.took.Seconds())
	}
}
