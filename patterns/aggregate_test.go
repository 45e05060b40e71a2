package patterns

import (
	"testing"
)

// TestAggregatesRoundTrip: aggregates and rearm policies parse into the AST and print
// back in canonical form, a fixed point.
func TestAggregatesRoundTrip(t *testing.T) {
	src := `id: velo
rearm: {after: 90m}
aggregates:
  - {name: n, function: count, where: "e.type == 'auth'", window: 60m}
  - name: shops
    function: count_distinct
    field: merchant_id
    window: 1d
    by: device_id
pattern:
  - name: a
    where: agg.n > 10
`
	r, err := Parse("velo.yaml", []byte(src))
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
	want := `id: velo
rearm: {after: 1h30m}
aggregates:
  - name: n
    function: count
    where: e.type == 'auth'
    window: 1h
  - name: shops
    function: distinct
    field: merchant_id
    window: 1d
    by: device_id
pattern:
  - name: a
    where: agg.n > 10
`
	got := string(Format(r))
	if got != want {
		t.Fatalf("Format:\n%s\nwant:\n%s", got, want)
	}
	r2, err := Parse("velo.yaml", []byte(got))
	if err != nil {
		t.Fatal(err)
	}
	if again := string(Format(r2)); again != got {
		t.Fatalf("not a fixed point:\n%s", again)
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
