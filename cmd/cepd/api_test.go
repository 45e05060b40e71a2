package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/cepd/cepd/alerts"
	"github.com/cepd/cepd/api"
	"github.com/cepd/cepd/api/auth"
	cepv1 "github.com/cepd/cepd/api/cep/v1"
	"github.com/cepd/cepd/api/service"
	"github.com/cepd/cepd/backtest"
	"github.com/cepd/cepd/engine"
	"github.com/cepd/cepd/internal/testhttp"
	"github.com/cepd/cepd/rules"
	"github.com/cepd/cepd/rules/refdata"
	"github.com/cepd/cepd/rules/store"
	"github.com/cepd/cepd/source/rest"
)

const apiRule = `id: big-twice
name: Two big authorisations
severity: high
owner: ops
tags: [test]
within: 10m
pattern:
  - name: first
    where: e.type == 'auth' && e.amount > %s
  - name: second
    where: e.type == 'auth' && e.amount > %s
`

func bigTwice(threshold string) string { return fmt.Sprintf(apiRule, threshold, threshold) }

// apiFixture is cepd's API over a real engine, on loopback ports.
type apiFixture struct {
	t         testing.TB
	base      string // http://127.0.0.1:port
	grpcAddr  string
	ring      *alerts.Ring
	delivered *alerts.Collector // what blocking sinks receive
	made      *madeAlerts       // every alert as the engine handed it to the pipeline
	dir       string
	eng       *engine.Engine
	// backtestDir is where backtests read events files.
	backtestDir string
	seq         int
}

func startAPIFixture(t *testing.T) *apiFixture { t.Helper(); return startAPIFixtureWith(t, nil) }

func startAPIFixtureWith(t testing.TB, tokens *auth.Tokens) *apiFixture {
	t.Helper()
	return startAPIFixtureOpts(t, tokens, nil)
}

// startAPIFixtureOpts starts the fixture with mod applied to the API's options.
func startAPIFixtureOpts(t testing.TB, tokens *auth.Tokens, mod func(*api.Options)) *apiFixture {
	t.Helper()
	dir := t.TempDir()
	st, rs, _ := seedRuleDir(t, dir, false)
	f := &apiFixture{t: t, delivered: &alerts.Collector{}, dir: dir}
	pipe, err := alerts.Open(alerts.Config{RingSize: 1000, Outputs: []alerts.Output{{Name: "test", Sink: f.delivered}}})
	if err != nil {
		t.Fatal(err)
	}
	f.ring, f.made = pipe.Ring(), &madeAlerts{next: pipe, json: map[*alerts.Alert]string{}}
	modes := service.NewModes(pipe.Trials())
	retained := backtest.NewRetainer(backtest.RetainerOptions{PerKey: 10})
	eng, err := engine.New(engine.Config{Shards: 2, Tap: retained.Add, KeySpaces: true}, rs, f.made, &dlqWriter{}) // as cepd serve embedded
	if err != nil {
		t.Fatal(err)
	}
	f.backtestDir = t.TempDir()
	bt, err := backtest.NewManager(backtest.Options{Schema: rs.Schema, EventsDir: f.backtestDir, Retainer: retained})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	eng.Start(ctx)
	restIngest := rest.New(rest.Config{}, eng, f.ring, slog.Default(), eng.CheckpointHealth)
	gln, hln := loopbackListeners(t)
	o := api.Options{GRPCListener: gln, HTTPListener: hln, Schema: rs.Schema,
		RestIngest: restIngest, Modes: modes, MaxBody: 1 << 20, Tokens: tokens, Backtests: bt}
	if mod != nil {
		mod(&o)
	}
	srv, err := api.Start(ctx, eng, f.ring, st, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Stop(); bt.Close(); eng.Close(); cancel() })
	f.base, f.grpcAddr, f.eng = "http://"+srv.HTTPAddr, srv.GRPCAddr, eng
	return f
}

