package main

import (
	"testing"

	"github.com/cepd/cepd/engine"
	"github.com/cepd/cepd/event"
	"github.com/cepd/cepd/event/jsondecode"
	"github.com/cepd/cepd/nfa"
)

// BenchmarkStartIndex: what a key with nothing live costs each rule of testdata/fraud
// before it starts a match, per event of 100k generated ones (one op is one event over
// every rule): CanStart asked of every rule ("none"); of the rules whose first step
// pins the event's type to its value ("type", the index before session 8, rebuilt
// here from nfa.Program.StartDispatch); of those nfa.StartIndex keeps ("pins": the type,
// then each rule's start-guard pins). It reports the CanStart calls per event and those
// that return false. "pins-keyspace" is "pins" on the events as a key space keyed by
// device_id decodes them (another schema with the same fields; only the events with a
// device_id, so another mix than the others').
func BenchmarkStartIndex(b *testing.B) {
	rs := fraudRuleSet(b)
	recs := genRecords(b, 100000)
	evs := decodeAll(b, rs.Schema, recs)
	// the events as a key space keyed by device_id decodes them (its schema is the rule
	// set's keyed by another field: another *event.Schema with the same fields)
	ksSchema, err := rs.Schema.KeyedBy("device_id")
	if err != nil {
		b.Fatal(err)
	}
	ksEvs := decodeAll(b, ksSchema, recs)
	progs := make([]*nfa.Program, len(rs.Rules))
	for i, c := range rs.Rules {
		progs[i] = c.Program
	}
	byType := map[string][]bool{} // rule i may start on a value, or always
	always := make([]bool, len(progs))
	field := -1
	for i, p := range progs {
		f, vals, ok := p.StartDispatch()
		if !ok || field >= 0 && f != field {
			always[i] = true
			continue
		}
		field = f
		for _, v := range vals {
			if byType[v] == nil {
				byType[v] = make([]bool, len(progs))
			}
			byType[v][i] = true
		}
	}
	x := nfa.NewStartIndex(progs)
	for _, mode := range []string{"none", "type", "pins", "pins-keyspace"} {
		b.Run(mode, func(b *testing.B) {
			sc := nfa.NewScratch()
			sc.Memo = nfa.NewMemo(rs.Slots)
			calls, falses := 0, 0
			in := evs
			if mode == "pins-keyspace" {
				in = ksEvs
			}
			for i := 0; i < b.N; i++ {
				ev := in[i%len(in)]
				sc.Memo.Next()
				var cand []bool
				switch mode {
				case "type":
					if v := ev.Value(field); field >= 0 && v.Kind == event.KindString {
						cand = byType[v.AsString()]
					}
				case "pins", "pins-keyspace":
					cand = x.Candidates(ev)
				}
				for ri, p := range progs {
					switch mode {
					case "type":
						if cand != nil && !cand[ri] && !always[ri] {
							continue
						}
					case "pins", "pins-keyspace":
						if !x.MayStart(cand, ri) {
							continue
						}
					}
					calls++
					if !p.CanStart(ev, sc) {
						falses++
					}
				}
			}
			b.ReportMetric(float64(calls)/float64(b.N), "canstart/event")
			b.ReportMetric(float64(falses)/float64(b.N), "false/event")
		})
	}
}

// decodeAll decodes the records under schema, leaving out those that do not decode.
func decodeAll(tb testing.TB, schema *event.Schema, recs []engine.Record) []*event.Event {
	tb.Helper()
	dec := jsondecode.NewDecoder(schema)
	evs := make([]*event.Event, 0, len(recs))
	for _, r := range recs {
		ev := new(event.Event)
		if dec.Decode(r.Value, ev) == nil {
			evs = append(evs, ev)
		}
	}
	return evs
}
