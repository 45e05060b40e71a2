package defaults

import (
	"testing"
	"time"
)

// TestPositive: zero and negative values take the default; a positive one is kept.
func TestPositive(t *testing.T) {
	for _, tc := range []struct{ v, want int }{{0, 7}, {-3, 7}, {1, 1}, {9, 9}} {
		v := tc.v
		Positive(&v, 7)
		if v != tc.want {
			t.Errorf("Positive(%d, 7) = %d, want %d", tc.v, v, tc.want)
		}
	}
	d := -time.Second
	Positive(&d, time.Minute)
	if d != time.Minute {
		t.Errorf("duration: %v, want 1m", d)
	}
}
