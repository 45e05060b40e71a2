package jsondecode

import (
	"errors"
	"testing"

	"github.com/cepd/cepd/event"
	"github.com/cepd/cepd/event/eventtest"
)

var decSchema = eventtest.CardSchema("ts: timestamp", "amount: double", "n: int?", "ok: bool?", "note: string?")

func TestDecode(t *testing.T) {
	s := eventtest.Schema(t, decSchema)
	d := NewDecoder(s)
	tests := []struct {
		in     string
		reason string
	}{
		{`{"id":"1","card":"c","ts":"2026-01-02T03:04:05Z","amount":1}`, ""},
		{`{"id":"1","card":"c","ts":1700000000000,"amount":1.5,"n":3,"ok":true,"note":"a\"b","extra":{"x":[1,2]}}`, ""},
		{`  {"id":"1","card":"c","ts":1,"amount":1}  `, ""},
		{`{"id":"1","card":"c","ts":1,"amount":1} x`, event.ReasonBadJSON},
		{`{"id":"1","card":"c","ts":1,"amount":1}{"a":1}`, event.ReasonBadJSON},
		{`{"id":"1","card":"c","ts":1,"amount":1`, event.ReasonBadJSON},
		{`{}`, event.ReasonMissingKey},
		{`{"id":"1","ts":1,"amount":1}`, event.ReasonMissingKey},
		{`{"id":"1","card":"c","amount":1}`, event.ReasonMissingTime},
		{`{"id":"1","card":"c","ts":1}`, event.ReasonMissingField},
		{`{"id":"1","card":"c","ts":1,"amount":"x"}`, event.ReasonWrongType},
		{`{"id":"1","card":"c","ts":"noon","amount":1}`, event.ReasonWrongType},
		{`{"id":"1","card":"c","ts":1,"amount":1,"n":1.5}`, event.ReasonWrongType},
		{`{"id":"1","card":null,"ts":1,"amount":1}`, event.ReasonMissingKey},
		{`{"id":"1","card":"\u0000cepd-held","ts":1,"amount":1}`, event.ReasonReservedKey},
		{`{"id":"1","card":"c\u0000","ts":1,"amount":1}`, ""},
		{`[1]`, event.ReasonNotObject},
		{`"x"`, event.ReasonNotObject},
		{`nope`, event.ReasonBadJSON},
		{``, event.ReasonBadJSON},
	}
	for _, tt := range tests {
		var ev event.Event
		err := d.Decode([]byte(tt.in), &ev)
		var de *event.DecodeError
		switch {
		case tt.reason == "" && err != nil:
			t.Errorf("%s: %v", tt.in, err)
		case tt.reason != "" && (!errors.As(err, &de) || de.Reason != tt.reason):
			t.Errorf("%s: got %v, want reason %s", tt.in, err, tt.reason)
		}
	}
	var ev event.Event
	if err := d.Decode([]byte(`{"id":"7","card":"c9","ts":"2026-01-02T03:04:05.250Z","amount":2}`), &ev); err != nil {
		t.Fatal(err)
	}
	if ev.Key != "c9" || ev.ID() != "7" || ev.Time != 1767323045250 || ev.Get("amount").AsDouble() != 2 || ev.Get("n").Present() {
		t.Fatalf("decoded %+v", ev)
	}
}

func FuzzDecode(f *testing.F) {
	s := eventtest.Schema(f, decSchema)
	f.Add([]byte(`{"id":"1","card":"c","ts":"2026-01-02T03:04:05Z","amount":1}`))
	f.Add([]byte(`{"id":"1","card":"c","ts":1,"amount":1,"n":2,"ok":false,"note":"\u00e9"}`))
	f.Add([]byte(`{"a":{"b":[1,{"c":"}"}]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var ev event.Event
		_ = NewDecoder(s).Decode(data, &ev)
	})
}