// do sends a REST request and decodes the JSON answer.
func (f *apiFixture) do(method, path, body string) (int, map[string]any) {
	f.t.Helper()
	req, err := http.NewRequest(method, f.base+path, strings.NewReader(body))
	if err != nil {
		f.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Cepd-Author", "alice")
	code, data := testhttp.Do(f.t, req)
	var out map[string]any
	if err := json.Unmarshal(data, &out); err != nil {
		f.t.Fatalf("%s %s: answer is not a JSON object (%d): %s", method, path, code, data)
	}
	return code, out
}

func (f *apiFixture) must(method, path, body string) map[string]any {
	f.t.Helper()
	code, out := f.do(method, path, body)
	if code != http.StatusOK {
		f.t.Fatalf("%s %s: %d %v", method, path, code, out)
	}
	return out
}

// grpcClient dials the fixture's gRPC server in plain text; the connection is closed
// when the test ends.
func (f *apiFixture) grpcClient() *grpc.ClientConn {
	f.t.Helper()
	conn, err := grpc.NewClient(f.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { conn.Close() })
	return conn
}

// grpcCalls is a gRPC client of the fixture and a context that bounds the test's calls
// on it to d; both end with the test.
func (f *apiFixture) grpcCalls(d time.Duration) (*grpc.ClientConn, context.Context) {
	f.t.Helper()
	conn := f.grpcClient()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	f.t.Cleanup(cancel)
	return conn, ctx
}

// seedRuleDir writes the fraud schema into dir and opens dir as the rule store: it
// returns the store and the rule set dir holds and, withData, the lists and tables of
// dir/data the rules read (loaded as cepd serve loads them; nil without).
func seedRuleDir(t testing.TB, dir string, withData bool) (store.Store, *engine.RuleSet, *refdata.Holder) {
	t.Helper()
	schema, err := os.ReadFile(fraudSchema)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "schema.yaml"), schema, 0o644); err != nil {
		t.Fatal(err)
	}
	st, err := store.OpenDir(dir, store.DirOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var data *refdata.Holder
	if withData {
		lists, err := openLists(context.Background(), st, nil)
		if err != nil {
			t.Fatal(err)
		}
		data = lists.Holder()
	}
	rs, err := loadRuleSetWith(dir, "", rules.EnvOptions{Data: data})
	if err != nil {
		t.Fatal(err)
	}
	return st, rs, data
}

// loopbackListeners opens the gRPC and the HTTP listener on free loopback ports.
func loopbackListeners(t testing.TB) (gln, hln net.Listener) {
	t.Helper()
	gln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hln, err = net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return gln, hln
}

func jsonString(s string) string { b, _ := json.Marshal(s); return string(b) }

// pair ingests two authorisations of amount for card over the REST ingest.
func (f *apiFixture) pair(card string, amount float64) { f.t.Helper(); f.auths(card, amount, 2) }

// one ingests one authorisation.
func (f *apiFixture) one(card string, amount float64) { f.t.Helper(); f.auths(card, amount, 1) }

// ingest POSTs body (JSON lines) to the REST ingest; anything but 200 fails the test.
func (f *apiFixture) ingest(body *bytes.Buffer) {
	f.t.Helper()
	resp, err := http.Post(f.base+"/v1/events", "application/x-ndjson", body)
	if err != nil {
		f.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		f.t.Fatalf("ingest: %d", resp.StatusCode)
	}
}

func (f *apiFixture) auths(card string, amount float64, n int) {
	f.t.Helper()
	var b bytes.Buffer
	for i := 0; i < n; i++ {
		f.seq++
		fmt.Fprintf(&b, `{"event_id":"e%d","card_id":%q,"ts":"2026-03-01T10:%02d:00Z","type":"auth","amount":%g}`+"\n", f.seq, card, f.seq%60, amount)
	}
	f.ingest(&b)
}

// alerts polls GET /v1/alerts for key until want alerts are there (or three seconds
// passed); with want 0 it first waits until the engine has matched every event ingested.
func (f *apiFixture) alerts(key string, want int) []any {
	f.t.Helper()
	if want == 0 {
		if err := f.eng.Flush(context.Background()); err != nil {
			f.t.Fatal(err)
		}
		return f.must("GET", "/v1/alerts?rule_id=big-twice&key="+key, "")["alerts"].([]any)
	}
	var list []any
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		list = f.must("GET", "/v1/alerts?rule_id=big-twice&key="+key+"&limit=10", "")["alerts"].([]any)
		if len(list) >= want {
			return list
		}
	}
	return list
}

