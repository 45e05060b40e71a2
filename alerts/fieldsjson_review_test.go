package alerts

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"
	"time"
)

// TestFieldsJSONReviewEdges: values an event's fields never hold but an alert's may
// carry (ints of other types, json.Number, time values, nested maps and slices) and
// float edges (large integers as doubles, the bounds of json's exponent form, the
// smallest double, U+2028/U+2029 and invalid UTF-8 in keys and values) give
// json.Marshal's bytes.
func TestFieldsJSONReviewEdges(t *testing.T) {
	vals := []any{
		int(7), uint64(math.MaxUint64), int32(-3), float32(0.1), json.Number("1e3"), json.Number("12"),
		time.Date(2024, 1, 2, 3, 4, 5, 6, time.UTC), map[string]any{"b": 1.5, "a": []any{"x", nil}},
		[]any{map[string]any{"z": true}}, float64(1 << 53), float64(1<<53 + 2), 9007199254740993.0,
		999999999999999900000.0, 1e21 - 65536, -1e-6, -9.999999e-7, 5e-324, -math.MaxFloat64,
		123456789012345678.0, 0.000001, 1e-6 + 1e-22, "\u2028", "a\u2029b", "\xc3", "ok", "", true, int64(math.MinInt64),
	}
	keys := []string{"k", "\u2028", "\xff", "a", "", "Z", "zz"}
	var ks []string
	for i, v := range vals {
		for _, k := range keys {
			m := map[string]any{k: v, "plain": "x", "n": int64(i)}
			want, err := json.Marshal(m)
			if err != nil {
				want = nil
			}
			if got := appendFieldsJSON(nil, m, &ks); !bytes.Equal(got, want) {
				t.Fatalf("%#v:\n got %s\nwant %s", m, got, want)
			}
		}
	}
}
