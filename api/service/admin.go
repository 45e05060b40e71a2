package service

import (
	"context"
	"encoding/json"
	"maps"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	cepv1 "github.com/cepd/cepd/api/cep/v1"
	"github.com/cepd/cepd/engine"
	"github.com/cepd/cepd/rules"
)

// AdminEngine is what the Admin service needs of the runtime.
type AdminEngine interface {
	Stats() *engine.Stats
	Watermark() int64
	CheckpointHealth() (string, error)
	Checkpoint(ctx context.Context) error
	Inspect(ctx context.Context, footprint bool) (engine.StateStats, error)
	AlertsByRule() map[string]uint64
	Rules() *engine.RuleSet
}

// LagFunc reports the source's lag per partition (the Kafka source's Stats).
type LagFunc func() []*cepv1.PartitionLag

// Admin implements cepv1.AdminServer. Create it with NewAdmin.
type Admin struct {
	cepv1.UnimplementedAdminServer
	eng   AdminEngine
	modes *Modes
	lag   atomic.Pointer[LagFunc]
	// health, if set, answers GetHealth (SetHealth).
	health atomic.Pointer[func() (string, string)]
	now    func() time.Time

	mu      sync.Mutex
	samples []sample // events ingested at times, oldest first, at least a second apart

	walkMu  sync.Mutex // one walk of the shards at a time; others wait and reuse it
	state   engine.StateStats
	stateAt time.Time
}

type sample struct {
	t      time.Time
	events uint64
}

// rateWindow is how far back events_per_second looks; stateTTL how long a walk of the
// shards' state (for partial matches) serves repeated calls.
const (
	rateWindow = time.Minute
	stateTTL   = 2 * time.Second
)

// NewAdmin returns the Admin service. modes (which may be nil) supplies the rules' modes
// and shadow comparisons.
func NewAdmin(eng AdminEngine, modes *Modes) *Admin {
	if modes == nil {
		modes = &Modes{}
	}
	a := &Admin{eng: eng, modes: modes, now: time.Now}
	a.samples = []sample{{a.now(), eng.Stats().Snapshot().Events}}
	return a
}

// SetLag sets (or, with nil, clears) the source of partition lag.
func (s *Admin) SetLag(f LagFunc) {
	if f == nil {
		s.lag.Store(nil)
		return
	}
	s.lag.Store(&f)
}

// rate records a sample and returns the events per second over the last rateWindow.
func (s *Admin) rate(events uint64) float64 {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.samples) > 1 && now.Sub(s.samples[1].t) >= rateWindow {
		s.samples = s.samples[1:]
	}
	first := s.samples[0]
	if now.Sub(s.samples[len(s.samples)-1].t) >= time.Second {
		s.samples = append(s.samples, sample{now, events})
	}
	dt := now.Sub(first.t).Seconds()
	if dt <= 0 || events < first.events {
		return 0
	}
	return float64(events-first.events) / dt
}

// inspect returns the shards' state statistics, walking them at most every stateTTL
// (concurrent callers wait for one walk).
func (s *Admin) inspect(ctx context.Context) (engine.StateStats, error) {
	s.walkMu.Lock()
	defer s.walkMu.Unlock()
	if !s.stateAt.IsZero() && s.now().Sub(s.stateAt) < stateTTL {
		return s.state, nil
	}
	st, err := s.eng.Inspect(ctx, false)
	if err != nil {
		return st, err
	}
	s.state, s.stateAt = st, s.now()
	return st, nil
}

