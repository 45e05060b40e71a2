package kafkasink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/IBM/sarama"

	"github.com/cepd/cepd/internal/acks"
)

// DefaultVersion is the Kafka protocol version assumed when the base config names none
// (idempotence needs 0.11 or later).
var DefaultVersion = sarama.V2_8_0_0

// Config configures a Producer. Brokers is required; so is AlertsTopic for Alert and
// DeadLetterTopic for DeadLetter.
type Config struct {
	Brokers []string
	// Base carries the connection settings shared with the consumer (client id, Kafka
	// version, TLS, SASL). It is copied, never modified; nil means sarama's defaults
	// with DefaultVersion. The producer settings below override its Producer section.
	Base *sarama.Config
	// AlertsTopic receives alerts; DeadLetterTopic receives dead letters.
	AlertsTopic, DeadLetterTopic string
	// Locate names the Kafka topic and partition behind an engine partition id, for the
	// dead-letter headers (nil: the engine id is written as source_partition).
	Locate func(part int) (topic string, partition int32, ok bool)
	// Retries is how many times sarama retries a failed produce request before
	// reporting the message as failed (default 10). A message that failed is then
	// handed in again after RedeliveryBackoff (doubling up to 5s) until delivered.
	Retries           int
	RedeliveryBackoff time.Duration
	// Linger is how long messages may wait to be batched (default 0: sent at once;
	// batching happens anyway while a request is in flight).
	Linger time.Duration
	// Log receives delivery failures (nil: slog.Default()).
	Log *slog.Logger
	// Delivered, if set, is told how long each acknowledged message took from being
	// handed in to the brokers' acknowledgement, redeliveries included (metrics).
	Delivered func(took time.Duration)
}

// Stats are the producer's counters.
type Stats struct {
	Alerts      uint64 `json:"alerts"`       // alerts handed in
	DeadLetters uint64 `json:"dead_letters"` // dead letters handed in
	Lines       uint64 `json:"lines"`        // event lines handed in (LineWriter)
	Acked       uint64 `json:"acked"`        // messages acknowledged by the brokers
	Pending     uint64 `json:"pending"`      // handed in, not yet acknowledged
	Failures    uint64 `json:"failures"`     // deliveries that failed after sarama's retries
	Redelivered uint64 `json:"redelivered"`  // messages handed to sarama again after a failure
	EncodeErrs  uint64 `json:"encode_errors"`
	LastError   string `json:"last_error,omitempty"`
}

// Producer writes alerts, dead letters and event lines to Kafka with an idempotent
// producer (acks=all). Every message handed in is delivered or kept for redelivery; none
// is dropped. Create it with New, call Flush before committing source offsets, and
// Close it after the engine that feeds it.
type Producer struct {
	cfg Config
	ap  sarama.AsyncProducer
	log *slog.Logger
	trk *acks.Tracker

	mu     sync.RWMutex // held shared while handing a message in; Close takes it exclusively
	closed bool

	redo     chan struct{} // wakes the redelivery loop
	redoMu   sync.Mutex
	redoQ    []*sarama.ProducerMessage
	stopRedo chan struct{}
	wg       sync.WaitGroup

	alerts, deadLetters, lines, acked, failures, redelivered, encodeErrs atomic.Uint64
	lastErr                                                              atomic.Pointer[string]
}

// meta travels with a message through sarama.
type meta struct {
	seq      uint64
	attempts int
	in       time.Time // when it was handed in
}

// copyBase returns a copy of base, or sarama's defaults with DefaultVersion.
func copyBase(base *sarama.Config) sarama.Config {
	if base != nil {
		return *base
	}
	c := *sarama.NewConfig()
	c.Version = DefaultVersion
	return c
}

// SaramaConfig returns the producer configuration New uses for cfg.
func SaramaConfig(cfg Config) *sarama.Config {
	c := copyBase(cfg.Base)
	if !c.Version.IsAtLeast(sarama.V0_11_0_0) {
		c.Version = DefaultVersion
	}
	c.Producer.Idempotent = true
	c.Producer.RequiredAcks = sarama.WaitForAll
	c.Net.MaxOpenRequests = 1
	c.Producer.Retry.Max = cfg.Retries
	if c.Producer.Retry.Max <= 0 {
		c.Producer.Retry.Max = 10
	}
	c.Producer.Retry.Backoff = 100 * time.Millisecond
	c.Producer.Return.Successes = true
	c.Producer.Return.Errors = true
	c.Producer.Partitioner = sarama.NewMurmur2Partitioner
	c.Producer.Flush.Frequency = cfg.Linger
	return &c
}

// New connects a producer.
func New(cfg Config) (*Producer, error) {
	if len(cfg.Brokers) == 0 {
		return nil, errors.New("kafka sink: no brokers")
	}
	if cfg.RedeliveryBackoff <= 0 {
		cfg.RedeliveryBackoff = 200 * time.Millisecond
	}
	ap, err := sarama.NewAsyncProducer(cfg.Brokers, SaramaConfig(cfg))
	if err != nil {
		return nil, fmt.Errorf("kafka producer: %w", err)
	}
	p := &Producer{cfg: cfg, ap: ap, log: cfg.Log, trk: acks.New(),
		redo: make(chan struct{}, 1), stopRedo: make(chan struct{})}
	if p.log == nil {
		p.log = slog.Default()
	}
	p.wg.Add(3)
	go p.readSuccesses()
	go p.readErrors()
	go p.redeliver()
	return p, nil
}

