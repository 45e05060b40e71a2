package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cepd/cepd/rules/refdata"

	"github.com/cepd/cepd/alerts"
	"github.com/cepd/cepd/engine"
	"github.com/cepd/cepd/internal/workload"
	"github.com/cepd/cepd/patterns"
)

// ruleDelay is what alertDelays measures for one rule and kind of alert.
type ruleDelay struct {
	alerts int   // alerts of the rule and kind
	late   int   // alerts not out when they were due
	maxMs  int64 // the largest event-time delay among those (ms)
}

// alertDelays feeds recs to a live engine in chunks, as REST clients do, waiting for each
// chunk's outcomes, and measures the event-time delay of every alert, by rule and kind
// ("rule/match", "rule/absence" for a rule ending in not: followed_by, "rule/timeout"). A
// match is due when the chunk holding its last event is answered; an absence match (at
// the end of its window) and a timeout (at its timeout time) once a chunk brings the
// watermark (newest event time − out-of-orderness) past that time. The delay is 0 when
// the alert was out by then, else how far event time (the newest event ingested, or the
// watermark) had moved past it when the alert came out (the end of the stream, for alerts
// only the final flush released).
func alertDelays(t testing.TB, rs *engine.RuleSet, recs []engine.Record, chunk int, ooo time.Duration) (map[string]*ruleDelay, map[string]int) {
	t.Helper()
	ctx, eng, col, stop := startTestEngine(t, rs, engine.Config{Shards: 2, OutOfOrderness: ooo})
	defer stop()

	tr := ingestTrace{idOf: map[string]int{}, now: math.MinInt64}
	outcomes := map[string]int{}
	for c, i := 0, 0; i < len(recs); c, i = c+1, i+chunk {
		part := recs[i:min(i+chunk, len(recs))]
		for _, r := range part {
			tr.idOf[eventID(t, r)] = c
			tr.now = max(tr.now, eventTime(t, r))
		}
		out, errs, err := eng.IngestWait(ctx, 0, part)
		if err != nil || len(errs) > 0 {
			t.Fatalf("chunk %d: %v %v", c, err, errs)
		}
		for _, o := range out {
			outcomes[o.String()]++
		}
		tr.newest = append(tr.newest, tr.now)
		tr.seen = append(tr.seen, col.Len())
	}
	if err := eng.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	all := col.All()

	return delaysByRule(rs, all, tr, ooo), outcomes
}

// ingestTrace is what alertDelays records while it ingests.
type ingestTrace struct {
	idOf   map[string]int // event id → chunk
	newest []int64        // newest event time ingested after each chunk
	seen   []int          // alerts delivered after each chunk
	now    int64          // the newest event time of all
}

// delaysByRule measures, per rule and kind, how late each alert of all came out against
// when it was due (see alertDelays).
func delaysByRule(rs *engine.RuleSet, all []*alerts.Alert, tr ingestTrace, ooo time.Duration) map[string]*ruleDelay {
	window := map[string]int64{} // rules ending in not: followed_by
	for _, c := range rs.Rules {
		if steps := c.Rule.Pattern.Steps; steps[len(steps)-1].Negation == patterns.NotFollowedBy {
			window[c.Rule.ID] = c.Program.Window()
		}
	}
	lag := ooo.Milliseconds()
	// time after chunk c by the event clock or the watermark; the end of the stream past
	// the last chunk
	at := func(c int, watermark bool) int64 {
		if c >= len(tr.newest) {
			return tr.now
		}
		if watermark {
			return tr.newest[c] - lag
		}
		return tr.newest[c]
	}
	byRule := map[string]*ruleDelay{}
	for i, a := range all {
		var dueAt int64 // the event time the alert is due at
		due := -1       // the chunk after which it is due
		kind := a.Kind
		_, absence := window[a.RuleID]
		switch {
		case a.Kind == alerts.KindTimeout:
			dueAt = a.TimeoutAt.UnixMilli()
		case absence:
			kind, dueAt = "absence", a.FirstEventTime.UnixMilli()+window[a.RuleID]
		default:
			dueAt = a.LastEventTime.UnixMilli()
			for _, id := range a.EventIDs() {
				due = max(due, tr.idOf[id])
			}
		}
		byWatermark := due < 0
		if byWatermark {
			due = sort.Search(len(tr.newest), func(c int) bool { return tr.newest[c]-lag >= dueAt })
		}
		d := byRule[a.RuleID+"/"+kind]
		if d == nil {
			d = &ruleDelay{}
			byRule[a.RuleID+"/"+kind] = d
		}
		d.alerts++
		out := sort.SearchInts(tr.seen, i+1) // the first chunk after which it had been delivered
		if out > due {
			d.late++
			d.maxMs = max(d.maxMs, at(out, byWatermark)-dueAt)
		}
	}
	return byRule
}

