package jsondecode

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/cepd/cepd/event"
	"github.com/cepd/cepd/event/eventtest"
)

// TestRekeyIsDecode: an event decoded under the card schema and rekeyed to the schema
// keyed by another field is what decoding its bytes under that schema gives: the same
// error reason, or the same key, id, time and values. The events vary the other key's
// presence (absent, null, a value, a reserved one, an empty one) and the optional
// fields.
func TestRekeyIsDecode(t *testing.T) {
	s := eventtest.Schema(t, eventtest.CardSchema("ts: int", "device: string?", "amount: double", "note: string?"))
	byDevice, err := s.KeyedBy("device")
	if err != nil {
		t.Fatal(err)
	}
	first, rekey, fresh := NewDecoder(s), NewDecoder(byDevice), NewDecoder(byDevice)
	r := rand.New(rand.NewPCG(5, 5))
	devices := []string{``, `"device":null,`, `"device":"d1",`, `"device":"d2",`, `"device":7,`, `"device":"\u0000x",`, `"device":"",`}
	counts := map[string]int{}
	for i := range 2000 {
		note := ""
		if r.IntN(2) == 0 {
			note = fmt.Sprintf(`,"note":"n%d"`, r.IntN(5))
		}
		raw := fmt.Appendf(nil, `{"id":"e%d","card":"c%d",%s"ts":%d,"amount":%d.5%s}`, i, r.IntN(9), devices[r.IntN(len(devices))], 1_700_000_000_000+i, r.IntN(100), note)
		var src, got, want event.Event
		if err := first.Decode(raw, &src); err != nil {
			counts["not decoded"]++ // a number for the device: no key space sees the event
			continue
		}
		gerr, werr := rekey.Rekey(&src, &got), fresh.Decode(raw, &want)
		var gde, wde *event.DecodeError
		if (gerr == nil) != (werr == nil) || gerr != nil && (!errors.As(gerr, &gde) || !errors.As(werr, &wde) || gde.Reason != wde.Reason) {
			t.Fatalf("%s: Rekey says %v, Decode %v", raw, gerr, werr)
		}
		if werr != nil {
			counts[wde.Reason]++
			continue
		}
		counts["ok"]++
		if got.Schema != byDevice || got.Key != want.Key || got.ID() != want.ID() || got.Time != want.Time || got.Len() != want.Len() || fmt.Sprint(got.Fields()) != fmt.Sprint(want.Fields()) {
			t.Fatalf("%s: Rekey made %q %q %d %v, Decode %q %q %d %v", raw, got.Key, got.ID(), got.Time, got.Fields(), want.Key, want.ID(), want.Time, want.Fields())
		}
	}
	if counts["ok"] == 0 || counts[event.ReasonMissingKey] == 0 || counts[event.ReasonReservedKey] == 0 {
		t.Fatalf("outcomes %v: every kind must occur", counts)
	}
	other := eventtest.Schema(t, eventtest.CardSchema("ts: int", "device: string?"))
	var src, ev event.Event
	if err := NewDecoder(other).Decode([]byte(`{"id":"1","card":"c","ts":1,"device":"d"}`), &src); err != nil {
		t.Fatal(err)
	}
	if err := rekey.Rekey(&src, &ev); !errors.Is(err, ErrNotRekeyable) {
		t.Fatalf("an event of other fields rekeyed: %v", err)
	}
}
