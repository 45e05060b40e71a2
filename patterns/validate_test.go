package patterns

import (
	"strings"
	"testing"
)

// TestValidateBuilt checks rules built in code, as the conformance runner builds them:
// no positions, names that need not be identifiers.
func TestValidateBuilt(t *testing.T) {
	one := func(max int) *Quantifier { return &Quantifier{Min: 1, Max: max} }
	tests := []struct {
		name string
		rule Rule
		want []string
	}{
		{"flink names", Rule{ID: "c", Pattern: Pattern{Steps: []*Step{
			{Name: "start"}, {Name: "b*", Contiguity: Relaxed, Quantifier: one(-1)},
			{Name: "not c", Negation: NotFollowedBy}, {Name: "middle-first"},
		}}}, nil},
		{"previous and current", Rule{ID: "c", Pattern: Pattern{WithinMs: 10, WithinType: PreviousAndCurrent, Steps: []*Step{
			{Name: "a"}, {Name: "b", Negation: NotFollowedBy},
		}}}, nil},
		{"group until", Rule{ID: "c", Pattern: Pattern{Steps: []*Step{
			{Name: "a"}, {Name: "g", Quantifier: one(-1), Until: "e.x", Group: []*Step{{Name: "m1"}, {Name: "m2"}}},
		}}}, nil},
		{"problems", Rule{ID: "c", Severity: "urgent", Pattern: Pattern{
			Skip: Skip{Kind: SkipToFirst, Step: "nope"},
			Steps: []*Step{
				{Name: "a", Contiguity: Strict},
				{Name: "a", Quantifier: &Quantifier{Min: 0, Max: 3}},
				{Name: "", Negation: NotFollowedBy},
			}}},
			[]string{
				"unknown severity 'urgent' (use low, medium, high, critical)",
				"the first step of a pattern cannot have 'contiguity': there is no step before it",
				"duplicate step name 'a'",
				"'times' minimum 0: it must be at least 1 (a written 0 makes the step optional)",
				"a step needs a 'name'",
				"a rule cannot end with 'not followed by' unless it has a window: otherwise it could never complete; add 'within' to the rule (or a 'gap' to this step)",
				"skip to_first: no step named 'nope'",
			}},
		{"empty", Rule{}, []string{
			"missing 'id': every rule needs one, e.g. id: card-testing",
			"missing 'pattern': a rule needs a list of steps",
		}},
		{"bad enums", Rule{ID: "c", Pattern: Pattern{WithinType: 7, Skip: Skip{Kind: 9}, Release: 3, Steps: []*Step{
			{Name: "a"}, {Name: "b", Contiguity: 5, Negation: 4},
		}}}, []string{
			"unknown window type 7",
			"unknown contiguity 5",
			"unknown negation 4",
			"unknown skip strategy 9",
			"unknown release 3",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := Validate(&tt.rule)
			var got []string
			for _, e := range errs {
				got = append(got, e.Msg)
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestSuggest(t *testing.T) {
	known := []string{"where", "until", "times", "steps", "name", "repeat_within", "contiguity"}
	tests := map[string]string{
		"wher": "where", "Where": "where", "untill": "until", "tims": "times", "step": "steps",
		"repeatwithin": "repeat_within", "contiuigty": "contiguity", "colour": "", "x": "", "nmae": "name",
	}
	for in, want := range tests {
		if got := suggest(in, known); got != want {
			t.Errorf("suggest(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestStepNamesCanBeKeywords(t *testing.T) {
	r := mustParse(t, "id: k\npattern:\n  - name: 'null'\n  - name: 'true'\nemit:\n  'false': e.x\n")
	out := Format(r)
	checkRoundTrip(t, r, out)
	if !strings.Contains(string(out), "- name: 'null'") {
		t.Errorf("keyword name not quoted:\n%s", out)
	}
}
