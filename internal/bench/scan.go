package bench

import (
	"sync"
	"time"

	"github.com/buger/jsonparser"

	"github.com/cepd/cepd/engine"
)

// jsonScan is the floor of any JSON engine: a plain parse of every record (each member's
// key and value found, nothing converted or kept) on workers goroutines, each taking a
// contiguous share. It returns the seconds taken.
func jsonScan(recs []engine.Record, workers int) float64 {
	start := time.Now()
	var wg sync.WaitGroup
	per := (len(recs) + workers - 1) / workers
	for w := range workers {
		share := recs[min(w*per, len(recs)):min((w+1)*per, len(recs))]
		wg.Go(func() {
			for _, r := range share {
				_ = jsonparser.ObjectEach(r.Value, func(_, _ []byte, _ jsonparser.ValueType, _ int) error { return nil })
			}
		})
	}
	wg.Wait()
	return time.Since(start).Seconds()
}
