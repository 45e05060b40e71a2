package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cepd/cepd/api"
	cepv1 "github.com/cepd/cepd/api/cep/v1"
	"github.com/cepd/cepd/api/service"
	"github.com/cepd/cepd/rules/refdata"
	"github.com/cepd/cepd/rules/store"
)

// startListsFixture is the API fixture with the Lists service over its rule directory.
func startListsFixture(t *testing.T) *apiFixture {
	t.Helper()
	var lists *service.Lists
	f := startAPIFixtureOpts(t, nil, func(o *api.Options) {
		st, err := store.OpenDir(t.TempDir(), store.DirOptions{})
		if err != nil {
			t.Fatal(err)
		}
		lists = service.NewLists(st, refdata.NewHolder(nil))
		o.Lists, o.Data = lists, lists.Holder()
	})
	lists.Readers = func() map[string][]string { return service.ReadersOf(f.eng.Rules().Rules) }
	return f
}

const watchRule = `id: watched
severity: high
pattern:
  - name: hit
    where: e.type == 'auth' && in_list('merchant_watch', e.merchant_id)
`

// ingestAt posts one authorisation of card at merchant.
func (f *apiFixture) ingestAt(card, merchant string) {
	f.t.Helper()
	f.seq++
	ev := fmt.Sprintf(`{"event_id":"l%d","card_id":%q,"ts":"2026-03-01T10:%02d:00Z","type":"auth","amount":10,"merchant_id":%q}`, f.seq, card, f.seq%60, merchant)
	resp, err := http.Post(f.base+"/v1/events", "application/x-ndjson", strings.NewReader(ev))
	if err != nil {
		f.t.Fatal(err)
	}
	resp.Body.Close()
	if err := f.eng.Flush(context.Background()); err != nil {
		f.t.Fatal(err)
	}
}

func TestAPIListsREST(t *testing.T) {
	f := startListsFixture(t)
	out := f.must("POST", "/v1/lists", `{"name":"merchant_watch","kind":"WATCH","description":"rings","content":"m1\nm2\nm1\n","comment":"first"}`)
	if out["version"] != 1.0 || out["entries"] != 2.0 || out["author"] != "alice" || out["loaded_version"] != 1.0 {
		t.Fatalf("create: %v", out)
	}
	if code, out := f.do("POST", "/v1/lists", `{"name":"merchant_watch","kind":"WATCH"}`); code != http.StatusConflict {
		t.Fatalf("second create: %d %v", code, out)
	}
	if code, out := f.do("POST", "/v1/lists", `{"name":"rates","kind":"TABLE","content":"k,rate:double\na,x\n"}`); code != http.StatusBadRequest || !strings.Contains(fmt.Sprint(out["message"]), `line 2: column rate: "x" is not a double`) {
		t.Fatalf("bad table: %d %v", code, out)
	}
	// A rule naming an unknown list does not compile; one naming the list does.
	bad := strings.Replace(watchRule, "merchant_watch", "merchant_wach", 1)
	if code, out := f.do("POST", "/v1/rules", `{"source":`+jsonString(bad)+`}`); code != http.StatusBadRequest || !strings.Contains(fmt.Sprint(out["message"]), "unknown dataset 'merchant_wach' (lists and tables: merchant_watch)") {
		t.Fatalf("rule with an unknown list: %d %v", code, out)
	}
	f.must("POST", "/v1/rules", `{"source":`+jsonString(watchRule)+`}`)

	// An entry added through the API is matched from the next event on, without a
	// rule change.
	f.ingestAt("c1", "m3")
	if n := len(f.must("GET", "/v1/alerts?rule_id=watched", "")["alerts"].([]any)); n != 0 {
		t.Fatalf("%d alerts before m3 is listed", n)
	}
	if out := f.must("POST", "/v1/lists/merchant_watch:add", `{"values":["m3","m4"],"comment":"case 42"}`); out["version"] != 2.0 || out["entries"] != 4.0 {
		t.Fatalf("add: %v", out)
	}
	f.ingestAt("c1", "m3")
	as := f.must("GET", "/v1/alerts?rule_id=watched", "")["alerts"].([]any)
	if len(as) != 1 {
		t.Fatalf("%d alerts after m3 is listed, want 1", len(as))
	}
	data := as[0].(map[string]any)["data"].([]any)
	if d := data[0].(map[string]any); d["name"] != "merchant_watch" || d["version"] != 2.0 || d["digest"] == "" {
		t.Fatalf("the alert's data: %v", data)
	}
	f.must("POST", "/v1/lists/merchant_watch:remove", `{"values":["m3"]}`)
	f.ingestAt("c2", "m3")
	if n := len(f.must("GET", "/v1/alerts?rule_id=watched", "")["alerts"].([]any)); n != 1 {
		t.Fatalf("%d alerts after m3 is removed, want still 1", n)
	}

	// Deleting a list a rule reads is refused, naming the rule.
	if code, out := f.do("DELETE", "/v1/lists/merchant_watch", ""); code != http.StatusBadRequest || !strings.Contains(fmt.Sprint(out["message"]), "read by rules watched") {
		t.Fatalf("delete of a list in use: %d %v", code, out)
	}
	if out := f.must("GET", "/v1/lists", ""); fmt.Sprint(out["lists"].([]any)[0].(map[string]any)["used_by"]) != "[watched]" {
		t.Fatalf("list: %v", out)
	}
	// A bulk import replaces the entries.
	if out := f.must("POST", "/v1/lists/merchant_watch:import", `{"content":"merchant_id,note\nm7,x\nm8,y\n","header":true}`); out["version"] != 4.0 || out["entries"] != 2.0 {
		t.Fatalf("import: %v", out)
	}
	if out := f.must("GET", "/v1/lists/merchant_watch?include_entries=true", ""); out["content"] != "merchant_id\nm7\nm8\n" {
		t.Fatalf("get: %v", out)
	}
	vs := f.must("GET", "/v1/lists/merchant_watch/versions", "")["versions"].([]any)
	if len(vs) != 4 || vs[1].(map[string]any)["action"] != "add" || vs[1].(map[string]any)["comment"] != "case 42" {
		t.Fatalf("versions: %v", vs)
	}
	audit := f.must("GET", "/v1/lists:audit?name=merchant_watch&limit=2", "")["entries"].([]any)
	if len(audit) != 2 || audit[0].(map[string]any)["action"] != "import" || !strings.Contains(fmt.Sprint(audit[1].(map[string]any)["summary"]), "removed m3") {
		t.Fatalf("audit: %v", audit)
	}
	// Once no rule reads it, it can be deleted.
	f.must("DELETE", "/v1/rules/watched", "")
	if out := f.must("DELETE", "/v1/lists/merchant_watch", ""); out["deleted"] != true {
		t.Fatalf("delete: %v", out)
	}
	if code, _ := f.do("GET", "/v1/lists/merchant_watch", ""); code != http.StatusNotFound {
		t.Fatalf("get of a deleted list: %d", code)
	}
}

