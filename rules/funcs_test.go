package rules

import (
	"math"
	"strings"
	"testing"

	"github.com/cepd/cepd/patterns"
)

// evalConst evaluates a variable-free expression in env.
func evalConst(t *testing.T, env *Env, src string) (any, error) {
	t.Helper()
	x, errs := env.compileExpr(src, patterns.Src{}, "", roleEmit, nil)
	if errs != nil {
		t.Fatalf("%s: %v", src, errs)
	}
	return evalEmit(x, nil, nil, nil)
}

func TestHelpers(t *testing.T) {
	for _, env := range []*Env{testEnv(t), dynEnv(t)} {
		for _, tc := range []struct {
			src  string
			want any
		}{
			{"sum([1.5, 2.5])", 4.0},
			{"sum([1, 2, 3])", 6.0},
			{"sum([])", 0.0},
			{"sum([1, 2.5])", 3.5},
			{"avg([1, 2, 3, 4])", 2.5},
			{"avg([2.0])", 2.0},
			{"min([3, 1, 2])", int64(1)},
			{"max([3, 1, 2])", int64(3)},
			{"min([3.5, -1.25])", -1.25},
			{"max([3.5, -1.25])", 3.5},
			{"max([1, 2.5, 2])", 2.5},
			{"min(['b', 'a', 'c'])", "a"},
			{"count([1, 2, 3])", int64(3)},
			{"count([])", int64(0)},
			{"distinct([1, 2, 2, 3, 1])", int64(3)},
			{"distinct(['a', 'b', 'a'])", int64(2)},
			{"distinct([1, 1.0, 2])", int64(2)},
			{"distinct([])", int64(0)},
			{"first([4, 5, 6])", int64(4)},
			{"last([4, 5, 6])", int64(6)},
			{"first(['x'])", "x"},
			{"hours_between(timestamp('2024-01-01T00:00:00Z'), timestamp('2024-01-01T01:30:00Z'))", 1.5},
			{"minutes_between(timestamp('2024-01-01T00:00:00Z'), timestamp('2024-01-01T01:30:00Z'))", 90.0},
			{"seconds_between(timestamp('2024-01-01T00:00:10Z'), timestamp('2024-01-01T00:00:00Z'))", -10.0},
			{"timestamp('2024-01-01T00:10:00Z') - timestamp('2024-01-01T00:00:00Z') < duration('30m')", true},
			{"[1, 2, 3].map(x, x * 2).filter(x, x > 2).size()", int64(2)},
			{"geo_km(0.0, 0.0, 0.0, 0.0)", 0.0},
		} {
			got, err := evalConst(t, env, tc.src)
			if err != nil || got != tc.want {
				t.Errorf("%s = %#v (%v), want %#v", tc.src, got, err, tc.want)
			}
		}
		for _, tc := range []struct{ src, err string }{
			{"avg([])", "avg of an empty list"},
			{"min([])", "min of an empty list"},
			{"max([])", "max of an empty list"},
			{"first([])", "first of an empty list"},
			{"last([])", "last of an empty list"},
			{"sum(['a'])", "expected a number"},
			{"min([1, 'a'])", "no such overload"},
		} {
			_, err := evalConst(t, env, tc.src)
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: error %v, want %q", tc.src, err, tc.err)
			}
		}
	}
}

func TestGeoKm(t *testing.T) {
	for _, tc := range []struct {
		name                   string
		lat1, lon1, lat2, lon2 float64
		want, tol              float64
	}{
		{"Paris-London", 48.8566, 2.3522, 51.5074, -0.1278, 343.5, 0.5},
		{"New York-Los Angeles", 40.7128, -74.0060, 34.0522, -118.2437, 3935.7, 1.5},
		{"Sydney-Tokyo", -33.8688, 151.2093, 35.6762, 139.6503, 7823, 5},
		{"same point", 10, 20, 10, 20, 0, 1e-9},
		{"antipodes", 0, 0, 0, 180, math.Pi * EarthRadiusKm, 1e-6},
		{"quarter meridian", 0, 0, 90, 0, math.Pi / 2 * EarthRadiusKm, 1e-6},
	} {
		if got := GeoKm(tc.lat1, tc.lon1, tc.lat2, tc.lon2); math.Abs(got-tc.want) > tc.tol {
			t.Errorf("%s: %.3f km, want %.1f ± %.1f", tc.name, got, tc.want, tc.tol)
		}
	}
	env := testEnv(t)
	got, err := evalConst(t, env, "geo_km(48.8566, 2.3522, 51.5074, -0.1278)")
	if err != nil || math.Abs(got.(float64)-343.5) > 0.5 {
		t.Errorf("geo_km in CEL = %v (%v)", got, err)
	}
}
