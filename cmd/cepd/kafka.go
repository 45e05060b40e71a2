package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/IBM/sarama"
	"github.com/spf13/pflag"
	"gopkg.in/yaml.v3"

	"github.com/cepd/cepd/alerts/kafkasink"
	cepv1 "github.com/cepd/cepd/api/cep/v1"
	"github.com/cepd/cepd/api/service"
	"github.com/cepd/cepd/engine"
	"github.com/cepd/cepd/internal/kafkaconf"
	kafkasource "github.com/cepd/cepd/source/kafka"
)

// kafkaConn is how cepd connects to a Kafka cluster (shared by serve, produce and gen).
type kafkaConn struct {
	brokers          []string
	clientID         string
	version          string
	tls              bool
	tlsCA            string
	tlsCert          string
	tlsKey           string
	tlsServerName    string
	tlsInsecure      bool
	saslMechanism    string
	saslUser         string
	saslPasswordFile string
}

// kafkaOptions are serve's Kafka settings: without brokers, cepd stays embedded.
type kafkaOptions struct {
	kafkaConn
	topics         []string
	group          string
	alertsTopic    string
	dlqTopic       string
	initialOffset  string
	isolation      string
	balance        string
	commitInterval time.Duration
	fetchMin       int32
	fetchDefault   int32
	fetchMax       int32
	maxBatch       int
	sessionTimeout time.Duration
	heartbeat      time.Duration
	rebalance      time.Duration
	// dedupe drops alerts the alerts topic already holds (after a crash); dedupeSlack is
	// how far before a replay it looks.
	dedupe      bool
	dedupeSlack time.Duration
}

// kafkaRun is what serve decides about its Kafka source beyond the flags, derived once
// and passed down.
type kafkaRun struct {
	// checkpoints: the engine checkpoints its state; partitions are then restored on
	// assignment and commits wait for checkpoints.
	checkpoints bool
	// sharedCheckpoints: the checkpoints go to Redis, which every instance reads, so
	// commits may reach the checkpoint.
	sharedCheckpoints bool
	// beforeReplay, if set, reads back the alerts delivered before a claim's replay
	// (the Deduper).
	beforeReplay func(ctx context.Context, topic string, partition int32, first time.Time) error
	// started, if set, is given the source once it exists (its lag, metrics, readiness).
	started func(*kafkasource.Source)
}

func (o *kafkaOptions) enabled() bool { return len(o.brokers) > 0 }

// addKafkaConnFlags registers the connection flags.
func addKafkaConnFlags(f *pflag.FlagSet, o *kafkaConn) {
	f.StringSliceVar(&o.brokers, "kafka-brokers", nil, "Kafka bootstrap brokers HOST:PORT[,...] (serve: consume from Kafka instead of staying embedded)")
	f.StringVar(&o.clientID, "kafka-client-id", "cepd", "Kafka client id")
	f.StringVar(&o.version, "kafka-version", "2.8.0", "Kafka protocol version to speak (0.11.0 or later; cooperative rebalancing needs 2.4)")
	f.BoolVar(&o.tls, "kafka-tls", false, "connect to Kafka over TLS")
	f.StringVar(&o.tlsCA, "kafka-tls-ca", "", "PEM file of the CA certificates that sign the brokers' (default: system roots)")
	f.StringVar(&o.tlsCert, "kafka-tls-cert", "", "PEM client certificate for mutual TLS")
	f.StringVar(&o.tlsKey, "kafka-tls-key", "", "PEM client key for mutual TLS")
	f.StringVar(&o.tlsServerName, "kafka-tls-server-name", "", "server name to verify the brokers' certificates against (default: the broker host)")
	f.BoolVar(&o.tlsInsecure, "kafka-tls-insecure-skip-verify", false, "do not verify the brokers' certificates (testing only)")
	f.StringVar(&o.saslMechanism, "kafka-sasl-mechanism", "", "SASL mechanism: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (empty: no SASL)")
	f.StringVar(&o.saslUser, "kafka-sasl-user", "", "SASL user")
	f.StringVar(&o.saslPasswordFile, "kafka-sasl-password-file", "", "file holding the SASL password (default: $CEPD_KAFKA_SASL_PASSWORD)")
}

