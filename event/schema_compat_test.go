package event

import (
	"errors"
	"strings"
	"testing"
)

const compatBase = `name: tx
key: card
time: ts
id: id
fields:
  id: string
  card: string
  ts: timestamp
  amount: double
  country: string?
`

func TestCompatible(t *testing.T) {
	old, err := ParseSchema([]byte(compatBase))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		next  string
		wants []string // substrings of the problems; none: compatible
	}{
		{"same", compatBase, nil},
		{"renamed schema", strings.Replace(compatBase, "name: tx", "name: tx2", 1), nil},
		{"add optional at end", compatBase + "  device: string?\n  ip: string?\n", nil},
		{"required becomes optional", strings.Replace(compatBase, "amount: double", "amount: double?", 1), nil},
		{"add required", compatBase + "  device: string\n", []string{`new field "device" must be optional`}},
		{"remove", strings.Replace(compatBase, "  country: string?\n", "", 1), []string{`field "country" is removed or renamed`}},
		{"rename", strings.Replace(compatBase, "country:", "nation:", 1), []string{`field "country" is removed or renamed`}},
		{"retype", strings.Replace(compatBase, "amount: double", "amount: int", 1), []string{`field "amount" changes type from double to int`}},
		{"optional to required", strings.Replace(compatBase, "country: string?", "country: string", 1), []string{`"country" changes from optional to required`}},
		{"insert in the middle", strings.Replace(compatBase, "  amount:", "  device: string?\n  amount:", 1),
			[]string{`field "amount" moves from position 4 to 5`, `field "country" moves from position 5 to 6`}},
		{"key", strings.Replace(compatBase, "key: card", "key: id", 1), []string{`the key field changes from "card" to "id"`}},
		{"time", strings.Replace(compatBase+"  t2: timestamp?\n", "time: ts", "time: t2", 1), []string{`the time field changes`}},
		{"id", strings.Replace(compatBase, "id: id\n", "", 1), []string{`the id field changes from "id" to ""`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			next, err := ParseSchema([]byte(c.next))
			if err != nil {
				t.Fatal(err)
			}
			err = Compatible(old, next)
			if len(c.wants) == 0 {
				if err != nil {
					t.Fatalf("want compatible, got %v", err)
				}
				return
			}
			var ce *SchemaChangeError
			if !errors.As(err, &ce) {
				t.Fatalf("want a SchemaChangeError, got %v", err)
			}
			if len(ce.Problems) != len(c.wants) {
				t.Fatalf("want %d problems, got %q", len(c.wants), ce.Problems)
			}
			for i, w := range c.wants {
				if !strings.Contains(ce.Problems[i], w) {
					t.Errorf("problem %d = %q, want it to contain %q", i, ce.Problems[i], w)
				}
			}
		})
	}
}
