package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	cepv1 "github.com/cepd/cepd/api/cep/v1"
)

// TestProcessSecretsNotLogged: a cepd with access tokens, a webhook secret and a Redis
// password in its settings, logging at debug level in JSON, asked with the right, a wrong
// and a malformed token, and rejecting a rule change, never writes any of them to its log.
func TestProcessSecretsNotLogged(t *testing.T) {
	const (
		admin   = "admin-token-s3cr3t-0123456789"
		wrong   = "wrong-token-s3cr3t-9876543210"
		hook    = "hook-s3cr3t-abcdef"
		redisPw = "redis-s3cr3t-xyz"
	)
	var refused atomic.Int32 // the receiver refuses once: the failure is logged, then delivered
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if refused.Add(1) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	dir := serveDir(t)
	tokens := filepath.Join(dir, "tokens")
	if err := os.WriteFile(tokens, []byte(admin+" admin ops\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	events, err := os.ReadFile(filepath.Join(fraudDir, "examples", "card-testing.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "cepd.log")
	p := startCepdProc(t, buildCepd(t), logPath, serveDirArgs(dir, "--alerts-out=",
		"--auth-tokens", tokens, "--webhook-url", srv.URL, "--webhook-secret", hook,
		"--redis-password", redisPw, "--log-level", "debug"))
	do := func(method, path, token, body string) int {
		req, _ := http.NewRequest(method, "http://"+p.api+path, strings.NewReader(body))
		if token != "" {
			req.Header.Set("Authorization", token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, c := range []struct {
		method, path, token, body string
		want                      int
	}{
		{"GET", "/v1/admin/stats", "Bearer " + admin, "", 200},
		{"GET", "/v1/admin/stats", "Bearer " + wrong, "", 401},
		{"GET", "/debug/pprof/cmdline", "Bearer " + wrong, "", 401},
		{"GET", "/v1/rules", wrong, "", 401},
		{"POST", "/v1/rules", "Bearer " + admin, `{"source": "id: x\npattern: nonsense ` + wrong + `"}`, 400},
		{"POST", "/v1/events", "Bearer " + admin, string(events), 200}, // alerts for the webhook, which fails
	} {
		if got := do(c.method, c.path, c.token, c.body); got != c.want {
			t.Errorf("%s %s: %d, want %d", c.method, c.path, got, c.want)
		}
	}
	// With access control on, probes still need no token: gRPC health answers, the API
	// does not.
	if m := grpcLine.FindSubmatch([]byte(fileTail(logPath, 1<<20))); m == nil {
		t.Error("no gRPC address in the log")
	} else {
		conn, err := grpc.NewClient(string(m[1]), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		r, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
		if err != nil || r.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Errorf("gRPC health without a token: %v, %v", r.GetStatus(), err)
		}
		if _, err := cepv1.NewAdminClient(conn).GetStats(ctx, &cepv1.GetStatsRequest{}); status.Code(err) != codes.Unauthenticated {
			t.Errorf("gRPC GetStats without a token: %v, want Unauthenticated", err)
		}
		cancel()
		conn.Close()
	}
	waitFor(t, 10*time.Second, "the webhook's retry", func() bool { return refused.Load() >= 2 })
	if err := p.stop(20 * time.Second); err != nil {
		t.Error(err)
	}
	log, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{admin, hook, redisPw, "s3cr3t"} {
		if i := bytes.Index(log, []byte(s)); i >= 0 {
			t.Errorf("the log holds a secret (%s): ...%s...", s, log[max(0, i-200):min(len(log), i+100)])
		}
	}
	if !bytes.Contains(log, []byte("webhook: delivery failed")) {
		t.Errorf("the webhook's failures are not logged at all (the check would prove nothing):\n%s", log)
	}
}
