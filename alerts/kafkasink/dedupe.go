package kafkasink

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/IBM/sarama"

	"github.com/cepd/cepd/alerts"
)

// DedupeConfig configures a Deduper.
type DedupeConfig struct {
	Brokers []string
	// Base carries the connection settings (as for the Producer); nil: sarama's defaults.
	Base *sarama.Config
	// Topic is the alerts topic.
	Topic string
	// Slack is how far before a replay's first event a delivered alert is looked for
	// (default 2m): it covers producers' clock skew and alerts fired by time alone
	// (timeouts of idle partitions) shortly before that event.
	Slack time.Duration
	// Retention is how long an alert id read back is kept (default 30m).
	Retention time.Duration
}

// Deduper keeps an alert that was delivered to the alerts topic from being delivered
// again. After a crash, the partitions' new owner restores the last checkpoint and
// re-reads the events that followed it: the alerts those events make again were, some or
// all, delivered before the crash. Before such a replay the source calls Load with the
// time of the first event re-read, and the Deduper reads the ids of the alerts delivered
// since then (minus Slack) from the alerts topic; Sink then drops an alert whose id it
// knows. An alert id says everything the alert says (rule version, key, matched events),
// so a dropped alert is one that was delivered, exactly.
//
// Only the ids read back are kept (the alerts this instance delivers are in the topic
// for the next Load to find), for Retention: memory follows the alerts delivered within
// the replays' windows, not the alert rate.
//
// What it cannot catch: an alert delivered more than Slack before the replay's first
// event (a timeout fired by the watermark of an idle partition long before it), and
// alerts of a replay when the alerts topic cannot be read (Load fails: the replay goes
// on, at least once as before).
type Deduper struct {
	cfg    DedupeConfig
	client sarama.Client

	loadMu sync.Mutex      // one Load at a time
	next   map[int32]int64 // per partition of the topic: the next offset to read (under loadMu)

	mu     sync.Mutex
	ids    map[string]int64 // alert id → when it was read back (ms)
	from   int64            // the earliest time read from, ms (0: nothing read yet)
	pruned int64            // when ids were last pruned (ms)

	loads, nread, dropped atomic.Uint64
}

// NewDeduper connects to the brokers.
func NewDeduper(cfg DedupeConfig) (*Deduper, error) {
	if len(cfg.Brokers) == 0 || cfg.Topic == "" {
		return nil, errors.New("kafka dedupe: brokers and the alerts topic are required")
	}
	if cfg.Slack <= 0 {
		cfg.Slack = 2 * time.Minute
	}
	if cfg.Retention <= 0 {
		cfg.Retention = 30 * time.Minute
	}
	c := copyBase(cfg.Base)
	c.Consumer.Return.Errors = true
	// A read stops at a known end offset: a fetch need not wait for more (closing a
	// partition consumer waits for its fetch in flight).
	c.Consumer.MaxWaitTime = 10 * time.Millisecond
	client, err := sarama.NewClient(cfg.Brokers, &c)
	if err != nil {
		return nil, fmt.Errorf("kafka dedupe: %w", err)
	}
	return &Deduper{cfg: cfg, client: client, ids: map[string]int64{}, next: map[int32]int64{}}, nil
}

// Close closes the connection.
func (d *Deduper) Close() error { return d.client.Close() }

// DedupeStats are the Deduper's counters.
type DedupeStats struct {
	Loads   uint64 `json:"loads"`   // Load calls that succeeded (replays)
	Read    uint64 `json:"read"`    // alert records read back from the topic
	Dropped uint64 `json:"dropped"` // alerts not delivered again
	Known   int    `json:"known"`   // ids remembered now
}

// Stats returns the counters.
func (d *Deduper) Stats() DedupeStats {
	d.mu.Lock()
	n := len(d.ids)
	d.mu.Unlock()
	return DedupeStats{Loads: d.loads.Load(), Read: d.nread.Load(), Dropped: d.dropped.Load(), Known: n}
}

