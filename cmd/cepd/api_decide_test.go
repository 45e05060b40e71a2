package main

import (
	"context"
	_ "embed"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/cepd/cepd/alerts"
	"github.com/cepd/cepd/api"
	cepv1 "github.com/cepd/cepd/api/cep/v1"
	"github.com/cepd/cepd/api/service"
	"github.com/cepd/cepd/engine"
	"github.com/cepd/cepd/source/rest"
)

// decideRules blocks an authorisation over 1000 (score 90); a key raises it once an hour
// (cooldown).
//
//go:embed testdata/big-auth.yaml
var decideRules string

// decideRules2 sends two authorisations of a key within 10 minutes to review (score 30).
//
//go:embed testdata/two-auths.yaml
var decideRules2 string

// decideFixture is cepd's API over a real engine with the analysts' log in the rule
// directory and the suppressions in the alert path, as serve wires them.
type decideFixture struct {
	*apiFixture
	conn *grpc.ClientConn
}

// startDecideRules writes rules (file name: source) into a new rule directory and starts
// the fixture on it (f.dir).
func startDecideRules(t testing.TB, rules map[string]string) *decideFixture {
	t.Helper()
	dir := t.TempDir()
	for name, src := range rules {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return startDecideFixture(t, dir)
}

func startDecideFixture(t testing.TB, ruleDir string) *decideFixture {
	t.Helper()
	st, rs, data := seedRuleDir(t, ruleDir, true)
	ctx, cancel := context.WithCancel(context.Background())
	book, sup, closeBook, err := openAnalyst(ctx, ruleDir, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	f := &apiFixture{t: t, delivered: &alerts.Collector{}, dir: ruleDir}
	pipe, err := alerts.Open(alerts.Config{RingSize: 1000, Gate: sup, Outputs: []alerts.Output{{Name: "test", Sink: f.delivered}}})
	if err != nil {
		t.Fatal(err)
	}
	f.ring = pipe.Ring()
	modes := service.NewModes(pipe.Trials())
	eng, err := engine.New(engine.Config{Shards: 2, OutOfOrderness: time.Minute, KeySpaces: true}, rs, pipe, &dlqWriter{}) // every key space, as cepd serve embedded
	if err != nil {
		t.Fatal(err)
	}
	eng.Start(ctx)
	restIngest := rest.New(rest.Config{}, eng, f.ring, slog.Default(), eng.CheckpointHealth)
	gln, hln := loopbackListeners(t)
	srv, err := api.Start(ctx, eng, f.ring, st, api.Options{GRPCListener: gln, HTTPListener: hln, Schema: rs.Schema,
		RestIngest: restIngest, Modes: modes, MaxBody: 1 << 20, Analyst: book, Suppressions: sup, Data: data})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.NewClient(srv.GRPCAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(); srv.Stop(); eng.Close(); cancel(); closeBook() })
	f.base, f.grpcAddr, f.eng = "http://"+srv.HTTPAddr, srv.GRPCAddr, eng
	return &decideFixture{apiFixture: f, conn: conn}
}

func authEvent(id, card string, minute int, amount float64) string {
	return fmt.Sprintf(`{"event_id":%q,"card_id":%q,"ts":"2026-03-01T10:%02d:00Z","type":"auth","amount":%g}`, id, card, minute, amount)
}

func (f *decideFixture) decide(ev string) map[string]any {
	f.t.Helper()
	return f.must("POST", "/v1/decide", `{"event": `+ev+`}`)
}

func decidedAlerts(out map[string]any) []map[string]any {
	var as []map[string]any
	for _, x := range out["alerts"].([]any) {
		as = append(as, x.(map[string]any))
	}
	return as
}

// TestDecideREST: POST /v1/decide answers with the alerts the event completed, their
// rules' decisions combined; a rule's cooldown keeps its second alert from delivery but
// not from the decision; bad and late events are said so.
func TestDecideREST(t *testing.T) {
	f := startDecideRules(t, map[string]string{"big-auth.yaml": decideRules, "two-auths.yaml": decideRules2})

	out := f.decide(authEvent("d1", "c1", 10, 5))
	if out["status"] != "decided" || out["outcome"] != "allow" || out["score"] != 0.0 || len(decidedAlerts(out)) != 0 || out["event_outcome"] != "matched" {
		t.Fatalf("first small auth: %v", out)
	}
	out = f.decide(authEvent("d2", "c1", 11, 5000))
	as := decidedAlerts(out)
	if out["status"] != "decided" || out["outcome"] != "block" || out["score"] != 120.0 || len(as) != 2 {
		t.Fatalf("big auth after a small one: %v", out)
	}
	for _, a := range as {
		al := a["alert"].(map[string]any)
		if a["counted"] != true || al["suppressed"] != nil {
			t.Fatalf("alert %v", a)
		}
		if al["rule_id"] == "big-auth" && (a["outcome"] != "block" || a["score"] != 90.0 || al["severity"] != "high") {
			t.Fatalf("big-auth's part: %v", a)
		}
	}
	// within the cooldown: not delivered again, but the pattern still decides
	out = f.decide(authEvent("d3", "c1", 30, 7000))
	var cooled map[string]any
	for _, a := range decidedAlerts(out) {
		if a["alert"].(map[string]any)["rule_id"] == "big-auth" {
			cooled = a
		}
	}
	if out["outcome"] != "block" || cooled == nil || cooled["counted"] != true ||
		cooled["alert"].(map[string]any)["suppressed"].(map[string]any)["by"] != "cooldown" {
		t.Fatalf("big auth within the cooldown: %v", out)
	}
	delivered := 0
	for _, a := range f.delivered.All() {
		if a.RuleID == "big-auth" {
			delivered++
		}
	}
	if delivered != 1 {
		t.Fatalf("big-auth delivered %d times, want 1 (the cooldown)", delivered)
	}
	// a bad event is rejected, a late one is late: neither is decided
	if out := f.decide(`{"event_id":"d4","card_id":"c1","type":"auth","amount":1}`); out["status"] != "rejected" || out["error"] == "" {
		t.Fatalf("event without time: %v", out)
	}
	if out := f.decide(authEvent("d5", "c1", 1, 1)); out["status"] != "late" || out["event_outcome"] != "late_dead_lettered" {
		t.Fatalf("late event: %v", out)
	}
	// an event out of order within the out-of-orderness is re-matched, and decided
	if out := f.decide(authEvent("d6", "c1", 29, 9000)); out["status"] != "decided" || out["event_outcome"] != "rematched" {
		t.Fatalf("out-of-order event: %v", out)
	}
	if code, out := f.do("POST", "/v1/decide", `{"event": {"card_id": "c1"}, "timeout_ms": 999999}`); code != http.StatusBadRequest {
		t.Fatalf("huge timeout: %d %v", code, out)
	}

	// gRPC
	dc := cepv1.NewDecisionsClient(f.conn)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ev, _ := structpb.NewStruct(map[string]any{"event_id": "g1", "card_id": "c2", "ts": "2026-03-01T11:00:00Z", "type": "auth", "amount": 2000.0})
	resp, err := dc.Decide(ctx, &cepv1.DecideRequest{Event: ev})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != "decided" || resp.Outcome != "block" || resp.Score != 90 || len(resp.Alerts) != 1 || resp.Alerts[0].Alert.RuleId != "big-auth" || resp.LatencyUs <= 0 {
		t.Fatalf("gRPC decide: %v", resp)
	}
}

// TestSuppressionsAndFeedbackREST: an analyst's suppression keeps a key's alerts from the
// blocking sinks and from decisions, marked in the alert list; it is audited, listed,
// deleted, and survives a restart. Feedback on an alert gives its rule's precision.
func TestSuppressionsAndFeedbackREST(t *testing.T) {
	f := startDecideRules(t, map[string]string{"big-auth.yaml": decideRules})
	s, listed := suppressionApplied(t, f)
	feedbackGivesPrecision(t, f, listed)
	suppressionDeleted(t, f, s)
}

// suppressionApplied suppresses c9's alerts of big-auth: c9's decision allows and its
// alert is marked, c8's is delivered; it returns the suppression and the alerts listed.
func suppressionApplied(t *testing.T, f *decideFixture) (s map[string]any, listed []any) {
	s = f.must("POST", "/v1/suppressions", `{"key": "c9", "rule_id": "big-auth", "duration": "2h", "reason": "card on a known trip"}`)
	if s["id"] == "" || s["author"] != "alice" || s["key"] != "c9" {
		t.Fatalf("create: %v", s)
	}
	if code, out := f.do("POST", "/v1/suppressions", `{"key": "c9", "duration": "2h"}`); code != http.StatusBadRequest {
		t.Fatalf("no reason: %d %v", code, out)
	}
	out := f.decide(authEvent("s1", "c9", 10, 5000))
	as := decidedAlerts(out)
	if out["outcome"] != "allow" || len(as) != 1 || as[0]["counted"] != false {
		t.Fatalf("decision on a suppressed key: %v", out)
	}
	sup := as[0]["alert"].(map[string]any)["suppressed"].(map[string]any)
	if sup["by"] != "analyst" || sup["reason"] != "card on a known trip" || sup["id"] != s["id"] {
		t.Fatalf("suppressed: %v", sup)
	}
	f.decide(authEvent("s2", "c8", 10, 5000)) // another key: delivered
	listed = f.must("GET", "/v1/alerts?rule_id=big-auth", "")["alerts"].([]any)
	if len(listed) != 2 {
		t.Fatalf("alerts listed: %v", listed)
	}
	for _, x := range listed {
		a := x.(map[string]any)
		if (a["key"] == "c9") != (a["suppressed"] != nil) {
			t.Fatalf("listed alert %v", a)
		}
	}
	delivered := f.delivered.All()
	n, key := len(delivered), ""
	if n > 0 {
		key = delivered[0].Key
	}
	if n != 1 || key != "c8" {
		t.Fatalf("delivered %d alerts (%s), want c8's alone", n, key)
	}
	if l := f.must("GET", "/v1/suppressions", "")["suppressions"].([]any); len(l) != 1 {
		t.Fatalf("list: %v", l)
	}
	return s, listed
}

// feedbackGivesPrecision labels the listed alerts (c8 fraud, c9 a false positive): the
// rule's precision is 0.5; unknown alerts and labels are refused.
func feedbackGivesPrecision(t *testing.T, f *decideFixture, listed []any) {
	var c9, c8 string
	for _, x := range listed {
		a := x.(map[string]any)
		if a["key"] == "c9" {
			c9 = a["id"].(string)
		} else {
			c8 = a["id"].(string)
		}
	}
	fb := f.must("POST", "/v1/alerts/"+c8+"/feedback", `{"label": "fraud", "comment": "customer confirmed"}`)
	if fb["rule_id"] != "big-auth" || fb["author"] != "alice" || fb["key"] != "c8" {
		t.Fatalf("feedback: %v", fb)
	}
	f.must("POST", "/v1/alerts/"+c9+"/feedback", `{"label": "false_positive"}`)
	if code, _ := f.do("POST", "/v1/alerts/nope/feedback", `{"label": "fraud"}`); code != http.StatusNotFound {
		t.Fatalf("unknown alert: %d", code)
	}
	if code, _ := f.do("POST", "/v1/alerts/"+c8+"/feedback", `{"label": "maybe"}`); code != http.StatusBadRequest {
		t.Fatalf("bad label: %d", code)
	}
	p := f.must("GET", "/v1/feedback:precision", "")["rules"].([]any)
	if len(p) != 1 || p[0].(map[string]any)["precision"] != 0.5 || p[0].(map[string]any)["fraud"] != 1.0 {
		t.Fatalf("precision: %v", p)
	}
	if got := f.must("GET", "/v1/alerts/"+c8+"/feedback", ""); got["comment"] != "customer confirmed" {
		t.Fatalf("get feedback: %v", got)
	}
}

// suppressionDeleted deletes the suppression s, audited: c9's next alert blocks again.
func suppressionDeleted(t *testing.T, f *decideFixture, s map[string]any) {
	if code, out := f.do("DELETE", "/v1/suppressions/"+s["id"].(string)+"?reason=trip%20over", ""); code != http.StatusOK {
		t.Fatalf("delete: %d %v", code, out)
	}
	if code, _ := f.do("DELETE", "/v1/suppressions/"+s["id"].(string), ""); code != http.StatusNotFound {
		t.Fatalf("second delete: %d", code)
	}
	audit := f.must("GET", "/v1/feedback:audit", "")["entries"].([]any)
	if len(audit) != 4 || audit[0].(map[string]any)["action"] != "unsuppress" || audit[0].(map[string]any)["reason"] != "trip over" || audit[3].(map[string]any)["author"] != "alice" {
		t.Fatalf("audit: %v", audit)
	}
	if out := f.decide(authEvent("s3", "c9", 20, 5000)); out["outcome"] != "block" {
		t.Fatalf("after the deletion: %v", out)
	}
}

// TestSuppressionSurvivesRestart: a suppression made through the API is in force in the
// next process on the same rule directory.
func TestSuppressionSurvivesRestart(t *testing.T) {
	f := startDecideRules(t, map[string]string{"big-auth.yaml": decideRules})
	f.must("POST", "/v1/suppressions", `{"key": "c7", "duration": "1h", "reason": "test card"}`)
	f2 := startDecideFixture(t, f.dir) // a new instance on the same directory (the first left running: one writer at a time)
	out := f2.decide(authEvent("r1", "c7", 10, 5000))
	if as := decidedAlerts(out); len(as) != 1 || as[0]["counted"] != false || out["outcome"] != "allow" {
		t.Fatalf("after restart: %v", out)
	}
}
