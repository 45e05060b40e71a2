package metrics

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/cepd/cepd/alerts"
	"github.com/cepd/cepd/engine"
	"github.com/cepd/cepd/internal/run"
)

// Engine is what the metrics read of the runtime. Every method must be safe to call
// concurrently with ingest; all but Inspect must return at once (no waiting for shards).
type Engine interface {
	Stats() *engine.Stats
	Rules() *engine.RuleSet
	CheckpointStats() engine.CheckpointStats
	Partitions() []engine.PartitionStats
	Inspect(ctx context.Context, footprint bool) (engine.StateStats, error)
}

// KafkaStats is what the Kafka source reports.
type KafkaStats struct {
	Errors, SessionErrors, Rebalances, CommitsSkipped uint64
	Partitions                                        []KafkaPartition
}

// KafkaPartition is one claimed topic partition.
type KafkaPartition struct {
	Topic     string
	Partition int32
	Lag       int64 // records between the read position and the end offset; -1 unknown
}

// SinkStats is what a delivering sink (Kafka, webhook) reports.
type SinkStats struct {
	Alerts    uint64 // handed in
	Delivered uint64 // acknowledged
	Retries   uint64 // sent again after a failure
	Failures  uint64 // given up on (rejected, or failed after the client's retries)
	Pending   int64  // handed in, not yet acknowledged
}

// Options configures New.
type Options struct {
	// Source names where events come from ("rest" or "kafka"), the source label of
	// cepd_events_received_total.
	Source string
	// IngestLog, if set, returns the ingest log's size in bytes and segments.
	IngestLog func() (bytes int64, segments int)
}

// Metrics is the cepd_ metrics of one server instance, with its own registry.
type Metrics struct {
	reg  *prometheus.Registry
	opts Options

	alerts      *prometheus.CounterVec
	sinceIngest *prometheus.HistogramVec
	sinceEvent  *prometheus.HistogramVec
	reloads     prometheus.Counter
	reloadPause prometheus.Histogram
	deadLogged  *prometheus.CounterVec
	sinkLatency *prometheus.HistogramVec
	suppressed  *prometheus.CounterVec

	mu       sync.Mutex
	eng      Engine
	kafka    func() KafkaStats
	feedback func() []RuleFeedback
	sinks    map[string]func() SinkStats

	state atomic.Pointer[stateSample]
}

// stateSample is the last result of the stepped state walk.
type stateSample struct {
	at   time.Time
	took time.Duration
	st   engine.StateStats
}

// New makes the metrics and registers them, with the Go runtime and process collectors,
// in a registry of their own. The engine's are read once SetEngine is called (the engine
// is made after the alert observer it is given).
func New(o Options) *Metrics {
	if o.Source == "" {
		o.Source = "rest"
	}
	m := &Metrics{reg: prometheus.NewRegistry(), opts: o, sinks: map[string]func() SinkStats{}}
	m.alerts = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "cepd", Name: "alerts_total",
		Help: "Alerts made, by rule, severity and kind (match or timeout); kind=match counts the rule's complete matches."},
		[]string{"rule", "severity", "kind"})
	m.sinceIngest = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "cepd", Name: "detection_latency_seconds",
		Help:    "Time from the event that made an alert (completed a match, or moved event time past its window) entering the engine to the alert being handed to the sinks, by rule.",
		Buckets: prometheus.ExponentialBuckets(100e-6, 4, 10)}, []string{"rule"})
	m.sinceEvent = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "cepd", Name: "event_time_latency_seconds",
		Help:    "Time from the event time of the last matched event (a timeout's expiry time) to the alert, by rule.",
		Buckets: []float64{0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600}}, []string{"rule"})
	m.reloads = prometheus.NewCounter(prometheus.CounterOpts{Namespace: "cepd", Name: "rule_reloads_total",
		Help: "Rule set swaps the engine made (each API change or rules-directory edit that changed the set)."})
	m.reloadPause = prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "cepd", Name: "rule_reload_pause_seconds",
		Help:    "Longest time one shard's matching paused for a rule set swap.",
		Buckets: prometheus.ExponentialBuckets(10e-6, 4, 10)})
	m.deadLogged = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "cepd", Name: "dead_letters_logged_total",
		Help: "Dead letters written to the log, by reason (the log is rate-limited; cepd_dead_letters_total counts them all)."},
		[]string{"reason"})
	m.sinkLatency = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "cepd", Name: "sink_delivery_latency_seconds",
		Help:    "Time from an alert (or a dead letter, for Kafka) handed to a delivering sink to its receiver's acknowledgement, retries included.",
		Buckets: prometheus.ExponentialBuckets(1e-3, 4, 10)}, []string{"sink"})
	m.suppressed = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "cepd", Name: "alerts_suppressed_total",
		Help: "Alerts recorded but not delivered to the blocking sinks because an analyst suppressed their key, by rule."},
		[]string{"rule"})
	m.reg.MustRegister(m.suppressed, &decideCollector{m: m}, m.sinkLatency, m.alerts, m.sinceIngest, m.sinceEvent, m.reloads, m.reloadPause, m.deadLogged,
		&collector{m: m},
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{Namespace: "cepd"}))
	return m
}

