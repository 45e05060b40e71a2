package nfa

import (
	"strings"
	"testing"

	"github.com/cepd/cepd/patterns"
)

func TestRejectsEpsilonLoops(t *testing.T) {
	pat := &patterns.Pattern{Steps: []*patterns.Step{
		{Name: "s1", Where: "a"},
		{Name: "g", Quantifier: &patterns.Quantifier{Min: 1, Max: -1}, Group: []*patterns.Step{
			{Name: "x", Where: "b", Quantifier: &patterns.Quantifier{Min: 1, Max: 1, Optional: true}},
		}},
		{Name: "s3", Where: "c"},
	}}
	_, err := Compile(pat, letterResolve, Options{})
	if err == nil || !strings.Contains(err.Error(), "without taking any event") {
		t.Fatalf("want a cycle error, got %v", err)
	}
}
