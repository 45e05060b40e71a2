package patterns

import "testing"

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		ms   int64
		err  string
		back string // FormatDuration(ms); "" = same as in
	}{
		{in: "500ms", ms: 500},
		{in: "30s", ms: 30000},
		{in: "10m", ms: 600000},
		{in: "1h30m", ms: 5400000},
		{in: "90s", ms: 90000, back: "1m30s"},
		{in: "2d", ms: 2 * msPerDay},
		{in: "48h", ms: 2 * msPerDay, back: "2d"},
		{in: "1d12h", ms: 36 * 3600000},
		{in: "1.5d", ms: 36 * 3600000, back: "1d12h"},
		{in: "1.5s", ms: 1500, back: "1s500ms"},
		{in: "1000us", ms: 1, back: "1ms"},
		{in: "+5m", ms: 300000, back: "5m"},
		{in: "", err: `empty duration: write e.g. 30s, 10m or 2d`},
		{in: "30", err: `invalid duration "30": 30 has no unit: write e.g. 30s or 30m`},
		{in: "10x", err: `invalid duration "10x": unknown unit "x": use ms, s, m, h or d`},
		{in: "-5m", err: `duration "-5m" is negative: it must be positive`},
		{in: "0s", err: `duration "0s" must be positive`},
		{in: "1.2.3s", err: `invalid duration "1.2.3s": "1.2.3" is not a number`},
		{in: "m", err: `invalid duration "m": expected a number before "m"`},
		{in: "1ns", err: `duration "1ns" is not a whole number of milliseconds`},
		{in: "1 m", err: `invalid duration "1 m": unknown unit " m": use ms, s, m, h or d`},
		{in: "200000d", err: `invalid duration "200000d": 200000d is too long`},
		{in: "100000d100000d", err: `duration "100000d100000d" is too long`},
	}
	for _, tt := range tests {
		ms, err := ParseDuration(tt.in)
		if tt.err != "" {
			if err == nil || err.Error() != tt.err {
				t.Errorf("ParseDuration(%q) = %d, %v; want error %q", tt.in, ms, err, tt.err)
			}
			continue
		}
		if err != nil || ms != tt.ms {
			t.Errorf("ParseDuration(%q) = %d, %v; want %d", tt.in, ms, err, tt.ms)
			continue
		}
		back := tt.back
		if back == "" {
			back = tt.in
		}
		if got := FormatDuration(ms); got != back {
			t.Errorf("FormatDuration(%d) = %q, want %q", ms, got, back)
		}
	}
}

func TestFormatDurationRoundTrip(t *testing.T) {
	for _, ms := range []int64{1, 999, 1000, 59999, 60000, 3599999, msPerDay - 1, msPerDay, 7*msPerDay + 1, 106751 * msPerDay} {
		s := FormatDuration(ms)
		back, err := ParseDuration(s)
		if err != nil || back != ms {
			t.Errorf("ParseDuration(FormatDuration(%d) = %q) = %d, %v", ms, s, back, err)
		}
	}
}
