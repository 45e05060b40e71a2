package api

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

// Ops configures the operator's endpoints: metrics, probes, profiling.
type Ops struct {
	Metrics *metrics.Metrics               // nil: no /metrics
	Health  func() (status, detail string) // what /healthz answers (nil: always ok)
	Ready   *Readiness                     // nil: ready as soon as serving
	Tokens  *auth.Tokens
}

// Readiness is whether the instance should get traffic: its state is restored and, with
// Kafka, every partition the group assigned it is claimed and restored.
type Readiness struct {
	mu      sync.Mutex
	state   bool                         // the state of the embedded partition is restored (or not needed)
	Source  bool                         // a Kafka source is to come: not ready until it answers
	claimed func() (ok bool, why string) // the Kafka source's answer; nil: no source
}

// SetRestored marks the state restored.
func (r *Readiness) SetRestored() {
	r.mu.Lock()
	r.state = true
	r.mu.Unlock()
}

// SetClaimed makes readiness also ask fn (the Kafka source).
func (r *Readiness) SetClaimed(fn func() (bool, string)) {
	r.mu.Lock()
	r.claimed = fn
	r.mu.Unlock()
}

// Ready reports whether the instance is ready and, if not, why.
func (r *Readiness) Ready() (bool, string) {
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
	if r.Source {
		return false, "starting the Kafka source"
	}
	return true, ""
}

// readyStatus is the answer of /readyz and of the gRPC health service "readiness": not
// ready while restoring or claiming, nor while /healthz says down.
func (o *Ops) readyStatus() (bool, string) {
	if ok, why := o.Ready.Ready(); !ok {
		return false, why
	}
	if o.Health != nil {
		if st, detail := o.Health(); st == "down" {
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
func registerOpsHTTP(mux *http.ServeMux, o *Ops) {
	if o.Metrics != nil {
		mux.Handle("GET /metrics", o.Metrics.Handler())
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
	if o.Tokens.Enabled() {
		h = o.Tokens.HTTP(auth.Manage, prof)
	}
	mux.Handle("/debug/pprof/", h)
}

// readinessService is the gRPC health service name that answers as /readyz; "" (the
// server) and each cep.v1 service answer as /healthz.
const readinessService = "readiness"

// registerOpsGRPC adds the grpc.health.v1 service and server reflection to gs, and
// returns the loop that keeps the health statuses following /healthz and /readyz
// (checked every interval) until its context ends (the server's Serve runs it).
func registerOpsGRPC(gs *grpc.Server, o *Ops, interval time.Duration) func(ctx context.Context) {
	hs := health.NewServer()
	healthpb.RegisterHealthServer(gs, hs)
	reflection.Register(gs)
	update := func() {
		st := healthpb.HealthCheckResponse_SERVING
		if o.Health != nil {
			if s, _ := o.Health(); s == "down" {
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
func opsFor(o Options) *Ops {
	ops := o.Ops
	if ops == nil {
		ops = &Ops{}
	}
	if ops.Health == nil && o.RestIngest != nil {
		ops.Health = o.RestIngest.Health
	}
	if ops.Tokens == nil {
		ops.Tokens = o.Tokens
	}
	return ops
}
