package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/cepd/cepd/internal/run"
	kafkasource "github.com/cepd/cepd/source/kafka"
)

// How long each stop step may take. The stop takes at most their sum (about 40 s with
// Kafka, whose claims' final commits dominate); with the webhook down it takes about
// stopCheckpoint + stopSinks (8 s): the final checkpoint waits that long for the
// webhook before giving up (the state then stays at the previous checkpoint, and the
// alerts after it are derived and sent again at the next start), and the sinks step
// gives the webhook its last chance.
const (
	stopIntake     = kafkaStopTimeout + 5*time.Second // Kafka claims: drain, checkpoint, flush, commit each
	stopLoops      = 5 * time.Second
	stopDrain      = 5 * time.Second
	stopCheckpoint = 5 * time.Second
	stopEngine     = 5 * time.Second
	stopSinks      = 3 * time.Second
	stopCommit     = 2 * time.Second
)

// run serves until ctx ends or a part fails, then stops in order: intake (the Kafka
// source, whose claims each drain, checkpoint, flush and commit; the REST API; the
// demo), the background loops, draining the engine, the final checkpoint (which flushes
// the sinks first), the engine's shards, the sinks (delivering what is left), and the
// commit of the embedded mode (trimming the ingest log to the checkpoint).
func (s *server) run(ctx context.Context) error {
	g := run.New(slog.Default())
	intake := g.Stage("stop intake", stopIntake)
	loops := g.Stage("stop background loops", stopLoops)
	g.Then("drain the engine", stopDrain, s.eng.Barrier)
	g.Then("final checkpoint (after the sinks delivered)", stopCheckpoint, s.finalCheckpoint)
	g.Then("stop the engine", stopEngine, func(ctx context.Context) error { return closeWithin(ctx, s.eng.Close) })
	g.Then("flush and close the sinks", stopSinks, s.pipe.Close)
	if s.ilog != nil {
		g.Then("commit: trim the ingest log to the checkpoint", stopCommit, s.commitIngestLog)
	}
	s.startIntake(intake)
	s.startLoops(loops)
	err := g.Run(ctx)
	s.closeAll()
	return err
}

// startIntake starts what feeds the engine: the API (REST ingest), the demo, Kafka.
func (s *server) startIntake(intake *run.Stage) {
	intake.Go("api", s.api.Serve)
	if s.cfg.demo {
		intake.Go("demo", func(ctx context.Context) error { return runDemo(ctx, s.eng, s.cfg.demoRate) })
	}
	if !s.cfg.kafka {
		return
	}
	r := s.kafkaRun
	r.started = func(src *kafkasource.Source) {
		s.api.Admin.SetLag(kafkaLag(src))
		s.mets.SetKafka(kafkaSourceMetrics(src))
		s.ready.SetClaimed(kafkaClaimed(src))
	}
	intake.Go("kafka", func(ctx context.Context) error {
		return runKafka(ctx, s.eng, s.pipe, &s.cfg.serveOptions.kafka, r)
	})
	rk := &rekeyer{eng: s.eng, o: &s.cfg.serveOptions.kafka, r: r, sink: s.pipe, ooo: s.cfg.engine.OutOfOrderness, bounds: s.cfg.engine.Bounds}
	intake.Go("re-keying", rk.run)
}

// startLoops starts the background loops: the state walk for metrics, idle partitions,
// the checkpoint timer and the ingest log's trimming (embedded mode), the rule watchers.
func (s *server) startLoops(loops *run.Stage) {
	// A loop a flag switches off is not started: a part that returns before the stop
	// stops the group (--state-walk-interval 0, --checkpoint-interval 0).
	if s.cfg.ops.stateWalk > 0 {
		loops.Go("state walk", func(ctx context.Context) error { s.mets.RunInspect(ctx, s.cfg.ops.stateWalk); return nil })
	}
	loops.Go("idle partitions", func(ctx context.Context) error {
		run.Every(ctx, time.Second, func() { s.eng.MarkIdle(ctx) })
		return nil
	})
	if !s.cfg.kafka && s.cfg.ckptInterval > 0 { // with Kafka the source checkpoints at each commit; 0: only the final one
		loops.Go("checkpoints", func(ctx context.Context) error {
			s.eng.RunCheckpoints(ctx, s.cfg.ckptInterval, slog.Default())
			return nil
		})
	}
	if s.ilog != nil { // segments every checkpoint covers go
		loops.Go("ingest log trim", func(ctx context.Context) error {
			run.Every(ctx, max(s.cfg.ckptInterval, time.Second), func() { _ = s.commitIngestLog(ctx) })
			return nil
		})
	}
	if s.shared != nil {
		loops.Go("shared rules watch", func(ctx context.Context) error {
			watchShared(ctx, s.shared, listsThenRules{s.lists, s.api.Rules})
			return nil
		})
		return
	}
	loops.Go("rules directory watch", func(ctx context.Context) error {
		watchRules(ctx, s.cfg.rulesDir, 2*time.Second, func(ctx context.Context) error {
			if _, err := s.dirStore.Refresh(ctx); err != nil {
				return err
			}
			if _, err := s.dirStore.RefreshData(ctx); err != nil {
				return err
			}
			if err := s.lists.Reload(ctx); err != nil {
				return err
			}
			return s.api.Rules.Reload(ctx)
		})
		return nil
	})
}

// finalCheckpoint checkpoints every partition the engine still holds (the embedded one;
// Kafka claims had theirs when released), after the pipeline delivered what it holds.
func (s *server) finalCheckpoint(ctx context.Context) error {
	if err := s.eng.Checkpoint(ctx); err != nil {
		return fmt.Errorf("final checkpoint failed (the next start resumes from the previous one): %w", err)
	}
	if !s.cfg.kafka {
		slog.Info("final checkpoint written", "offset", s.eng.CheckpointedOffset(0))
	}
	return nil
}

// commitIngestLog drops the ingest log's segments the last checkpoint covers: what an
// offset commit is to Kafka.
func (s *server) commitIngestLog(context.Context) error {
	off := s.eng.CheckpointedOffset(0)
	if off <= 0 {
		return nil
	}
	if err := s.ilog.Trim(off); err != nil {
		slog.Warn("trimming the ingest log", "err", err)
		return err
	}
	return nil
}
