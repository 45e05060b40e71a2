package backtest

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/cepd/cepd/engine"
	"github.com/cepd/cepd/event"
	"github.com/cepd/cepd/event/jsondecode"
)

// maxLine bounds one line of a JSON-lines file.
const maxLine = 16 << 20

// slabSize is the size of the blocks the records' bytes are copied into: one allocation
// per block rather than one per line.
const slabSize = 1 << 20

// Read reads JSON-lines events from r into records numbered by line (blank lines are
// skipped, surrounding space trimmed), in event-time order when sorted is set, else as
// written. The order is stable: events with equal times keep file order, and lines that
// do not decode keep their place at the front, for the engine to dead-letter. name names
// r in errors. This is how `cepd replay` and backtests read files.
func Read(r io.Reader, name string, schema *event.Schema, sorted bool) ([]engine.Record, error) {
	return read(context.Background(), r, name, schema, sorted, nil)
}

// ReadFile is Read of the file at path.
func ReadFile(path string, schema *event.Schema, sorted bool) ([]engine.Record, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Read(f, path, schema, sorted)
}

// visitor is told of every non-blank line in file order, with its decoded event (nil when
// the line does not decode; valid only during the call) and its bytes (which it may keep).
type visitor func(ev *event.Event, raw []byte)

// read is Read that stops when ctx ends and shows visit every record.
func read(ctx context.Context, r io.Reader, name string, schema *event.Schema, sorted bool, visit visitor) ([]engine.Record, error) {
	type timed struct {
		t   int64
		rec engine.Record
	}
	var all []timed
	dec := jsondecode.NewDecoder(schema)
	dec.SetBounds(event.Bounds{MaxString: -1}) // only the time is read here: the engine judges the event
	var ev event.Event
	var slab []byte
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), maxLine)
	line := int64(0)
	for sc.Scan() {
		line++
		if line%4096 == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		if len(b) > cap(slab)-len(slab) {
			slab = make([]byte, 0, max(slabSize, len(b)))
		}
		n := len(slab)
		slab = append(slab, b...)
		val := slab[n:len(slab):len(slab)]
		t := int64(-1 << 63)
		var got *event.Event
		if sorted || visit != nil { // as written, nobody reads the event: no decode
			if err := dec.Decode(val, &ev); err == nil {
				t, got = ev.Time, &ev
			}
		}
		if visit != nil {
			visit(got, val)
		}
		all = append(all, timed{t, engine.Record{Value: val, Offset: line}})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if sorted {
		sort.SliceStable(all, func(i, j int) bool { return all[i].t < all[j].t })
	}
	recs := make([]engine.Record, len(all))
	for i, x := range all {
		recs[i] = x.rec
	}
	return recs, nil
}
