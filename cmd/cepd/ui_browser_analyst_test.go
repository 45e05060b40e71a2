package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestUIBrowserAnalyst drives the analysts' screens beyond rules in headless Chromium
// against a real cepd with access control: lists (a rule using in_list fires once an
// entry is added in the UI), suppressions (a suppressed key's alert is marked so) and
// feedback (marking alerts changes the rule's precision in the rules list); a viewer
// is offered none of their controls and the server refuses them.
func TestUIBrowserAnalyst(t *testing.T) {
	u := startUIAnalyst(t)
	u.signIn("analyst-token-01234567")
	uiLists(u)
	uiSuppressions(u)
	uiFeedback(u)
	uiAnalystViewer(u)
}

// startUIAnalyst starts cepd (the fraud schema, no rules, access control on) and a
// headless Chromium on its UI, both stopped when the test ends.
func startUIAnalyst(t *testing.T) *uiEnv {
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("chromium is needed (apt-get install chromium; scripts/test.sh installs it)")
	}
	dir := t.TempDir()
	rules := filepath.Join(dir, "rules")
	must(t, os.MkdirAll(rules, 0o755))
	schema, err := os.ReadFile(filepath.Join(fraudDir, "schema.yaml"))
	must(t, err)
	must(t, os.WriteFile(filepath.Join(rules, "schema.yaml"), schema, 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "tokens"), []byte(testTokens), 0o600))
	p := startCepdProc(t, buildCepd(t), filepath.Join(dir, "cepd.log"), []string{"serve", "--data", filepath.Join(dir, "data"),
		"--rules", rules, "--http", "127.0.0.1:0", "--grpc", "127.0.0.1:0", "--auth-tokens", filepath.Join(dir, "tokens")})
	t.Cleanup(func() {
		if err := p.stop(10 * time.Second); err != nil {
			t.Error(err)
		}
	})
	actx, cancel := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromium), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true), chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1440, 900))
	t.Cleanup(cancel)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(cancel)
	ctx, cancel = context.WithTimeout(ctx, 100*time.Second)
	t.Cleanup(cancel)
	must(t, chromedp.Do(ctx))
	u := &uiEnv{t: t, base: "http://" + p.api, ctx: ctx, shots: shotsDir(t)}
	must(t, os.MkdirAll(u.shots, 0o755))
	u.run("open", chromedp.Navigate(u.base+"/"))
	return u
}