// addKafkaFlags registers serve's Kafka flags.
func addKafkaFlags(f *pflag.FlagSet, o *kafkaOptions) {
	addKafkaConnFlags(f, &o.kafkaConn)
	f.StringSliceVar(&o.topics, "kafka-topics", []string{"events"}, "topics to consume events from")
	f.StringVar(&o.group, "kafka-group", "cepd", "consumer group (instances in one group share the partitions)")
	f.StringVar(&o.alertsTopic, "alerts-topic", "alerts", "topic to write alerts to (key: the entity key; headers rule_id, rule_version, alert_id)")
	f.BoolVar(&o.dedupe, "alerts-dedupe", true, "after a crash, do not deliver again the alerts the alerts topic already holds (read back before each replay)")
	f.DurationVar(&o.dedupeSlack, "alerts-dedupe-slack", 2*time.Minute, "how far before a replay's first event delivered alerts are looked for")
	f.StringVar(&o.dlqTopic, "dlq-topic", "cepd-dlq", "topic to write malformed and late events to (original bytes; headers reason, error, source_*)")
	f.StringVar(&o.initialOffset, "kafka-initial-offset", "earliest", "where a group without committed offsets starts: earliest or latest")
	f.StringVar(&o.isolation, "kafka-isolation", kafkasource.ReadCommitted, "records of topics written in transactions to read: read_committed (aborted transactions' records are not events) or read_uncommitted")
	f.StringVar(&o.balance, "kafka-balance", kafkasource.BalanceCooperativeSticky, "partition assignment: cooperative-sticky, sticky, range or roundrobin")
	f.DurationVar(&o.commitInterval, "kafka-commit-interval", time.Second, "how often safe offsets are committed (after the alerts before them are acknowledged)")
	f.Int32Var(&o.fetchMin, "kafka-fetch-min", 0, "fetch.min.bytes (0: 1 byte)")
	f.Int32Var(&o.fetchDefault, "kafka-fetch-default", 0, "bytes fetched per partition and request (0: 1 MiB)")
	f.Int32Var(&o.fetchMax, "kafka-fetch-max", 0, "most bytes fetched per partition and request (0: unlimited)")
	f.IntVar(&o.maxBatch, "kafka-max-batch", 1024, "most records handed to the engine at once")
	f.DurationVar(&o.sessionTimeout, "kafka-session-timeout", 10*time.Second, "group session timeout: how long a silent instance keeps its partitions")
	f.DurationVar(&o.heartbeat, "kafka-heartbeat-interval", time.Second, "group heartbeat interval (also how fast a rebalance is noticed)")
	f.DurationVar(&o.rebalance, "kafka-rebalance-timeout", 30*time.Second, "how long a rebalance waits for members to join again (a member killed while joining holds it up this long)")
}

// conn returns the connection settings as data: the SASL password from
// --kafka-sasl-password-file, or else $CEPD_KAFKA_SASL_PASSWORD.
func (o *kafkaConn) conn() (kafkaconf.Conn, error) {
	c := kafkaconf.Conn{Brokers: o.brokers, ClientID: o.clientID, Version: o.version, TLS: o.tls, TLSCA: o.tlsCA,
		TLSCert: o.tlsCert, TLSKey: o.tlsKey, TLSServerName: o.tlsServerName, TLSInsecure: o.tlsInsecure,
		SASLMechanism: o.saslMechanism, SASLUser: o.saslUser}
	if o.saslMechanism == "" {
		return c, nil
	}
	c.SASLPassword = os.Getenv("CEPD_KAFKA_SASL_PASSWORD")
	if o.saslPasswordFile != "" {
		b, err := os.ReadFile(o.saslPasswordFile)
		if err != nil {
			return c, fmt.Errorf("--kafka-sasl-password-file: %w", err)
		}
		c.SASLPassword = strings.TrimRight(string(b), "\r\n")
	}
	return c, nil
}