func TestAPIRuleLifecycleREST(t *testing.T) {
	f := startAPIFixture(t)
	lifecycleCreate(t, f)
	lifecycleUpdate(t, f)
	lifecycleValidate(t, f)
	lifecycleRollback(t, f)
	lifecycleShadow(t, f)
	lifecycleDisableDelete(t, f)
}

// lifecycleCreate: creates big-twice at 100: 150 alerts, the alert carries the rule's version and mode.
func lifecycleCreate(t *testing.T, f *apiFixture) {
	r := f.must("POST", "/v1/rules", `{"source": `+jsonString(bigTwice("100.0"))+`, "comment": "first cut"}`)
	if r["id"] != "big-twice" || r["version"] != 1.0 || r["mode"] != "active" || r["source"] != bigTwice("100.0") || r["author"] != "alice" {
		t.Fatalf("create: %v", r)
	}
	f.pair("c1", 150)
	got := f.alerts("c1", 1)
	if len(got) != 1 {
		t.Fatalf("alerts for c1: %v", got)
	}
	a := got[0].(map[string]any)
	for _, k := range []string{"id", "rule_id", "rule_version", "mode", "key"} {
		if a[k] == nil || a[k] == "" {
			t.Errorf("alert has no %s: %v", k, a)
		}
	}
	if a["mode"] != "active" || a["rule_version"] != r["content_version"] {
		t.Errorf("alert %v, rule %v", a, r)
	}
}

// lifecycleUpdate: a new version takes effect: 150 no longer alerts.
func lifecycleUpdate(t *testing.T, f *apiFixture) {
	// A new version takes effect: 150 no longer alerts.
	r := f.must("PUT", "/v1/rules/big-twice", `{"source": `+jsonString(bigTwice("1000.0"))+`, "comment": "tighter"}`)
	if r["version"] != 2.0 {
		t.Fatalf("update: %v", r)
	}
	f.pair("c2", 150)
	if got := f.alerts("c2", 0); len(got) != 0 {
		t.Fatalf("version 2 alerted on 150: %v", got)
	}
}

// lifecycleValidate: a broken rule: every error with line and column, nothing changes; a rule that can exhaust a key's memory budget: a warning with its place.
func lifecycleValidate(t *testing.T, f *apiFixture) {
	// A broken rule: every error with line and column, nothing changes.
	broken := "id: big-twice\nwithin: 10m\npattern:\n  - name: first\n    where: e.nosuch > 1\n  - name: second\n    where: e.amount > 'x'\n"
	v := f.must("POST", "/v1/rules:validate", `{"source": `+jsonString(broken)+`}`)
	errs := v["errors"].([]any)
	if len(errs) < 2 {
		t.Fatalf("validate: want every error, got %v", v)
	}
	for _, e := range errs {
		e := e.(map[string]any)
		if e["line"].(float64) < 5 || e["column"].(float64) < 1 || e["message"] == "" {
			t.Errorf("error without position: %v", e)
		}
	}
	if v := f.must("POST", "/v1/rules:validate", `{"source": `+jsonString(bigTwice("5.0"))+`}`); len(v["errors"].([]any)) != 0 || len(v["warnings"].([]any)) != 0 {
		t.Fatalf("valid rule: %v", v)
	}
	// A rule that compiles but can exhaust a key's memory budget: a warning with its place.
	loops := "id: loops\npattern:\n  - name: a\n    where: e.amount > 1.0\n    times: 1+\n  - name: b\n    where: e.amount > 1.0\n    times: 1+\n    greedy: true\n  - name: c\n    where: e.amount < 0.0\n"
	v = f.must("POST", "/v1/rules:validate", `{"source": `+jsonString(loops)+`}`)
	if warns := v["warnings"].([]any); len(v["errors"].([]any)) != 0 || len(warns) != 1 ||
		warns[0].(map[string]any)["line"].(float64) != 8 || !strings.Contains(warns[0].(map[string]any)["message"].(string), "repeat without bound") {
		t.Fatalf("explosive rule: want one warning at line 8, got %v", v)
	}
	code, out := f.do("PUT", "/v1/rules/big-twice", `{"source": `+jsonString(broken)+`}`)
	if code != http.StatusBadRequest || !strings.Contains(out["message"].(string), "nothing was changed") {
		t.Fatalf("broken update: %d %v", code, out)
	}
	if r := f.must("GET", "/v1/rules/big-twice", ""); r["version"] != 2.0 {
		t.Fatalf("a rejected change changed the rule: %v", r)
	}
}

