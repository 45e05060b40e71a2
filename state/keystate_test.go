package state_test

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/cepd/cepd/event"
	"github.com/cepd/cepd/nfa"
	"github.com/cepd/cepd/state"
)

// anySchema has untyped fields, as schemas inferred from data do: every value carries
// its kind.
var anySchema = mustSchema(event.NewSchema("any", []event.Field{
	{Name: "id", Type: event.TypeAny}, {Name: "k", Type: event.TypeAny}, {Name: "t", Type: event.TypeAny},
	{Name: "a", Type: event.TypeAny}, {Name: "b", Type: event.TypeAny}, {Name: "c", Type: event.TypeAny},
	{Name: "d", Type: event.TypeAny}, {Name: "e", Type: event.TypeAny}, {Name: "f", Type: event.TypeAny},
}, "k", "t", "id"))

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// reseal stamps data with schema's fingerprint and a fresh checksum, so that a test or
// fuzzer can reach the parser with data it altered.
func reseal(data []byte, schema *event.Schema) []byte {
	if len(data) < 11 {
		return data
	}
	fp, _ := hex.DecodeString(state.SchemaFingerprint(schema)[:8])
	out := append([]byte(nil), data...)
	copy(out[3:7], fp)
	body := out[:len(out)-4]
	binary.LittleEndian.PutUint32(out[len(body):], crc32.Checksum(body, castagnoli))
	return out
}

// normalize rewrites ks as DecodeKeyState returns it: empty slices are nil, events
// carry the schema and exactly one value per field.
func normalize(ks *state.KeyState, schema *event.Schema) *state.KeyState {
	c := *ks
	nf := 0
	if schema != nil {
		nf = len(schema.Fields)
	}
	c.Events = nil
	for _, e := range ks.Events {
		if e == nil {
			c.Events = append(c.Events, nil)
			continue
		}
		x := *e
		x.Schema = schema
		vals := e.Values()
		if len(vals) > 0 && nf > 0 {
			vals = append(vals, make([]event.Value, max(0, nf-len(vals)))...)[:nf]
		} else {
			vals = nil
		}
		x.SetValues(vals)
		c.Events = append(c.Events, &x)
	}
	if len(c.Pending) == 0 {
		c.Pending = nil
	}
	c.Rules = nil
	for _, r := range ks.Rules {
		if r.Matcher != nil {
			r.Matcher = normalizeSnapshot(r.Matcher)
		}
		c.Rules = append(c.Rules, r)
	}
	c.Sections = nil
	for _, s := range ks.Sections {
		if len(s.Data) == 0 {
			s.Data = nil
		}
		c.Sections = append(c.Sections, s)
	}
	return &c
}

func normalizeSnapshot(s *nfa.Snapshot) *nfa.Snapshot {
	ver := func(v []int32) []int32 {
		if len(v) == 0 {
			return nil
		}
		return v
	}
	runs := func(in []nfa.RunSnapshot) []nfa.RunSnapshot {
		var out []nfa.RunSnapshot
		for _, r := range in {
			r.Version = ver(r.Version)
			out = append(out, r)
		}
		return out
	}
	c := &nfa.Snapshot{Partial: runs(s.Partial), Completed: runs(s.Completed)}
	for _, n := range s.Nodes {
		var edges []nfa.EdgeSnapshot
		for _, e := range n.Edges {
			e.Version = ver(e.Version)
			edges = append(edges, e)
		}
		n.Edges = edges
		c.Nodes = append(c.Nodes, n)
	}
	return c
}

func roundTrip(t *testing.T, ks *state.KeyState, schema *event.Schema) []byte {
	t.Helper()
	blob := state.AppendKeyState([]byte("prefix"), ks, schema)
	if string(blob[:6]) != "prefix" {
		t.Fatal("AppendKeyState lost the prefix")
	}
	blob = blob[6:]
	got, err := state.DecodeKeyState(blob, schema)
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	if want := normalize(ks, schema); !sameState(got, want) {
		t.Fatalf("round trip differs:\n got %s\nwant %s", dump(got), dump(want))
	}
	// the blob shares no memory with the result
	for i := range blob {
		blob[i] = 0
	}
	if want := normalize(ks, schema); !sameState(got, want) {
		t.Fatal("decoded state aliases the blob")
	}
	return blob
}

