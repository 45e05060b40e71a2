package main

import (
	_ "embed"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	cepv1 "github.com/cepd/cepd/api/cep/v1"
)

// bigTwiceTests are tests of big-twice (apiRule) for a threshold below 150 and above 50.
//
//go:embed testdata/big-twice.test.yaml
var bigTwiceTests string

// bigTwiceTests300 pass for a threshold between 150 and 300.
//
//go:embed testdata/big-twice-300.test.yaml
var bigTwiceTests300 string

func ruleBody(source, tests string, force bool) string {
	m := map[string]any{"source": source}
	if tests != "" {
		m["tests"] = tests
	}
	if force {
		m["force"] = true
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// TestAPIRuleTestsREST: a rule change through REST runs the rule's tests first. Passing
// tests are stored with the version; failing ones refuse the change with the runner's
// report and change nothing; force stores it and the audit entry says the tests failed;
// a change without tests keeps (and runs) the current version's.
func TestAPIRuleTestsREST(t *testing.T) {
	f := startAPIFixture(t)
	created := f.must("POST", "/v1/rules", ruleBody(bigTwice("100.0"), bigTwiceTests, false))
	if created["version"] != 1.0 || created["tests"] != bigTwiceTests {
		t.Fatalf("create with passing tests: %v", created)
	}
	if got := f.must("GET", "/v1/rules/big-twice", ""); got["tests"] != bigTwiceTests {
		t.Fatalf("GET: tests %q", got["tests"])
	}

	// The kept tests fail against a threshold of 200: refused, with the diff.
	code, out := f.do("PUT", "/v1/rules/big-twice", ruleBody(bigTwice("200.0"), "", false))
	msg, _ := out["message"].(string)
	if code != http.StatusBadRequest || !strings.Contains(msg, "FAIL rule.test.yaml:3: two of 150 raise it") ||
		!strings.Contains(msg, "1 passed, 1 failed") || !strings.Contains(msg, "nothing was changed") {
		t.Fatalf("update failing the kept tests: %d %v", code, out)
	}
	if got := f.must("GET", "/v1/rules/big-twice", ""); got["version"] != 1.0 {
		t.Fatalf("a refused change was stored: %v", got)
	}

	// A change without tests that passes the kept ones: stored, tests kept.
	if got := f.must("PUT", "/v1/rules/big-twice", ruleBody(bigTwice("120.0"), "", false)); got["version"] != 2.0 || got["tests"] != bigTwiceTests {
		t.Fatalf("update passing the kept tests: %v", got)
	}

	// Forced past failing tests: stored, and the audit entry records the report.
	if got := f.must("PUT", "/v1/rules/big-twice", ruleBody(bigTwice("200.0"), "", true)); got["version"] != 3.0 || got["tests"] != bigTwiceTests {
		t.Fatalf("forced update: %v", got)
	}
	audit := f.must("GET", "/v1/audit?rule_id=big-twice&limit=2", "")["entries"].([]any)
	forced, _ := audit[0].(map[string]any)["tests_forced"].(string)
	if !strings.Contains(forced, "FAIL rule.test.yaml:3: two of 150 raise it") || audit[1].(map[string]any)["tests_forced"] != "" {
		t.Fatalf("audit of the forced change: %v", audit)
	}

	// New tests replace the kept ones; they run against the new source.
	if got := f.must("PUT", "/v1/rules/big-twice", ruleBody(bigTwice("200.0"), bigTwiceTests300, false)); got["version"] != 4.0 || got["tests"] != bigTwiceTests300 {
		t.Fatalf("update with new tests: %v", got)
	}
	vs := f.must("GET", "/v1/rules/big-twice/versions", "")["versions"].([]any)
	for i, want := range []string{bigTwiceTests, bigTwiceTests, bigTwiceTests, bigTwiceTests300} {
		if vs[i].(map[string]any)["tests"] != want {
			t.Errorf("version %d: tests %q, want %q", i+1, vs[i].(map[string]any)["tests"], want)
		}
	}
	if v := f.must("GET", "/v1/rules/big-twice/versions/1", ""); v["tests"] != bigTwiceTests {
		t.Errorf("version 1: tests %q", v["tests"])
	}

	// A new rule whose tests fail is not created; a test file with a problem is refused
	// with its position, forced or not.
	other := strings.Replace(bigTwice("500.0"), "id: big-twice", "id: big-other", 1)
	if code, out := f.do("POST", "/v1/rules", ruleBody(other, bigTwiceTests, false)); code != http.StatusBadRequest || !strings.Contains(out["message"].(string), "FAIL rule.test.yaml:3: two of 150 raise it") {
		t.Fatalf("create with failing tests: %d %v", code, out)
	}
	if code, _ := f.do("GET", "/v1/rules/big-other", ""); code != http.StatusNotFound {
		t.Fatalf("a refused create was stored: %d", code)
	}
	if code, out := f.do("PUT", "/v1/rules/big-twice", ruleBody(bigTwice("200.0"), "tests:\n  - name: x\n    events: []\n", true)); code != http.StatusBadRequest ||
		!strings.Contains(out["message"].(string), "rule.test.yaml:2:") {
		t.Fatalf("a test file with a problem: %d %v", code, out)
	}
}

// TestAPIRuleTestsGRPC: the same through gRPC: FailedPrecondition with the report, force,
// tests kept by a change without them, tests in GetRule, ListRuleVersions and the audit.
func TestAPIRuleTestsGRPC(t *testing.T) {
	f := startAPIFixture(t)
	conn, ctx := f.grpcCalls(time.Minute)
	rc := cepv1.NewRulesClient(conn)
	if r, err := rc.CreateRule(ctx, &cepv1.CreateRuleRequest{Source: bigTwice("100.0"), Tests: bigTwiceTests}); err != nil || r.GetTests() != bigTwiceTests {
		t.Fatalf("create: %v %v", r, err)
	}
	_, err := rc.UpdateRule(ctx, &cepv1.UpdateRuleRequest{Id: "big-twice", Source: bigTwice("200.0")})
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(status.Convert(err).Message(), "FAIL rule.test.yaml:3: two of 150 raise it\n") {
		t.Fatalf("update failing the kept tests: %v", err)
	}
	r, err := rc.UpdateRule(ctx, &cepv1.UpdateRuleRequest{Id: "big-twice", Source: bigTwice("200.0"), Force: true, Comment: "deliberate"})
	if err != nil || r.GetVersion() != 2 || r.GetTests() != bigTwiceTests {
		t.Fatalf("forced update: %v %v", r, err)
	}
	au, err := rc.ListAuditEntries(ctx, &cepv1.ListAuditEntriesRequest{RuleId: "big-twice", Limit: 1})
	if err != nil || len(au.GetEntries()) != 1 || !strings.Contains(au.GetEntries()[0].GetTestsForced(), "1 passed, 1 failed") {
		t.Fatalf("audit: %v %v", au, err)
	}
	if _, err := rc.UpdateRule(ctx, &cepv1.UpdateRuleRequest{Id: "big-twice", Source: bigTwice("250.0"), Tests: bigTwiceTests300}); err != nil {
		t.Fatalf("update with new passing tests: %v", err)
	}
	if g, err := rc.GetRule(ctx, &cepv1.GetRuleRequest{Id: "big-twice"}); err != nil || g.GetVersion() != 3 || g.GetTests() != bigTwiceTests300 {
		t.Fatalf("get: %v %v", g, err)
	}
	vs, err := rc.ListRuleVersions(ctx, &cepv1.ListRuleVersionsRequest{Id: "big-twice"})
	if err != nil || len(vs.GetVersions()) != 3 || vs.GetVersions()[0].GetTests() != bigTwiceTests || vs.GetVersions()[2].GetTests() != bigTwiceTests300 {
		t.Fatalf("versions: %v %v", vs, err)
	}
}