func eventID(t testing.TB, r engine.Record) string {
	var m struct {
		ID string `json:"event_id"`
	}
	if err := json.Unmarshal(r.Value, &m); err != nil || m.ID == "" {
		t.Fatalf("event without event_id: %s", r.Value)
	}
	return m.ID
}

func delayReport(byRule map[string]*ruleDelay) string {
	ids := make([]string, 0, len(byRule))
	for id := range byRule {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var b strings.Builder
	for _, id := range ids {
		d := byRule[id]
		fmt.Fprintf(&b, "  %-32s %5d alerts, %3d delayed, max delay %s\n", id, d.alerts, d.late, time.Duration(d.maxMs)*time.Millisecond)
	}
	return b.String()
}

// withRelease copies the rule directory dir, setting release on every rule with a skip
// strategy.
func withRelease(t testing.TB, dir, release string) string {
	t.Helper()
	out := t.TempDir()
	files, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if f.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, f.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(f.Name(), ".yaml") && strings.Contains(string(b), "\nskip:") {
			b = append(b, []byte("\nrelease: "+release+"\n")...)
		}
		if err := os.WriteFile(filepath.Join(out, f.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The lists and tables the rules read.
	if err := os.CopyFS(filepath.Join(out, refdata.DirName), os.DirFS(filepath.Join(dir, refdata.DirName))); err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return out
}

// TestAlertDelay: every match alert of testdata/fraud leaves with the chunk that holds its
// last event, and every absence and timeout alert with the chunk that moves the watermark
// past its time (delay 0), fed in chunks of 2,000 events of the reference workload's
// generator (seed 1, 100,000 cards; 100,000 events, or the whole reference workload's
// 1,000,000 with CEPD_DELAY_EVENTS=1000000) with the out-of-orderness its lateness needs.
// The same rules released in Flink's start order hold some alerts back: the measurement
// can see a delay.
func TestAlertDelay(t *testing.T) {
	events := int64(100_000)
	if testing.Short() {
		events = 30_000
	}
	if n, err := strconv.ParseInt(os.Getenv("CEPD_DELAY_EVENTS"), 10, 64); err == nil && n > 0 {
		events = n
	}
	recs := genRecords(t, events)
	ooo := workload.DefaultConfig().MaxLateness
	rs := fraudRuleSet(t)
	byRule, outcomes := alertDelays(t, rs, recs, 2000, ooo)
	t.Logf("release at_completion (%d events, outcomes %v):\n%s", len(recs), outcomes, delayReport(byRule))
	total := 0
	for id, d := range byRule {
		total += d.alerts
		if d.late > 0 {
			t.Errorf("%s: %d alerts out after they were due (max delay %dms)", id, d.late, d.maxMs)
		}
	}
	if total < 20 || byRule["auth-no-capture/absence"] == nil || byRule["device-cashout/timeout"] == nil {
		t.Fatalf("only %d alerts, or no absence or timeout alert: weak test", total)
	}

	flink, err := loadRuleSet(withRelease(t, "../../testdata/fraud", "in_start_order"), "")
	if err != nil {
		t.Fatal(err)
	}
	byRule, _ = alertDelays(t, flink, recs, 2000, ooo)
	t.Logf("release in_start_order:\n%s", delayReport(byRule))
	held := 0
	for _, d := range byRule {
		held += d.late
	}
	if held == 0 {
		t.Fatal("no alert held in start order: the measurement cannot tell")
	}
}
