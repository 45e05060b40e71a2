package analyst

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cepd/cepd/alerts"
)

func TestBookSurvivesRestart(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "analyst.jsonl")
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	open := func() (*Book, *alerts.Suppressions, *FileLog) {
		l, err := OpenFileLog(path)
		if err != nil {
			t.Fatal(err)
		}
		sup := alerts.NewSuppressions(clock)
		b, err := Open(ctx, l, sup, clock)
		if err != nil {
			t.Fatal(err)
		}
		return b, sup, l
	}
	b, sup, l := open()
	s1, err := b.Suppress(ctx, alerts.Suppression{Key: "card-1", RuleID: "r1", Until: now.Add(time.Hour), Reason: "travelling", Author: "ann"})
	if err != nil {
		t.Fatal(err)
	}
	s2, err := b.Suppress(ctx, alerts.Suppression{Key: "card-2", Until: now.Add(time.Hour), Reason: "test card", Author: "ann"})
	if err != nil {
		t.Fatal(err)
	}
	if got := sup.Check(&alerts.Alert{Key: "card-1", RuleID: "r1"}); got == nil || got.ID != s1.ID || got.Reason != "travelling" {
		t.Fatalf("card-1 not suppressed: %+v", got)
	}
	if err := b.Unsuppress(ctx, s2.ID, "bob", "done"); err != nil {
		t.Fatal(err)
	}
	if sup.Check(&alerts.Alert{Key: "card-2", RuleID: "r1"}) != nil {
		t.Fatal("card-2 still suppressed after its deletion")
	}
	if err := b.Unsuppress(ctx, s2.ID, "bob", "again"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	day1 := now.Add(-48 * time.Hour)
	for i, f := range []Feedback{
		{AlertID: "a1", RuleID: "r1", Label: LabelFraud, AlertTime: day1},
		{AlertID: "a2", RuleID: "r1", Label: LabelFraud, AlertTime: now},
		{AlertID: "a3", RuleID: "r1", Label: LabelFraud, AlertTime: now},
		{AlertID: "a3", RuleID: "r1", Label: LabelFalsePositive, AlertTime: now, Comment: "customer confirmed"}, // the latest counts
		{AlertID: "a4", RuleID: "r2", Label: LabelFalsePositive, AlertTime: now},
	} {
		f.Author = "ann"
		if _, err := b.Mark(ctx, f); err != nil {
			t.Fatalf("feedback %d: %v", i, err)
		}
	}
	checkRestartBook(t, b)
	l.Close()
	// a torn last line (a crash mid-append) is not read
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"action":"suppress","suppression":{"id":"x","key":"card-9"`)
	f.Close()
	b2, sup2, l2 := open()
	defer l2.Close()
	checkRestartBook(t, b2)
	if sup2.Check(&alerts.Alert{Key: "card-1", RuleID: "r1"}) == nil {
		t.Fatal("the suppression did not survive the restart")
	}
	if sup2.Check(&alerts.Alert{Key: "card-1", RuleID: "r2"}) != nil {
		t.Fatal("a rule's suppression applies to another rule")
	}
	now = now.Add(2 * time.Hour) // the suppression ends
	if sup2.Check(&alerts.Alert{Key: "card-1", RuleID: "r1"}) != nil || len(b2.Suppressions(false)) != 0 || len(b2.Suppressions(true)) != 1 {
		t.Fatal("an ended suppression still applies")
	}
}

// checkRestartBook fails the test unless b holds what TestBookSurvivesRestart wrote:
// precision by rule and day, a3's latest feedback, one suppression in force and the
// audit of all eight changes.
func checkRestartBook(t *testing.T, b *Book) {
	t.Helper()
	p := b.Precision("", true)
	if len(p) != 2 || p[0].RuleID != "r1" || p[0].Fraud != 2 || p[0].FalsePositive != 1 || len(p[0].Days) != 2 ||
		p[0].Days[0].Precision != 1 || p[0].Days[1].Precision != 0.5 || p[1].Precision != 0 {
		t.Fatalf("precision %+v", p)
	}
	if f, ok := b.FeedbackOn("a3"); !ok || f.Label != LabelFalsePositive || f.Comment != "customer confirmed" {
		t.Fatalf("a3: %+v", f)
	}
	if n := len(b.Suppressions(false)); n != 1 {
		t.Fatalf("%d suppressions in force, want 1", n)
	}
	if a := b.Audit("", 0); len(a) != 8 || a[0].Action != ActionFeedback || a[len(a)-1].Author != "ann" {
		t.Fatalf("audit: %d entries %+v", len(a), a)
	}
}

func TestBookRefusesBadRequests(t *testing.T) {
	ctx := context.Background()
	l, err := OpenFileLog(filepath.Join(t.TempDir(), "a.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	now := time.Now()
	b, err := Open(ctx, l, alerts.NewSuppressions(nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		s    alerts.Suppression
		want string
	}{
		{alerts.Suppression{Until: now.Add(time.Hour), Reason: "r", Author: "a"}, "key is required"},
		{alerts.Suppression{Key: "k", Until: now.Add(time.Hour), Author: "a"}, "a reason is required"},
		{alerts.Suppression{Key: "k", Until: now.Add(-time.Hour), Reason: "r", Author: "a"}, "is not in the future"},
		{alerts.Suppression{Key: "k", Until: now.Add(400 * 24 * time.Hour), Reason: "r", Author: "a"}, "more than a year"},
		{alerts.Suppression{Key: "k", Until: now.Add(time.Hour), Reason: strings.Repeat("x", MaxText+1), Author: "a"}, "longer than"},
		{alerts.Suppression{Key: "k", Until: now.Add(time.Hour), Reason: "r"}, "author is required"},
	} {
		if _, err := b.Suppress(ctx, tt.s); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: %v, want %q", tt.s, err, tt.want)
		}
	}
	if _, err := b.Mark(ctx, Feedback{AlertID: "a", RuleID: "r", Author: "x", Label: "maybe"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("bad label: %v", err)
	}
	if n := len(b.Audit("", 0)); n != 0 {
		t.Fatalf("refused requests left %d entries", n)
	}
}
