package alerts

import (
	"testing"
	"time"
)

func TestSuppressionsCheck(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	s := NewSuppressions(func() time.Time { return now })
	s.Set([]Suppression{
		{ID: "s1", Key: "card-1", RuleID: "r1", Until: now.Add(time.Hour), Reason: "known merchant", Author: "ann"},
		{ID: "s2", Key: "card-1", Until: now.Add(2 * time.Hour), Reason: "whole card", Author: "bob"},
		{ID: "s3", Key: "card-2", RuleID: "r1", Until: now.Add(-time.Minute), Reason: "ended"},
		{ID: "s4", Key: "card-3", RuleID: "r1", Until: now.Add(time.Hour)},
	})
	for _, tt := range []struct {
		key, rule, want string
	}{
		{"card-1", "r1", "s2"}, // both apply: the longer one
		{"card-1", "r2", "s2"}, // every rule
		{"card-2", "r1", ""},   // ended
		{"card-3", "r1", "s4"},
		{"card-3", "r2", ""}, // another rule
		{"card-4", "r1", ""},
	} {
		got := s.Check(&Alert{Key: tt.key, RuleID: tt.rule})
		switch {
		case tt.want == "" && got != nil:
			t.Errorf("%s/%s: suppressed by %+v", tt.key, tt.rule, got)
		case tt.want != "" && (got == nil || got.ID != tt.want || got.By != SuppressedByAnalyst):
			t.Errorf("%s/%s: got %+v, want %s", tt.key, tt.rule, got, tt.want)
		}
	}
	if n := len(s.Active()); n != 3 {
		t.Errorf("%d active, want 3", n)
	}
	var nilSet *Suppressions
	if nilSet.Check(&Alert{Key: "card-1"}) != nil {
		t.Error("a nil set suppresses")
	}
}
