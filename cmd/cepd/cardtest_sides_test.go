package main

import (
	"sync"
	"testing"

	"github.com/cepd/cepd/alerts"
	"github.com/cepd/cepd/engine"
	"github.com/cepd/cepd/event"
	"github.com/cepd/cepd/event/jsondecode"
)

// microOnce is the card-testing micro-benchmark's stream (1M events over 10k cards),
// made once per process and held without pointers (microStream).
var microOnce = sync.OnceValue(func() *microStream { return microRecords(1, 10000, 1_000_000) })

// BenchmarkCardTestingSides runs each side of BenchmarkCardTesting alone, one op an
// event (the first b.N events of its stream, b.N ≤ 1M), for instruction counts
// (scripts/ir.sh ./cmd/cepd CardTestingSides/cepd 200000): cepd's replay, the
// hand-written matcher and the decoder alone, so that cepd's cost beyond decoding and
// the hand-written matcher's are read apart. scripts/ir.sh counts the difference between
// a run of 1 op and one of N+1, which runs the benchmark twice and so collects once more
// (before the second run): the stream is held without pointers, so that collection
// marks a few objects, not 1M, and each side makes its records (its first b.N) in the run
// alike (a few instructions an event, the same on every side).
func BenchmarkCardTestingSides(b *testing.B) {
	rs := microRuleSet(b)
	stream := microOnce()
	prefix := func(b *testing.B) []engine.Record {
		if b.N > len(stream.ends) {
			b.Skipf("at most %d events", len(stream.ends))
		}
		return stream.records(b.N)
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
