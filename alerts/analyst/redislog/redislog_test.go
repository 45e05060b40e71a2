package redislog

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cepd/cepd/alerts"
	"github.com/cepd/cepd/alerts/analyst"
	"github.com/cepd/cepd/internal/redistest"
)

// TestSharedByInstances: two books on one Redis log (two instances) reach the same
// suppressions and feedback; a third opened later reads them all.
func TestSharedByInstances(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	addr := redistest.Start(t)
	open := func() (*analyst.Book, *alerts.Suppressions) {
		c := redis.NewClient(&redis.Options{Addr: addr})
		t.Cleanup(func() { c.Close() })
		sup := alerts.NewSuppressions(nil)
		b, err := analyst.Open(ctx, New(c, "test:analyst"), sup, nil)
		if err != nil {
			t.Fatal(err)
		}
		return b, sup
	}
	b1, sup1 := open()
	b2, sup2 := open()
	s, err := b1.Suppress(ctx, alerts.Suppression{Key: "card-1", Until: time.Now().Add(time.Hour), Reason: "r", Author: "ann"})
	if err != nil {
		t.Fatal(err)
	}
	a := &alerts.Alert{Key: "card-1", RuleID: "any"}
	if sup1.Check(a) == nil {
		t.Fatal("not in force on the instance that made it")
	}
	if sup2.Check(a) != nil {
		t.Fatal("in force on the other instance before it synced: the test cannot tell")
	}
	if err := b2.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if got := sup2.Check(a); got == nil || got.ID != s.ID {
		t.Fatalf("the other instance: %+v", got)
	}
	for i := range 1500 { // more than one page
		if _, err := b2.Mark(ctx, analyst.Feedback{AlertID: "a" + string(rune('A'+i%26)) + time.Duration(i).String(), RuleID: "r", Label: analyst.LabelFraud, Author: "bob"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := b2.Unsuppress(ctx, s.ID, "bob", "done"); err != nil {
		t.Fatal(err)
	}
	b3, sup3 := open()
	if sup3.Check(a) != nil || len(b3.Suppressions(true)) != 0 {
		t.Fatal("a deleted suppression came back")
	}
	if p := b3.Precision("r", false); len(p) != 1 || p[0].Fraud != 1500 {
		t.Fatalf("precision %+v", p)
	}
	if err := b1.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if sup1.Check(a) != nil {
		t.Fatal("the deletion did not reach the first instance")
	}
}