// Registry returns the registry the metrics are in.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the metrics in the Prometheus text or OpenMetrics format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg, EnableOpenMetrics: true,
		ErrorHandling: promhttp.ContinueOnError, MaxRequestsInFlight: 4, Timeout: 10 * time.Second})
}

// Observe records an alert: wire it as the engine's OnAlert. Once per alert, never per
// event.
func (m *Metrics) Observe(a *alerts.Alert, sinceIngest time.Duration) {
	m.alerts.WithLabelValues(a.RuleID, a.Severity, a.Kind).Inc()
	if a.Suppressed != nil {
		m.suppressed.WithLabelValues(a.RuleID).Inc()
	}
	if sinceIngest >= 0 {
		m.sinceIngest.WithLabelValues(a.RuleID).Observe(sinceIngest.Seconds())
	}
	at := a.LastEventTime
	if a.TimeoutAt != nil {
		at = *a.TimeoutAt
	}
	if !at.IsZero() {
		now := time.Now()
		if a.DetectedAt != nil {
			now = *a.DetectedAt
		}
		m.sinceEvent.WithLabelValues(a.RuleID).Observe(max(0, now.Sub(at).Seconds()))
	}
}

// ObserveReload records a rule set swap.
func (m *Metrics) ObserveReload(st engine.ReloadStats) {
	m.reloads.Inc()
	m.reloadPause.Observe(st.Pause.Seconds())
}

// SinkDelivered returns the function a delivering sink calls with each delivery's
// latency (webhook.Config.Delivered, the Kafka producer's).
func (m *Metrics) SinkDelivered(sink string) func(time.Duration) {
	h := m.sinkLatency.WithLabelValues(sink)
	return func(d time.Duration) { h.Observe(d.Seconds()) }
}

// DeadLetterLogged counts a dead letter written to the log.
func (m *Metrics) DeadLetterLogged(reason string) { m.deadLogged.WithLabelValues(reason).Inc() }

// SetEngine makes the metrics read eng.
func (m *Metrics) SetEngine(eng Engine) {
	m.mu.Lock()
	m.eng = eng
	m.mu.Unlock()
}

func (m *Metrics) engine() Engine {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.eng
}

// SetKafka makes the metrics read the Kafka source's counters and lag through fn.
func (m *Metrics) SetKafka(fn func() KafkaStats) {
	m.mu.Lock()
	m.kafka = fn
	m.mu.Unlock()
}

// AddSink makes the metrics read a delivering sink's counters through fn.
func (m *Metrics) AddSink(name string, fn func() SinkStats) {
	m.mu.Lock()
	m.sinks[name] = fn
	m.mu.Unlock()
}

// RunInspect walks the state (engine.Inspect, in steps) every interval until ctx ends,
// caching the live partial matches per rule and the keys for the scrapes (interval <= 0:
// never).
func (m *Metrics) RunInspect(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		return
	}
	run.Paced(ctx, interval, func() {
		began := time.Now()
		if eng := m.engine(); eng != nil {
			st, err := eng.Inspect(ctx, false)
			if err == nil {
				m.state.Store(&stateSample{at: time.Now(), took: time.Since(began), st: st})
			}
		}
	})
}
