package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cepd/cepd/alerts"
	"github.com/cepd/cepd/engine"
	"github.com/cepd/cepd/internal/bench"
	"github.com/cepd/cepd/internal/fraudtest"
	"github.com/cepd/cepd/internal/testhttp"
	"github.com/cepd/cepd/internal/workload"
	"github.com/cepd/cepd/internal/workload/workloadtest"
	"github.com/cepd/cepd/source/rest"
)

// referenceRecords generates a slice of the reference workload in written order (with
// its bounded lateness).
func referenceRecords(t *testing.T, events int64) []engine.Record {
	t.Helper()
	return workloadRecords(t, func(c *workload.Config) {
		c.Seed, c.Cards, c.Events, c.FraudRate = 7, 2000, events, 0.03
	})
}

// genRecords is the reference workload of the README's figures, `cepd gen --seed 1
// --cards 100000 --events N`, in written order, numbered from 1.
func genRecords(tb testing.TB, events int64) []engine.Record {
	tb.Helper()
	return workloadRecords(tb, func(c *workload.Config) { c.Seed, c.Cards, c.Events = 1, 100000, events })
}

// workloadRecords generates the workload set tells (on the default configuration) in
// written order, numbered from 1.
func workloadRecords(tb testing.TB, set func(*workload.Config)) []engine.Record {
	tb.Helper()
	cfg := workload.DefaultConfig()
	set(&cfg)
	return workloadtest.Records(tb, cfg)
}

// replayReference loads the fraud rules and the reference workload (written order), and
// replays it sorted by event time on one shard, as cepd replay does: the alerts every
// other path must give.
func replayReference(t *testing.T) (rs *engine.RuleSet, recs, sorted []engine.Record, rep []*alerts.Alert) {
	t.Helper()
	rs = servedRules(t, fraudRuleSet(t))
	recs = referenceRecords(t, 22000)
	sorted = slices.Clone(recs)
	sort.SliceStable(sorted, func(i, j int) bool { return eventTime(t, sorted[i]) < eventTime(t, sorted[j]) })
	rep, err := runReplay(context.Background(), rs, sorted, engine.Config{Shards: 1}, &alerts.Collector{}, &dlqWriter{}, true)
	if err != nil {
		t.Fatal(err)
	}
	return rs, recs, sorted, rep
}

// TestSameAlertsReplayBenchREST: the same events give the same alerts, with the same ids,
// through cepd replay, through the bench path (partitions decoded in parallel) and through
// REST ingest, for 1, 2 and 8 shards and several batch sizes.
func TestSameAlertsReplayBenchREST(t *testing.T) {
	rs, recs, _, rep := replayReference(t)
	want := fraudtest.AlertIDs(rep)
	ooo := workload.DefaultConfig().MaxLateness
	ctx := context.Background()
	if len(want) < 80 {
		t.Fatalf("only %d alerts", len(want))
	}
	byRule := map[string]int{}
	for _, a := range rep {
		byRule[a.RuleID]++
	}
	t.Logf("%d alerts from %d events: %v", len(want), len(recs), byRule)

	for _, shards := range []int{1, 2, 8} {
		for _, batch := range []int{1, 64, 1000} {
			name := fmt.Sprintf("shards=%d/batch=%d", shards, batch)
			// bench path: written order, split by key over partitions ingested concurrently
			b, err := runBenchAlerts(ctx, rs, recs, shards, batch, ooo)
			if err != nil {
				t.Fatal(err)
			}
			if got := fraudtest.AlertIDs(b); !slices.Equal(got, want) {
				t.Fatalf("%s bench path: %d alerts, replay %d", name, len(got), len(want))
			}
			// REST: written order over HTTP in batches
			r := restAlerts(t, rs, recs, shards, batch, ooo)
			if got := fraudtest.AlertIDs(r); !slices.Equal(got, want) {
				t.Fatalf("%s REST: %d alerts, replay %d", name, len(got), len(want))
			}
		}
	}
}

func eventTime(t testing.TB, r engine.Record) int64 {
	var m struct {
		TS string `json:"ts"`
	}
	if err := json.Unmarshal(r.Value, &m); err != nil {
		t.Fatal(err)
	}
	ts, err := time.Parse(time.RFC3339Nano, m.TS)
	if err != nil {
		t.Fatal(err)
	}
	return ts.UnixMilli()
}

// runBenchAlerts runs recs through the bench path itself (bench.Run: split by key over
// three partitions ingested concurrently) and returns its alerts; a late event fails it.
func runBenchAlerts(ctx context.Context, rs *engine.RuleSet, recs []engine.Record, shards, chunk int, ooo time.Duration) ([]*alerts.Alert, error) {
	col := &alerts.Collector{}
	res, err := bench.Run(ctx, rs, recs, bench.Config{Shards: shards, Partitions: 3, Chunk: chunk, OutOfOrderness: ooo, Sink: col})
	if err != nil {
		return nil, err
	}
	if res.Late != 0 {
		return nil, fmt.Errorf("%d late events", res.Late)
	}
	if res.Alerts != uint64(col.Len()) {
		return nil, fmt.Errorf("bench counted %d alerts, its sink saw %d", res.Alerts, col.Len())
	}
	return col.Sorted(), nil
}

