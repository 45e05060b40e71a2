package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/cepd/cepd/alerts"
	"github.com/cepd/cepd/engine"
	"github.com/cepd/cepd/internal/workload"
)

// TestProcessRESTKeySpacesKill9 (issue 18): `cepd serve` in the embedded mode runs every
// key space, the device rule (device-many-cards, key: device_id) beside the card rules.
// Events go in over REST in chunks; the process is killed with SIGKILL 4 times, each
// after a random chunk and a random 0–300 ms (its checkpoints, every 100–700 ms, land at
// other cuts in each key space), and restarted from its data directory (checkpoints of
// every key space, the ingest log). At the end the alerts file holds exactly the alerts
// of `cepd replay` over the same events, of every rule: none missing, none extra, none
// twice. The device rule's alerts come out while the stream runs, not at the end.
// CEPD_KEYSPACE_RUNS sets the runs (default 3), CEPD_KILL_SEED repeats a schedule.
func TestProcessRESTKeySpacesKill9(t *testing.T) {
	runs, seed := envRuns(t, "CEPD_KEYSPACE_RUNS", 3), killSeed(t, "kill")
	recs, ref := keySpaceReplay(t, 30000)
	want := map[string]string{} // id → rule
	byRule := map[string]int{}
	for _, a := range ref {
		want[a.ID] = a.RuleID
		byRule[a.RuleID]++
	}
	if byRule["device-many-cards"] < 10 || len(byRule) < 8 {
		t.Fatalf("the reference is too weak: %v", byRule)
	}
	t.Logf("replay: %d alerts %v", len(ref), byRule)
	bin := buildCepd(t)
	rng := rand.New(rand.NewPCG(seed, 18))
	for run := range runs {
		t.Run(fmt.Sprintf("run%d", run), func(t *testing.T) { keySpacesKillRun(t, bin, rng, recs, want) })
	}
}

func keySpacesKillRun(t *testing.T, bin string, rng *rand.Rand, recs []engine.Record, want map[string]string) {
	dir := serveDir(t)
	out := filepath.Join(dir, "alerts.jsonl")
	interval := time.Duration(100+rng.IntN(600)) * time.Millisecond
	n := 0
	start := func() *cepdProc {
		n++
		return startCepdProc(t, bin, filepath.Join(dir, fmt.Sprintf("cepd-%d.log", n)), serveDirArgs(dir, "--alerts-out", out, "--shards", "2",
			"--out-of-orderness", workload.DefaultConfig().MaxLateness.String(), "--checkpoint-interval", interval.String()))
	}
	const chunk = 400
	chunks := (len(recs) + chunk - 1) / chunk
	// 4 kills after distinct random chunks, the first after a quarter of the stream at
	// most, so that device alerts are expected before it.
	var killAt []int
	for len(killAt) < 4 {
		c := 1 + rng.IntN(chunks-2)
		if len(killAt) == 0 {
			c = 1 + rng.IntN(chunks/4)
		}
		if !slices.Contains(killAt, c) {
			killAt = append(killAt, c)
		}
	}
	sort.Ints(killAt)
	t.Logf("checkpoint interval %v, kills after chunks %v of %d", interval, killAt, chunks)
	p := start()
	deviceLive := 0
	for c := range chunks {
		if code := postRecords(t, p.api, recs[c*chunk:min((c+1)*chunk, len(recs))]); code != http.StatusOK {
			t.Fatalf("chunk %d: ingest answered %d", c, code)
		}
		if c == chunks/2 {
			// The answer waits for every key space's matching: the device alerts of the
			// first half are out now.
			deviceLive = sumCounts(ruleAlertIDs(t, out, "device-many-cards"))
		}
		if slices.Contains(killAt, c) {
			time.Sleep(time.Duration(rng.IntN(300)) * time.Millisecond)
			p.kill9()
			p = start()
		}
	}
	// Every event is in; the alerts of the last chunk are out when its answer came.
	if err := p.stop(20 * time.Second); err != nil {
		t.Error(err)
	}
	got := ruleAlertIDs(t, out, "*")
	missing, extra, twice := 0, 0, 0
	for id := range want {
		if got[id] == 0 {
			missing++
		}
	}
	for id, k := range got {
		switch {
		case want[id] == "":
			extra++
		case k > 1:
			twice++
		}
	}
	if missing+extra+twice > 0 {
		t.Fatalf("alerts after the kills: %d missing, %d extra, %d written twice (of %d)", missing, extra, twice, len(want))
	}
	if deviceLive == 0 {
		t.Fatalf("no device-many-cards alert was out after half the stream")
	}
	t.Logf("%d alerts equal the replay's; %d device alerts out at half the stream", len(want), deviceLive)
}

func sumCounts(m map[string]int) int {
	n := 0
	for _, k := range m {
		n += k
	}
	return n
}

