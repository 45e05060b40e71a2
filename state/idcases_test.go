package state_test

import (
	"github.com/cepd/cepd/event"
)

// idCase is a schema and JSON events under it, as a checkpoint written at be14f2d (when
// events kept their id in the header) holds them: testdata/ids-be14f2d.json.
type idCase struct {
	name   string
	schema *event.Schema
	lines  []string
}

func idCases() []idCase {
	f := func(id event.Type, opt bool) []event.Field {
		return []event.Field{{Name: "card", Type: event.TypeString}, {Name: "ts", Type: event.TypeTimestamp},
			{Name: "txn", Type: id, Optional: opt}, {Name: "amount", Type: event.TypeDouble, Optional: true}}
	}
	sch := func(name string, fs []event.Field, id string) *event.Schema {
		return mustSchema(event.NewSchema(name, fs, "card", "ts", id))
	}
	ts := func(s string) string { return `"ts":"2026-01-02T03:04:05.` + s + `Z"` }
	return []idCase{
		{"string id", sch("s", f(event.TypeString, false), "txn"), []string{
			`{"card":"c1",` + ts("001") + `,"txn":"e-0000000001","amount":1.5}`,
			`{"card":"c1",` + ts("002") + `,"txn":"short"}`,
			`{"card":"c1",` + ts("003") + `,"txn":"","amount":-0}`,
			`{"card":"c1",` + ts("004") + `,"txn":"a long id of more than eight bytes \u00e9\u0000x"}`,
		}},
		{"int id", sch("i", f(event.TypeInt, false), "txn"), []string{
			`{"card":"c2",` + ts("001") + `,"txn":7}`,
			`{"card":"c2",` + ts("002") + `,"txn":-9223372036854775808}`,
			`{"card":"c2",` + ts("003") + `,"txn":0}`,
		}},
		{"optional int id", sch("oi", f(event.TypeInt, true), "txn"), []string{
			`{"card":"c3",` + ts("001") + `,"txn":7}`,
			`{"card":"c3",` + ts("002") + `}`,
			`{"card":"c3",` + ts("003") + `,"txn":null}`,
		}},
		{"any id", sch("a", f(event.TypeAny, true), "txn"), []string{
			`{"card":"c4",` + ts("001") + `,"txn":"s"}`,
			`{"card":"c4",` + ts("002") + `,"txn":12}`,
			`{"card":"c4",` + ts("003") + `,"txn":1.25}`,
			`{"card":"c4",` + ts("004") + `,"txn":1e21}`,
			`{"card":"c4",` + ts("005") + `,"txn":-0.0}`,
			`{"card":"c4",` + ts("006") + `,"txn":true}`,
			`{"card":"c4",` + ts("007") + `,"txn":null}`,
			`{"card":"c4",` + ts("008") + `}`,
			`{"card":"c4",` + ts("009") + `,"txn":"12"}`,
		}},
		{"double id", sch("d", f(event.TypeDouble, false), "txn"), []string{
			`{"card":"c5",` + ts("001") + `,"txn":0.1}`,
			`{"card":"c5",` + ts("002") + `,"txn":3}`,
			`{"card":"c5",` + ts("003") + `,"txn":-0.0}`,
		}},
		{"timestamp id", sch("t", f(event.TypeTimestamp, false), "txn"), []string{
			`{"card":"c6",` + ts("001") + `,"txn":"2026-01-02T03:04:05.123456789Z"}`,
		}},
		{"id is the time field", sch("tt", f(event.TypeString, true), "ts"), []string{
			`{"card":"c7",` + ts("001") + `}`,
		}},
		{"id is the key field", sch("kk", f(event.TypeString, true), "card"), []string{
			`{"card":"c8",` + ts("001") + `,"txn":"x"}`,
		}},
		{"no id field", sch("n", f(event.TypeString, true), ""), []string{
			`{"card":"c9",` + ts("001") + `,"txn":"x"}`,
		}},
	}
}