// Load reads the ids of the alerts delivered to the topic since t minus Slack, up to the
// topic's current end, so that Sink drops them. Later calls read on from where the last
// one stopped (and from further back only if asked for an earlier time). Alerts keep
// flowing through Sink while it reads.
func (d *Deduper) Load(ctx context.Context, t time.Time) error {
	d.loadMu.Lock()
	defer d.loadMu.Unlock()
	since := t.Add(-d.cfg.Slack).UnixMilli()
	d.mu.Lock()
	again := d.from == 0 || since < d.from
	d.mu.Unlock()
	if err := d.client.RefreshMetadata(d.cfg.Topic); err != nil {
		return fmt.Errorf("kafka dedupe: %w", err)
	}
	parts, err := d.client.Partitions(d.cfg.Topic)
	if err != nil {
		return fmt.Errorf("kafka dedupe: partitions of %s: %w", d.cfg.Topic, err)
	}
	cons, err := sarama.NewConsumerFromClient(d.client)
	if err != nil {
		return fmt.Errorf("kafka dedupe: %w", err)
	}
	defer cons.Close()
	found := map[string]int64{}
	var ranges []span
	for _, p := range parts {
		end, err := d.client.GetOffset(d.cfg.Topic, p, sarama.OffsetNewest)
		if err != nil {
			return fmt.Errorf("kafka dedupe: end of %s/%d: %w", d.cfg.Topic, p, err)
		}
		start, ok := d.next[p]
		if again || !ok {
			if start, err = d.client.GetOffset(d.cfg.Topic, p, since); err != nil {
				return fmt.Errorf("kafka dedupe: offset of %s/%d at %d: %w", d.cfg.Topic, p, since, err)
			}
			if start < 0 { // nothing that recent
				start = end
			}
		}
		d.next[p] = end // (a failed read below sets it back)
		if start < end {
			ranges = append(ranges, span{p, start, end})
		}
	}
	if err := d.read(ctx, cons, ranges, found); err != nil {
		return err
	}
	for _, r := range ranges {
		d.next[r.p] = r.end
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	now := time.Now().UnixMilli() // kept Retention from now, however old the alert (a long outage)
	for id := range found {
		d.ids[id] = now
	}
	if again {
		d.from = since
	}
	d.prune()
	d.loads.Add(1)
	return nil
}

// span is a range of offsets of one partition: [start, end).
type span struct {
	p          int32
	start, end int64
}

// read reads the alert ids of the ranges into found, all partitions at once.
func (d *Deduper) read(ctx context.Context, cons sarama.Consumer, ranges []span, found map[string]int64) (err error) {
	var pcs []sarama.PartitionConsumer
	defer func() {
		for _, pc := range pcs {
			pc.AsyncClose()
		}
		for _, pc := range pcs { // both channels are served until they close
			go func() {
				for range pc.Errors() {
				}
			}()
			for range pc.Messages() {
			}
		}
		if err != nil {
			for _, r := range ranges {
				delete(d.next, r.p) // read from the time again next Load
			}
		}
	}()
	for _, r := range ranges {
		pc, err := cons.ConsumePartition(d.cfg.Topic, r.p, r.start)
		if err != nil {
			return fmt.Errorf("kafka dedupe: read %s/%d from %d: %w", d.cfg.Topic, r.p, r.start, err)
		}
		pcs = append(pcs, pc)
	}
	for i, r := range ranges {
		pc := pcs[i]
		for done := false; !done; {
			select {
			case m := <-pc.Messages():
				for _, h := range m.Headers {
					if string(h.Key) == HeaderAlertID {
						found[string(h.Value)] = m.Timestamp.UnixMilli()
					}
				}
				d.nread.Add(1)
				done = m.Offset >= r.end-1
			case err := <-pc.Errors():
				return fmt.Errorf("kafka dedupe: read %s/%d: %w", d.cfg.Topic, r.p, err)
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	return nil
}

// prune forgets ids older than Retention, at most once a minute. d.mu is held.
func (d *Deduper) prune() {
	now := time.Now().UnixMilli()
	if now-d.pruned < time.Minute.Milliseconds() {
		return
	}
	d.pruned = now
	old := now - d.cfg.Retention.Milliseconds()
	for id, at := range d.ids {
		if at < old {
			delete(d.ids, id)
		}
	}
	if d.from < old {
		d.from = old // reading from before that again would bring back what was forgotten
	}
}

// delivered reports whether alert id is among those read back from the topic.
func (d *Deduper) delivered(id string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	_, ok := d.ids[id]
	return ok
}

// Sink returns a sink that hands next every alert the alerts topic does not hold yet.
func (d *Deduper) Sink(next alerts.Sink) alerts.Sink { return &dedupeSink{d: d, next: next} }

type dedupeSink struct {
	d    *Deduper
	next alerts.Sink
}

func (s *dedupeSink) Alert(a *alerts.Alert) {
	if s.d.delivered(a.ID) {
		s.d.dropped.Add(1)
		return
	}
	s.next.Alert(a)
}
