package bench

import (
	"testing"

	"github.com/cepd/cepd/engine"
	"github.com/cepd/cepd/rules"
)

// TestReplicateReadsData: the replicated and the edited rule sets (--replicate,
// --reload-every) read the lists and tables of the rules' directory, as the rules
// themselves do: the shipped watchlist rule compiles in them.
func TestReplicateReadsData(t *testing.T) {
	orig, err := engine.LoadRuleSet("../../testdata/fraud", "", rules.EnvOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ n, gen int }{{2, 0}, {1, 1}, {3, 2}} {
		rs, err := Replicate("../../testdata/fraud", "", c.n, c.gen)
		if err != nil {
			t.Fatalf("replicate %d, gen %d: %v", c.n, c.gen, err)
		}
		if len(rs.Rules) != c.n*len(orig.Rules) {
			t.Fatalf("replicate %d, gen %d: %d rules, want %d", c.n, c.gen, len(rs.Rules), c.n*len(orig.Rules))
		}
	}
}
