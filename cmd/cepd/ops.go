package main

import (
	"context"
	"net/http"
	"net/http/pprof"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"

	"github.com/cepd/cepd/api/auth"
	"github.com/cepd/cepd/internal/metrics"
	"github.com/cepd/cepd/internal/run"
)

// opsOptions configures the operator's endpoints: metrics, probes, profiling.
type opsOptions struct {
	metrics *metrics.Metrics               // nil: no /metrics
	health  func() (status, detail string) // what /healthz answers (nil: always ok)
	ready   *readiness                     // nil: ready as soon as serving
	tokens  *auth.Tokens
}

// readiness is whether the instance should get traffic: its state is restored and, with
// Kafka, every partition the group assigned it is claimed and restored.
type readiness struct {
	mu      sync.Mutex
	state   bool                         // the state of the embedded partition is restored (or not needed)
	source  bool                         // a Kafka source is to come: not ready until it answers
	claimed func() (ok bool, why string) // the Kafka source's answer; nil: no source
}

// setRestored marks the state restored.
func (r *readiness) setRestored() {
	r.mu.Lock()
	r.state = true
	r.mu.Unlock()
}

// setClaimed makes readiness also ask fn (the Kafka source).
func (r *readiness) setClaimed(fn func() (bool, string)) {
	r.mu.Lock()
	r.claimed = fn
	r.mu.Unlock()
}

// Ready reports whether the instance is ready and, if not, why.
func (r *readiness) Ready() (bool, string) {
	if r == nil {
		return true, ""
	}
	r.mu.Lock()
	state, claimed := r.state, r.claimed
	r.mu.Unlock()
	if !state {
		return false, "restoring state"
	}
	if claimed != nil {
		return claimed()
	}
	if r.source {
		return false, "starting the Kafka source"
	}
	return true, ""
}

// readyStatus is the answer of /readyz and of the gRPC health service "readiness": not
// ready while restoring or claiming, nor while /healthz says down.
func (o *opsOptions) readyStatus() (bool, string) {
	if ok, why := o.ready.Ready(); !ok {
		return false, why
	}
	if o.health != nil {
		if st, detail := o.health(); st == "down" {
			return false, "health down: " + detail
		}
	}
	return true, ""
}

// registerOpsHTTP adds /metrics, /livez, /readyz and /debug/pprof/ to mux.
//
// /livez answers 200 while the process serves HTTP: a restart cures no dependency
// outage, so liveness never follows Redis or Kafka. /readyz answers 503 until the state
// is restored and the partitions are claimed, and while health is down. /metrics is open
// like /healthz (labels carry rule ids, never keys or event data). /debug/pprof needs the
// admin role when access control is on (without it cepd listens on loopback only).
func registerOpsHTTP(mux *http.ServeMux, o *opsOptions) {
	if o.metrics != nil {
		mux.Handle("GET /metrics", o.metrics.Handler())
	}
	mux.HandleFunc("GET /livez", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if ok, why := o.readyStatus(); !ok {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("not ready: " + why + "\n"))
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	prof := http.NewServeMux()
	prof.HandleFunc("/debug/pprof/", pprof.Index)
	prof.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	prof.HandleFunc("/debug/pprof/profile", pprof.Profile)
	prof.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	prof.HandleFunc("/debug/pprof/trace", pprof.Trace)
	var h http.Handler = prof
	if o.tokens.Enabled() {
		h = o.tokens.HTTP(auth.Manage, prof)
	}
	mux.Handle("/debug/pprof/", h)
}

// readinessService is the gRPC health service name that answers as /readyz; "" (the
// server) and each cep.v1 service answer as /healthz.
const readinessService = "readiness"

// registerOpsGRPC adds the grpc.health.v1 service and server reflection to gs, and
// returns the loop that keeps the health statuses following /healthz and /readyz
// (checked every interval) until its context ends (the server's Serve runs it).
func registerOpsGRPC(gs *grpc.Server, o *opsOptions, interval time.Duration) func(ctx context.Context) {
	hs := health.NewServer()
	healthpb.RegisterHealthServer(gs, hs)
	reflection.Register(gs)
	update := func() {
		st := healthpb.HealthCheckResponse_SERVING
		if o.health != nil {
			if s, _ := o.health(); s == "down" {
				st = healthpb.HealthCheckResponse_NOT_SERVING
			}
		}
		hs.SetServingStatus("", st)
		for name := range gs.GetServiceInfo() {
			hs.SetServingStatus(name, st)
		}
		rd := healthpb.HealthCheckResponse_SERVING
		if ok, _ := o.readyStatus(); !ok {
			rd = healthpb.HealthCheckResponse_NOT_SERVING
		}
		hs.SetServingStatus(readinessService, rd)
	}
	update()
	return func(ctx context.Context) {
		run.Every(ctx, interval, update)
		hs.Shutdown() // every watcher learns NOT_SERVING as the server goes
	}
}

// opsFor returns the operational options of an API: o.ops, or probes that follow the
// embedded server's health.
func opsFor(o apiOptions) *opsOptions {
	ops := o.ops
	if ops == nil {
		ops = &opsOptions{}
	}
	if ops.health == nil && o.restIngest != nil {
		ops.health = o.restIngest.Health
	}
	if ops.tokens == nil {
		ops.tokens = o.tokens
	}
	return ops
}