// TestProcessRESTKeySpacesRestartNoLog: without the ingest log, a clean restart (SIGTERM,
// final checkpoint) between two parts of the stream keeps every alert of every key space:
// the restarted server numbers its events above every key space's checkpoint (the card
// key space's covers the last events, which have no device; the device key space's stops
// before them). The split is placed after a run of events without a device and before an
// event some alert holds, which a card key space numbering from the lowest checkpoint
// would drop.
func TestProcessRESTKeySpacesRestartNoLog(t *testing.T) {
	recs, ref := keySpaceReplay(t, 20000)
	split := splitAfterDeviceGap(t, recs, ref)
	bin := buildCepd(t)
	dir := serveDir(t)
	out := filepath.Join(dir, "alerts.jsonl")
	start := func(name string) *cepdProc {
		return startCepdProc(t, bin, filepath.Join(dir, name+".log"), serveDirArgs(dir, "--alerts-out", out, "--ingest-log=false",
			"--out-of-orderness", workload.DefaultConfig().MaxLateness.String()))
	}
	post := func(p *cepdProc, part []engine.Record) {
		t.Helper()
		for i := 0; i < len(part); i += 500 {
			if code := postRecords(t, p.api, part[i:min(i+500, len(part))]); code != http.StatusOK {
				t.Fatalf("ingest answered %d", code)
			}
		}
	}
	p := start("run1")
	post(p, recs[:split])
	if err := p.stop(20 * time.Second); err != nil {
		t.Fatal(err)
	}
	p = start("run2")
	post(p, recs[split:])
	if err := p.stop(20 * time.Second); err != nil {
		t.Fatal(err)
	}
	got := ruleAlertIDs(t, out, "*")
	missing, extra := 0, 0
	for _, a := range ref {
		if got[a.ID] != 1 {
			missing++
		}
	}
	if len(got) != len(ref) || missing > 0 {
		extra = len(got) - (len(ref) - missing)
		t.Fatalf("alerts across the restart: %d missing or written twice, %d extra (replay %d)", missing, extra, len(ref))
	}
	t.Logf("split after event %d: %d alerts equal the replay's", split, len(ref))
}

// keySpaceReplay generates the key-space workload (seed 18, 2,000 cards, events events,
// 10% fraud) and returns its records and the alerts of cepd replay over them in time order.
func keySpaceReplay(t *testing.T, events int64) ([]engine.Record, []*alerts.Alert) {
	t.Helper()
	rs := fraudRuleSet(t)
	recs := workloadRecords(t, func(c *workload.Config) {
		c.Seed, c.Cards, c.Events, c.FraudRate = 18, 2000, events, 0.1
	})
	sorted := slices.Clone(recs)
	sort.SliceStable(sorted, func(i, j int) bool { return eventTime(t, sorted[i]) < eventTime(t, sorted[j]) })
	ref, err := runReplay(context.Background(), rs, sorted, engine.Config{Shards: 1}, &alerts.Collector{}, &dlqWriter{}, false)
	if err != nil {
		t.Fatal(err)
	}
	return recs, ref
}

// postRecords POSTs recs as JSON lines to cepd's /v1/events at api and returns the status.
func postRecords(t *testing.T, api string, recs []engine.Record) int {
	t.Helper()
	var body bytes.Buffer
	for _, r := range recs {
		body.Write(r.Value)
		body.WriteByte('\n')
	}
	resp, err := http.Post("http://"+api+"/v1/events", "application/x-ndjson", &body)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// splitAfterDeviceGap is where TestProcessRESTKeySpacesRestartNoLog splits the stream:
// the first half ends with g events without a device, and one of the g events after it
// is in an alert of ref (numbered at or below the card key space's checkpoint, it would
// be dropped there).
func splitAfterDeviceGap(t *testing.T, recs []engine.Record, ref []*alerts.Alert) int {
	inAlert := map[string]bool{} // events some alert holds
	for _, a := range ref {
		for _, st := range a.Steps {
			for _, e := range st.Events {
				inAlert[e.ID] = true
			}
		}
	}
	hasDevice := func(i int) bool { return bytes.Contains(recs[i].Value, []byte(`"device_id"`)) }
	eventID := func(i int) string {
		var m struct {
			ID string `json:"event_id"`
		}
		if err := json.Unmarshal(recs[i].Value, &m); err != nil {
			t.Fatal(err)
		}
		return m.ID
	}
	split := -1
	for i := len(recs) / 3; i < len(recs)-10 && split < 0; i++ {
		g := 0
		for !hasDevice(i - 1 - g) {
			g++
		}
		for j := i; j < i+g && split < 0; j++ {
			if inAlert[eventID(j)] {
				split = i
			}
		}
	}
	if split < 0 {
		t.Fatal("no place to split the stream")
	}
	return split
}