func restAlerts(t *testing.T, rs *engine.RuleSet, recs []engine.Record, shards, batch int, ooo time.Duration) []*alerts.Alert {
	t.Helper()
	list, _ := restAlertsOutcomes(t, rs, recs, shards, batch, ooo)
	return list
}

// startTestEngine starts an engine over rs delivering to a collector, on ctx; stop closes
// the engine, then ends ctx.
func startTestEngine(t testing.TB, rs *engine.RuleSet, cfg engine.Config) (ctx context.Context, eng *engine.Engine, col *alerts.Collector, stop func()) {
	t.Helper()
	col = &alerts.Collector{}
	eng, err := engine.New(cfg, rs, col, &dlqWriter{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	eng.Start(ctx)
	return ctx, eng, col, func() { eng.Close(); cancel() }
}

// restAlertsOutcomes posts recs over HTTP in batches and returns the alerts and how many
// events each outcome the responses reported had.
func restAlertsOutcomes(t *testing.T, rs *engine.RuleSet, recs []engine.Record, shards, batch int, ooo time.Duration) ([]*alerts.Alert, map[string]int) {
	t.Helper()
	ctx, eng, col, stop := startTestEngine(t, rs, engine.Config{Shards: shards, OutOfOrderness: ooo})
	defer stop()
	srv := httptest.NewServer(rest.New(rest.Config{}, eng, alerts.NewRing(10), slog.Default(), nil).Handler())
	defer srv.Close()
	outcomes := map[string]int{}
	for i := 0; i < len(recs); i += batch {
		var body bytes.Buffer
		n := 0
		for _, r := range recs[i:min(i+batch, len(recs))] {
			body.Write(r.Value)
			body.WriteByte('\n')
			n++
		}
		resp, err := http.Post(srv.URL+"/v1/events", "application/x-ndjson", &body)
		if err != nil {
			t.Fatal(err)
		}
		var out struct {
			rest.IngestResponse
			Events []string `json:"events"`
		}
		err = json.NewDecoder(resp.Body).Decode(&out)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || out.Rejected != 0 || len(out.Events) != n {
			t.Fatalf("POST: %d %+v %v", resp.StatusCode, out, err)
		}
		for _, o := range out.Events {
			outcomes[o]++
		}
	}
	if err := eng.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	return col.Sorted(), outcomes
}

// TestRESTBadInput: malformed events get per-event errors and the rest of the batch is
// processed; bodies that are not events get a 4xx with a message, never a 5xx.
func TestRESTBadInput(t *testing.T) {
	rs := fraudRuleSet(t)
	eng, err := engine.New(engine.Config{Shards: 2}, rs, &alerts.Collector{}, &dlqWriter{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	eng.Start(ctx)
	defer eng.Close()
	srv := httptest.NewServer(rest.New(rest.Config{MaxBody: 4096}, eng, alerts.NewRing(10), slog.Default(), nil).Handler())
	defer srv.Close()
	post := func(body string) (int, string) {
		return testhttp.Post(t, srv.URL+"/v1/events", "application/json", strings.NewReader(body))
	}
	good := `{"event_id":"g1","card_id":"c","ts":"2026-01-01T00:00:00Z","type":"auth","amount":1}`
	code, body := post(`[` + good + `, {"card_id":"c"}, 17, {"event_id":"x","card_id":"c","ts":"2026-01-01T00:00:01Z","type":"auth","amount":"ten"}]`)
	if code != 200 || !strings.Contains(body, `"accepted":1`) || !strings.Contains(body, `"index":1,"reason":"missing_time"`) ||
		!strings.Contains(body, `"index":2,"reason":"not_object"`) || !strings.Contains(body, `"index":3,"reason":"wrong_type"`) {
		t.Fatalf("mixed batch: %d %s", code, body)
	}
	// not a batch at all: 4xx with a message (an oversized body: 413)
	for _, bad := range []string{``, `[`, `[1,`, strings.Repeat(`[1]`, 5000)} {
		code, body := post(bad)
		if code < 400 || code >= 500 || !strings.Contains(body, `"error"`) {
			t.Fatalf("body %.20q: %d %s", bad, code, body)
		}
	}
	// newline-delimited lines are events on their own: a broken line is one rejected event
	code, body = post("{\"a\":\n" + good + "\n")
	if code != 200 || !strings.Contains(body, `"accepted":1,"rejected":1`) || !strings.Contains(body, `"reason":"bad_json"`) {
		t.Fatalf("ndjson with a broken line: %d %s", code, body)
	}
	resp, err := http.Get(srv.URL + "/v1/alerts?limit=abc")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("bad limit: %d", resp.StatusCode)
	}
}

// shuffleAcrossKeys interleaves the records' keys differently while keeping each key's
// order: every key's events are delayed by one random lag below maxLag of event time.
func shuffleAcrossKeys(t *testing.T, rs *engine.RuleSet, recs []engine.Record, maxLag time.Duration, seed uint64) []engine.Record {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 12))
	lag := map[string]int64{}
	at := make([]int64, len(recs))
	for i, rec := range recs {
		var m map[string]any
		if err := json.Unmarshal(rec.Value, &m); err != nil {
			t.Fatal(err)
		}
		k := fmt.Sprint(m[rs.Schema.KeyField])
		if _, ok := lag[k]; !ok {
			lag[k] = r.Int64N(maxLag.Milliseconds())
		}
		at[i] = eventTime(t, rec) + lag[k]
	}
	idx := make([]int, len(recs))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return at[idx[a]] < at[idx[b]] })
	out := make([]engine.Record, len(recs))
	for i, j := range idx {
		out[i] = engine.Record{Value: recs[j].Value, Offset: int64(i + 1)}
	}
	return out
}

