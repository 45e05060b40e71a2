package main

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cepd/cepd/engine"
)

// greedyLoopsRule is issue 11's rule: two greedy loops over auth events before a step
// that never matches, without a window.
const greedyLoopsRule = `id: greedy-loops
severity: low
pattern:
  - name: a
    where: e.type == 'auth'
    times: 1+
    greedy: true
  - name: b
    where: e.type == 'auth'
    times: 1+
    greedy: true
  - name: never
    where: e.type == 'never'
`

// postEvents posts body (JSON lines) to p's REST ingest and wants 200.
func (p *cepdProc) postEvents(t *testing.T, body []byte) {
	t.Helper()
	resp, err := http.Post("http://"+p.api+"/v1/events", "application/x-ndjson", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("ingest: %d", resp.StatusCode)
	}
}

// hostile returns n events of the card "evil", numbered from from, one a second from base
// (epoch ms); the card-testing example is at 2024-03-01T10:00.
func hostile(base int64, from, n int) []byte {
	var b bytes.Buffer
	for i := from; i < from+n; i++ {
		fmt.Fprintf(&b, `{"event_id":"evil-%d","card_id":"evil","ts":%d,"type":"auth","amount":3.0}`+"\n", i, base+int64(i)*1000)
	}
	return b.Bytes()
}

// evilCardStats returns p's engine statistics and checks they name the card "evil" among
// the recent budget cuts of greedy-loops.
func evilCardStats(t *testing.T, p *cepdProc) engine.Snapshot {
	t.Helper()
	var s struct {
		Stats engine.Snapshot `json:"stats"`
	}
	p.get(t, "/v1/admin/stats", &s)
	if i := slices.IndexFunc(s.Stats.BudgetRecent, func(c engine.BudgetCut) bool { return c.Key == "evil" && c.Rule == "greedy-loops" }); i < 0 {
		t.Errorf("/v1/admin/stats does not mark the card: %+v", s.Stats.BudgetRecent)
	}
	return s.Stats
}

// TestProcessHostileKeyBudget reproduces item 1 of issue 11 on a real cepd: 2,500 auth
// events for one card under the greedy-loops rule (before the budget: gigabytes, an
// out-of-memory crash, and on restart the card's state refused and the ingest log
// replayed: a crash loop). With a (small) budget the card's state is cut, the cuts show
// in /v1/admin/stats, another card's alerts still come, the checkpoint of the card at its
// budget restores after kill -9 (nothing refused, the process stays up) and detection
// goes on.
func TestProcessHostileKeyBudget(t *testing.T) {
	dir := t.TempDir()
	rulesDir := filepath.Join(dir, "rules")
	copyRules(t, rulesDir)
	if err := os.WriteFile(filepath.Join(rulesDir, "greedy-loops.yaml"), []byte(greedyLoopsRule), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "alerts.jsonl")
	bin := buildCepd(t)
	start := func(name string) *cepdProc {
		return startCepdProc(t, bin, filepath.Join(dir, name+".log"), serveArgs(rulesDir, filepath.Join(dir, "data"), "--alerts-out", out, "--checkpoint-interval", "100ms",
			"--key-budget-digits", "20000", "--key-budget-entries", "1000"))
	}
	post := func(p *cepdProc, body []byte) { t.Helper(); p.postEvents(t, body) }
	adminStats := func(p *cepdProc) engine.Snapshot { t.Helper(); return evilCardStats(t, p) }
	const feb29, mar2 = 1709193600000, 1709337600000
	p := start("run1")
	for i := 0; i < 2500; i += 250 {
		post(p, hostile(feb29, i, 250))
	}
	examples, err := os.ReadFile(filepath.Join(fraudDir, "examples", "card-testing.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	post(p, examples)
	want := goldenIDs(t, filepath.Join(fraudDir, "examples", "card-testing.golden"))
	waitAlerts := func() {
		t.Helper()
		var got map[string]int
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if got = ruleAlertIDs(t, out, "card-testing"); len(got) == len(want) {
				return
			}
		}
		t.Fatalf("card-testing alerts next to the hostile card: %d of %d", len(got), len(want))
	}
	waitAlerts()
	st := adminStats(p)
	if st.BudgetCutsByRule["greedy-loops"] == 0 || st.BudgetCutRuns == 0 || st.MemoryBytes <= 0 {
		t.Fatalf("/v1/admin/stats shows no budget cut: cuts %v by rule %v, %d accounted bytes", st.BudgetCuts, st.BudgetCutsByRule, st.MemoryBytes)
	}
	if st.PeakDigits > 20000 || st.PeakNodes > 1000 {
		t.Fatalf("a key and rule held %d digits and %d entries, over the budget", st.PeakDigits, st.PeakNodes)
	}
	time.Sleep(300 * time.Millisecond) // a checkpoint covers the card at its budget
	p.kill9()

	p = start("run2")
	post(p, hostile(mar2, 2500, 300)) // the card at its budget, restored, goes on
	before := len(ruleAlertIDs(t, out, "card-testing"))
	later := bytes.ReplaceAll(bytes.ReplaceAll(examples, []byte("ct-card-1"), []byte("ct-card-2")), []byte("2024-03-01"), []byte("2024-03-03"))
	post(p, later)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if len(ruleAlertIDs(t, out, "card-testing")) > before {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no card-testing alert after the restart")
		}
	}
	st = adminStats(p)
	if st.BudgetCutsByRule["greedy-loops"] == 0 {
		t.Fatalf("the restarted cepd cut nothing: %v", st.BudgetCutsByRule)
	}
	if err := p.stop(20 * time.Second); err != nil {
		t.Fatal(err)
	}
	log, _ := os.ReadFile(filepath.Join(dir, "run2.log"))
	if strings.Contains(string(log), "cannot be restored") {
		t.Fatalf("the state of a key at its budget was refused on restart:\n%s", fileTail(filepath.Join(dir, "run2.log"), 2000))
	}
}
