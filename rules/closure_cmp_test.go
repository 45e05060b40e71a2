package rules

import (
	"math"
	"testing"

	"github.com/cepd/cepd/event"
)

// TestNumReadsBothRepresentations: num reads an event value's and a closure value's bits
// as the number they hold, for ints and doubles alike (numConstCmp depends on it).
func TestNumReadsBothRepresentations(t *testing.T) {
	for _, f := range []float64{0, math.Copysign(0, -1), 1.5, -250.25, math.MaxFloat64, math.Inf(-1), math.SmallestNonzeroFloat64} {
		if got := num[float64](event.Double(f).AsInt()); got != f || math.Signbit(got) != math.Signbit(f) {
			t.Errorf("event double %v read as %v", f, got)
		}
		if got := num[float64](int64(vDouble(f).n)); got != f {
			t.Errorf("closure double %v read as %v", f, got)
		}
	}
	if got := num[float64](event.Double(math.NaN()).AsInt()); !math.IsNaN(got) {
		t.Errorf("NaN read as %v", got)
	}
	for _, i := range []int64{0, 1, -1, math.MaxInt64, math.MinInt64} {
		if got := num[int64](event.Int(i).AsInt()); got != i {
			t.Errorf("event int %d read as %d", i, got)
		}
		if got := num[int64](int64(vInt(i).n)); got != i {
			t.Errorf("closure int %d read as %d", i, got)
		}
	}
}
