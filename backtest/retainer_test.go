package backtest

import (
	"bytes"
	"context"
	"fmt"
	"hash/maphash"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/cepd/cepd/alerts"
	"github.com/cepd/cepd/engine"
	"github.com/cepd/cepd/event"
	"github.com/cepd/cepd/event/jsondecode"
	"github.com/cepd/cepd/internal/fraudtest"
	"github.com/cepd/cepd/internal/workload"
)

// dump renders a snapshot one record a line.
func dump(recs []engine.Record) string {
	var b strings.Builder
	for _, r := range recs {
		fmt.Fprintf(&b, "%d %s\n", r.Offset, r.Value)
	}
	return b.String()
}

// TestRetainerPerKey: each key keeps its last PerKey events; a snapshot is in event-time
// order, equal times in key and then arrival order.
func TestRetainerPerKey(t *testing.T) {
	r := NewRetainer(RetainerOptions{PerKey: 3})
	add := func(key string, ts int64, v string) { r.Add(0, key, ts, []byte(v)) }
	for i := range 5 {
		add("a", int64(10+i), fmt.Sprintf("a%d", i))
	}
	add("b", 11, "b0")
	add("b", 9, "b1") // late: kept, sorted into place
	add("b", 11, "b2")
	raw := []byte("c0")
	r.Add(1, "c", 12, raw)
	raw[0] = 'X' // the retainer keeps its own copy
	want := `1 b1
2 b0
3 b2
4 a2
5 c0
6 a3
7 a4
`
	if got := dump(r.Snapshot()); got != want {
		t.Errorf("snapshot:\n%s\nwant:\n%s", got, want)
	}
	if st := r.Stats(); st.Keys != 3 || st.Events != 7 || st.EvictedKeys != 0 {
		t.Errorf("stats %+v", st)
	}
}

// TestRetainerBytes: beyond MaxBytes the keys seen least recently are evicted, whole.
func TestRetainerBytes(t *testing.T) {
	ev := func(key string, i int) []byte {
		return fmt.Appendf(nil, `{"card_id":%q,"n":%d,"pad":"%s"}`, key, i, strings.Repeat("x", 80))
	}
	probe := NewRetainer(RetainerOptions{PerKey: 2, Stripes: 1})
	probe.Add(0, "k0", 1, ev("k0", 1))
	probe.Add(0, "k0", 2, ev("k0", 2))
	perKey := probe.Stats().Bytes
	r := NewRetainer(RetainerOptions{PerKey: 2, Stripes: 1, MaxBytes: 3*perKey + perKey/2})
	keys := func() string {
		seen := map[string]bool{}
		var out []string
		for _, rec := range r.Snapshot() {
			k := string(rec.Value[len(`{"card_id":"`) : len(`{"card_id":"`)+2])
			if !seen[k] {
				seen[k] = true
				out = append(out, k)
			}
		}
		return strings.Join(out, " ")
	}
	ts := int64(0)
	add := func(k string) {
		ts++
		r.Add(0, k, ts, ev(k, int(ts)))
	}
	for _, k := range []string{"k1", "k1", "k2", "k2", "k3", "k3"} {
		add(k)
	}
	if got := keys(); got != "k1 k2 k3" {
		t.Fatalf("three keys fit: %s", got)
	}
	add("k1") // k1 is now the most recent; k2 the least
	add("k4")
	if got := keys(); got != "k1 k3 k4" {
		t.Errorf("after k4: %s, want k2 evicted", got)
	}
	add("k4")
	add("k5")
	if got := keys(); got != "k1 k4 k5" {
		t.Errorf("after k5: %s, want k3 evicted", got)
	}
	st := r.Stats()
	if st.Bytes > 3*perKey+perKey/2 || st.EvictedKeys != 2 || st.Keys != 3 || st.Events != 5 {
		t.Errorf("stats %+v (limit %d)", st, 3*perKey+perKey/2)
	}
	// One event larger than the whole budget cannot be kept.
	r.Add(0, "huge", 99, bytes.Repeat([]byte("y"), int(4*perKey)))
	if st := r.Stats(); st.Bytes > 3*perKey+perKey/2 {
		t.Errorf("over budget after a huge event: %+v", st)
	}
}

