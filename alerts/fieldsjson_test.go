package alerts

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"testing"
)

// TestFieldsJSONMatchesMarshal: appendFieldsJSON gives json.Marshal's bytes (none when
// it fails) for maps of every kind of value an event's fields hold and others, with
// strings json writes plainly and ones it escapes, and floats of every magnitude,
// including the ones it writes with an exponent, NaN, infinities and -0.
func TestFieldsJSONMatchesMarshal(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 9))
	strs := []string{"", "auth", "card42", "a b", "x\"y", `back\slash`, "<b>", "a<b", "a>b", "a&b", "tab\t", "é", "\u2028", "\xff", "~", "\x7f", "2024-01-01T00:00:00Z"}
	floats := []float64{0, math.Copysign(0, -1), 1, -1.5, 0.1, 1e-6, 9.99e-7, 1e-7, 1e20, 1e21, -1e21, 123456789.125, math.MaxFloat64,
		math.SmallestNonzeroFloat64, math.NaN(), math.Inf(1), math.Inf(-1), 199.99, 2.0}
	value := func() any {
		switch r.IntN(7) {
		case 0:
			return strs[r.IntN(len(strs))]
		case 1:
			return r.IntN(2) == 0
		case 2:
			return r.Int64() - r.Int64()
		case 3:
			return floats[r.IntN(len(floats))]
		case 4:
			return r.NormFloat64() * math.Pow(10, float64(r.IntN(60)-30))
		case 5:
			return nil
		}
		return []int{1, 2} // a value an event never holds: json.Marshal's
	}
	var keys []string
	for i := range 20000 {
		var m map[string]any // the first: nil
		for j := range r.IntN(8) * min(i, 1) {
			if j == 0 {
				m = map[string]any{}
			}
			k := strs[r.IntN(len(strs))]
			if r.IntN(3) > 0 {
				k = string(rune('a'+r.IntN(26))) + k
			}
			m[k] = value()
		}
		if i == 1 {
			m = map[string]any{}
		}
		want, err := json.Marshal(m)
		if err != nil {
			want = nil
		}
		got := appendFieldsJSON([]byte("prefix"), m, &keys)
		if !bytes.Equal(got, append([]byte("prefix"), want...)) {
			t.Fatalf("%v:\n got %s\nwant prefix%s", m, got, want)
		}
	}
}
