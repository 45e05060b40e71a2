package bench

import (
	"math"
	"testing"
	"time"

	"github.com/cepd/cepd/engine"
)

// TestPartsBands: of 200 samples given out of order, the slowest 1% band is the two
// slowest and the middle band the 45th to the 55th percentile, each part their mean.
func TestPartsBands(t *testing.T) {
	var l partsLog
	for i := 199; i >= 0; i-- { // sample i: total 4i µs, one µs a part; the two slowest queue 1 ms more
		d := time.Duration(i) * time.Microsecond
		p := engine.LatencyParts{Ingest: d, Queue: d, Before: d, Own: d, Position: i, Timed: i%2 == 0}
		if i >= 198 {
			p.Queue += time.Millisecond
		}
		l.add(p)
	}
	got := l.figures()
	near := func(a, b float64) bool { return math.Abs(a-b) < 1e-9 }
	if tl := got.Tail; tl.N != 2 || !near(tl.QueueUs, 198.5+1000) || !near(tl.IngestUs, 198.5) || !near(tl.TotalUs, 4*198.5+1000) || tl.Timed != 1 || !near(tl.Position, 198.5) {
		t.Fatalf("slowest band %+v", tl)
	}
	if md := got.Median; md.N != 20 || !near(md.OwnUs, 99.5) || !near(md.TotalUs, 4*99.5) || md.Timed != 10 {
		t.Fatalf("middle band %+v", md)
	}
	var empty partsLog
	if empty.figures() != nil {
		t.Fatal("bands without samples")
	}
}
