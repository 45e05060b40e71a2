package eventtest

import "testing"

// TestCardSchema: the fields follow id and card in their order, and the YAML parses into
// a schema keyed by card.
func TestCardSchema(t *testing.T) {
	src := CardSchema("ts: int", "note: string?")
	want := "key: card\ntime: ts\nid: id\nfields:\n  id: string\n  card: string\n  ts: int\n  note: string?\n"
	if src != want {
		t.Fatalf("CardSchema = %q, want %q", src, want)
	}
	s := Schema(t, src)
	if s.KeyField != "card" || len(s.Fields) != 4 {
		t.Fatalf("schema key %q, %d fields; want card, 4", s.KeyField, len(s.Fields))
	}
}
