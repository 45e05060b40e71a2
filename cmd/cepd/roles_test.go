package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/cepd/cepd/api"
	"github.com/cepd/cepd/api/auth"
	cepv1 "github.com/cepd/cepd/api/cep/v1"
	"github.com/cepd/cepd/internal/testhttp"
)

// roleTokens are the test's tokens by role ("" is no token).
var roleTokens = map[string]string{
	"":        "",
	"viewer":  "viewer-token-0123456789",
	"analyst": "analyst-token-01234567",
	"admin":   "admin-token-0123456789",
	"ingest":  "ingest-token-012345678",
}

// documentedRoles is the README's role table, per API method: the roles that may call it
// ("*" : no token needed).
var documentedRoles = map[string]string{
	"Admin/GetHealth": "*", "Admin/GetStats": "admin", "Admin/Checkpoint": "admin",
	"Alerts/ListAlerts": "viewer analyst admin", "Alerts/GetAlert": "viewer analyst admin", "Alerts/StreamAlerts": "viewer analyst admin",
	"Rules/ListAuditEntries": "viewer analyst admin", "Rules/ListRules": "viewer analyst admin", "Rules/GetRule": "viewer analyst admin",
	"Rules/ListRuleVersions": "viewer analyst admin", "Rules/GetRuleVersion": "viewer analyst admin",
	"Rules/CompareShadow": "viewer analyst admin", "Rules/DiffRuleVersions": "viewer analyst admin",
	"Rules/CreateRule": "analyst admin", "Rules/UpdateRule": "analyst admin", "Rules/DeleteRule": "analyst admin",
	"Rules/RollbackRule": "analyst admin", "Rules/ShadowRule": "analyst admin", "Rules/ValidateRule": "analyst admin",
	"Rules/SetRuleMode":       "admin",
	"Backtests/ListBacktests": "analyst admin", "Backtests/CreateBacktest": "analyst admin",
	"Backtests/GetBacktest": "analyst admin", "Backtests/CancelBacktest": "analyst admin",
	"Events/IngestEvents": "ingest admin", "Decisions/Decide": "ingest admin",
	"Analyst/CreateSuppression": "analyst admin", "Analyst/DeleteSuppression": "analyst admin", "Analyst/MarkAlert": "analyst admin",
	"Analyst/ListSuppressions": "viewer analyst admin", "Analyst/GetAlertFeedback": "viewer analyst admin",
	"Analyst/GetRulePrecision": "viewer analyst admin", "Analyst/ListAnalystAudit": "viewer analyst admin",
	"Lists/GetList": "viewer analyst admin", "Lists/ListLists": "viewer analyst admin",
	"Lists/ListListVersions": "viewer analyst admin", "Lists/ListListAudit": "viewer analyst admin",
	"Lists/CreateList": "analyst admin", "Lists/ImportList": "analyst admin", "Lists/AddListEntries": "analyst admin",
	"Lists/RemoveListEntries": "analyst admin", "Lists/DeleteList": "analyst admin",
	"Schema/GetSchema": "viewer analyst admin", "Schema/ListSchemaVersions": "viewer analyst admin", "Schema/PutSchema": "admin",
	// The embedded routes outside gRPC.
	"POST /v1/events": "ingest admin", "GET /v1/stats": "admin", "GET /healthz": "*", "GET /v1/openapi.json": "*",
	"SSE /v1/alerts:stream": "viewer analyst admin",
}

func allowed(key, role string) bool {
	r := documentedRoles[key]
	return r == "*" || role != "" && strings.Contains(" "+r+" ", " "+role+" ")
}

// TestAPIRolesEveryRoute: every REST route of the OpenAPI document, every embedded route
// and every gRPC method, called with each role's token (and none), is refused (401/403,
// Unauthenticated/PermissionDenied) exactly when the README's role table says so. A route
// or method the table does not list fails the test.
func TestAPIRolesEveryRoute(t *testing.T) {
	var lines []string
	for role, tok := range roleTokens {
		if tok != "" {
			lines = append(lines, tok+" "+role)
		}
	}
	tokens, err := auth.Parse(strings.Join(lines, "\n"), "tokens")
	if err != nil {
		t.Fatal(err)
	}
	f := startAPIFixtureWith(t, tokens)
	roles := []string{"", "viewer", "analyst", "admin", "ingest"}
	checkRESTRoles(t, f, roleRoutes(t), roles)
	checkGRPCRoles(t, f, roles)
}

