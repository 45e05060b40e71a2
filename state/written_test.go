package state_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/cepd/cepd/event"
	"github.com/cepd/cepd/state"
)

// grown is cardSchema with extra fields appended.
func grown(name string, extra ...event.Field) *event.Schema {
	fs := append(append([]event.Field(nil), cardSchema.Fields...), extra...)
	return mustSchema(event.NewSchema(name, fs, cardSchema.KeyField, cardSchema.TimeField, cardSchema.IDField))
}

// TestDecoderNarrowerSchema: a key state written under a schema with optional fields
// added at the end (every kind, strings the kept fields refer back to, an event whose
// kinds are not the declared ones) decodes, for a reader running the schema before them
// that learnt the wider one, to what that reader would have written itself; so does one
// written under an intermediate schema. Before Learn, or for a schema that does not
// extend the running one, it fails with ErrSchemaMismatch and says why.
func TestDecoderNarrowerSchema(t *testing.T) {
	extra := []event.Field{
		{Name: "device", Type: event.TypeString, Optional: true},
		{Name: "score", Type: event.TypeDouble, Optional: true},
		{Name: "flagged", Type: event.TypeBool, Optional: true},
		{Name: "hops", Type: event.TypeInt, Optional: true},
		{Name: "seen_at", Type: event.TypeTimestamp, Optional: true},
	}
	wide := grown("wide", extra...)
	mid := grown("mid", extra[:2]...)
	ks, _ := liveState(t, "card-4242", 6)
	if len(ks.Events) < 3 {
		t.Fatalf("weak fixture: %d events", len(ks.Events))
	}
	// widen gives each event values for the first n extra fields
	widen := func(n int) *state.KeyState {
		w := *ks
		w.Events = make([]*event.Event, len(ks.Events))
		for i, ev := range ks.Events {
			vals := append([]event.Value(nil), ev.Values()...)
			next := cardEvent("card-4242", i+1).Value(5).AsString() // the next event's merchant: a back reference to a skipped string
			more := []event.Value{event.String(next), event.Double(0.25 * float64(i)), event.Bool(i%2 == 1), event.Int(int64(-i)), event.TimestampNanos(ev.Time*1e6 + 5e9)}
			if i == 1 {
				more[1] = event.Int(7) // not the declared kind: the event's values carry their kinds
			}
			if i == 2 {
				more[0] = event.Value{} // absent
			}
			w.Events[i] = withValues(*ev, append(vals, more[:n]...))
		}
		return &w
	}
	want, err := state.DecodeKeyState(state.AppendKeyState(nil, ks, cardSchema), cardSchema)
	if err != nil {
		t.Fatal(err)
	}
	blob := state.AppendKeyState(nil, widen(len(extra)), wide)
	midBlob := state.AppendKeyState(nil, widen(2), mid)

	d := state.NewDecoder(cardSchema)
	if _, err := d.Decode(blob); !errors.Is(err, state.ErrSchemaMismatch) {
		t.Fatalf("before Learn: %v, want ErrSchemaMismatch", err)
	}
	if err := d.Known(blob); !errors.Is(err, state.ErrSchemaMismatch) {
		t.Fatalf("Known before Learn: %v", err)
	}
	if err := d.Learn(wide); err != nil {
		t.Fatal(err)
	}
	if err := state.NewDecoder(wide).Learn(cardSchema); err != nil { // an ancestor's record, read by the wider schema
		t.Fatalf("Learn of an ancestor: %v", err)
	}
	for name, b := range map[string][]byte{"wide": blob, "mid": midBlob, "own": state.AppendKeyState(nil, ks, cardSchema)} {
		if err := d.Known(b); err != nil {
			t.Fatalf("%s: Known: %v", name, err)
		}
		got, err := d.Decode(b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !sameState(got, want) {
			t.Fatalf("%s: decoded under the narrower schema:\n got %s\nwant %s", name, dump(got), dump(want))
		}
	}

	// A schema that renames a field is not an extension: refused, naming the problem.
	renamed := mustSchema(event.NewSchema("renamed", append(append([]event.Field(nil), cardSchema.Fields[:9]...),
		append([]event.Field{{Name: "device", Type: event.TypeString, Optional: true}}, cardSchema.Fields[10:]...)...),
		cardSchema.KeyField, cardSchema.TimeField, cardSchema.IDField))
	other := state.AppendKeyState(nil, ks, renamed)
	err = d.Learn(renamed)
	if !errors.Is(err, state.ErrSchemaMismatch) || !strings.Contains(err.Error(), `field "device_id" is removed or renamed`) {
		t.Fatalf("Learn of an incompatible schema: %v", err)
	}
	if _, err := d.Decode(other); !errors.Is(err, state.ErrSchemaMismatch) || !strings.Contains(err.Error(), `"device_id" is removed or renamed`) {
		t.Fatalf("a blob of an incompatible schema: %v", err)
	}
	// the compatible ones still decode
	if got, err := d.Decode(blob); err != nil || !sameState(got, want) {
		t.Fatalf("after an incompatible Learn: %v", err)
	}
	// a corrupt blob of a learnt schema is corrupt, not a mismatch
	bad := append([]byte(nil), blob...)
	bad[len(bad)/2] ^= 0x40
	if _, err := d.Decode(bad); !errors.Is(err, state.ErrCorrupt) {
		t.Fatalf("damaged: %v", err)
	}
}

// TestDecoderDamagedIsCorrupt: a damaged blob (its fingerprint bytes included) is
// corrupt, not of another schema: a restore drops that key, it does not refuse the
// partition.
func TestDecoderDamagedIsCorrupt(t *testing.T) {
	ks, _ := liveState(t, "card-4242", 3)
	blob := state.AppendKeyState(nil, ks, cardSchema)
	d := state.NewDecoder(cardSchema)
	for name, b := range map[string][]byte{
		"short":       []byte("garbage"),
		"fingerprint": append(append(append([]byte(nil), blob[:3]...), "bage"...), blob[7:]...),
		"truncated":   blob[:len(blob)-9],
	} {
		if err := d.Known(b); err != nil {
			t.Fatalf("%s: Known: %v", name, err)
		}
		if _, err := d.Decode(b); !errors.Is(err, state.ErrCorrupt) {
			t.Fatalf("%s: %v, want ErrCorrupt", name, err)
		}
	}
}
