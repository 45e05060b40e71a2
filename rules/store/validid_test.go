package store

import (
	"strings"
	"testing"

	"github.com/cepd/cepd/patterns"
)

// TestValidIDIsTheRuleCompilers: the store accepts exactly the ids a rule may carry. It
// allowed 128 characters while a rule's id may have 64: a rule saved under a longer id
// could never compile.
func TestValidIDIsTheRuleCompilers(t *testing.T) {
	for _, c := range []struct {
		id   string
		want bool
	}{
		{"card-testing", true},
		{"a", true},
		{strings.Repeat("a", patterns.MaxIDLength), true},
		{strings.Repeat("a", patterns.MaxIDLength+1), false},
		{"", false},
		{"-x", false},
		{"Card", false},
		{"../x", false},
	} {
		if got := ValidID(c.id); got != c.want {
			t.Errorf("ValidID(%q) = %v, want %v", c.id, got, c.want)
		}
	}
}