// TestSameAlertsAcrossKeyShuffles: the reference workload with its keys interleaved
// differently (each key's order kept, lags up to a minute) gives replay's alerts through
// REST and through the partitioned (Kafka-keyed) bench path, once the out-of-orderness
// covers the disorder; every event is matched at once (none late, and only the workload's
// own late events re-matched). With zero out-of-orderness and a stream sorted by card —
// the most disorder across keys there is — no event is late or dropped either.
func TestSameAlertsAcrossKeyShuffles(t *testing.T) {
	rs, recs, sorted, rep := replayReference(t)
	want := fraudtest.AlertIDs(rep)
	ctx := context.Background()
	const maxLag = time.Minute
	ooo := workload.DefaultConfig().MaxLateness + maxLag
	for seed := uint64(1); seed <= 2; seed++ {
		shuffled := shuffleAcrossKeys(t, rs, recs, maxLag, seed)
		b, err := runBenchAlerts(ctx, rs, shuffled, 2, 500, ooo)
		if err != nil {
			t.Fatal(err)
		}
		if got := fraudtest.AlertIDs(b); !slices.Equal(got, want) {
			t.Fatalf("seed %d, partitioned path: %d alerts, replay %d", seed, len(got), len(want))
		}
		r, outcomes := restAlertsOutcomes(t, rs, shuffled, 2, 700, ooo)
		if got := fraudtest.AlertIDs(r); !slices.Equal(got, want) {
			t.Fatalf("seed %d, REST: %d alerts, replay %d", seed, len(got), len(want))
		}
		if outcomes["matched"]+outcomes["rematched"] != len(recs) {
			t.Fatalf("seed %d, REST outcomes %v for %d events", seed, outcomes, len(recs))
		}
		t.Logf("seed %d: %d alerts; REST outcomes %v", seed, len(want), outcomes)
	}

	// Sorted by card: with no out-of-orderness every event is still matched at once.
	byCard := slices.Clone(sorted)
	key := func(r engine.Record) string {
		var m map[string]any
		_ = json.Unmarshal(r.Value, &m)
		return fmt.Sprint(m[rs.Schema.KeyField])
	}
	sort.SliceStable(byCard, func(i, j int) bool { return key(byCard[i]) < key(byCard[j]) })
	_, outcomes := restAlertsOutcomes(t, rs, byCard, 2, 1000, 0)
	if outcomes["matched"] != len(recs) {
		t.Fatalf("sorted by card, no out-of-orderness: outcomes %v for %d events", outcomes, len(recs))
	}
}

// TestRESTOutcomes: the ingest response says per event what happened to it — matched at
// once (in order for its card, whatever other cards did), re-matched (older than its
// card's newest event, within the out-of-orderness), late (beyond it) or rejected — and
// it comes after the alerts the events completed.
func TestRESTOutcomes(t *testing.T) {
	rs := fraudRuleSet(t)
	_, eng, _, stop := startTestEngine(t, rs, engine.Config{Shards: 2, OutOfOrderness: time.Minute})
	defer stop()
	srv := httptest.NewServer(rest.New(rest.Config{}, eng, alerts.NewRing(10), slog.Default(), nil).Handler())
	defer srv.Close()
	ev := func(id, card, ts string) string {
		return fmt.Sprintf(`{"event_id":%q,"card_id":%q,"ts":"2026-03-01T%sZ","type":"auth","amount":5,"merchant_id":"m1"}`, id, card, ts)
	}
	body := strings.Join([]string{
		ev("a1", "A", "12:00:00"),
		ev("b1", "B", "09:00:00"), // three hours behind card A: another card, matched at once
		ev("a2", "A", "12:00:30"),
		ev("a3", "A", "12:00:10"), // behind A's newest by 20 s: re-matched
		ev("a4", "A", "11:00:00"), // behind by an hour: late
		`{"card_id":"A"}`,
	}, "\n")
	resp, err := http.Post(srv.URL+"/v1/events", "application/x-ndjson", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	want := `{"accepted":4,"rejected":1,"late":1,"events":["matched","matched","matched","rematched","late_dead_lettered","rejected"]`
	if resp.StatusCode != 200 || !strings.HasPrefix(string(b), want) {
		t.Fatalf("got %d %s\nwant %s…", resp.StatusCode, b, want)
	}
}
