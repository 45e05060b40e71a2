package state_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"testing"

	"github.com/cepd/cepd/event"
	"github.com/cepd/cepd/event/jsondecode"
	"github.com/cepd/cepd/state"
)

// TestEventIDsAsAtBe14f2d: testdata/ids-be14f2d.json holds, for each of idCases, the key
// state cepd wrote at be14f2d (when an event kept its id in its header) of the events
// decoded from the case's lines, and their ids then. The events decode now with the same
// ids (Event.ID reads the id field: ints, doubles, -0, timestamps, null and absent ids,
// an id that is the time or the key field), the old key states restore with those ids
// (the decoder's id check refuses none of them) and encode to the same bytes.
func TestEventIDsAsAtBe14f2d(t *testing.T) {
	raw, err := os.ReadFile("testdata/ids-be14f2d.json")
	if err != nil {
		t.Fatal(err)
	}
	var recs []struct {
		Name string   `json:"name"`
		Blob string   `json:"blob"`
		IDs  []string `json:"ids"`
	}
	if err := json.Unmarshal(raw, &recs); err != nil {
		t.Fatal(err)
	}
	cases := idCases()
	if len(recs) != len(cases) {
		t.Fatalf("%d recorded cases, %d cases", len(recs), len(cases))
	}
	for i, c := range cases {
		r := recs[i]
		if r.Name != c.name || len(r.IDs) != len(c.lines) {
			t.Fatalf("case %d: recorded %q with %d ids, case %q has %d lines", i, r.Name, len(r.IDs), c.name, len(c.lines))
		}
		d := jsondecode.NewDecoder(c.schema)
		ks := &state.KeyState{}
		for j, l := range c.lines {
			var ev event.Event
			if err := d.Decode([]byte(l), &ev); err != nil {
				t.Fatalf("%s line %d: %v", c.name, j, err)
			}
			if ev.ID() != r.IDs[j] {
				t.Errorf("%s line %d: decoded id %q, at be14f2d %q", c.name, j, ev.ID(), r.IDs[j])
			}
			ev.Seq = uint64(j + 1)
			ks.Key = ev.Key
			ks.Events = append(ks.Events, ev.Clone())
		}
		old, err := hex.DecodeString(r.Blob)
		if err != nil {
			t.Fatal(err)
		}
		if got := state.AppendKeyState(nil, ks, c.schema); !bytes.Equal(got, old) {
			t.Errorf("%s: the key state encodes to other bytes than at be14f2d:\n%x\n%x", c.name, got, old)
		}
		back, err := state.DecodeKeyState(old, c.schema)
		if err != nil {
			t.Errorf("%s: the be14f2d key state does not restore: %v", c.name, err)
			continue
		}
		for j, ev := range back.Events {
			if ev.ID() != r.IDs[j] {
				t.Errorf("%s event %d: restored id %q, at be14f2d %q", c.name, j, ev.ID(), r.IDs[j])
			}
		}
	}
}