// lifecycleRollback: rolls back to version 1: 150 alerts again.
func lifecycleRollback(t *testing.T, f *apiFixture) {
	// Roll back to version 1: 150 alerts again.
	r := f.must("POST", "/v1/rules/big-twice:rollback", `{"version": 1}`)
	if r["version"] != 3.0 || r["source"] != bigTwice("100.0") {
		t.Fatalf("rollback: %v", r)
	}
	f.pair("c3", 150)
	if got := f.alerts("c3", 1); len(got) != 1 {
		t.Fatalf("after rollback: %v", got)
	}
}

// lifecycleShadow: shadow: recorded with its mode, never delivered; modes are read in any letter case, others refused.
func lifecycleShadow(t *testing.T, f *apiFixture) {
	// Shadow: recorded with its mode, never delivered.
	// modes are read in any letter case and always written in lower case; others are refused
	for _, q := range []string{"/v1/rules?mode=actif", "/v1/alerts?mode=RULE_MODE_UNSPECIFIED"} {
		if code, body := f.do("GET", q, ""); code != 400 || !strings.Contains(fmt.Sprint(body["message"]), "want active, shadow or disabled") {
			t.Errorf("GET %s: %d %v, want 400 naming the modes", q, code, body)
		}
	}
	if code, body := f.do("POST", "/v1/rules/big-twice:setMode", `{"mode": "on"}`); code != 400 || !strings.Contains(fmt.Sprint(body["message"]), `mode "on": want active, shadow or disabled`) {
		t.Errorf("setMode on: %d %v, want 400 naming the modes", code, body)
	}
	r := f.must("POST", "/v1/rules/big-twice:setMode", `{"mode": "SHADOW"}`)
	if r["mode"] != "shadow" || r["version"] != 4.0 {
		t.Fatalf("setMode: %v", r)
	}
	f.pair("c4", 150)
	got := f.alerts("c4", 1)
	if len(got) != 1 || got[0].(map[string]any)["mode"] != "shadow" {
		t.Fatalf("shadow alerts: %v", got)
	}
	for _, a := range f.delivered.All() {
		if a.Key == "c4" {
			t.Errorf("a shadow alert reached the blocking sinks: %+v", a)
		}
	}
	n := f.delivered.Len()
	if n != 2 {
		t.Errorf("delivered %d alerts, want 2 (c1, c3)", n)
	}
}

// lifecycleDisableDelete: disabled: out of the running set and the directory; the versions, lists and audit; delete.
func lifecycleDisableDelete(t *testing.T, f *apiFixture) {
	// Disabled: out of the running set and out of the directory.
	f.must("POST", "/v1/rules/big-twice:setMode", `{"mode": "disabled"}`)
	if _, err := os.Stat(filepath.Join(f.dir, "big-twice.yaml")); !os.IsNotExist(err) {
		t.Errorf("a disabled rule's file is still in the rule directory: %v", err)
	}
	f.pair("c5", 150)
	if got := f.alerts("c5", 0); len(got) != 0 {
		t.Fatalf("disabled rule alerted: %v", got)
	}

	vs := f.must("GET", "/v1/rules/big-twice/versions", "")["versions"].([]any)
	if len(vs) != 5 {
		t.Fatalf("versions: %v", vs)
	}
	if l := f.must("GET", "/v1/rules?mode=disabled", "")["rules"].([]any); len(l) != 1 {
		t.Fatalf("list by mode: %v", l)
	}
	if l := f.must("GET", "/v1/rules?tag=nope", "")["rules"].([]any); len(l) != 0 {
		t.Fatalf("list by tag: %v", l)
	}
	audit := f.must("GET", "/v1/audit?rule_id=big-twice", "")["entries"].([]any)
	if len(audit) != 5 || !strings.Contains(audit[3].(map[string]any)["diff"].(string), "+     where: e.type == 'auth' && e.amount > 1000.0") {
		t.Fatalf("audit: %v", audit)
	}
	f.must("DELETE", "/v1/rules/big-twice", "")
	if code, _ := f.do("GET", "/v1/rules/big-twice", ""); code != http.StatusNotFound {
		t.Fatalf("get after delete: %d", code)
	}
	if code, _ := f.do("GET", "/v1/openapi.json", ""); code != http.StatusOK {
		t.Fatalf("openapi: %d", code)
	}
	if code, _ := f.do("GET", "/healthz", ""); code != http.StatusOK {
		t.Fatalf("healthz: %d", code)
	}
}

