package state_test

import (
	"math"
	"reflect"
	"testing"

	"github.com/cepd/cepd/event"
	"github.com/cepd/cepd/state"
)

// eventView is what an event holds, in a form reflect.DeepEqual compares by content. An
// event.Event keeps its values' slab behind a *byte (an 80-byte header), and DeepEqual
// compares what a pointer points to, one byte: two events whose values differ anywhere
// after their first kind byte would compare equal. A Value's string is a *byte as well,
// so values are compared by content (valueView).
type eventView struct {
	ID, Key      string
	Seq          uint64
	Time, Offset int64
	Schema       *event.Schema
	Values       []valueView
}

// valueView is a value by content: its kind, a number's bits (a NaN equals itself), a
// string's bytes.
type valueView struct {
	Kind event.Kind
	Bits uint64
	S    string
}

// viewOf returns e's view (nil for nil).
func viewOf(e *event.Event) *eventView {
	if e == nil {
		return nil
	}
	v := &eventView{ID: e.ID(), Key: e.Key, Seq: e.Seq, Time: e.Time, Offset: e.Offset, Schema: e.Schema}
	for _, x := range e.Values() {
		w := valueView{Kind: x.Kind}
		switch x.Kind {
		case event.KindBool:
			if x.AsBool() {
				w.Bits = 1
			}
		case event.KindInt:
			w.Bits = uint64(x.AsInt())
		case event.KindDouble:
			w.Bits = math.Float64bits(x.AsDouble())
		case event.KindTimestamp:
			w.Bits = uint64(x.AsTimeNanos())
		case event.KindString:
			w.S = x.AsString()
		}
		v.Values = append(v.Values, w)
	}
	return v
}

// sameState reports whether two key states are equal, their events compared by their
// values (viewOf), everything else by reflect.DeepEqual.
func sameState(a, b *state.KeyState) bool {
	if a == nil || b == nil {
		return a == b
	}
	if len(a.Events) != len(b.Events) {
		return false
	}
	for i := range a.Events {
		if !reflect.DeepEqual(viewOf(a.Events[i]), viewOf(b.Events[i])) {
			return false
		}
	}
	ca, cb := *a, *b
	ca.Events, cb.Events = nil, nil
	return reflect.DeepEqual(&ca, &cb)
}

// TestSameStateSeesValues: the comparison the state tests use tells apart two key states
// whose events differ only in a value after the first (an int, a short string held in
// its slab word, a long one). reflect.DeepEqual, which those tests used, does not since
// the event header holds its slab as a *byte: with it, a decoder that read every int
// value wrong passed TestKeyStateRoundTrip, TestFileStoreCorruptKeyBlob and
// FuzzDecodeKeyState.
func TestSameStateSeesValues(t *testing.T) {
	mk := func(vals ...event.Value) *state.KeyState {
		ev := (&event.Event{Key: "k", Time: 1, Schema: anySchema}).SetValues(vals)
		return &state.KeyState{Key: "k", Events: []*event.Event{ev}, Pending: []int32{0}}
	}
	base := []event.Value{event.String("card-1"), event.Int(1), event.String("USD"), event.String("merchant-000001")}
	a := mk(base...)
	if !sameState(a, mk(base...)) {
		t.Fatal("equal states compare different")
	}
	for i, v := range []event.Value{event.Int(2), event.String("EUR"), event.String("merchant-000002")} {
		other := append([]event.Value(nil), base...)
		other[i+1] = v
		if sameState(a, mk(other...)) {
			t.Errorf("states whose event's value %d differs (%v) compare equal", i+1, v.Interface())
		}
	}
}
