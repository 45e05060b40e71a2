package patterns

import (
	"strings"
	"testing"
)

func TestCooldownAndDecision(t *testing.T) {
	src := "id: r\nseverity: high\ncooldown: 1h\ndecision: {outcome: block, score: 90}\npattern:\n  - name: a\n    where: e.amount > 1\n"
	r, err := Parse("r.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if r.CooldownMs != 3600000 || r.Decision == nil || r.Decision.Outcome != OutcomeBlock || r.Decision.Score != 90 {
		t.Fatalf("cooldown %d decision %+v", r.CooldownMs, r.Decision)
	}
	out := string(Format(r))
	if !strings.Contains(out, "cooldown: 1h\ndecision: {outcome: block, score: 90}\n") {
		t.Fatalf("Format:\n%s", out)
	}
	r2, err := Parse("r.yaml", []byte(out))
	if err != nil || string(Format(r2)) != out {
		t.Fatalf("format is not a fixed point: %v\n%s", err, Format(r2))
	}
}

func TestDecisionErrors(t *testing.T) {
	for _, tt := range []struct{ decl, want string }{
		{"decision: {outcome: deny}", "unknown outcome 'deny'"},
		{"decision: {score: 5}", "'decision' needs an 'outcome'"},
		{"decision: {outcome: review, score: 5000}", "'score' must be a whole number from 0 to 1000"},
		{"decision: {outcome: review, score: -1}", "'score' must be a whole number from 0 to 1000"},
		{"decision: block", "a decision must be a mapping"},
		{"decision: {outcome: block, why: x}", "unknown key 'why' in decision"},
		{"cooldown: 0s", "bad 'cooldown'"},
		{"cooldown: soon", "bad 'cooldown'"},
	} {
		src := "id: r\n" + tt.decl + "\npattern:\n  - name: a\n    where: e.amount > 1\n"
		_, err := Parse("r.yaml", []byte(src))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: got %v, want %q", tt.decl, err, tt.want)
		}
	}
}
