package main

import (
	"io/fs"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/spf13/pflag"

	"github.com/cepd/cepd/alerts/kafkasink"
	"github.com/cepd/cepd/alerts/webhook"
	"github.com/cepd/cepd/engine"
	"github.com/cepd/cepd/internal/metrics"
	kafkasource "github.com/cepd/cepd/source/kafka"
)

// opsFlags are serve's operational settings.
type opsFlags struct {
	stateWalk time.Duration // how often cepd_partial_matches is counted
}

func addOpsFlags(f *pflag.FlagSet, o *opsFlags) {
	f.DurationVar(&o.stateWalk, "state-walk-interval", 15*time.Second,
		"how often the live partial matches per rule and the keys are counted for /metrics (a walk in steps: matching waits one step, ~1 ms, at most)")
}

// newServeMetrics returns the metrics of a serve process; ingestDir is the REST ingest
// log's directory ("" without one).
func newServeMetrics(kafka bool, ingestDir string) *metrics.Metrics {
	o := metrics.Options{Source: "rest"}
	if kafka {
		o.Source = "kafka"
	}
	if ingestDir != "" {
		o.IngestLog = func() (int64, int) { return dirSize(ingestDir) }
	}
	return metrics.New(o)
}

// dirSize returns the bytes and the number of the regular files under dir.
func dirSize(dir string) (size int64, files int) {
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return nil
		}
		if info, err := d.Info(); err == nil {
			size += info.Size()
			files++
		}
		return nil
	})
	return size, files
}

// webhookMetrics reads a webhook sender's counters for /metrics.
func webhookMetrics(s *webhook.Sender) func() metrics.SinkStats {
	return func() metrics.SinkStats {
		st := s.Stats()
		return metrics.SinkStats{Alerts: st.Alerts, Delivered: st.Delivered, Retries: st.Retries, Failures: st.Rejected, Pending: st.Pending}
	}
}

// kafkaSinkMetrics reads the Kafka producer's counters (alerts and dead letters) for
// /metrics.
func kafkaSinkMetrics(p *kafkasink.Producer) func() metrics.SinkStats {
	return func() metrics.SinkStats {
		st := p.Stats()
		return metrics.SinkStats{Alerts: st.Alerts + st.DeadLetters, Delivered: st.Acked, Retries: st.Redelivered,
			Failures: st.Failures, Pending: int64(st.Pending)}
	}
}

// kafkaSourceMetrics reads the Kafka source's counters and lag for /metrics.
func kafkaSourceMetrics(src *kafkasource.Source) func() metrics.KafkaStats {
	return func() metrics.KafkaStats {
		st := src.Stats()
		out := metrics.KafkaStats{Errors: st.Errors, SessionErrors: st.SessionErrors, Rebalances: st.Rebalances,
			CommitsSkipped: st.CommitsSkipped}
		for _, p := range st.Partitions {
			lag := int64(-1)
			if p.Next >= 0 {
				lag = max(0, p.HighWater-p.Next)
			}
			out.Partitions = append(out.Partitions, metrics.KafkaPartition{Topic: p.Topic, Partition: p.Partition, Lag: lag})
		}
		return out
	}
}

// kafkaClaimed is the Kafka part of readiness: a group session is running and every
// partition it assigned is claimed and restored (a claim is listed only once restored).
func kafkaClaimed(src *kafkasource.Source) func() (bool, string) {
	return func() (bool, string) {
		st := src.Stats()
		if st.Rebalances == 0 {
			return false, "joining the consumer group"
		}
		if open := st.Assigned - st.Revoked; open > uint64(len(st.Partitions)) {
			return false, "restoring claimed partitions"
		}
		return true, ""
	}
}

// dlqLog logs dead letters with their reason, at most dlqLogBurst a second; the ones
// left out are counted in the next line (and all of them in cepd_dead_letters_total).
type dlqLog struct {
	log     *slog.Logger
	metrics *metrics.Metrics // nil: not counted
	now     func() time.Time // the clock (nil: time.Now)

	mu         sync.Mutex
	window     time.Time // start of the current second
	logged     int       // lines in the current second
	suppressed int       // dead letters not logged since the last line
}

// dlqLogBurst is how many dead letters are logged a second at most.
const dlqLogBurst = 10

// DeadLetter implements engine.DeadLetterSink. It never logs the record itself (events
// may hold personal data): its reason, error, partition and offset.
func (d *dlqLog) DeadLetter(dl engine.DeadLetter) {
	now := time.Now()
	if d.now != nil {
		now = d.now()
	}
	d.mu.Lock()
	if now.Sub(d.window) >= time.Second {
		d.window, d.logged = now, 0
	}
	if d.logged >= dlqLogBurst {
		d.suppressed++
		d.mu.Unlock()
		return
	}
	d.logged++
	suppressed := d.suppressed
	d.suppressed = 0
	d.mu.Unlock()
	d.log.Warn("dead letter", "reason", dl.Reason, "error", dl.Error, "partition", dl.Partition, "offset", dl.Offset,
		"not_logged_before", suppressed)
	if d.metrics != nil {
		d.metrics.DeadLetterLogged(dl.Reason)
	}
}

// deadLetterSinks hands every dead letter to each sink in turn.
type deadLetterSinks []engine.DeadLetterSink

// DeadLetter implements engine.DeadLetterSink.
func (ds deadLetterSinks) DeadLetter(d engine.DeadLetter) {
	for _, s := range ds {
		s.DeadLetter(d)
	}
}