func TestAPIBadInputREST(t *testing.T) {
	f := startAPIFixture(t)
	big := `{"source": "` + strings.Repeat("x", 2<<20) + `"}`
	for _, c := range []struct {
		name, method, path, body string
		want                     int
	}{
		{"malformed JSON", "POST", "/v1/rules", `{"source": `, 400},
		{"unknown field", "POST", "/v1/rules", `{"source": "id: x", "colour": "red"}`, 400},
		{"wrong type", "POST", "/v1/rules:rollback", `{"version": "three"}`, 404},
		{"wrong type version", "POST", "/v1/rules/x:rollback", `{"version": "three"}`, 400},
		{"wrong mode", "POST", "/v1/rules/x:setMode", `{"mode": "LOUD"}`, 400},
		{"empty source", "POST", "/v1/rules", `{}`, 400},
		{"not YAML", "POST", "/v1/rules", `{"source": "[[["}`, 400},
		{"oversized", "POST", "/v1/rules", big, 413},
		{"unknown rule", "GET", "/v1/rules/nope", "", 404},
		{"unknown path", "GET", "/v1/nothing", "", 404},
		{"wrong method", "PATCH", "/v1/rules/x", "{}", 405},
		{"bad limit", "GET", "/v1/alerts?limit=many", "", 400},
		{"limit too large", "GET", "/v1/alerts?limit=20000", "", 400},
		{"unknown version", "POST", "/v1/rules/x:rollback", `{"version": 9}`, 404},
		{"bad events", "POST", "/v1/events:batch", `{"events": 7}`, 400},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, out := f.do(c.method, c.path, c.body)
			if code != c.want || out["message"] == "" {
				t.Fatalf("%d %v, want %d with a message", code, out, c.want)
			}
		})
	}
}

// changeRuleGRPC takes big-twice (version 1) through a refused update, an update,
// a rollback, a mode change, a diff and a shadow trial over gRPC: versions 2 to 6.
func changeRuleGRPC(ctx context.Context, t *testing.T, rc cepv1.RulesClient) {
	t.Helper()
	if _, err := rc.UpdateRule(ctx, &cepv1.UpdateRuleRequest{Id: "big-twice", Source: bigTwice("'x'")}); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("broken update: %v", err)
	}
	if r, err := rc.UpdateRule(ctx, &cepv1.UpdateRuleRequest{Id: "big-twice", Source: bigTwice("500.0")}); err != nil || r.GetVersion() != 2 {
		t.Fatalf("update: %v %v", r, err)
	}
	if r, err := rc.RollbackRule(ctx, &cepv1.RollbackRuleRequest{Id: "big-twice", Version: 1}); err != nil || r.GetSource() != bigTwice("100.0") {
		t.Fatalf("rollback: %v %v", r, err)
	}
	if r, err := rc.SetRuleMode(ctx, &cepv1.SetRuleModeRequest{Id: "big-twice", Mode: "shadow"}); err != nil || r.GetMode() != "shadow" {
		t.Fatalf("setMode: %v %v", r, err)
	}
	d, err := rc.DiffRuleVersions(ctx, &cepv1.DiffRuleVersionsRequest{Id: "big-twice", From: 1, To: 2})
	if err != nil || !strings.Contains(d.GetDiff(), "- ") || !strings.Contains(d.GetDiff(), "500.0") {
		t.Fatalf("diff: %v %v", d, err)
	}
	if _, err := rc.SetRuleMode(ctx, &cepv1.SetRuleModeRequest{Id: "big-twice", Mode: "active"}); err != nil {
		t.Fatalf("setMode active: %v", err)
	}
	if r, err := rc.ShadowRule(ctx, &cepv1.ShadowRuleRequest{Id: "big-twice", Source: bigTwice("200.0")}); err != nil || r.GetShadowOf() != 5 {
		t.Fatalf("shadow: %v %v", r, err)
	}
	if c, err := rc.CompareShadow(ctx, &cepv1.CompareShadowRequest{Id: "big-twice"}); err != nil || c.GetActiveVersion() != 5 || c.GetShadowVersion() != 6 {
		t.Fatalf("compare: %v %v", c, err)
	}
}