// GetStats implements cepv1.AdminServer.
func (s *Admin) GetStats(ctx context.Context, _ *cepv1.GetStatsRequest) (*cepv1.GetStatsResponse, error) {
	sn := s.eng.Stats().Snapshot()
	st, err := s.inspect(ctx)
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "engine: %v", err)
	}
	out := &cepv1.GetStatsResponse{Stats: jsonStruct(sn), EventsPerSecond: s.rate(sn.Events),
		LatencyP50Ms: sn.LatencyP50 / 1e3, LatencyP99Ms: sn.LatencyP99 / 1e3, LatencyP999Ms: sn.LatencyP999 / 1e3,
		DeadLetters: map[string]int64{}, Keys: int64(st.Keys), LivePartialMatches: int64(st.LiveRuns),
		Rules: []*cepv1.RuleStats{}, Lag: []*cepv1.PartitionLag{}, Shadow: []*cepv1.ShadowComparison{}}
	if out.Stats != nil { // the keys the memory budget has marked (README, "Memory budget")
		out.Stats.Fields["keys_cut"] = structpb.NewNumberValue(float64(st.KeysCut))
	}
	if wm := s.eng.Watermark(); wm != math.MinInt64 {
		out.Watermark = proto.Int64(wm)
		out.WatermarkDelayMs = proto.Int64(max(0, s.now().UnixMilli()-wm))
	}
	for r, n := range sn.DeadLetter {
		out.DeadLetters[r] = int64(n)
	}
	byRule := s.eng.AlertsByRule()
	compiled := map[string]*rules.Compiled{}
	for _, c := range s.eng.Rules().Rules {
		compiled[c.Rule.ID] = c
	}
	for i, id := range st.RuleIDs {
		rs := &cepv1.RuleStats{Id: id, Mode: string(s.modes.Mode(id)),
			Alerts: int64(byRule[id]), LivePartialMatches: int64(st.ByRule[i])}
		if c := compiled[id]; c != nil {
			rs.EvalErrors, rs.LastEvalError = int64(c.EvalErrors()), validText(c.LastEvalError())
		}
		out.Rules = append(out.Rules, rs)
	}
	if f := s.lag.Load(); f != nil {
		out.Lag = append(out.Lag, (*f)()...)
	}
	cmp := s.modes.Comparisons()
	for _, id := range slices.Sorted(maps.Keys(cmp)) {
		out.Shadow = append(out.Shadow, cmp[id])
	}
	return out, nil
}

// SetHealth makes GetHealth answer with f (the embedded server's named checks, so that
// gRPC and /healthz agree) instead of the engine's checkpoint health alone.
func (s *Admin) SetHealth(f func() (status, detail string)) { s.health.Store(&f) }

// GetHealth implements cepv1.AdminServer.
func (s *Admin) GetHealth(context.Context, *cepv1.GetHealthRequest) (*cepv1.GetHealthResponse, error) {
	if f := s.health.Load(); f != nil {
		st, detail := (*f)()
		return &cepv1.GetHealthResponse{Status: st, Ready: st != "down", Detail: detail}, nil
	}
	st, err := s.eng.CheckpointHealth()
	if st == "" {
		st = "ok"
	}
	out := &cepv1.GetHealthResponse{Status: st, Ready: st != "down"}
	if err != nil {
		out.Detail = err.Error()
	}
	return out, nil
}

// Checkpoint implements cepv1.AdminServer.
func (s *Admin) Checkpoint(ctx context.Context, _ *cepv1.CheckpointRequest) (*cepv1.CheckpointResponse, error) {
	start := time.Now()
	if err := s.eng.Checkpoint(ctx); err != nil {
		return nil, status.Errorf(codes.Unavailable, "checkpoint failed: %v", err)
	}
	return &cepv1.CheckpointResponse{DurationMs: time.Since(start).Milliseconds()}, nil
}

// IngestFunc feeds raw JSON events to the engine (the embedded REST ingest's path, which
// numbers the events) and returns, once they have been handled, each one's outcome and the
// rejected ones.
type IngestFunc func(ctx context.Context, events []json.RawMessage) ([]engine.Outcome, []engine.RecordError, error)

// Events implements cepv1.EventsServer.
type Events struct {
	cepv1.UnimplementedEventsServer
	Ingest IngestFunc
}

// IngestEvents implements cepv1.EventsServer.
func (s *Events) IngestEvents(ctx context.Context, req *cepv1.IngestEventsRequest) (*cepv1.IngestEventsResponse, error) {
	if len(req.GetEvents()) == 0 {
		return nil, status.Error(codes.InvalidArgument, "events is empty: send {\"events\": [{...}, ...]}")
	}
	raw := make([]json.RawMessage, len(req.GetEvents()))
	for i, e := range req.GetEvents() {
		b, err := json.Marshal(e.AsMap())
		if err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "event %d: %v", i, err)
		}
		raw[i] = b
	}
	outcomes, errs, err := s.Ingest(ctx, raw)
	if _, ok := status.FromError(err); ok && err != nil {
		return nil, err // a refusal the ingest path already classified (busy, too large)
	}
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "engine: %v", err)
	}
	out := &cepv1.IngestEventsResponse{Rejected: int32(len(errs)), Errors: []*cepv1.EventError{}, Outcomes: make([]string, len(outcomes))}
	for i, o := range outcomes {
		out.Outcomes[i] = o.String()
	}
	accepted, late := engine.Tally(outcomes)
	out.Accepted, out.Late = int32(accepted), int32(late)
	for _, e := range errs {
		out.Errors = append(out.Errors, &cepv1.EventError{Index: int32(e.Index), Message: e.Reason + ": " + e.Message})
	}
	return out, nil
}