func dump(ks *state.KeyState) string {
	var b strings.Builder
	fmt.Fprintf(&b, "key=%q pending=%v sections=%d\n", ks.Key, ks.Pending, len(ks.Sections))
	for i, e := range ks.Events {
		if e == nil {
			fmt.Fprintf(&b, "  ev%d nil\n", i)
			continue
		}
		fmt.Fprintf(&b, "  ev%d seq=%d id=%q key=%q t=%d vals=%d:", i, e.Seq, e.ID(), e.Key, e.Time, e.Len())
		for _, v := range e.Values() {
			fmt.Fprintf(&b, " %d:%v", v.Kind, v.Interface())
		}
		b.WriteByte('\n')
	}
	for _, r := range ks.Rules {
		fmt.Fprintf(&b, "  rule %q fp=%q %+v\n", r.RuleID, r.Fingerprint, r.Matcher)
	}
	return b.String()
}

// deepSnapshot is a large shared buffer: a long chain of nodes with branching edges and
// growing Dewey versions, and runs pointing into it.
func deepSnapshot(nodes, events int) *nfa.Snapshot {
	s := &nfa.Snapshot{}
	ver := []int32{1}
	for i := range nodes {
		if i%7 == 3 {
			ver = append(append([]int32(nil), ver...), 0)
		} else {
			ver = append([]int32(nil), ver...)
			ver[len(ver)-1] += int32(i % 3)
		}
		n := nfa.NodeSnapshot{Event: int32(i % events), Step: int32(i % 4)}
		n.Edges = append(n.Edges, nfa.EdgeSnapshot{Prev: int32(i - 1), Version: ver})
		if i > 10 && i%5 == 0 {
			n.Edges = append(n.Edges, nfa.EdgeSnapshot{Prev: int32(i - 10), Version: ver[: len(ver)-1 : len(ver)-1]})
		}
		s.Nodes = append(s.Nodes, n)
	}
	s.Partial = append(s.Partial, nfa.RunSnapshot{State: 0, Node: -1, Version: []int32{int32(nodes)}, StartTs: -1, PrevTs: -1, StartEv: -1})
	for i := 0; i < nodes; i += 97 {
		s.Partial = append(s.Partial, nfa.RunSnapshot{State: int32(1 + i%5), Node: int32(i), Version: s.Nodes[i].Edges[0].Version,
			StartTs: 1000 + int64(i), PrevTs: 2000 + int64(i), StartEv: int32(i % events)})
	}
	s.Completed = []nfa.RunSnapshot{{State: 6, Node: int32(nodes - 1), Version: ver, StartTs: 5, PrevTs: 6, StartEv: 0}}
	return s
}

type stateCase struct {
	name   string
	schema *event.Schema
	ks     *state.KeyState
}

