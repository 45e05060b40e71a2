package jsondecode

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// checkRFC3339UTC fails when rfc3339UTC accepts s but time.Parse(time.RFC3339Nano) does not,
// or gives another instant. It reports whether the fast path took s.
func checkRFC3339UTC(t *testing.T, s string) bool {
	t.Helper()
	ns, ok := rfc3339UTC([]byte(s))
	if !ok {
		return false
	}
	want, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatalf("%q: fast path took it, time.Parse refuses it: %v", s, err)
	}
	if ns != want.UnixNano() {
		t.Fatalf("%q: fast path %d, time.Parse %d", s, ns, want.UnixNano())
	}
	return true
}

// TestRFC3339UTCAgrees: the fast path of RFC 3339 times agrees with time.Parse wherever it
// answers, and answers for every canonical UTC time of the years it covers (random dates,
// clocks and fraction lengths, near-misses of each field included).
func TestRFC3339UTCAgrees(t *testing.T) {
	fixed := []string{
		"2024-01-01T00:00:00.263Z", "1970-01-01T00:00:00Z", "2199-12-31T23:59:59.999999999Z",
		"2000-02-29T12:00:00Z", "1900-02-29T12:00:00Z", "2100-02-29T00:00:00Z", "2024-02-30T00:00:00Z",
		"2024-04-31T00:00:00Z", "2024-13-01T00:00:00Z", "2024-00-10T00:00:00Z", "2024-01-00T00:00:00Z",
		"2024-01-01T24:00:00Z", "2024-01-01T00:60:00Z", "2024-01-01T00:00:60Z", "2024-01-01T00:00:00.Z",
		"2024-01-01T00:00:00,5Z", "2024-01-01T00:00:00.1234567891Z", "2024-01-01t00:00:00Z",
		"2024-01-01T00:00:00z", "2024-01-01T00:00:00+00:00", "2024-01-01 00:00:00Z", "1969-12-31T23:59:59Z",
		"2200-01-01T00:00:00Z", "+024-01-01T00:00:00Z", "2024-1-01T00:00:00Z", "20240101T000000Z",
		"2024-01-01T00:00:00.-5Z", "2024-01-01T00:00:0aZ", "", "Z",
	}
	for _, s := range fixed {
		checkRFC3339UTC(t, s)
	}
	if !checkRFC3339UTC(t, "2024-01-01T00:00:00.263Z") {
		t.Fatal("the fast path declines the reference workload's times")
	}
	r := rand.New(rand.NewPCG(1, 2))
	taken := 0
	for range 200000 {
		y, mo, d := 1960+r.IntN(250), 1+r.IntN(12), 1+r.IntN(31)
		h, mi, sec := r.IntN(25), r.IntN(61), r.IntN(61)
		s := fmt.Sprintf("%04d-%02d-%02dT%02d:%02d:%02d", y, mo, d, h, mi, sec)
		if n := r.IntN(12); n > 0 {
			s += "." + fmt.Sprintf("%011d", r.Int64N(1e11))[:n-1]
		}
		s += "Z"
		canonical := y >= 1970 && y < 2200 && time.Date(y, time.Month(mo), d, 0, 0, 0, 0, time.UTC).Day() == d && h < 24 && mi < 60 && sec < 60 &&
			len(s) != 21 && len(s) <= 30 // "…:SS.Z" has no fraction digits; at most 9 digits
		if got := checkRFC3339UTC(t, s); got != canonical {
			t.Fatalf("%q: fast path took it: %v, want %v", s, got, canonical)
		}
		if canonical {
			taken++
		}
		b := []byte(s) // one byte changed: whatever the fast path takes, time.Parse agrees
		b[r.IntN(len(b))] = "0123456789-:.TZ+,tz "[r.IntN(20)]
		checkRFC3339UTC(t, string(b))
	}
	if taken < 10000 {
		t.Fatalf("the fast path took only %d canonical times", taken)
	}
}

// FuzzRFC3339UTCAgrees: wherever the fast path answers, time.Parse gives the same instant.
func FuzzRFC3339UTCAgrees(f *testing.F) {
	f.Add("2024-01-01T00:00:00.263Z")
	f.Add("2000-02-29T23:59:59Z")
	f.Add("2024-01-01T00:00:00.123456789Z")
	f.Fuzz(func(t *testing.T, s string) { checkRFC3339UTC(t, s) })
}
