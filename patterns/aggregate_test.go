package patterns

import (
	"testing"
)

// TestAggregatesDecode: testdata/valid/aggregates.yaml's aggregates and rearm policy
// decode into the AST (TestValidGolden checks its canonical form and round trip), and
// once_per_window holds a rule for its longest window.
func TestAggregatesDecode(t *testing.T) {
	r, err := ParseFile("testdata/valid/aggregates.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Aggregates) != 2 || r.Aggregates[1].Func != AggDistinct || r.Aggregates[1].By != "device_id" ||
		r.Aggregates[0].WindowMs != 3_600_000 || r.Aggregates[0].Where != "e.type == 'auth'" {
		t.Fatalf("aggregates decoded as %+v %+v", r.Aggregates[0], r.Aggregates[1])
	}
	if r.Rearm.Kind != RearmAfter || r.HoldMs() != 90*60_000 {
		t.Fatalf("rearm %+v, hold %d", r.Rearm, r.HoldMs())
	}
	r.Rearm = Rearm{Kind: RearmOncePerWindow}
	if r.HoldMs() != 86_400_000 {
		t.Fatalf("once_per_window holds %d, want the longest window", r.HoldMs())
	}
	if out := string(Format(r)); out[:len("id: velo\nrearm: once_per_window\n")] != "id: velo\nrearm: once_per_window\n" {
		t.Fatalf("once_per_window printed as\n%s", out)
	}
}

func TestRearmOncePerWindowNeedsAWindow(t *testing.T) {
	_, err := Parse("x.yaml", []byte("id: x\nrearm: once_per_window\npattern:\n  - name: a\n    where: e.x > 1\n"))
	if err == nil {
		t.Fatal("once_per_window without aggregates or within accepted")
	}
}
