package jsondecode

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cepd/cepd/event"
	"github.com/cepd/cepd/event/eventtest"
)

// TestDecodeBounds: times that do not fit (they wrapped into other years before), times
// beyond the wall-clock skew or before the floor, invalid UTF-8 anywhere in the event and
// oversized strings are each rejected with their own reason.
func TestDecodeBounds(t *testing.T) {
	s := eventtest.Schema(t, decSchema)
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	bounded := NewDecoder(s)
	bounded.SetBounds(event.Bounds{MaxAhead: time.Hour, Floor: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), Now: func() time.Time { return now }})
	open := NewDecoder(s)
	ev := func(ts string) string { return `{"id":"1","card":"c","ts":` + ts + `,"amount":1}` }
	tests := []struct {
		in            string
		bounded, open string // the reason each decoder rejects it with ("" = accepted)
	}{
		{ev(`10000000000000000`), event.ReasonTimeRange, event.ReasonTimeRange},      // ms*1e6 wrapped to 2029
		{ev(`9223372036854775807`), event.ReasonTimeRange, event.ReasonTimeRange},    // max int64
		{ev(`-9223372036854775808`), event.ReasonTimeRange, event.ReasonTimeRange},   // min int64
		{ev(`"9999-12-31T23:59:59Z"`), event.ReasonTimeRange, event.ReasonTimeRange}, // UnixNano wraps
		{ev(`"0000-01-01T00:00:00Z"`), event.ReasonTimeRange, event.ReasonTimeRange},
		{ev(`"2262-04-11T23:47:16Z"`), event.ReasonTimeAhead, ""},
		{ev(`"2026-12-05T13:30:00Z"`), event.ReasonTimeAhead, ""},
		{ev(`"2026-12-05T12:59:00Z"`), "", ""},
		{ev(`"1999-12-31T23:59:59Z"`), event.ReasonTimeFloor, ""},
		{ev(`1`), event.ReasonTimeFloor, ""},
		{ev(`"2024-01-01T00:00:00Z"`), "", ""},
		{"{\"id\":\"1\",\"card\":\"c\xff\",\"ts\":1,\"amount\":1}", event.ReasonInvalidUTF8, event.ReasonInvalidUTF8},
		{"{\"id\":\"1\",\"card\":\"c\",\"ts\":1,\"amount\":1,\"unknown\":\"\xc3\"}", event.ReasonInvalidUTF8, event.ReasonInvalidUTF8},
		{`{"id":"1","card":"c","ts":1,"amount":1,"note":"\ud800"}`, event.ReasonBadJSON, event.ReasonBadJSON},
		{`{"id":"1","card":"c","ts":1,"amount":1,"note":"` + strings.Repeat("x", event.DefaultMaxString+1) + `"}`, event.ReasonFieldTooLarge, event.ReasonFieldTooLarge},
		{`{"id":"1","card":"c","ts":1,"amount":1,"note":"` + strings.Repeat(`\u00e9`, event.DefaultMaxString/2+1) + `"}`, event.ReasonFieldTooLarge, event.ReasonFieldTooLarge},
		{`{"id":"1","card":"c","ts":"2024-01-01T00:00:00Z","amount":1,"note":"` + strings.Repeat("x", event.DefaultMaxString) + `"}`, "", ""},
	}
	for _, tt := range tests {
		for _, c := range []struct {
			d    *Decoder
			want string
		}{{bounded, tt.bounded}, {open, tt.open}} {
			var e event.Event
			err := c.d.Decode([]byte(tt.in), &e)
			var de *event.DecodeError
			switch {
			case c.want == "" && err != nil:
				t.Errorf("%.80s: %v", tt.in, err)
			case c.want != "" && (!errors.As(err, &de) || de.Reason != c.want):
				t.Errorf("%.80s: got %v (time %d), want reason %s", tt.in, err, e.Time, c.want)
			}
		}
	}
}

// TestDecodeTimeFieldInt: a schema whose time field is an int (epoch ms) is held to the
// same range, and a double time field cannot wrap through the conversion.
func TestDecodeTimeFieldInt(t *testing.T) {
	for _, typ := range []event.Type{event.TypeInt, event.TypeAny} {
		s, err := event.NewSchema("t", []event.Field{{Name: "k", Type: event.TypeString}, {Name: "t", Type: typ}}, "k", "t", "")
		if err != nil {
			t.Fatal(err)
		}
		d := NewDecoder(s)
		for _, in := range []string{`{"k":"a","t":9223372036854775807}`, `{"k":"a","t":-9223372036854775807}`} {
			var e event.Event
			var de *event.DecodeError
			if err := d.Decode([]byte(in), &e); !errors.As(err, &de) || de.Reason != event.ReasonTimeRange {
				t.Errorf("%s: %s: got %v (time %d), want %s", typ, in, err, e.Time, event.ReasonTimeRange)
			}
		}
	}
	s, err := event.NewSchema("t", []event.Field{{Name: "k", Type: event.TypeString}, {Name: "t", Type: event.TypeAny}}, "k", "t", "")
	if err != nil {
		t.Fatal(err)
	}
	d := NewDecoder(s)
	for _, in := range []string{`{"k":"a","t":1e300}`, `{"k":"a","t":-1e19}`, `{"k":"a","t":9.3e15}`} {
		var e event.Event
		var de *event.DecodeError
		if err := d.Decode([]byte(in), &e); !errors.As(err, &de) || de.Reason != event.ReasonTimeRange {
			t.Errorf("%s: got %v (time %d), want %s", in, err, e.Time, event.ReasonTimeRange)
		}
	}
}
