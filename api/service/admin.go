package service

import (
	"context"
	"encoding/json"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	cepv1 "github.com/cepd/cepd/api/cep/v1"
	"github.com/cepd/cepd/engine"
)

// AdminEngine is what the Admin service needs of the runtime.
type AdminEngine interface {
	Stats() *engine.Stats
	Watermark() int64
	CheckpointHealth() (string, error)
	Checkpoint(ctx context.Context) error
}

// Admin implements cepv1.AdminServer.
type Admin struct {
	cepv1.UnimplementedAdminServer
	Eng AdminEngine
}

// GetStats implements cepv1.AdminServer.
func (s *Admin) GetStats(context.Context, *cepv1.GetStatsRequest) (*cepv1.GetStatsResponse, error) {
	return &cepv1.GetStatsResponse{Stats: jsonStruct(s.Eng.Stats().Snapshot()), Watermark: s.Eng.Watermark()}, nil
}

// GetHealth implements cepv1.AdminServer.
func (s *Admin) GetHealth(context.Context, *cepv1.GetHealthRequest) (*cepv1.GetHealthResponse, error) {
	st, err := s.Eng.CheckpointHealth()
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
	if err := s.Eng.Checkpoint(ctx); err != nil {
		return nil, status.Errorf(codes.Unavailable, "checkpoint failed: %v", err)
	}
	return &cepv1.CheckpointResponse{DurationMs: time.Since(start).Milliseconds()}, nil
}

// IngestFunc feeds raw JSON events to the engine (the embedded REST ingest's path, which
// numbers the events) and returns the rejected ones.
type IngestFunc func(ctx context.Context, events []json.RawMessage) ([]engine.RecordError, error)

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
	errs, err := s.Ingest(ctx, raw)
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "engine: %v", err)
	}
	out := &cepv1.IngestEventsResponse{Accepted: int32(len(raw) - len(errs)), Rejected: int32(len(errs)), Errors: []*cepv1.EventError{}}
	for _, e := range errs {
		out.Errors = append(out.Errors, &cepv1.EventError{Index: int32(e.Index), Message: e.Reason + ": " + e.Message})
	}
	return out, nil
}