// stateCases are the round-trip table, also the fuzzer's seeds.
func stateCases(t testing.TB) []stateCase {
	real5, _ := liveState(t, "card-4242", 5)
	real7, _ := liveState(t, "card-1", 7)

	kinds := func(i int64) []event.Value {
		return []event.Value{event.String(fmt.Sprint("id", i)), event.String("k"), event.TimestampNanos(i * 1e6),
			event.Null(), event.Bool(i%2 == 0), event.Int(math.MinInt64 + i), event.Double(math.NaN()),
			event.String(strings.Repeat("é", int(i))), {}}
	}
	var kindEvents []*event.Event
	for i := range int64(6) {
		v := kinds(i)
		v[4] = []event.Value{event.Bool(true), event.Int(math.MaxInt64), event.Double(math.Inf(-1)), event.Double(math.Copysign(0, -1)),
			event.TimestampNanos(math.MinInt64), event.TimestampNanos(math.MaxInt64)}[i]
		kindEvents = append(kindEvents, withValues(event.Event{Seq: uint64(i * 1000), Key: "k", Time: i, Schema: anySchema}, v))
	}

	manyRules := &state.KeyState{Key: "many"}
	fps := []string{"", "0", "ab", "AB", "abcdefg", "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "not hex at all", "v3"}
	for i := range 1000 {
		var m *nfa.Snapshot
		if i%3 == 0 {
			m = &nfa.Snapshot{Partial: []nfa.RunSnapshot{{State: int32(i % 9), Node: -1, Version: []int32{int32(i)}, StartTs: -1, PrevTs: -1, StartEv: -1}}}
		}
		manyRules.Rules = append(manyRules.Rules, state.RuleState{RuleID: fmt.Sprintf("rule-%d", i), Fingerprint: fps[i%len(fps)], Matcher: m})
	}

	deepEvents := make([]*event.Event, 50)
	for i := range deepEvents {
		deepEvents[i] = cardEvent("deep", i)
	}

	return []stateCase{
		{"empty key, nothing else", cardSchema, &state.KeyState{}},
		{"unicode key", cardSchema, &state.KeyState{Key: "карта-💳-東京 \x00\xff"}},
		{"live runs 3 rules 5 events", cardSchema, real5},
		{"live runs 3 rules 7 events", cardSchema, real7},
		{"every value kind", anySchema, &state.KeyState{Key: "k", Events: kindEvents, Pending: []int32{5, 0, 3}}},
		{"missing values", cardSchema, &state.KeyState{Key: "m", Events: []*event.Event{
			withValues(event.Event{Seq: 1, Key: "m"}, make([]event.Value, len(cardSchema.Fields))),
			withValues(event.Event{Seq: 2, Key: "m", Time: 5}, []event.Value{{}, {}, event.TimestampNanos(5e6), {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, event.Int(3)}),
		}}},
		{"kinds other than declared", cardSchema, &state.KeyState{Key: "x", Events: []*event.Event{
			withValues(event.Event{Key: "x", Schema: cardSchema}, []event.Value{event.Int(7), event.Null(), event.Int(99), event.String("1.5")}),
		}}},
		{"event fields", cardSchema, &state.KeyState{Key: "own", Events: []*event.Event{
			nil,
			{Key: "other", Seq: math.MaxUint64, Time: -5, Schema: cardSchema},
			{Key: "", Seq: 0, Time: math.MinInt64, Schema: cardSchema},
			withValues(event.Event{Key: "own", Seq: 3, Time: math.MaxInt64, Schema: cardSchema}, cardEvent("own", 9).Values()),
			withValues(event.Event{Key: "own", Seq: 2, Time: 1, Schema: cardSchema}, cardEvent("own", 8).Values()),
			nil,
		}, Pending: []int32{1, 2, 3, 4}}},
		{"time field as int", mustSchema(event.NewSchema("intts", []event.Field{{Name: "k", Type: event.TypeString}, {Name: "ts", Type: event.TypeInt}}, "k", "ts", "")),
			&state.KeyState{Key: "k", Events: []*event.Event{
				withValues(event.Event{Key: "k", Time: baseTime}, []event.Value{event.String("k"), event.Int(baseTime)}),
				withValues(event.Event{Key: "k", Time: baseTime + 9}, []event.Value{event.String("k"), event.Int(-3)}),
			}}},
		{"nil schema", nil, &state.KeyState{Key: "n", Events: []*event.Event{{Key: "n", Seq: 9, Time: 4}}}},
		{"many rules", cardSchema, manyRules},
		{"deep shared buffer", cardSchema, &state.KeyState{Key: "deep", Events: deepEvents,
			Rules: []state.RuleState{{RuleID: "r", Fingerprint: "ff", Matcher: deepSnapshot(5000, 50)}, {RuleID: "s", Matcher: deepSnapshot(300, 50)}}}},
		{"empty snapshot", cardSchema, &state.KeyState{Key: "e", Rules: []state.RuleState{{RuleID: "r", Matcher: &nfa.Snapshot{}}}}},
		{"sections", cardSchema, &state.KeyState{Key: "s", Sections: []state.Section{
			{Kind: 0}, {Kind: 1, Data: []byte("velocity")}, {Kind: 65535, Data: make([]byte, 70000)}, {Kind: 7, Data: []byte{}},
		}}},
	}
}

func TestKeyStateRoundTrip(t *testing.T) {
	for _, c := range stateCases(t) {
		t.Run(c.name, func(t *testing.T) { roundTrip(t, c.ks, c.schema) })
	}
}

// TestValuesBeyondSchema: an event's values past the schema's fields are not written.
func TestValuesBeyondSchema(t *testing.T) {
	s := mustSchema(event.NewSchema("s", []event.Field{{Name: "k", Type: event.TypeString}}, "k", "", ""))
	ks := &state.KeyState{Key: "k", Events: []*event.Event{withValues(event.Event{Key: "k"}, []event.Value{event.String("k"), event.Int(1)})}}
	got, err := state.DecodeKeyState(state.AppendKeyState(nil, ks, s), s)
	if err != nil {
		t.Fatal(err)
	}
	if v := got.Events[0].Values(); len(v) != 1 || v[0].AsString() != "k" {
		t.Fatalf("values %v", v)
	}
}

func TestDecodeKeyStateRejects(t *testing.T) {
	ks, _ := liveState(t, "card-4242", 5)
	ks.Pending = []int32{4}
	ks.Sections = []state.Section{{Kind: 3, Data: []byte("abc")}}
	good := state.AppendKeyState(nil, ks, cardSchema)
	if _, err := state.DecodeKeyState(good, cardSchema); err != nil {
		t.Fatal(err)
	}
	// every truncation and every bit flip is caught
	for n := range len(good) {
		if _, err := state.DecodeKeyState(good[:n], cardSchema); !errors.Is(err, state.ErrCorrupt) {
			t.Fatalf("truncated to %d: %v", n, err)
		}
	}
	for i := range len(good) * 8 {
		b := append([]byte(nil), good...)
		b[i/8] ^= 1 << (i % 8)
		if _, err := state.DecodeKeyState(b, cardSchema); err == nil {
			t.Fatalf("bit %d flipped: accepted", i)
		}
	}
	// truncations with a valid checksum reach the parser and fail there
	for n := 11; n < len(good); n++ {
		b := reseal(append(append([]byte(nil), good[:n-4]...), 0, 0, 0, 0), cardSchema)
		if _, err := state.DecodeKeyState(b, cardSchema); !errors.Is(err, state.ErrCorrupt) {
			t.Fatalf("resealed truncation to %d: %v", n, err)
		}
	}

	other := mustSchema(event.NewSchema("other", cardSchema.Fields[:14], "card_id", "ts", "txn_id"))
	if _, err := state.DecodeKeyState(good, other); !errors.Is(err, state.ErrSchemaMismatch) {
		t.Fatalf("other schema: %v", err)
	}
	v2 := append([]byte(nil), good...)
	v2[2] = 2
	if _, err := state.DecodeKeyState(reseal(v2, cardSchema), cardSchema); !errors.Is(err, state.ErrVersion) {
		t.Fatalf("version 2: %v", err)
	}
	if _, err := state.DecodeKeyState([]byte("{\"json\": true}"), cardSchema); !errors.Is(err, state.ErrCorrupt) {
		t.Fatalf("json: %v", err)
	}

	// valid checksums around bad contents
	hdr := good[:7]
	craft := func(body ...byte) []byte {
		return reseal(append(append(append([]byte(nil), hdr...), body...), 0, 0, 0, 0), cardSchema)
	}
	huge := binary.AppendUvarint(nil, 1<<40)
	bad := map[string][]byte{
		"huge key length":      craft(huge...),
		"huge event count":     craft(append([]byte{0}, huge...)...),
		"huge pending count":   craft(append([]byte{0, 0}, huge...)...),
		"pending out of range": state.AppendKeyState(nil, &state.KeyState{Pending: []int32{0}}, cardSchema),
		"negative pending":     state.AppendKeyState(nil, &state.KeyState{Events: []*event.Event{nil}, Pending: []int32{-1}}, cardSchema),
		"node event out of range": state.AppendKeyState(nil, &state.KeyState{Rules: []state.RuleState{{Matcher: &nfa.Snapshot{
			Nodes: []nfa.NodeSnapshot{{Event: 0, Edges: []nfa.EdgeSnapshot{{Prev: -1, Version: []int32{1}}}}}}}}}, cardSchema),
		"predecessor not earlier": state.AppendKeyState(nil, &state.KeyState{Events: []*event.Event{nil}, Rules: []state.RuleState{{Matcher: &nfa.Snapshot{
			Nodes: []nfa.NodeSnapshot{{Event: 0, Edges: []nfa.EdgeSnapshot{{Prev: 0, Version: []int32{1}}}}}}}}}, cardSchema),
		"run node out of range": state.AppendKeyState(nil, &state.KeyState{Rules: []state.RuleState{{Matcher: &nfa.Snapshot{
			Partial: []nfa.RunSnapshot{{Node: 2, StartEv: -1}}}}}}, cardSchema),
		"run event out of range": state.AppendKeyState(nil, &state.KeyState{Rules: []state.RuleState{{Matcher: &nfa.Snapshot{
			Partial: []nfa.RunSnapshot{{Node: -1, StartEv: 0}}}}}}, cardSchema),
		"trailing bytes":        reseal(append(append([]byte(nil), good[:len(good)-4]...), 0, 0, 0, 0, 0), cardSchema),
		"values without fields": craft(0, 1, byte(1<<6), 0, 0, 0),
	}
	for name, b := range bad {
		if _, err := state.DecodeKeyState(b, cardSchema); !errors.Is(err, state.ErrCorrupt) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := state.DecodeKeyState(craft(0, 1, byte(1<<6), 0, 0, 0), nil); err == nil {
		t.Error("values under a nil schema accepted")
	}
}

// TestEncodedSizes reports bytes per key for representative states (go test -v -run
// TestEncodedSizes ./state/) and keeps them from growing unnoticed.
func TestEncodedSizes(t *testing.T) {
	for _, c := range []struct {
		events, max int
	}{{1, 330}, {5, 650}, {7, 850}, {20, 2600}} {
		ks, live := liveState(t, "card-4242424242424242", c.events)
		blob := state.AppendKeyState(nil, ks, cardSchema)
		nodes, fp := 0, 0
		for _, r := range ks.Rules {
			nodes += len(r.Matcher.Nodes)
			fp += 1 + len(r.Fingerprint)/2 + 1 + len(r.RuleID) + 1
		}
		evOnly := state.AppendKeyState(nil, &state.KeyState{Key: ks.Key, Events: ks.Events}, cardSchema)
		t.Logf("%2d events, %d rules, %2d live runs, %2d buffer nodes: %4d bytes (events %d ≈ %d/event; rule ids+fingerprints %d)",
			len(ks.Events), len(ks.Rules), live, nodes, len(blob), len(evOnly), (len(evOnly)-11-len(ks.Key)-2)/max(1, len(ks.Events)), fp)
		if len(blob) > c.max {
			t.Errorf("%d events: %d bytes, more than %d", c.events, len(blob), c.max)
		}
	}
}

// TestDecodeUnderAddedFields: a key state written before optional fields were added to
// the schema live (event.Compatible) decodes under the new schema with them absent; a
// field added as required is not such a schema.
func TestDecodeUnderAddedFields(t *testing.T) {
	ks, _ := liveState(t, "card-4242", 5)
	blob := state.AppendKeyState(nil, ks, cardSchema)
	n := len(cardSchema.Fields)
	grow := func(extra ...event.Field) *event.Schema {
		fs := append(append([]event.Field(nil), cardSchema.Fields...), extra...)
		return mustSchema(event.NewSchema("wider", fs, cardSchema.KeyField, cardSchema.TimeField, cardSchema.IDField))
	}
	wider := grow(event.Field{Name: "device", Type: event.TypeString, Optional: true}, event.Field{Name: "score", Type: event.TypeDouble, Optional: true})
	got, err := state.DecodeKeyState(blob, wider)
	if err != nil {
		t.Fatal(err)
	}
	want, err := state.DecodeKeyState(blob, cardSchema)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Events) != len(want.Events) || len(got.Events) == 0 {
		t.Fatalf("events: %d, want %d", len(got.Events), len(want.Events))
	}
	for i, ev := range got.Events {
		if len(ev.Values()) != n+2 {
			t.Fatalf("event %d has %d values, want %d", i, len(ev.Values()), n+2)
		}
		if !reflect.DeepEqual(ev.Values()[:n], want.Events[i].Values()) || ev.ID() != want.Events[i].ID() || ev.Time != want.Events[i].Time {
			t.Fatalf("event %d: %+v, want %+v", i, ev, want.Events[i])
		}
		if ev.Value(n).Present() || ev.Value(n+1).Present() {
			t.Fatalf("event %d: added fields present: %v", i, ev.Values()[n:])
		}
	}
	if !reflect.DeepEqual(got.Rules, want.Rules) {
		t.Fatal("rules differ")
	}
	// written again under the wider schema, it reads back the same
	again, err := state.DecodeKeyState(state.AppendKeyState(nil, got, wider), wider)
	if err != nil || !reflect.DeepEqual(again.Events[0].Values(), got.Events[0].Values()) {
		t.Fatalf("rewritten: %v", err)
	}
	required := grow(event.Field{Name: "device", Type: event.TypeString})
	if _, err := state.DecodeKeyState(blob, required); !errors.Is(err, state.ErrSchemaMismatch) {
		t.Fatalf("a required field added: %v", err)
	}
}

// withValues returns a copy of e holding vals.
func withValues(e event.Event, vals []event.Value) *event.Event { return e.SetValues(vals) }