// saramaConfig builds the connection part of the sarama configuration.
func (o *kafkaConn) saramaConfig() (*sarama.Config, error) {
	c, err := o.conn()
	if err != nil {
		return nil, err
	}
	return c.Sarama()
}

// sourceConfig returns the Kafka source configuration.
func (o *kafkaOptions) sourceConfig(base *sarama.Config, r kafkaRun) kafkasource.Config {
	return kafkasource.Config{Brokers: o.brokers, Topics: o.topics, Group: o.group, Base: base,
		InitialOffset: o.initialOffset, Isolation: o.isolation, Balance: o.balance, CommitInterval: o.commitInterval,
		FetchMin: o.fetchMin, FetchDefault: o.fetchDefault, FetchMax: o.fetchMax, MaxBatch: o.maxBatch,
		SessionTimeout: o.sessionTimeout, HeartbeatInterval: o.heartbeat, RebalanceTimeout: o.rebalance, Checkpoints: r.checkpoints,
		SharedCheckpoints: r.sharedCheckpoints, BeforeReplay: r.beforeReplay, StopTimeout: kafkaStopTimeout}
}

// openKafkaSinks connects the producer of alerts and dead letters; delivered (may be nil)
// is told each alert's delivery latency. serve makes it an output of the alert pipeline
// and the engine's dead-letter sink, then calls runKafka.
func openKafkaSinks(o *kafkaOptions, delivered func(time.Duration)) (*kafkasink.Producer, error) {
	base, err := o.saramaConfig()
	if err != nil {
		return nil, err
	}
	if o.alertsTopic == "" || o.dlqTopic == "" {
		return nil, errors.New("--alerts-topic and --dlq-topic must not be empty")
	}
	return kafkasink.New(kafkasink.Config{Brokers: o.brokers, Base: base, AlertsTopic: o.alertsTopic,
		DeadLetterTopic: o.dlqTopic, Locate: kafkasource.Locator(o.topics), Delivered: delivered})
}

// newKafkaSource builds the Kafka source feeding eng; sinks (may be nil) are flushed
// before every commit.
func newKafkaSource(eng *engine.Engine, sinks kafkasource.Flusher, o *kafkaOptions, r kafkaRun) (*kafkasource.Source, error) {
	base, err := o.saramaConfig()
	if err != nil {
		return nil, err
	}
	return kafkasource.New(o.sourceConfig(base, r), eng, sinks)
}

// runKafka consumes the configured topics into eng until ctx ends; each claim's last
// round (drain, checkpoint, flush sinks, commit) happens before it returns, within
// kafkaStopTimeout. Offsets are committed only after sinks have delivered the alerts
// before them. eng must keep running until it returns (start the engine with a context
// that outlives ctx, and Close it after); sinks is left open for the caller to close
// after the engine.
func runKafka(ctx context.Context, eng *engine.Engine, sinks kafkasource.Flusher, o *kafkaOptions, r kafkaRun) error {
	src, err := newKafkaSource(eng, sinks, o, r)
	if err != nil {
		return err
	}
	if r.started != nil {
		r.started(src)
	}
	slog.Info("cepd consuming from Kafka", "brokers", o.brokers, "topics", o.topics, "group", o.group,
		"alerts_topic", o.alertsTopic, "dlq_topic", o.dlqTopic, "balance", o.balance)
	err = src.Run(ctx)
	st := src.Stats()
	slog.Info("kafka source stopped: every released partition had its final checkpoint, flush and commit", "consumed", st.Consumed,
		"malformed", st.Malformed, "commits", st.Commits, "commits_skipped", st.CommitsSkipped, "abandoned", st.Abandoned,
		"rebalances", st.Rebalances, "errors", st.Errors, "session_errors", st.SessionErrors)
	return err
}