// TestRetainerConcurrent feeds a Retainer from several goroutines (as several partitions
// do) while snapshots are taken: every event comes back intact, no key holds more than
// PerKey events and the bytes stay within the bound. Run with -race.
func TestRetainerConcurrent(t *testing.T) {
	const (
		writers = 8
		perW    = 20000
		perKey  = 5
		limit   = 256 << 10
	)
	r := NewRetainer(RetainerOptions{PerKey: perKey, MaxBytes: limit, Stripes: 8})
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var snaps int
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			check(t, r.Snapshot(), perKey)
			if st := r.Stats(); st.Bytes > limit {
				t.Errorf("bytes %d over %d", st.Bytes, limit)
			}
			snaps++
		}
	}()
	var writersWG sync.WaitGroup
	for w := range writers {
		writersWG.Add(1)
		go func() {
			defer writersWG.Done()
			for i := range perW {
				key := fmt.Sprintf("w%d-k%d", w, i%500)
				r.Add(w, key, int64(i), fmt.Appendf(nil, "%s|%d|%s", key, i, strings.Repeat("z", i%200)))
			}
		}()
	}
	writersWG.Wait()
	close(stop)
	wg.Wait()
	recs := r.Snapshot()
	check(t, recs, perKey)
	st := r.Stats()
	if st.Bytes > limit || st.EvictedKeys == 0 || int64(len(recs)) != st.Events {
		t.Errorf("stats %+v, %d records in the last snapshot", st, len(recs))
	}
	t.Logf("%d snapshots taken while writing; %+v", snaps, st)
}

// check verifies that every record is an intact event, at most perKey per key, and that
// each key's events are the newest in order.
func check(t *testing.T, recs []engine.Record, perKey int) {
	t.Helper()
	byKey := map[string][]int{}
	for _, rec := range recs {
		parts := strings.SplitN(string(rec.Value), "|", 3)
		if len(parts) != 3 {
			t.Fatalf("torn record %q", rec.Value)
		}
		i, err := strconv.Atoi(parts[1])
		if err != nil || len(parts[2]) != i%200 || strings.Trim(parts[2], "z") != "" {
			t.Fatalf("torn record %q", rec.Value)
		}
		byKey[parts[0]] = append(byKey[parts[0]], i)
	}
	for k, is := range byKey {
		if len(is) > perKey {
			t.Fatalf("key %s has %d events", k, len(is))
		}
		for j := 1; j < len(is); j++ {
			if is[j] != is[j-1]+500 {
				t.Fatalf("key %s: events %v are not consecutive", k, is)
			}
		}
	}
}

