package main

import (
	"sync"
	"testing"

	"github.com/cepd/cepd/alerts"
	"github.com/cepd/cepd/engine"
	"github.com/cepd/cepd/event"
	"github.com/cepd/cepd/event/jsondecode"
)

// microStream is the card-testing micro-benchmark's stream (1M events over 10k cards),
// made once per process.
var microStream = sync.OnceValue(func() []engine.Record { return microEvents(1, 10000, 1_000_000) })

// BenchmarkCardTestingSides runs each side of BenchmarkCardTesting alone, one op an
// event (the first b.N events of its stream, b.N ≤ 1M), for instruction counts
// (scripts/ir.sh ./cmd/cepd CardTestingSides/cepd 200000): cepd's replay, the
// hand-written matcher and the decoder alone, so that cepd's cost beyond decoding and
// the hand-written matcher's are read apart.
func BenchmarkCardTestingSides(b *testing.B) {
	rs := microRuleSet(b)
	recs := microStream()
	prefix := func(b *testing.B) []engine.Record {
		if b.N > len(recs) {
			b.Skipf("at most %d events", len(recs))
		}
		return recs[:b.N]
	}
	b.Run("cepd", func(b *testing.B) {
		recs := prefix(b)
		b.ResetTimer()
		if err := backtestReplay(rs, recs, &alerts.Collector{}); err != nil {
			b.Fatal(err)
		}
	})
	b.Run("hand", func(b *testing.B) {
		recs := prefix(b)
		b.ResetTimer()
		h := newHandMatcher(rs.Schema, true)
		for i := range recs {
			h.feed(recs[i].Value)
		}
	})
	b.Run("decode", func(b *testing.B) {
		recs := prefix(b)
		b.ResetTimer()
		dec, ev := jsondecode.NewDecoder(rs.Schema), &event.Event{}
		for i := range recs {
			if err := dec.Decode(recs[i].Value, ev); err != nil {
				b.Fatal(err)
			}
		}
	})
}
