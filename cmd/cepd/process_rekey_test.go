package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/cepd/cepd/alerts"
	"github.com/cepd/cepd/engine"
	"github.com/cepd/cepd/internal/kafkatest"
	"github.com/cepd/cepd/internal/workload"
	kafkasource "github.com/cepd/cepd/source/kafka"
)

// TestProcessesRekeyKill9 (issue 18, the acceptance test of docs/rekeying.md): a rule
// keyed by device (device-many-cards) runs in `cepd serve` over Kafka, fed through the
// repartition topic: the events topic (6 partitions, keyed by card) is forwarded to
// rekey-repartition-device_id by each instance's forwarder, whose partitions the
// instances claim with the watermark merge, checkpointing to a real redis-server. Runs
// alternate between one instance and two in one group; in each, a random instance is
// killed with SIGKILL 4 times at random moments mid-stream (0.3–3.3 s after the last
// start) and started again at once. At the end the alerts topic holds exactly the alerts
// of `cepd replay` over the same events: none missing, none extra, none twice.
// CEPD_REKEY_RUNS sets the runs (default 2, one with each instance count: the whole
// suite must run in 15 minutes), CEPD_KILL_SEED repeats a schedule.
//
// Runs go in parallel with each other and with the other parallel tests, as many at once
// as go test's -parallel; each draws its schedule from its own seed, drawn in order from
// CEPD_KILL_SEED's.
func TestProcessesRekeyKill9(t *testing.T) {
	t.Parallel()
	runs, seed := envRuns(t, "CEPD_REKEY_RUNS", 2), killSeed(t, "kill")
	w := rekeyWorkload(t)
	rng := rand.New(rand.NewPCG(seed, 18))
	for i := range runs {
		runSeed := rng.Uint64()
		t.Run(fmt.Sprintf("run%d", i), func(t *testing.T) {
			t.Parallel()
			e := newProcEnv(t, 0, false)
			e.w = w
			rekeyRun(t, e, rand.New(rand.NewPCG(runSeed, 18)), 1+i%2)
		})
	}
}

// rekeyRules is the rules directory of the test: the schema and the device rule.
var rekeyRules = []string{"schema.yaml", "device-many-cards.yaml"}

