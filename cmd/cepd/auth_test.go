package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/cepd/cepd/api/auth"
	cepv1 "github.com/cepd/cepd/api/cep/v1"
)

const testTokens = `
viewer-token-0123456789 viewer
analyst-token-01234567  analyst ann
admin-token-0123456789  admin
ingest-token-012345678  ingest
`

// startAPIFixtureTokens starts the API fixture with testTokens' bearer tokens enforced.
func startAPIFixtureTokens(t *testing.T) *apiFixture {
	t.Helper()
	tokens, err := auth.Parse(testTokens, "tokens")
	if err != nil {
		t.Fatal(err)
	}
	return startAPIFixtureWith(t, tokens)
}

// checkAuthors checks that rule big's two versions are attributed to ann, then admin.
func checkAuthors(t *testing.T, base string) {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/v1/rules/big/versions", nil)
	req.Header.Set("Authorization", "Bearer viewer-token-0123456789")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var vs struct {
		Versions []struct{ Author, Action string }
	}
	err = json.NewDecoder(resp.Body).Decode(&vs)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(vs.Versions) != 2 || vs.Versions[0].Author != "ann" || vs.Versions[1].Author != "admin" {
		t.Errorf("versions' authors: %+v, want ann then admin", vs.Versions)
	}
}

// checkGRPCAccess checks the gRPC API's token check: none is refused, a viewer may list
// and not delete.
func checkGRPCAccess(t *testing.T, addr string) {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	rules := cepv1.NewRulesClient(conn)
	with := func(tok string) context.Context {
		return metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+tok)
	}
	if _, err := rules.ListRules(context.Background(), &cepv1.ListRulesRequest{}); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("gRPC without token: %v", err)
	}
	if _, err := rules.ListRules(with("viewer-token-0123456789"), &cepv1.ListRulesRequest{}); err != nil {
		t.Fatalf("gRPC viewer list: %v", err)
	}
	if _, err := rules.DeleteRule(with("viewer-token-0123456789"), &cepv1.DeleteRuleRequest{Id: "big"}); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("gRPC viewer delete: %v", err)
	}
}

// TestAPIAccessControl: bearer tokens map to roles, enforced identically on REST and gRPC:
// no token 401, an insufficient role 403, health open.
func TestAPIAccessControl(t *testing.T) {
	f := startAPIFixtureTokens(t)
	call := func(method, path, token, body string) int {
		t.Helper()
		req, _ := http.NewRequest(method, f.base+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		req.Header.Set("X-Cepd-Author", "mallory") // ignored when a token names the caller
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	rule := `{"source": "id: big\npattern:\n  - name: a\n    where: e.type == 'auth' && e.amount > 1000.0\n"}`
	event := `{"event_id":"x1","card_id":"c","ts":"2026-01-01T00:00:00Z","type":"auth","amount":5}`
	for _, tt := range []struct {
		method, path, token, body string
		want                      int
	}{
		{"GET", "/v1/rules", "", "", 401},
		{"GET", "/v1/rules", "not-a-known-token-at-all", "", 401},
		{"GET", "/v1/rules", "viewer-token-0123456789", "", 200},
		{"GET", "/v1/alerts", "viewer-token-0123456789", "", 200},
		{"POST", "/v1/rules", "viewer-token-0123456789", rule, 403},
		{"POST", "/v1/rules", "ingest-token-012345678", rule, 403},
		{"POST", "/v1/rules", "analyst-token-01234567", rule, 200},
		{"POST", "/v1/rules/big:setMode", "analyst-token-01234567", `{"mode":"shadow"}`, 403},
		{"POST", "/v1/rules/big:setMode", "admin-token-0123456789", `{"mode":"shadow"}`, 200},
		{"POST", "/v1/events", "", event, 401},
		{"POST", "/v1/events", "viewer-token-0123456789", event, 403},
		{"POST", "/v1/events", "ingest-token-012345678", event, 200},
		{"GET", "/v1/stats", "viewer-token-0123456789", "", 403},
		{"POST", "/v1/backtests", "viewer-token-0123456789", `{"rules": [{"rule_id": "big"}]}`, 403},
		{"GET", "/v1/backtests", "analyst-token-01234567", "", 200},
		{"POST", "/v1/rules/big:shadow", "viewer-token-0123456789", rule, 403},
		{"GET", "/v1/admin/stats", "analyst-token-01234567", "", 403},
		{"GET", "/v1/admin/stats", "admin-token-0123456789", "", 200},
		{"GET", "/healthz", "", "", 200},
		{"GET", "/v1/openapi.json", "", "", 200},
	} {
		if got := call(tt.method, tt.path, tt.token, tt.body); got != tt.want {
			t.Errorf("%s %s with %q: %d, want %d", tt.method, tt.path, tt.token, got, tt.want)
		}
	}

	// The server-sent event stream is guarded like the rest.
	if code, _ := f.doAccept("GET", "/v1/alerts:stream", "text/event-stream"); code != http.StatusUnauthorized {
		t.Errorf("SSE without a token: %d", code)
	}
	sse, _ := http.NewRequest("GET", f.base+"/v1/alerts:stream", nil)
	sse.Header.Set("Accept", "text/event-stream")
	sse.Header.Set("Authorization", "Bearer viewer-token-0123456789")
	if resp, err := http.DefaultClient.Do(sse); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("SSE with a viewer token: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}

	// Changes are attributed to the token's name (ann; admin for the unnamed admin token),
	// whatever the X-Cepd-Author header claims.
	checkAuthors(t, f.base)
	checkGRPCAccess(t, f.grpcAddr)
}