// kafkaStopTimeout bounds how long the Kafka source's stop waits for in-flight batches
// and the partitions' final commits (kafkasource.Config.StopTimeout).
const kafkaStopTimeout = 10 * time.Second

// applyConfigFile sets flags from a YAML file of flag-name: value pairs (lists for list
// flags), e.g. "kafka-brokers: [k1:9092, k2:9092]". Flags given on the command line win.
// Unknown names are errors pointing at their line.
func applyConfigFile(f *pflag.FlagSet, path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if len(doc.Content) == 0 {
		return nil
	}
	m := doc.Content[0]
	if m.Kind != yaml.MappingNode {
		return fmt.Errorf("%s:%d:%d: want a mapping of flag names to values", path, m.Line, m.Column)
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		fl := f.Lookup(k.Value)
		if fl == nil || k.Value == "config" || k.Value == "help" {
			return fmt.Errorf("%s:%d:%d: unknown setting %q (settings are the flag names without --)", path, k.Line, k.Column, k.Value)
		}
		if line, ok := seen[k.Value]; ok {
			return fmt.Errorf("%s:%d:%d: %s is set twice (first on line %d)", path, k.Line, k.Column, k.Value, line)
		}
		seen[k.Value] = k.Line
		if fl.Changed {
			continue
		}
		var val string
		switch v.Kind {
		case yaml.ScalarNode:
			val = v.Value
		case yaml.SequenceNode:
			var items []string
			for _, it := range v.Content {
				if it.Kind != yaml.ScalarNode {
					return fmt.Errorf("%s:%d:%d: %s: list items must be plain values", path, it.Line, it.Column, k.Value)
				}
				items = append(items, it.Value)
			}
			val = strings.Join(items, ",")
		default:
			return fmt.Errorf("%s:%d:%d: %s: want a value or a list", path, v.Line, v.Column, k.Value)
		}
		if err := f.Set(k.Value, val); err != nil {
			return fmt.Errorf("%s:%d:%d: %s: %w", path, v.Line, v.Column, k.Value, err)
		}
	}
	return nil
}

// kafkaLag reports the source's lag per partition for the Admin service.
func kafkaLag(src *kafkasource.Source) service.LagFunc {
	return func() []*cepv1.PartitionLag {
		var out []*cepv1.PartitionLag
		for _, p := range src.Stats().Partitions {
			l := &cepv1.PartitionLag{Topic: p.Topic, Partition: p.Partition, NextOffset: p.Next, EndOffset: p.HighWater}
			if p.Next >= 0 {
				l.Lag = max(0, p.HighWater-p.Next)
			}
			out = append(out, l)
		}
		return out
	}
}

// openDeduper connects the reader of delivered alerts; its read is the source's
// beforeReplay (kafkaRun), called before each claim's replay.
func openDeduper(o *kafkaOptions) (*kafkasink.Deduper, func(ctx context.Context, topic string, partition int32, first time.Time) error, error) {
	base, err := o.saramaConfig()
	if err != nil {
		return nil, nil, err
	}
	d, err := kafkasink.NewDeduper(kafkasink.DedupeConfig{Brokers: o.brokers, Base: base, Topic: o.alertsTopic, Slack: o.dedupeSlack})
	if err != nil {
		return nil, nil, err
	}
	read := func(ctx context.Context, topic string, partition int32, first time.Time) error {
		if err := d.Load(ctx, first); err != nil {
			return err
		}
		st := d.Stats()
		slog.Debug("kafka: delivered alerts read back before a replay", "topic", topic, "partition", partition,
			"from", first.Add(-o.dedupeSlack), "known", st.Known, "read", st.Read, "dropped", st.Dropped)
		return nil
	}
	return d, read, nil
}
