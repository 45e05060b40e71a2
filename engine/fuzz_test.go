package engine

import (
	"bytes"
	"encoding/json"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/cepd/cepd/alerts"
	"github.com/cepd/cepd/event"
)

// FuzzIngest feeds arbitrary lines to Ingest as one partition's records, then three valid
// authorisations of a probe key at the latest time the bounds allow, and checks the
// invariants: Ingest neither panics nor fails, every record gets an answer (accepted or
// one error each), memory stays bounded, and the probe still alerts, so that no input
// can stop later detection.
//
//	go test ./engine -run x -fuzz FuzzIngest -fuzztime 1m
func FuzzIngest(f *testing.F) {
	for _, e := range genEvents(9, 3, 30) {
		b, _ := json.Marshal(e)
		f.Add(b)
	}
	for _, s := range []string{
		`{"id":"t8","card":"c1","ts":10000000000000000,"kind":"auth","amount":1}`,
		`{"id":"t9","card":"c1","ts":9223372036854775807,"kind":"auth","amount":1}` + "\n" + `{"id":"t10","card":"c1","ts":-9223372036854775808,"kind":"auth","amount":1}`,
		"{\"id\":\"u\",\"card\":\"c\xff\",\"ts\":1700000000000,\"kind\":\"auth\",\"amount\":1}",
		`{"id":"a","card":"zz-probe","ts":1700003600000,"kind":"auth","amount":1e308}` + "\n" + `{"id":"b","card":"zz-probe","ts":1700003599999,"kind":"capture","amount":-1}`,
		`{}` + "\n" + `[]` + "\n" + `{"card":"` + string(bytes.Repeat([]byte("k"), 5000)) + `"}`,
	} {
		f.Add([]byte(s))
	}
	rs := testRuleSet(f)
	now := time.UnixMilli(1_700_000_000_000)
	bounds := event.Bounds{MaxAhead: time.Hour, Floor: time.UnixMilli(1_600_000_000_000), Now: func() time.Time { return now }}
	probeTime := now.Add(time.Hour).UnixMilli()
	f.Fuzz(func(t *testing.T, data []byte) {
		sink := &sinkCollector{}
		e, ctx, stop := startEngine(t, Config{Shards: 2, Bounds: bounds, OutOfOrderness: time.Second}, rs, sink, &dlqCollector{})
		defer stop()
		var recs []Record
		for i, line := range bytes.Split(data, []byte{'\n'}) {
			recs = append(recs, Record{Value: line, Offset: int64(i)})
		}
		errs, err := e.Ingest(ctx, 0, recs)
		if err != nil {
			t.Fatalf("ingest: %v", err)
		}
		seen := map[int]bool{}
		for _, re := range errs {
			if re.Index < 0 || re.Index >= len(recs) || seen[re.Index] || re.Reason == "" {
				t.Fatalf("record error %+v of %d records", re, len(recs))
			}
			seen[re.Index] = true
		}
		var probe []Record
		for i := range 3 {
			probe = append(probe, Record{Offset: int64(len(recs) + i),
				Value: fmt.Appendf(nil, `{"id":"p%d","card":"zz-probe","ts":%d,"kind":"auth","amount":1}`, i, probeTime)})
		}
		if errs, err := e.Ingest(ctx, 0, probe); err != nil || len(errs) != 0 {
			t.Fatalf("probe events: %v %+v", err, errs)
		}
		if err := e.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		found := false
		sink.mu.Lock()
		for _, a := range sink.all {
			found = found || a.RuleID == "three-in-a-row" && a.Key == "zz-probe" && a.LastEventTime.UnixMilli() == probeTime && hasEvent(a, "p2")
		}
		sink.mu.Unlock()
		if !found {
			t.Fatalf("the probe made no alert after the input %q", data)
		}
		e.Close()
		sink.all = nil
		runtime.GC() // live memory only: what this input left behind, and what earlier ones did
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		if ms.HeapAlloc > 256<<20 {
			t.Fatalf("%d MB live after the input", ms.HeapAlloc>>20)
		}
	})
}

func hasEvent(a *alerts.Alert, id string) bool {
	for _, s := range a.Steps {
		for _, e := range s.Events {
			if e.ID == id {
				return true
			}
		}
	}
	return false
}
