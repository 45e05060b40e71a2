package workload

import (
	"math"
	"math/rand/v2"
)

// pick draws an index with probability proportional to w (a linear scan: the tables
// are short).
func pick(r *rand.Rand, w []float64) int {
	total := 0.0
	for _, x := range w {
		total += x
	}
	u := r.Float64() * total
	for i, x := range w {
		if u < x {
			return i
		}
		u -= x
	}
	return len(w) - 1
}

// logNormal draws from a log-normal distribution with the given median and sigma.
func logNormal(r *rand.Rand, median, sigma float64) float64 {
	return median * math.Exp(r.NormFloat64()*sigma)
}

// uniform draws from [lo, hi).
func uniform(r *rand.Rand, lo, hi float64) float64 { return lo + r.Float64()*(hi-lo) }

// between draws a duration in milliseconds from [lo, hi) seconds.
func between(r *rand.Rand, loSec, hiSec float64) int64 {
	return int64(uniform(r, loSec, hiSec) * 1000)
}

// cents rounds an amount to cents, never below 0.01.
func cents(x float64) float64 {
	return math.Max(0.01, math.Round(x*100)/100)
}