// roleRoute is a REST route the role test calls: its role-table key, method, path with
// its parameters filled and the Accept header (SSE).
type roleRoute struct{ key, method, path, accept string }

// roleRoutes lists every route of the OpenAPI document and the embedded ones, by key.
func roleRoutes(t *testing.T) []roleRoute {
	var routes []roleRoute
	var doc struct {
		Paths map[string]map[string]struct {
			OperationID string `json:"operationId"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(api.OpenAPI, &doc); err != nil {
		t.Fatal(err)
	}
	for p, ms := range doc.Paths {
		for m, op := range ms {
			key := strings.Replace(op.OperationID, "_", "/", 1)
			path := strings.NewReplacer("{id}", "nosuch", "{version}", "1", "{name}", "nosuch").Replace(p)
			routes = append(routes, roleRoute{key, strings.ToUpper(m), path, ""})
		}
	}
	routes = append(routes, roleRoute{"POST /v1/events", "POST", "/v1/events", ""}, roleRoute{"GET /v1/stats", "GET", "/v1/stats", ""},
		roleRoute{"GET /healthz", "GET", "/healthz", ""}, roleRoute{"GET /v1/openapi.json", "GET", "/v1/openapi.json", ""},
		roleRoute{"SSE /v1/alerts:stream", "GET", "/v1/alerts:stream", "text/event-stream"})
	sort.Slice(routes, func(i, j int) bool { return routes[i].key < routes[j].key })
	return routes
}

// checkRESTRoles calls every route with each role's token (and none): refused (401/403)
// exactly when the role table says so, 401 without a token.
func checkRESTRoles(t *testing.T, f *apiFixture, routes []roleRoute, roles []string) {
	client := &http.Client{Timeout: 500 * time.Millisecond} // streams that are let in stay open
	for _, r := range routes {
		if _, ok := documentedRoles[r.key]; !ok {
			t.Errorf("route %s %s (%s) is not in the role table", r.method, r.path, r.key)
			continue
		}
		for _, role := range roles {
			req, _ := http.NewRequest(r.method, f.base+r.path, strings.NewReader("{}"))
			req.Header.Set("Content-Type", "application/json")
			if r.accept != "" {
				req.Header.Set("Accept", r.accept)
			}
			if tok := roleTokens[role]; tok != "" {
				req.Header.Set("Authorization", "Bearer "+tok)
			}
			code := 0
			resp, err := client.Do(req)
			if err == nil {
				code = resp.StatusCode
				io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
				resp.Body.Close()
			} else if !strings.Contains(err.Error(), "Timeout") && !strings.Contains(err.Error(), "deadline") {
				t.Fatalf("%s %s as %q: %v", r.method, r.path, role, err)
			}
			refused := code == http.StatusUnauthorized || code == http.StatusForbidden
			if want := !allowed(r.key, role); refused != want {
				t.Errorf("REST %s %s as %q: %d, want refused=%v", r.method, r.path, role, code, want)
			}
			if role == "" && refused && code != http.StatusUnauthorized {
				t.Errorf("REST %s %s without a token: %d, want 401", r.method, r.path, code)
			}
		}
	}
}

// checkGRPCRoles calls every gRPC method with each role's token (and none): refused
// (Unauthenticated/PermissionDenied) exactly when the role table says so.
func checkGRPCRoles(t *testing.T, f *apiFixture, roles []string) {
	conn := f.grpcClient()
	methods := 0
	for _, fd := range []protoreflect.FileDescriptor{cepv1.File_cep_v1_admin_proto, cepv1.File_cep_v1_alerts_proto,
		cepv1.File_cep_v1_backtests_proto, cepv1.File_cep_v1_events_proto, cepv1.File_cep_v1_rules_proto} {
		for i := range fd.Services().Len() {
			sd := fd.Services().Get(i)
			for j := range sd.Methods().Len() {
				md := sd.Methods().Get(j)
				methods++
				key := string(sd.Name()) + "/" + string(md.Name())
				if _, ok := documentedRoles[key]; !ok {
					t.Errorf("gRPC method %s is not in the role table", key)
					continue
				}
				full := "/" + string(sd.FullName()) + "/" + string(md.Name())
				for _, role := range roles {
					ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
					if tok := roleTokens[role]; tok != "" {
						ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tok)
					}
					in, out := dynamicpb.NewMessage(md.Input()), dynamicpb.NewMessage(md.Output())
					var err error
					if md.IsStreamingServer() {
						var s grpc.ClientStream
						if s, err = conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true}, full); err == nil {
							if err = s.SendMsg(in); err == nil {
								_ = s.CloseSend()
								err = s.RecvMsg(out)
							}
						}
					} else {
						err = conn.Invoke(ctx, full, in, out)
					}
					cancel()
					c := status.Code(err)
					refused := c == codes.Unauthenticated || c == codes.PermissionDenied
					if errors.Is(err, context.DeadlineExceeded) || c == codes.DeadlineExceeded {
						refused = false // a stream let in waits for alerts
					}
					if want := !allowed(key, role); refused != want {
						t.Errorf("gRPC %s as %q: %v, want refused=%v", key, role, err, want)
					}
				}
			}
		}
	}
	if methods < 25 {
		t.Fatalf("only %d gRPC methods found", methods)
	}
}

// TestAPIRolesNoEscalation: an analyst can neither undo an admin's "disabled" by deleting
// and re-creating the rule, nor promote a candidate on trial with a rollback (both are
// mode changes, for admins only); REST and gRPC alike.
func TestAPIRolesNoEscalation(t *testing.T) {
	f := startAPIFixtureTokens(t)
	call := func(method, path, role, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, f.base+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+roleTokens[role])
		code, b := testhttp.Do(t, req)
		return code, string(b)
	}
	expect := func(method, path, role, body string, want int) {
		t.Helper()
		if code, msg := call(method, path, role, body); code != want {
			t.Fatalf("%s %s as %s: %d %s, want %d", method, path, role, code, msg, want)
		}
	}
	src := func(id, amount string) string {
		return `{"source": ` + jsonString("id: "+id+"\npattern:\n  - name: a\n    where: e.type == 'auth' && e.amount > "+amount+"\n") + `}`
	}
	expect("POST", "/v1/rules", "analyst", src("dis", "1000.0"), 200)
	expect("POST", "/v1/rules/dis:setMode", "admin", `{"mode":"disabled"}`, 200)
	expect("DELETE", "/v1/rules/dis", "analyst", "", 200)
	code, msg := call("POST", "/v1/rules", "analyst", src("dis", "1.0"))
	if code != http.StatusForbidden || !strings.Contains(msg, "only an admin may create it again") {
		t.Fatalf("analyst re-creating an admin-disabled rule: %d %s, want 403", code, msg)
	}
	conn := f.grpcClient()
	rc := cepv1.NewRulesClient(conn)
	as := func(role string) context.Context {
		return metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+roleTokens[role])
	}
	var req cepv1.CreateRuleRequest
	_ = json.Unmarshal([]byte(src("dis", "1.0")), &req)
	if _, err := rc.CreateRule(as("analyst"), &req); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("gRPC analyst re-creating an admin-disabled rule: %v", err)
	}
	expect("POST", "/v1/rules", "admin", src("dis", "1.0"), 200)
	expect("POST", "/v1/rules", "analyst", src("fresh", "1.0"), 200) // never disabled: fine
	expect("DELETE", "/v1/rules/fresh", "analyst", "", 200)
	expect("POST", "/v1/rules", "analyst", src("fresh", "2.0"), 200)

	// A candidate on trial: the analyst may put it there and end the trial, not promote it.
	expect("POST", "/v1/rules", "analyst", src("trial", "1000.0"), 200)            // version 1
	expect("POST", "/v1/rules/trial:shadow", "analyst", src("trial", "10.0"), 200) // version 2, shadow_of 1
	code, msg = call("POST", "/v1/rules/trial:rollback", "analyst", `{"version": 2}`)
	if code != http.StatusForbidden || !strings.Contains(msg, "only an admin") {
		t.Fatalf("analyst promoting the candidate with a rollback: %d %s, want 403", code, msg)
	}
	if _, err := rc.RollbackRule(as("analyst"), &cepv1.RollbackRuleRequest{Id: "trial", Version: 2}); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("gRPC analyst promoting the candidate: %v", err)
	}
	expect("POST", "/v1/rules/trial:rollback", "analyst", `{"version": 1}`, 200) // ends the trial
	expect("POST", "/v1/rules/trial:shadow", "analyst", src("trial", "20.0"), 200)
	expect("POST", "/v1/rules/trial:rollback", "admin", `{"version": 4}`, 200)
}
