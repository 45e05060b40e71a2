package main

import (
	"context"
	"errors"

	"github.com/cepd/cepd/engine"
)

// runDemo feeds the synthetic reference workload into the engine at rate events/s.
func runDemo(ctx context.Context, eng *engine.Engine, rate int) error {
	_ = ctx
	_ = eng
	_ = rate
	return errors.New("demo: the workload generator is not built in yet")
}
