package jsondecode

import (
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
)

// shortDecimalAgrees reports whether shortDecimal reads s as strconv.ParseFloat does,
// bit for bit (the sign of zero included), where it reads s at all.
func shortDecimalAgrees(s string) bool {
	got, ok := shortDecimal([]byte(s))
	if !ok {
		return true
	}
	want, err := strconv.ParseFloat(s, 64)
	return err == nil && math.Float64bits(got) == math.Float64bits(want)
}

// shortDecimalCorpus is decimals shortDecimal reads and shapes it must decline.
var shortDecimalCorpus = []string{
	"0", "-0", "0.0", "-0.0", "1", "-1", "32.57", "-118.2615", "48.8566", "0.1", "0.3",
	"999999999999999", "99999999999999.9", "0.000000000000001", "9007199254740993",
	"123456789012345.6", "1.", ".5", "-", "-.5", "1e5", "1E5", "1.5e-3", "+1", "1_0",
	"0x1p-2", "inf", "-Inf", "NaN", "1..2", "1.2.3", "00012.50", "", "--1", "1-",
	"4.35", "2.675", "1.005", "0.1234567890123", "89.99999999999",
}

// TestShortDecimalIsParseFloat: where shortDecimal reads a decimal it gives strconv's
// float64, on the corpus and on a million random short decimals of every length and
// point position; it reads the common shapes at all (so the fast path is taken).
func TestShortDecimalIsParseFloat(t *testing.T) {
	for _, s := range shortDecimalCorpus {
		if !shortDecimalAgrees(s) {
			t.Fatalf("%q: shortDecimal %v, strconv differs", s, s)
		}
	}
	r := rand.New(rand.NewPCG(11, 12))
	for range 1_000_000 {
		nd := 1 + r.IntN(17)
		b := make([]byte, 0, nd+2)
		if r.IntN(2) == 0 {
			b = append(b, '-')
		}
		dot := r.IntN(nd + 1)
		for k := range nd {
			if k == dot && k > 0 {
				b = append(b, '.')
			}
			b = append(b, byte('0'+r.IntN(10)))
		}
		if !shortDecimalAgrees(string(b)) {
			got, _ := shortDecimal(b)
			t.Fatalf("%s: shortDecimal %v, strconv differs", b, got)
		}
	}
	for _, s := range []string{"32.57", "-118.2615", "0", "-0.5", "100"} {
		if _, ok := shortDecimal([]byte(s)); !ok {
			t.Errorf("%s: declined", s)
		}
	}
}

func FuzzShortDecimalIsParseFloat(f *testing.F) {
	for _, s := range shortDecimalCorpus {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !shortDecimalAgrees(s) {
			got, _ := shortDecimal([]byte(s))
			t.Fatalf("%q: shortDecimal %v, strconv differs", s, got)
		}
	})
}