// send hands one message to sarama. It blocks while sarama's input queue is full (the
// brokers are slow or away): that is backpressure on whoever produces, by design.
func (p *Producer) send(msg *sarama.ProducerMessage) error {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.closed {
		return errors.New("kafka sink: producer closed")
	}
	msg.Metadata = &meta{seq: p.trk.Add(), in: time.Now()}
	p.ap.Input() <- msg
	return nil
}

func (p *Producer) readSuccesses() {
	defer p.wg.Done()
	for m := range p.ap.Successes() {
		p.acked.Add(1)
		md := m.Metadata.(*meta)
		p.trk.Ack(md.seq)
		if p.cfg.Delivered != nil {
			p.cfg.Delivered(time.Since(md.in))
		}
	}
}

func (p *Producer) readErrors() {
	defer p.wg.Done()
	var lastLog time.Time
	for pe := range p.ap.Errors() {
		p.failures.Add(1)
		msg := fmt.Sprintf("topic %s: %v", pe.Msg.Topic, pe.Err)
		p.lastErr.Store(&msg)
		md := pe.Msg.Metadata.(*meta)
		md.attempts++
		// One line per burst of failures, not one per message.
		if time.Since(lastLog) > 5*time.Second {
			p.log.Warn("kafka delivery failed; redelivering", "topic", pe.Msg.Topic, "attempt", md.attempts,
				"failures", p.failures.Load(), "err", pe.Err)
			lastLog = time.Now()
		}
		// A fresh message: sarama keeps retry state in the one it returned.
		again := &sarama.ProducerMessage{Topic: pe.Msg.Topic, Key: pe.Msg.Key, Value: pe.Msg.Value,
			Headers: pe.Msg.Headers, Metadata: md}
		p.redoMu.Lock()
		p.redoQ = append(p.redoQ, again)
		p.redoMu.Unlock()
		select {
		case p.redo <- struct{}{}:
		default:
		}
	}
}

// redeliver hands failed messages to sarama again, backing off while failures go on.
func (p *Producer) redeliver() {
	defer p.wg.Done()
	backoff := p.cfg.RedeliveryBackoff
	var last time.Time
	for {
		select {
		case <-p.stopRedo:
			return
		case <-p.redo:
		}
		if time.Since(last) > 10*time.Second {
			backoff = p.cfg.RedeliveryBackoff // failures stopped for a while: start over
		}
		select {
		case <-p.stopRedo:
			return
		case <-time.After(backoff):
		}
		last = time.Now()
		backoff = min(2*backoff, 5*time.Second)
		p.redoMu.Lock()
		q := p.redoQ
		p.redoQ = nil
		p.redoMu.Unlock()
		for i, m := range q {
			p.mu.RLock()
			if p.closed {
				p.mu.RUnlock()
				p.redoMu.Lock()
				p.redoQ = append(q[i:], p.redoQ...)
				p.redoMu.Unlock()
				return
			}
			p.ap.Input() <- m
			p.mu.RUnlock()
			p.redelivered.Add(1)
		}
	}
}

// Flush returns once every message handed in before the call has been acknowledged by
// the brokers. When ctx ends first it returns an error saying how many are still
// pending and why the last delivery failed; the messages stay queued for redelivery
// and a later Flush can succeed.
func (p *Producer) Flush(ctx context.Context) error {
	n := p.trk.Issued()
	if err := p.trk.Wait(ctx, n); err != nil {
		return p.undelivered(err)
	}
	return nil
}

func (p *Producer) undelivered(cause error) error {
	last := ""
	if s := p.lastErr.Load(); s != nil {
		last = "; last delivery error: " + *s
	}
	return fmt.Errorf("kafka sink: %d messages not acknowledged (%d delivery failures)%s: %w",
		p.trk.Pending(), p.failures.Load(), last, cause)
}

// Close stops the producer after delivering what sarama holds. Messages still waiting
// for redelivery are reported in the error. Call Flush first to deliver everything.
func (p *Producer) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	p.mu.Unlock()
	close(p.stopRedo)
	err := p.ap.Close()
	p.wg.Wait()
	if n := p.trk.Pending(); n > 0 {
		return p.undelivered(fmt.Errorf("closed with %d undelivered (%v)", n, err))
	}
	return nil
}

// Stats returns the producer's counters.
func (p *Producer) Stats() Stats {
	s := Stats{Alerts: p.alerts.Load(), DeadLetters: p.deadLetters.Load(), Lines: p.lines.Load(),
		Acked: p.acked.Load(), Pending: p.trk.Pending(), Failures: p.failures.Load(),
		Redelivered: p.redelivered.Load(), EncodeErrs: p.encodeErrs.Load()}
	if e := p.lastErr.Load(); e != nil {
		s.LastError = *e
	}
	return s
}
