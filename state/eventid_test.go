package state_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/cepd/cepd/event"
	"github.com/cepd/cepd/state"
)

// TestEventIDFromField: an event keeps no id apart from its id field (event.Event.ID), so
// a checkpoint's event id restores only as its field gives it. A string field's id is
// written as a reference to the field; another kind's key string as a string, read back
// and checked against the field: an id that is not the field's is refused, not dropped
// in silence (take the check out of the decoder and the altered state restores).
func TestEventIDFromField(t *testing.T) {
	intID := withValues(event.Event{Key: "x", Seq: 1, Time: 5, Schema: cardSchema},
		[]event.Value{event.Int(7), event.String("x"), event.TimestampNanos(5e6)})
	strID := cardEvent("x", 3)
	ks := &state.KeyState{Key: "x", Events: []*event.Event{intID, strID}}
	data := state.AppendKeyState(nil, ks, cardSchema)
	got, err := state.DecodeKeyState(data, cardSchema)
	if err != nil {
		t.Fatal(err)
	}
	if a, b := got.Events[0].ID(), got.Events[1].ID(); a != "7" || b != strID.ID() || b == "" {
		t.Fatalf("restored ids %q %q, want %q %q", a, b, "7", strID.ID())
	}
	// the int id is written as the string "7": a one-byte literal (uvarint 1<<2, then '7')
	at := bytes.Index(data, []byte{4, '7'})
	if at < 0 || bytes.Count(data, []byte{4, '7'}) != 1 {
		t.Fatal("the int id's string is not in the encoding once")
	}
	bad := append([]byte(nil), data...)
	bad[at+1] = '8'
	if _, err := state.DecodeKeyState(reseal(bad, cardSchema), cardSchema); err == nil || !strings.Contains(err.Error(), "id field") {
		t.Fatalf("an id not its field's restored (err %v)", err)
	}
}
