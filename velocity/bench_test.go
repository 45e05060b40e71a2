package velocity

import (
	"fmt"
	"runtime"
	"testing"
)

// BenchmarkAddValue is the cost of one event: Add then Value, for each function, on a
// key whose window holds a few events (sparse) and on a hot key whose window buckets.
//
//	go test ./velocity -run '^$' -bench AddValue -benchmem
func BenchmarkAddValue(b *testing.B) {
	for _, f := range funcs {
		for _, hot := range []bool{false, true} {
			for _, by := range []bool{false, true} {
				gap := int64(60_000) // a minute apart: 60 events in an hour window
				if hot {
					gap = 100
				}
				b.Run(fmt.Sprintf("%v/hot=%t/by=%t", f, hot, by), func(b *testing.B) {
					a := New(Spec{Func: f, Window: 3_600_000, By: by})
					keys := make([]Key, 16)
					for i := range keys {
						keys[i] = Key{S: fmt.Sprint("merchant-", i), Kind: 5}
					}
					b.ReportAllocs()
					for i := range b.N {
						t := int64(i) * gap
						g := keys[i%len(keys)]
						a.Add(t, g, float64(i%1000), keys[(i*7)%len(keys)])
						a.Value(t, g)
					}
				})
			}
		}
	}
}

// BenchmarkBytesPerKey measures the heap held per key by one aggregate after n events
// an hour's window holds (10,000 keys).
//
//	go test ./velocity -run '^$' -bench BytesPerKey -benchtime 1x
func BenchmarkBytesPerKey(b *testing.B) {
	for _, f := range []Func{Count, Sum, Min, Distinct} {
		for _, n := range []int{1, 10, 1000} {
			for _, by := range []bool{false, true} {
				b.Run(fmt.Sprintf("%v/events=%d/by=%t", f, n, by), func(b *testing.B) {
					const keys = 10_000
					var before, after runtime.MemStats
					for range b.N {
						runtime.GC()
						runtime.ReadMemStats(&before)
						aggs := make([]*Agg, keys)
						for k := range aggs {
							a := New(Spec{Func: f, Window: 3_600_000, By: by})
							for i := range n {
								a.Add(int64(i)*3_600_000/int64(n+1), Key{S: "m", N: uint64(i % 8)}, float64(i), Key{N: uint64(i % 50), Kind: 2})
							}
							aggs[k] = a
						}
						runtime.GC()
						runtime.ReadMemStats(&after)
						b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/keys, "bytes/key")
						runtime.KeepAlive(aggs)
					}
				})
			}
		}
	}
}