func TestAPIListsGRPC(t *testing.T) {
	f := startListsFixture(t)
	conn, ctx := f.grpcCalls(time.Minute)
	lc, rc := cepv1.NewListsClient(conn), cepv1.NewRulesClient(conn)
	tbl, err := lc.CreateList(ctx, &cepv1.CreateListRequest{Name: "merchant_risk", Kind: cepv1.ListKind_TABLE, Format: cepv1.ListFormat_JSONL,
		Content: `{"key":"m1","tier":"high","score":91.5}` + "\n" + `{"key":"m2","tier":"low"}` + "\n"})
	if err != nil || tbl.GetEntries() != 2 || strings.Join(tbl.GetColumns(), ",") != "score:double,tier:string" {
		t.Fatalf("create table: %v %v", tbl, err)
	}
	rule := "id: risky\npattern:\n  - name: a\n    where: e.type == 'auth' && lookup('merchant_risk', e.merchant_id, 'tier', 'low') == 'high'\nemit:\n  score: ref('merchant_risk', e.merchant_id).score\n"
	if _, err := rc.CreateRule(ctx, &cepv1.CreateRuleRequest{Source: rule}); err != nil {
		t.Fatal(err)
	}
	f.ingestAt("c1", "m1")
	as := f.must("GET", "/v1/alerts?rule_id=risky", "")["alerts"].([]any)
	if len(as) != 1 || as[0].(map[string]any)["emit"].(map[string]any)["score"] != 91.5 {
		t.Fatalf("alerts: %v", as)
	}
	if _, err := lc.AddListEntries(ctx, &cepv1.ListEntriesRequest{Name: "merchant_risk", Values: []string{"m9"}}); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("add to a table: %v", err)
	}
	if _, err := lc.DeleteList(ctx, &cepv1.DeleteListRequest{Name: "merchant_risk"}); status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "risky") {
		t.Fatalf("delete of a table in use: %v", err)
	}
	if _, err := lc.GetList(ctx, &cepv1.GetListRequest{Name: "nope"}); status.Code(err) != codes.NotFound {
		t.Fatalf("get of a missing list: %v", err)
	}
}
