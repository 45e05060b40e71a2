package main

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/cepd/cepd/engine"
	"github.com/cepd/cepd/event"
	kafkasource "github.com/cepd/cepd/source/kafka"
)

// Re-keying with Kafka (docs/rekeying.md): the engine runs every key space
// (engine.Config.SpaceSources); the rules keyed by the schema's key read the source
// topics, and each other key field's rules read that field's repartition topic, which
// the forwarder fills. rekeyer starts the forwarder and one claim source per key field,
// and starts them again when a rule swap brings a key field in.
type rekeyer struct {
	eng  *engine.Engine
	o    *kafkaOptions
	r    kafkaRun
	sink kafkasource.Flusher
	ooo  time.Duration
	// bounds are the engine's limits on events: the forwarder forwards only what the
	// engine accepts.
	bounds event.Bounds

	fields  []string           // the key fields whose claims run
	stopFwd context.CancelFunc // stops the running forwarder
	wg      sync.WaitGroup
	fwdDone chan struct{}            // closed when the running forwarder has stopped
	claims  map[string]chan struct{} // per field in fields: closed when its claims have stopped
}

// run keeps the forwarder and the claims in step with the engine's key spaces until ctx
// ends, then waits for the claims' final commits.
func (k *rekeyer) run(ctx context.Context) error {
	defer k.wg.Wait()
	for {
		if err := k.sync(ctx); err != nil {
			slog.Error("re-keying: starting the forwarder and claims failed; retrying", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
}

// sync starts what the key fields the engine has now need, and starts again a forwarder
// or claims that stopped on an error (a broker gone, a fenced producer): without them
// the re-keyed rules would silently see no more events.
func (k *rekeyer) sync(ctx context.Context) error {
	k.fields = slices.DeleteFunc(k.fields, func(f string) bool { return closed(k.claims[f]) })
	fields := k.eng.KeyFields()
	if len(fields) == len(k.fields) && !closed(k.fwdDone) {
		return nil // key spaces are only ever added
	}
	conn, err := k.o.saramaConfig()
	if err != nil {
		return err
	}
	// The forwarder's group has the source's timings (session, heartbeats, rebalances).
	base, err := kafkasource.SaramaConfig(k.o.sourceConfig(conn, k.r))
	if err != nil {
		return err
	}
	fwd, err := kafkasource.NewRepartitioner(kafkasource.RepartitionConfig{Brokers: k.o.brokers, Group: k.o.group,
		Topics: k.o.topics, Schema: k.eng.Rules().Schema, Bounds: k.bounds, Fields: fields, Base: base, Log: slog.Default()})
	if err != nil {
		return err
	}
	sources, err := fwd.Prepare()
	if err != nil {
		return err
	}
	k.restartForwarder(ctx, fwd)
	for _, f := range fields {
		if slices.Contains(k.fields, f) {
			continue
		}
		if err := k.startClaims(ctx, f, sources); err != nil {
			return err
		}
		k.fields = append(k.fields, f)
	}
	return nil
}

// closed reports whether ch is closed (false for nil).
func closed(ch chan struct{}) bool {
	if ch == nil {
		return false
	}
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// restartForwarder stops the running forwarder (if any) and runs fwd.
func (k *rekeyer) restartForwarder(ctx context.Context, fwd *kafkasource.Repartitioner) {
	if k.stopFwd != nil {
		k.stopFwd()
		<-k.fwdDone
	}
	fctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	k.stopFwd, k.fwdDone = cancel, done
	k.wg.Add(1)
	go func() {
		defer k.wg.Done()
		defer close(done)
		if err := fwd.Run(fctx); err != nil {
			slog.Error("re-keying: the forwarder stopped", "err", err)
		}
	}()
	slog.Info("re-keying: forwarding to the repartition topics", "group", kafkasource.RepartitionGroup(k.o.group))
}

// startClaims runs the source of field's key space: the repartition topic's partitions,
// claimed in the cepd group, with the watermark merge of the source partitions.
func (k *rekeyer) startClaims(ctx context.Context, field string, sources []kafkasource.SourcePartition) error {
	eng := k.eng.KeySpace(field)
	if eng == nil {
		return fmt.Errorf("re-keying: no key space for %s", field)
	}
	base, err := k.o.saramaConfig()
	if err != nil {
		return err
	}
	cfg := k.o.sourceConfig(base, k.r)
	cfg.Topics = []string{kafkasource.RepartitionTopic(k.o.group, field)}
	cfg.Merge = &kafkasource.MergeConfig{Sources: sources, OutOfOrderness: k.ooo}
	src, err := kafkasource.New(cfg, eng, k.sink)
	if err != nil {
		return err
	}
	done := make(chan struct{})
	if k.claims == nil {
		k.claims = map[string]chan struct{}{}
	}
	k.claims[field] = done
	k.wg.Add(1)
	go func() {
		defer k.wg.Done()
		defer close(done)
		if err := src.Run(ctx); err != nil {
			slog.Error("re-keying: the claims stopped", "key", field, "err", err)
		}
		st := src.Stats()
		slog.Info("re-keying: claims stopped", "key", field, "consumed", st.Consumed, "commits", st.Commits, "late", st.Late)
	}()
	slog.Info("re-keying: claiming the repartition topic", "key", field, "topic", cfg.Topics[0], "sources", len(sources))
	return nil
}