// TestRetainedBacktest feeds example events through a live engine (three partitions,
// concurrently) whose Tap is a Retainer, then backtests every fraud rule over the
// retained events: the alerts are those of the same backtest over the file.
func TestRetainedBacktest(t *testing.T) {
	dir := t.TempDir()
	var all []byte
	for _, r := range fraudRules(t) {
		b, err := os.ReadFile(filepath.Join(fraudExamples, strings.TrimSuffix(r.Name, ".yaml")+".jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, b...)
	}
	if err := os.WriteFile(filepath.Join(dir, "all.jsonl"), all, 0o644); err != nil {
		t.Fatal(err)
	}
	schema := fraudtest.Schema(t)
	ret := NewRetainer(RetainerOptions{})
	feedLive(t, schema, ret, all, 3)
	if st := ret.Stats(); st.Events != int64(bytes.Count(all, []byte("\n"))) {
		t.Fatalf("retained %d events of %d", st.Events, bytes.Count(all, []byte("\n")))
	}
	m := newManager(t, Options{Schema: schema, EventsDir: dir, Retainer: ret})
	rules := fraudRules(t)
	fromFile := run(t, m, Spec{Rules: rules, EventsFile: "all.jsonl"})
	retained := run(t, m, Spec{Rules: rules})
	if retained.Source != SourceRetained || retained.EventsTotal != fromFile.EventsTotal {
		t.Errorf("retained: source %s, %d events; file: %d events", retained.Source, retained.EventsTotal, fromFile.EventsTotal)
	}
	if fromFile.AlertsTotal == 0 {
		t.Fatal("no alerts")
	}
	if got, want := fraudtest.AlertLines(t, retained.Alerts), fraudtest.AlertLines(t, fromFile.Alerts); !bytes.Equal(got, want) {
		t.Errorf("alerts over the retained events differ from those over the file:\n got:\n%s\nwant:\n%s", got, want)
	}
}

// feedLive runs the fraud rules in a live-like engine with the retainer as its Tap, the
// events spread over parts partitions by key, each partition fed by its own goroutine.
func feedLive(t testing.TB, schema *event.Schema, ret *Retainer, data []byte, parts int) {
	t.Helper()
	env, err := newEnv(schema)
	if err != nil {
		t.Fatal(err)
	}
	rs, _, err := compile(fraudRules(t), schema, env)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := Read(bytes.NewReader(data), "live", schema, false)
	if err != nil {
		t.Fatal(err)
	}
	seed := maphash.MakeSeed()
	dec := jsondecode.NewDecoder(schema)
	var ev event.Event
	byPart := make([][]engine.Record, parts)
	for _, r := range recs {
		if err := dec.Decode(r.Value, &ev); err != nil {
			t.Fatal(err)
		}
		p := int(maphash.String(seed, ev.Key) % uint64(parts))
		byPart[p] = append(byPart[p], r)
	}
	r := engine.Runner{Config: engine.Config{Shards: 2, Tap: ret.Add, RecordProcessingTime: true, Late: engine.LateProcess},
		Rules: rs, Sink: discard{}, DeadLetters: discard{}, Chunk: 7, EndOfStream: true}
	if err := r.Run(context.Background(), byPart...); err != nil {
		t.Fatal(err)
	}
}

type discard struct{}

func (discard) Alert(*alerts.Alert)            {}
func (discard) DeadLetter(d engine.DeadLetter) {}

// BenchmarkRetainerAdd measures retaining one generated event (about 300 bytes) with the
// default options, from one goroutine and from all of them: over 100 keys (the state
// stays in cache: the fixed cost) and over 10,000 keys (about 330 MB of events offered
// against the 256 MiB bound: cold memory, rings filling, least-recent keys evicted).
func BenchmarkRetainerAdd(b *testing.B) {
	schema := fraudtest.Schema(b)
	for _, cards := range []int{100, 10000} {
		cfg := workload.DefaultConfig()
		cfg.Cards, cfg.Events = cards, 20000
		g, err := workload.New(cfg)
		if err != nil {
			b.Fatal(err)
		}
		dec := jsondecode.NewDecoder(schema)
		type ev struct {
			key string
			t   int64
			raw []byte
		}
		var evs []ev
		for {
			line, ok := g.Next(nil)
			if !ok {
				break
			}
			line = bytes.TrimSpace(line)
			var e event.Event
			if err := dec.Decode(line, &e); err != nil {
				b.Fatal(err)
			}
			evs = append(evs, ev{e.Key, e.Time, line})
		}
		b.Run(fmt.Sprintf("keys=%d/serial", cards), func(b *testing.B) {
			r := NewRetainer(RetainerOptions{})
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				e := &evs[i%len(evs)]
				r.Add(0, e.key, e.t, e.raw)
				i++
			}
		})
		b.Run(fmt.Sprintf("keys=%d/parallel", cards), func(b *testing.B) {
			r := NewRetainer(RetainerOptions{})
			b.ReportAllocs()
			var mu sync.Mutex
			next := 0
			b.RunParallel(func(pb *testing.PB) {
				mu.Lock()
				i := next * 7919
				next++
				mu.Unlock()
				for pb.Next() {
					e := &evs[i%len(evs)]
					r.Add(0, e.key, e.t, e.raw)
					i++
				}
			})
		})
	}
}
