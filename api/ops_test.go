package api

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/cepd/cepd/api/auth"
	"github.com/cepd/cepd/internal/testhttp"
)

// TestReadiness: /readyz and the gRPC "readiness" service answer not ready while the
// state is restored and the Kafka source claims, and while health is down; /livez stays
// 200 throughout (a restart cures none of it); the gRPC server status follows /healthz.
func TestReadiness(t *testing.T) {
	health := "ok"
	claimed, why := false, "restoring claimed partitions"
	ready := &Readiness{Source: true}
	o := &Ops{Ready: ready, Health: func() (string, string) { return health, "store: down" }}
	mux := http.NewServeMux()
	registerOpsHTTP(mux, o)
	hs := httptest.NewServer(mux)
	defer hs.Close()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go registerOpsGRPC(gs, o, 10*time.Millisecond)(ctx)
	go func() { _ = gs.Serve(ln) }()
	defer gs.Stop()
	conn, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	hc := healthpb.NewHealthClient(conn)
	grpcStatus := func(svc string) healthpb.HealthCheckResponse_ServingStatus {
		r, err := hc.Check(ctx, &healthpb.HealthCheckRequest{Service: svc})
		if err != nil {
			t.Fatal(err)
		}
		return r.GetStatus()
	}
	const up, notUp = healthpb.HealthCheckResponse_SERVING, healthpb.HealthCheckResponse_NOT_SERVING
	check := func(step string, readyz int, server, readiness healthpb.HealthCheckResponse_ServingStatus) {
		t.Helper()
		time.Sleep(50 * time.Millisecond) // the gRPC statuses follow every 10ms
		if got := testhttp.Status(t, hs.URL+"/readyz"); got != readyz {
			t.Errorf("%s: /readyz %d, want %d", step, got, readyz)
		}
		if got := testhttp.Status(t, hs.URL+"/livez"); got != 200 {
			t.Errorf("%s: /livez %d", step, got)
		}
		if got := grpcStatus(""); got != server {
			t.Errorf("%s: grpc health \"\" %v, want %v", step, got, server)
		}
		if got := grpcStatus(readinessService); got != readiness {
			t.Errorf("%s: grpc health readiness %v, want %v", step, got, readiness)
		}
	}
	check("restoring", 503, up, notUp)
	ready.SetRestored()
	check("no source yet", 503, up, notUp)
	ready.SetClaimed(func() (bool, string) { return claimed, why })
	check("claiming", 503, up, notUp)
	claimed = true
	check("claimed", 200, up, up)
	health = "degraded"
	check("degraded", 200, up, up)
	health = "down"
	check("down", 503, notUp, notUp)
}

// TestPprofNeedsAdmin: with access control on, /debug/pprof answers only the admin role.
func TestPprofNeedsAdmin(t *testing.T) {
	path := t.TempDir() + "/tokens"
	if err := os.WriteFile(path, []byte("admin-token-0123456789 admin ops\nviewer-token-0123456789 viewer v\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tokens, err := auth.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	registerOpsHTTP(mux, &Ops{Tokens: tokens})
	hs := httptest.NewServer(mux)
	defer hs.Close()
	for token, want := range map[string]int{"": 401, "viewer-token-0123456789": 403, "admin-token-0123456789": 200} {
		req, _ := http.NewRequest("GET", hs.URL+"/debug/pprof/goroutine?debug=1", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("token %q: %d, want %d", token, resp.StatusCode, want)
		}
	}
	if got := testhttp.Status(t, hs.URL+"/livez"); got != 200 {
		t.Errorf("/livez with access control on: %d, want 200 without a token", got)
	}
}
