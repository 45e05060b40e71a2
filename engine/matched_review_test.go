package engine

import (
	"fmt"
	"testing"
)

// TestMatchedCountedBeforeWaitReturns: once IngestWait returns, the events it handed
// over are in Stats (Matched + Late counts every one of them), as they were when the
// count was added per event: the shards count matched events once a message
// (countMatched), and that count must be published before the message's ticket is
// finished, else a caller reading the stats right after its call (the decide API, a
// REST client, a test) sees its own events missing.
func TestMatchedCountedBeforeWaitReturns(t *testing.T) {
	eng, ctx, stop := startEngine(t, Config{Shards: 2, BatchSize: 4}, testRuleSet(t), &sinkCollector{}, &dlqCollector{})
	defer stop()
	var sent uint64
	for call := range 500 {
		var evs []testEvent
		for j := range 1 + call%7 {
			evs = append(evs, testEvent{ID: fmt.Sprintf("e%d-%d", call, j), Card: fmt.Sprintf("c%d", j%3), TS: 1_700_000_000_000 + int64(call)*1000 + int64(j), Kind: "auth", Amount: 1})
		}
		recs := records(evs)
		for i := range recs {
			recs[i].Offset = int64(sent) + int64(i)
		}
		if _, errs, err := eng.IngestWait(ctx, 0, recs); err != nil || len(errs) > 0 {
			t.Fatal(err, errs)
		}
		sent += uint64(len(recs))
		if st := eng.Stats().Snapshot(); st.Matched+st.Late != sent {
			t.Fatalf("call %d: after IngestWait, matched %d + late %d, want %d events", call, st.Matched, st.Late, sent)
		}
	}
}
