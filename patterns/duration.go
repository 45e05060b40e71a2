package patterns

import (
	"fmt"
	"math"
	"strings"
	"time"
)

const msPerDay = 24 * 60 * 60 * 1000

// ParseDuration parses a rule duration into milliseconds. It accepts Go's duration
// syntax (500ms, 30s, 10m, 1h30m, 1.5h) plus d for days (2d, 1d12h). The result must be
// positive and a whole number of milliseconds.
func ParseDuration(s string) (int64, error) {
	if s == "" {
		return 0, fmt.Errorf("empty duration: write e.g. 30s, 10m or 2d")
	}
	if strings.HasPrefix(s, "-") {
		return 0, fmt.Errorf("duration %q is negative: it must be positive", s)
	}
	var total time.Duration
	rest := strings.TrimPrefix(s, "+")
	for rest != "" {
		num, unit, tail, err := durationTerm(rest)
		if err != nil {
			return 0, fmt.Errorf("invalid duration %q: %w", s, err)
		}
		d, err := termValue(num, unit)
		if err != nil {
			return 0, fmt.Errorf("invalid duration %q: %w", s, err)
		}
		if total > math.MaxInt64-d {
			return 0, fmt.Errorf("duration %q is too long", s)
		}
		total += d
		rest = tail
	}
	if total <= 0 {
		return 0, fmt.Errorf("duration %q must be positive", s)
	}
	if total%time.Millisecond != 0 {
		return 0, fmt.Errorf("duration %q is not a whole number of milliseconds", s)
	}
	return int64(total / time.Millisecond), nil
}

// durationTerm splits one "<number><unit>" term off the front of s.
func durationTerm(s string) (num, unit, rest string, err error) {
	i := 0
	for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
		i++
	}
	j := i
	for j < len(s) && !(s[j] >= '0' && s[j] <= '9' || s[j] == '.') {
		j++
	}
	num, unit = s[:i], s[i:j]
	switch {
	case num == "":
		return "", "", "", fmt.Errorf("expected a number before %q", unit)
	case unit == "":
		return "", "", "", fmt.Errorf("%s has no unit: write e.g. %ss or %sm", num, num, num)
	}
	switch unit {
	case "d", "h", "m", "s", "ms", "us", "µs", "μs", "ns":
		return num, unit, s[j:], nil
	}
	return "", "", "", fmt.Errorf("unknown unit %q: use ms, s, m, h or d", unit)
}

// termValue is the length of one term, days converted to hours.
func termValue(num, unit string) (time.Duration, error) {
	if strings.Count(num, ".") > 1 || num == "." {
		return 0, fmt.Errorf("%q is not a number", num)
	}
	goUnit, scale := unit, time.Duration(1)
	if unit == "d" {
		goUnit, scale = "h", 24
	}
	d, err := time.ParseDuration(num + goUnit)
	if err != nil || d > math.MaxInt64/scale {
		return 0, fmt.Errorf("%s%s is too long", num, unit)
	}
	return d * scale, nil
}

// FormatDuration prints a number of milliseconds canonically, largest unit first:
// 90000 → 1m30s, 172800000 → 2d, 1500 → 1s500ms. It is the inverse of ParseDuration.
func FormatDuration(ms int64) string {
	if ms == 0 {
		return "0s"
	}
	var b strings.Builder
	if ms < 0 {
		b.WriteByte('-')
		if ms == math.MinInt64 {
			return "-" + FormatDuration(math.MaxInt64)
		}
		ms = -ms
	}
	units := []struct {
		name string
		size int64
	}{{"d", msPerDay}, {"h", 3600000}, {"m", 60000}, {"s", 1000}, {"ms", 1}}
	for _, u := range units {
		if n := ms / u.size; n > 0 {
			fmt.Fprintf(&b, "%d%s", n, u.name)
			ms -= n * u.size
		}
	}
	return b.String()
}