func TestAPIRulesGRPC(t *testing.T) {
	f := startAPIFixture(t)
	conn, ctx := f.grpcCalls(time.Minute)
	rc, ac, ec := cepv1.NewRulesClient(conn), cepv1.NewAlertsClient(conn), cepv1.NewEventsClient(conn)

	stream, err := ac.StreamAlerts(ctx, &cepv1.StreamAlertsRequest{RuleId: "big-twice"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Header(); err != nil { // subscribed: no alert from now on is missed
		t.Fatal(err)
	}
	r, err := rc.CreateRule(ctx, &cepv1.CreateRuleRequest{Source: bigTwice("100.0")})
	if err != nil || r.GetVersion() != 1 {
		t.Fatalf("create: %v %v", r, err)
	}
	if _, err := rc.CreateRule(ctx, &cepv1.CreateRuleRequest{Source: bigTwice("100.0")}); status.Code(err) != codes.AlreadyExists {
		t.Fatalf("second create: %v", err)
	}
	var evs []*structpb.Struct
	for i := 1; i <= 2; i++ {
		s, _ := structpb.NewStruct(map[string]any{"event_id": fmt.Sprintf("g%d", i), "card_id": "g1",
			"ts": fmt.Sprintf("2026-03-01T11:0%d:00Z", i), "type": "auth", "amount": 150.0})
		evs = append(evs, s)
	}
	in, err := ec.IngestEvents(ctx, &cepv1.IngestEventsRequest{Events: evs})
	if err != nil || in.GetAccepted() != 2 || !slices.Equal(in.GetOutcomes(), []string{"matched", "matched"}) {
		t.Fatalf("ingest: %v %v", in, err)
	}
	// an event older than its card's newest, beyond the out-of-orderness: late, and said so
	old, _ := structpb.NewStruct(map[string]any{"event_id": "g0", "card_id": "g1", "ts": "2026-03-01T10:00:00Z", "type": "auth", "amount": 1.0})
	in, err = ec.IngestEvents(ctx, &cepv1.IngestEventsRequest{Events: []*structpb.Struct{old}})
	if err != nil || in.GetAccepted() != 0 || in.GetLate() != 1 || !slices.Equal(in.GetOutcomes(), []string{"late_dead_lettered"}) {
		t.Fatalf("late ingest: %v %v", in, err)
	}
	a, err := stream.Recv()
	if err != nil || a.GetKey() != "g1" || a.GetMode() != "active" {
		t.Fatalf("stream: %v %v", a, err)
	}
	list, err := ac.ListAlerts(ctx, &cepv1.ListAlertsRequest{RuleId: "big-twice", Key: "g1"})
	if err != nil || len(list.GetAlerts()) != 1 || list.GetAlerts()[0].GetId() != a.GetId() {
		t.Fatalf("list: %v %v", list, err)
	}
	changeRuleGRPC(ctx, t, rc)
	bc := cepv1.NewBacktestsClient(conn)
	if _, err := bc.CreateBacktest(ctx, &cepv1.CreateBacktestRequest{}); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("backtest: %v", err)
	}
	bt, err := bc.CreateBacktest(ctx, &cepv1.CreateBacktestRequest{Rules: []*cepv1.BacktestRule{{RuleId: "big-twice", Version: 1}}})
	for err == nil && (bt.GetState() == "QUEUED" || bt.GetState() == "RUNNING") {
		time.Sleep(10 * time.Millisecond)
		bt, err = bc.GetBacktest(ctx, &cepv1.GetBacktestRequest{Id: bt.GetId()})
	}
	if err != nil || bt.GetState() != "DONE" || len(bt.GetResults()) != 1 || bt.GetResults()[0].GetAlerts() != 1 {
		t.Fatalf("backtest over the retained events: %v %v", bt, err)
	}
	if h, err := cepv1.NewAdminClient(conn).GetHealth(ctx, &cepv1.GetHealthRequest{}); err != nil || h.GetStatus() == "" {
		t.Fatalf("health: %v %v", h, err)
	}
}