// rekeyWorkload is the reference workload (seed 18, 2,000 cards, fraud rate 0.1) and the
// alerts cepd replay gives over it with the device rule.
func rekeyWorkload(t *testing.T) *kafkaWorkload {
	dir := t.TempDir()
	writeRekeyRules(t, dir)
	rs, err := loadRuleSet(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	recs := workloadRecords(t, func(c *workload.Config) {
		c.Seed, c.Cards, c.Events, c.FraudRate = 18, 2000, 30000, 0.1
	})
	sorted := slices.Clone(recs)
	sort.SliceStable(sorted, func(i, j int) bool { return eventTime(t, sorted[i]) < eventTime(t, sorted[j]) })
	out, err := runReplay(context.Background(), rs, sorted, engine.Config{Shards: 2}, &alerts.Collector{}, &dlqWriter{}, true)
	if err != nil {
		t.Fatal(err)
	}
	w := &kafkaWorkload{rs: rs, want: map[string]string{}}
	for _, r := range recs {
		w.lines = append(w.lines, r.Value)
	}
	for _, a := range out {
		b, _ := json.Marshal(a)
		w.want[a.ID] = normaliseAlert(t, b)
	}
	if len(w.want) < 10 {
		t.Fatalf("replay gives only %d device alerts", len(w.want))
	}
	t.Logf("workload: %d events, replay gives %d device alerts", len(w.lines), len(w.want))
	return w
}

// rekeyRun is one run of TestProcessesRekeyKill9 with n instances in the group.
func rekeyRun(t *testing.T, e *procEnv, rng *rand.Rand, n int) {
	start := time.Now()
	const group, kills = "rekey", 4
	flags := []string{"--idle-timeout", "1s", "--kafka-commit-interval", "500ms", "--kafka-rebalance-timeout", "4s"}
	var logs []string
	t.Cleanup(func() { // the forwarders' and claims' complaints, for a failed run
		for _, name := range logs {
			if !t.Failed() {
				return
			}
			b, _ := os.ReadFile(filepath.Join(e.dir, name+".log"))
			for _, l := range strings.Split(string(b), "\n") {
				if strings.Contains(l, "repartition") && (strings.Contains(l, "WARN") || strings.Contains(l, "ERROR")) {
					t.Logf("%s: %.300s", name, l)
				}
			}
		}
	})
	procs := make([]*cepdProc, n)
	startOne := func(inst, i int) {
		name := fmt.Sprintf("cepd-%c-run%d", 'a'+inst, i)
		logs = append(logs, name)
		data := fmt.Sprintf("data-%c", 'a'+inst)
		writeRekeyRules(t, filepath.Join(e.dir, data+"-rules"))
		procs[inst] = e.startCepd(name, data, fmt.Sprintf("cepd-%c", 'a'+inst), group, flags...)
	}
	for inst := range n {
		startOne(inst, 0)
	}
	prod := e.produce(2500) // events a second
	prod.waitSent(t, 500)
	prod.killMidStream(t, rng, procs, kills, 300*time.Millisecond, 3*time.Second, startOne)
	prod.wait(t)
	// A member killed mid-join leaves its group (the instances' or the forwarders') when
	// its session expires: devkafka's stale-member guard does this where kfake did not.
	e.waitRekeyed(group, 180*time.Second)
	for _, p := range procs {
		if err := p.stop(20 * time.Second); err != nil {
			t.Error(err)
		}
	}
	restores, late := rekeyLogStats(e, logs)
	if late > 0 {
		t.Errorf("%d claims reported records late for the watermark merge", late)
	}
	dups := e.check()
	t.Logf("%d kills, %d partition restores: %d device alerts as the replay, %d delivered twice; %v",
		kills, restores, len(e.w.want), dups, time.Since(start).Round(time.Millisecond))
}

// waitRekeyed waits (after the producer is done) until the forwarder has forwarded every
// event, then until the group has committed every partition of the repartition topic
// past its last record: every event went through the device key space, and its alerts
// were delivered before the commit. (The topic's last offsets are transaction markers,
// which no consumer receives, so a commit stops short of the end offset.) It fails the
// test when nothing moves for 40 s: longer than a killed member's stay in its group.
func (e *procEnv) waitRekeyed(group string, timeout time.Duration) {
	t := e.t
	t.Helper()
	topic := kafkasource.RepartitionTopic(group, "device_id")
	deadline := time.Now().Add(timeout)
	wait := func(what func() []string) {
		last, moved := "", time.Now()
		for {
			behind := what()
			slices.Sort(behind)
			if len(behind) == 0 {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("not re-keyed within %v: %v; group %s", timeout, behind, e.describeGroup(group))
			}
			if s := fmt.Sprint(behind); s != last {
				last, moved = s, time.Now()
			} else if time.Since(moved) > 40*time.Second {
				t.Fatalf("nothing moved for 40s: %v; group %s; forwarders' group %s", behind,
					e.describeGroup(group), e.describeGroup(kafkasource.RepartitionGroup(group)))
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	wait(func() (behind []string) {
		ends := kafkatest.EndOffsets(t, e.kafka, "events")
		fwd := kafkatest.GroupOffsets(t, e.kafka, kafkasource.RepartitionGroup(group), "events")
		for p, end := range ends {
			if fwd[p] < end {
				behind = append(behind, fmt.Sprintf("forwarder %d: %d of %d", p, fwd[p], end))
			}
		}
		return behind
	})
	// A transaction a killed forwarder left open holds back what read_committed readers
	// see (until the broker aborts it, 10 s here): wait until none is open.
	wait(func() (behind []string) {
		ends, stable := kafkatest.EndOffsets(t, e.kafka, topic), kafkatest.StableOffsets(t, e.kafka, topic)
		for p, end := range ends {
			if stable[p] < end {
				behind = append(behind, fmt.Sprintf("open transaction in %d: stable %d, end %d", p, stable[p], end))
			}
		}
		return behind
	})
	// The held records go out when every source partition has said it is idle (the
	// forwarders' idle markers, IdleAfter after the sources were read to their end).
	var last map[int32]int64
	wait(func() (behind []string) {
		var idle map[int32]int
		last, idle = lastOffsets(t, e.kafka, topic)
		for p := range last {
			if idle[p] < 6 {
				behind = append(behind, fmt.Sprintf("partition %d: %d sources idle", p, idle[p]))
			}
		}
		return behind
	})
	wait(func() (behind []string) {
		committed := kafkatest.GroupOffsets(t, e.kafka, group, topic)
		for p, l := range last {
			if committed[p] <= l {
				behind = append(behind, fmt.Sprintf("claim %d: %d, last record %d", p, committed[p], l))
			}
		}
		return behind
	})
}

// lastOffsets reads topic (read_committed) until nothing comes for a second and returns
// each partition's last record's offset, and how many source partitions' last word in it
// is an idle marker.
func lastOffsets(t *testing.T, addr, topic string) (map[int32]int64, map[int32]int) {
	t.Helper()
	last, idle := map[int32]int64{}, map[int32]map[string]bool{}
	for _, m := range kafkatest.ReadQuiet(t, addr, topic, sarama.ReadCommitted, time.Second) {
		h := kafkatest.Headers(m)
		last[m.Partition] = max(last[m.Partition], m.Offset)
		if idle[m.Partition] == nil {
			idle[m.Partition] = map[string]bool{}
		}
		idle[m.Partition][h[kafkasource.HeaderSourcePartition]] = h[kafkasource.HeaderMarker] == kafkasource.MarkerIdle
	}
	n := map[int32]int{}
	for p, srcs := range idle {
		for _, i := range srcs {
			if i {
				n[p]++
			}
		}
	}
	return last, n
}

// describeGroup lists the group's state and each member's client id and partitions, of
// every topic.
func (e *procEnv) describeGroup(group string) string {
	ds, err := e.admin.DescribeConsumerGroups([]string{group})
	if err != nil || len(ds) != 1 {
		return fmt.Sprintf("describe: %v", err)
	}
	out := ds[0].State
	for id, d := range ds[0].Members {
		a, _ := d.GetMemberAssignment()
		if a != nil {
			out += fmt.Sprintf(" %s(%s): %v", d.ClientId, id[len(id)-6:], a.Topics)
		}
	}
	return out
}

// writeRekeyRules writes the test's rules (rekeyRules) to dir unless it exists.
func writeRekeyRules(t *testing.T, dir string) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(dir, rekeyRules[0])); err == nil {
		return
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range rekeyRules {
		b, err := os.ReadFile(filepath.Join(fraudDir, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

var lateRE = regexp.MustCompile(`re-keying: claims stopped .* late=(\d+)`)

// rekeyLogStats counts, over the processes' logs, the partition restores and the records
// the claims found late for the watermark merge (reported when a claim source stops
// cleanly).
func rekeyLogStats(e *procEnv, logs []string) (restores, late int) {
	for _, name := range logs {
		b, _ := os.ReadFile(filepath.Join(e.dir, name+".log"))
		restores += strings.Count(string(b), "partition restored from its checkpoint")
		for _, m := range lateRE.FindAllStringSubmatch(string(b), -1) {
			n, _ := strconv.Atoi(m[1])
			late += n
		}
	}
	return restores, late
}
