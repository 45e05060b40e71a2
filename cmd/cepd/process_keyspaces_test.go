package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"testing"
	"time"

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
	runs := 3
	if n, err := strconv.Atoi(os.Getenv("CEPD_KEYSPACE_RUNS")); err == nil && n > 0 {
		runs = n
	}
	seed := uint64(time.Now().UnixNano())
	if s, err := strconv.ParseUint(os.Getenv("CEPD_KILL_SEED"), 10, 64); err == nil {
		seed = s
	}
	t.Logf("kill schedule seed %d (CEPD_KILL_SEED=%d repeats it), %d runs", seed, seed, runs)
	rs, err := loadRuleSet(fraudDir, "")
	if err != nil {
		t.Fatal(err)
	}
	recs := workloadRecords(t, func(c *workload.Config) {
		c.Seed, c.Cards, c.Events, c.FraudRate = 18, 2000, 30000, 0.1
	})
	sorted := slices.Clone(recs)
	sort.SliceStable(sorted, func(i, j int) bool { return eventTime(t, sorted[i]) < eventTime(t, sorted[j]) })
	ref, err := runReplay(context.Background(), rs, sorted, engine.Config{Shards: 1}, &collector{}, &dlqWriter{}, false)
	if err != nil {
		t.Fatal(err)
	}
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
	dir := t.TempDir()
	copyRules(t, filepath.Join(dir, "rules"))
	out := filepath.Join(dir, "alerts.jsonl")
	interval := time.Duration(100+rng.IntN(600)) * time.Millisecond
	n := 0
	start := func() *cepdProc {
		n++
		return startCepdProc(t, bin, filepath.Join(dir, fmt.Sprintf("cepd-%d.log", n)), []string{"serve",
			"--http", "127.0.0.1:0", "--grpc", "127.0.0.1:0", "--rules", filepath.Join(dir, "rules"),
			"--data", filepath.Join(dir, "data"), "--alerts-out", out, "--shards", "2",
			"--out-of-orderness", workload.DefaultConfig().MaxLateness.String(), "--checkpoint-interval", interval.String()})
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
		var body bytes.Buffer
		for _, r := range recs[c*chunk : min((c+1)*chunk, len(recs))] {
			body.Write(r.Value)
			body.WriteByte('\n')
		}
		resp, err := http.Post("http://"+p.api+"/v1/events", "application/x-ndjson", &body)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("chunk %d: ingest answered %d", c, resp.StatusCode)
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
