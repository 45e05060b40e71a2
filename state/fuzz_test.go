package state_test

import (
	"testing"

	"github.com/cepd/cepd/event"
	"github.com/cepd/cepd/nfa"
	"github.com/cepd/cepd/state"
)

// FuzzDecodeKeyState: whatever the bytes, DecodeKeyState returns a state or an error and
// never panics; a state it accepts re-encodes to one that decodes the same. So for a
// Decoder reading blobs of a wider schema under the narrower one. Each input
// is tried as is and resealed (fresh schema fingerprint and checksum), so that mutations
// reach the parser instead of stopping at the checksum.
func FuzzDecodeKeyState(f *testing.F) {
	for _, c := range stateCases(f) {
		if b := state.AppendKeyState(nil, c.ks, c.schema); len(b) < 4096 {
			f.Add(b)
		}
	}
	ks, _ := liveState(f, "card-1", 4)
	ks.Pending = []int32{3, 1}
	f.Add(state.AppendKeyState(nil, ks, cardSchema))
	f.Add(state.AppendKeyState(nil, &state.KeyState{Key: "k", Rules: []state.RuleState{{RuleID: "r", Matcher: deepSnapshot(40, 1)}},
		Events: []*event.Event{cardEvent("k", 1)}}, cardSchema))
	f.Add(state.AppendKeyState(nil, &state.KeyState{Rules: []state.RuleState{{Matcher: &nfa.Snapshot{}}}}, anySchema))
	wide := grown("wide", event.Field{Name: "device", Type: event.TypeString, Optional: true}, event.Field{Name: "n", Type: event.TypeInt, Optional: true})
	f.Add(state.AppendKeyState(nil, ks, wide))
	narrow := state.NewDecoder(cardSchema)
	if err := narrow.Learn(wide); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		// read under the schema before wide's fields were added (state.Decoder)
		if got, err := narrow.Decode(reseal(data, wide)); err == nil {
			again, err := state.DecodeKeyState(state.AppendKeyState(nil, got, cardSchema), cardSchema)
			if err != nil {
				t.Fatalf("a state read under the narrower schema does not decode re-encoded: %v", err)
			}
			if !sameState(again, got) {
				t.Fatalf("a state read under the narrower schema re-encodes to one that decodes differently:\n%s\n%s", dump(again), dump(got))
			}
		}
		for _, schema := range []*event.Schema{cardSchema, anySchema} {
			state.DecodeKeyState(data, schema)
			got, err := state.DecodeKeyState(reseal(data, schema), schema)
			if err != nil {
				continue
			}
			again, err := state.DecodeKeyState(state.AppendKeyState(nil, got, schema), schema)
			if err != nil {
				t.Fatalf("re-encoded state does not decode: %v", err)
			}
			if !sameState(again, got) {
				t.Fatalf("re-encoded state decodes differently:\n%s\n%s", dump(again), dump(got))
			}
		}
	})
}
