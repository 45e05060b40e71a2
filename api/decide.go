package api

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cepd/cepd/api/service"
	"github.com/cepd/cepd/engine"
	"github.com/cepd/cepd/source/rest"
)

// restDecideFunc decides through the embedded REST ingest, so that decided events are
// numbered and logged with the others.
func restDecideFunc(s *rest.Server) service.DecideFunc {
	return func(ctx context.Context, ev json.RawMessage, timeout time.Duration) (engine.Decided, error) {
		if s == nil {
			return engine.Decided{}, status.Error(codes.FailedPrecondition, "no ingest configured")
		}
		d, err := s.Decide(ctx, ev, timeout)
		switch {
		case errors.Is(err, rest.ErrBusy):
			return d, status.Error(codes.ResourceExhausted, err.Error())
		case errors.Is(err, rest.ErrIngestOff), errors.Is(err, rest.ErrNoCollector):
			return d, status.Error(codes.FailedPrecondition, err.Error())
		}
		return d, err
	}
}
