package main

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/cepd/cepd/alerts"
	"github.com/cepd/cepd/engine"
)

// TestOutOfOrderDump is a cross-build differential for the out-of-orderness journal
// (engine/order.go): `cepd replay` sorts its input and runs without out-of-orderness, so
// it never re-matches. This runs the fraud rules over $OOO_EVENTS in the file's order
// (optionally shuffled within windows of 50–400 lines with seed $OOO_SHUFFLE, so that
// events arrive out of order: re-matched within $OOO_DUR, late beyond it), with
// $OOO_SHARDS shards (default 1), and writes the alerts sorted to $OOO_OUT with a last
// line of the dead letters by reason. Build the test binary at two commits and compare
// the files, e.g.
//
//	OOO_EVENTS=/work/data/ref300k.jsonl OOO_SHUFFLE=7 OOO_DUR=5s OOO_OUT=/tmp/a go test ./cmd/cepd -run TestOutOfOrderDump
//
// With one shard the whole file is deterministic; with two, the late count may differ
// run to run (a shard's watermark depends on when the other's batches reach it), the
// alerts do not.
func TestOutOfOrderDump(t *testing.T) {
	path, out := os.Getenv("OOO_EVENTS"), os.Getenv("OOO_OUT")
	if path == "" || out == "" {
		t.Skip("OOO_EVENTS and OOO_OUT not set")
	}
	ooo, err := time.ParseDuration(os.Getenv("OOO_DUR"))
	if err != nil {
		t.Fatalf("OOO_DUR: %v", err)
	}
	shards := 1
	if n, err := strconv.Atoi(os.Getenv("OOO_SHARDS")); err == nil {
		shards = n
	}
	rs, err := loadRuleSet(fraudDir, "")
	if err != nil {
		t.Fatal(err)
	}
	recs, err := readRecords(path, rs.Schema, false)
	if err != nil {
		t.Fatal(err)
	}
	if seed, err := strconv.ParseUint(os.Getenv("OOO_SHUFFLE"), 10, 64); err == nil {
		shuffleWindows(recs, seed)
	}
	dlq := &dlqWriter{}
	got, err := runReplay(context.Background(), rs, recs, engine.Config{Shards: shards, OutOfOrderness: ooo}, &alerts.Collector{}, dlq, true)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := bufio.NewWriter(f)
	if err := alerts.WriteLines(w, got); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(w, "dead letters %v\n", dlq.reasons)
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
}

// shuffleWindows shuffles recs within consecutive windows of 50 to 400 records, the
// same way for the same seed.
func shuffleWindows(recs []engine.Record, seed uint64) {
	r := rand.New(rand.NewPCG(seed, 0))
	for i := 0; i < len(recs); {
		w := recs[i:min(i+50+r.IntN(351), len(recs))]
		r.Shuffle(len(w), func(a, b int) { w[a], w[b] = w[b], w[a] })
		i += len(w)
	}
}
