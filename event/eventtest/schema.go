package eventtest

import (
	"strings"
	"testing"

	"github.com/cepd/cepd/event"
)

// CardSchema is the YAML of a card-transaction schema: keyed by the field card, timed by
// ts and identified by id, with the string fields id and card followed by fields, each a
// "name: type" line ("ts: int", "device: string?").
func CardSchema(fields ...string) string {
	var b strings.Builder
	b.WriteString("key: card\ntime: ts\nid: id\nfields:\n  id: string\n  card: string\n")
	for _, f := range fields {
		b.WriteString("  " + f + "\n")
	}
	return b.String()
}

// Schema parses the schema YAML src, failing t if it does not parse.
func Schema(t testing.TB, src string) *event.Schema {
	t.Helper()
	s, err := event.ParseSchema([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return s
}