// call sends a JSON request with a token and returns the status.
func (u *uiEnv) call(method, path, token, body string) int {
	u.t.Helper()
	req, _ := http.NewRequest(method, u.base+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		u.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// createRule stores an active rule as the analyst.
func (u *uiEnv) createRule(src string) {
	u.t.Helper()
	if code := u.call("POST", "/v1/rules", "analyst-token-01234567", `{"source": `+jsonString(src)+`}`); code != http.StatusOK {
		u.t.Fatalf("create rule: %d", code)
	}
}

// auth sends one authorisation of card at merchant.
func (u *uiEnv) auth(id, card, merchant string, minute int, amount float64) {
	u.t.Helper()
	u.ingest(fmt.Sprintf(`{"event_id":%q,"card_id":%q,"ts":"2026-03-01T10:%02d:00Z","type":"auth","amount":%g,"merchant_id":%q}`+"\n", id, card, minute, amount, merchant))
}

// setField sets an input's or select's value as typing or choosing would.
func (u *uiEnv) setField(sel, value string) {
	u.t.Helper()
	u.visible(sel)
	u.eval("set "+sel, fmt.Sprintf(`(() => { const e = document.querySelector(%q); e.value = %q;
		e.dispatchEvent(new Event(e.tagName === 'SELECT' ? 'change' : 'input', {bubbles: true})) })()`, sel, value))
}

// uiLists: the analyst creates a watch list in the UI and adds a merchant; a rule reading
// it with in_list fires on that merchant; a CSV import replaces the entries (searched,
// one removed), and the next alert follows the imported ones; the history has each step.
// The CSV is chosen as a file, through the file input.
func uiLists(u *uiEnv) {
	t := u.t
	u.goTo("#/lists")
	u.click(`[data-testid=new-list]`)
	u.setField(`#list-name`, "ui_watch")
	u.setField(`#list-kind`, "WATCH")
	u.setField(`#list-comment`, "ring merchants")
	u.click(`[data-testid=create-list]`)
	u.waitJS("list page", `location.hash === '#/lists/ui_watch' && !!document.querySelector('[data-testid=list-meta] .kind-watch')`)
	u.setField(`#add-values`, "m-ring-1")
	u.setField(`#add-comment`, "case 17")
	u.click(`[data-testid=add-entries]`)
	u.waitJS("entry added", `!!document.querySelector('[data-testid=entries] [data-entry="m-ring-1"]') && document.querySelector('[data-testid=list-size]').textContent === '1 entries'`)

	u.createRule("id: ui-watched\nseverity: high\npattern:\n  - name: hit\n    where: e.type == 'auth' && in_list('ui_watch', e.merchant_id)\n")
	u.auth("w1", "card-w1", "m-elsewhere", 1, 10)
	u.auth("w2", "card-w2", "m-ring-1", 2, 10)
	u.goTo("#/alerts")
	u.waitJS("in_list alert", `!!document.querySelector('[data-testid=feed] [data-rule="ui-watched"]')`)
	if got := u.text(`[data-testid=feed] [data-rule="ui-watched"]`); !strings.Contains(got, "card-w2") || u.num(`document.querySelectorAll('[data-testid=feed] [data-rule="ui-watched"]').length`) != 1 {
		t.Errorf("in_list alerts: %q, want one, of card-w2", got)
	}

	u.goTo("#/lists")
	u.waitJS("lists table", `document.querySelector('[data-testid=lists-table] [data-list=ui_watch]')?.textContent.includes('ui-watched')`)
	u.shot("lists")
	u.click(`[data-testid=lists-table] [data-list=ui_watch] a`)
	csv := filepath.Join(t.TempDir(), "ring.csv")
	must(t, os.WriteFile(csv, []byte("merchant_id,source\nm-ring-2,case 18\nm-ring-3,case 18\nm-ring-33,case 19\n"), 0o644))
	u.visible(`[data-testid=import-file]`)
	u.run("choose the CSV file", chromedp.SetUploadFiles(`[data-testid=import-file]`, []string{csv}))
	u.waitJS("file read", `document.querySelector('#import-content').value.includes('m-ring-33')`)
	u.eval("header row", `document.querySelector('#import-header').checked || document.querySelector('#import-header').click()`)
	u.click(`[data-testid=import-list]`)
	u.waitJS("imported", `document.querySelector('[data-testid=list-size]')?.textContent === '3 entries' && !document.querySelector('[data-entry="m-ring-1"]')`)
	u.setField(`[data-testid=entry-search]`, "ring-3")
	u.waitJS("searched", `document.querySelectorAll('[data-testid=entries] tbody tr').length === 2`)
	u.click(`[data-entry="m-ring-33"] button`)
	u.click(`[data-testid=confirm]`)
	u.waitJS("removed", `document.querySelector('[data-testid=list-size]')?.textContent === '2 entries'`)
	u.waitJS("history", `document.querySelectorAll('[data-testid=list-audit] tbody tr').length === 4`)
	if h := u.text(`[data-testid=list-audit]`); !strings.Contains(h, "ann") || !strings.Contains(h, "case 17") || !strings.Contains(h, "import of ring.csv") {
		t.Errorf("list history %q, want ann's changes with their reasons (the import's: its file)", h)
	}
	u.shot("list")
	u.auth("w3", "card-w3", "m-ring-1", 3, 10) // no longer listed
	u.auth("w4", "card-w4", "m-ring-3", 4, 10)
	u.goTo("#/alerts")
	u.waitJS("alert of an imported entry", `[...document.querySelectorAll('[data-testid=feed] [data-rule="ui-watched"]')].some(r => r.textContent.includes('card-w4'))`)
	if n := u.num(`document.querySelectorAll('[data-testid=feed] [data-rule="ui-watched"]').length`); n != 2 {
		t.Errorf("%v in_list alerts, want 2 (m-ring-1 was replaced by the import)", n)
	}
}

// uiSuppressions: from an alert's detail the analyst suppresses its key for the rule
// (the form filled in by the link), sees it listed as active, and the key's next alert
// arrives marked suppressed, with who and why in its detail; lifted, the key's next alert
// is not marked, and the analysts' audit has both actions.
func uiSuppressions(u *uiEnv) {
	t := u.t
	u.createRule("id: ui-big\nseverity: high\npattern:\n  - name: big\n    where: e.type == 'auth' && e.amount > 1000.0\n")
	u.auth("s1", "card-sup", "m-1", 10, 2000)
	u.goTo("#/alerts")
	u.click(`[data-testid=feed] [data-rule="ui-big"]`)
	u.click(`[data-testid=suppress-key]`)
	u.waitJS("form filled in", `document.querySelector('#sup-key')?.value === 'card-sup' && document.querySelector('#sup-rule')?.value === 'ui-big'`)
	u.setField(`#sup-duration`, "4h")
	u.setField(`#sup-reason`, "known test card")
	u.click(`[data-testid=suppress]`)
	u.waitJS("listed", `document.querySelector('[data-testid=suppressions] [data-key=card-sup]')?.textContent.includes('known test card')`)
	u.shot("suppressions")

	u.auth("s2", "card-sup", "m-2", 11, 3000)
	u.goTo("#/alerts")
	u.waitJS("suppressed alert", `document.querySelectorAll('[data-testid=feed] [data-rule="ui-big"]').length === 2`)
	u.click(`[data-testid=feed] [data-rule="ui-big"]`) // the newest
	u.waitJS("marked in the detail", `document.querySelector('[data-testid=alert-suppressed]')?.textContent.includes('known test card')`)
	if n := u.num(`document.querySelectorAll('[data-testid=feed] [data-rule="ui-big"] .suppressed').length`); n != 1 {
		t.Errorf("%v alerts of card-sup marked suppressed in the feed, want 1 (the one after the suppression)", n)
	}
	if s := u.text(`[data-testid=alert-suppressed]`); !strings.Contains(s, "ann") {
		t.Errorf("suppression note %q, want its author", s)
	}
	u.shot("alert-suppressed")

	u.goTo("#/suppressions")
	u.click(`[data-testid=lift-card-sup]`)
	u.setField(`#lift-reason`, "cleared")
	u.click(`[data-testid=confirm]`)
	u.waitJS("lifted", `!document.querySelector('[data-testid=suppressions] [data-key=card-sup]') && document.querySelector('[role=status]')?.textContent.includes('Lifted')`)
	u.waitJS("audited", `(() => { const a = document.querySelector('[data-testid=analyst-audit]')?.textContent || ''; return a.includes('unsuppress') && a.includes('known test card') })()`)
	u.auth("s3", "card-sup", "m-3", 12, 4000)
	u.goTo("#/alerts")
	u.waitJS("third alert", `document.querySelectorAll('[data-testid=feed] [data-rule="ui-big"]').length === 3`)
	if n := u.num(`document.querySelectorAll('[data-testid=feed] [data-rule="ui-big"] .suppressed').length`); n != 1 {
		t.Errorf("%v alerts marked suppressed after the lift, want still 1", n)
	}
}

// uiFeedback: the analyst marks alerts of a rule in their detail; the verdict shows, and
// the rule's precision in the rules list moves with each mark (a changed verdict counts
// once, the latest).
func uiFeedback(u *uiEnv) {
	t := u.t
	u.createRule("id: ui-fb\nseverity: medium\npattern:\n  - name: big\n    where: e.type == 'auth' && e.amount > 500.0 && e.amount < 1000.0\n")
	for i, card := range []string{"card-f1", "card-f2", "card-f3"} {
		u.auth("f"+card, card, "m-f", 20+i, 600)
	}
	precision := func(want string) {
		t.Helper()
		u.goTo("#/rules")
		u.waitJS("precision "+want, fmt.Sprintf(`document.querySelector('[data-testid=rules-table] tr[data-rule="ui-fb"] [data-testid=precision]')?.textContent === %q`, want))
	}
	mark := func(card, button, label string) {
		t.Helper()
		u.goTo("#/alerts")
		u.click(fmt.Sprintf(`[data-testid=feed] [data-rule="ui-fb"][data-key=%q]`, card))
		u.waitJS("detail of "+card, fmt.Sprintf(`document.querySelector('[data-testid=alert-detail] .kv')?.textContent.includes(%q)`, card))
		u.setField(`#fb-comment`, "checked with the bank")
		u.click(`[data-testid=` + button + `]`)
		u.waitJS("verdict "+label, fmt.Sprintf(`document.querySelector('[data-testid=verdict]')?.dataset.label === %q`, label))
	}
	precision("—")
	mark("card-f1", "mark-fraud", "fraud")
	u.waitJS("precision in the detail", `document.querySelector('[data-testid=rule-precision]')?.textContent.includes('100.0%')`)
	u.shot("alert-feedback")
	precision("100.0%")
	mark("card-f2", "mark-fp", "false_positive")
	precision("50.0%")
	mark("card-f3", "mark-fp", "false_positive")
	precision("33.3%")
	mark("card-f3", "mark-fraud", "fraud") // changed its mind: the latest verdict counts
	precision("66.7%")
	u.shot("rules-precision")
}

// uiAnalystViewer: a viewer sees the lists, suppressions and verdicts but no control
// that changes them, and the server refuses the calls anyway.
func uiAnalystViewer(u *uiEnv) {
	t := u.t
	u.signOut()
	u.signIn("viewer-token-0123456789")
	noEdit := func(where string) {
		t.Helper()
		found, err := chromedp.Run(u.ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('[data-testid=new-list],[data-testid=delete-list],#add-values,#import-content,[data-testid=new-suppression],[data-testid^=lift-],[data-testid=mark-fraud],[data-testid=mark-fp],[data-testid=suppress-key],[data-entry] button')].map(e => e.outerHTML.slice(0, 80))`))
		must(t, err)
		if len(found) > 0 {
			t.Errorf("%s: the viewer is offered %v", where, found)
		}
	}
	u.goTo("#/lists/ui_watch")
	u.waitJS("viewer list", `document.querySelectorAll('[data-testid=entries] tbody tr').length === 2 && document.querySelectorAll('[data-testid=list-audit] tbody tr').length === 4`)
	noEdit("list")
	u.goTo("#/suppressions")
	u.waitJS("viewer audit", `!!document.querySelector('[data-testid=analyst-audit]')`)
	noEdit("suppressions")
	u.goTo("#/alerts")
	u.click(`[data-testid=feed] [data-rule="ui-fb"][data-key="card-f1"]`)
	u.waitJS("viewer verdict", `document.querySelector('[data-testid=verdict]')?.dataset.label === 'fraud'`)
	noEdit("alert detail")
	var alert struct{ Alerts []struct{ ID string } }
	u.getJSON("/v1/alerts?rule_id=ui-fb&limit=1", "viewer-token-0123456789", &alert)
	for path, body := range map[string]string{
		"/v1/lists/ui_watch:add":                         `{"values": ["x"]}`,
		"/v1/suppressions":                               `{"key": "k", "duration": "1h", "reason": "r"}`,
		"/v1/alerts/" + alert.Alerts[0].ID + "/feedback": `{"label": "fraud"}`,
	} {
		if code := u.call("POST", path, "viewer-token-0123456789", body); code != http.StatusForbidden {
			t.Errorf("a viewer's POST %s answered %d, want 403", path, code)
		}
	}
}
