package main

// Tests against real processes: the cepd binary built from this package, run as
// `cepd serve` subprocesses against a Kafka broker (devkafka, in the test process, over
// TCP) and a real redis-server holding the checkpoints; stopped with SIGTERM, killed with
// SIGKILL, restarted. Each test produces the reference workload to a 6-partition topic
// and compares the alerts read back from the alerts topic with cepd replay of the same
// events: the same ids with the same content, nothing missing, nothing extra, an id seen
// twice only with identical content.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/cepd/cepd/engine"
	"github.com/cepd/cepd/internal/devkafka"
	"github.com/cepd/cepd/internal/kafkatest"
	"github.com/cepd/cepd/internal/redistest"
	"github.com/cepd/cepd/internal/testproc"
)

// cepdBinary is the cepd program, built at most once per run of the test binary (by the
// first test that needs it) and removed by TestMain.
var cepdBinary struct {
	once      sync.Once
	dir, path string
	took      time.Duration
	err       error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if cepdBinary.dir != "" {
		os.RemoveAll(cepdBinary.dir)
	}
	os.Exit(code)
}

// buildCepd builds this package (cmd/cepd) and returns the binary's path.
func buildCepd(t *testing.T) string {
	t.Helper()
	cepdBinary.once.Do(func() {
		dir, err := os.MkdirTemp("", "cepd-process-test-")
		if err != nil {
			cepdBinary.err = err
			return
		}
		cepdBinary.dir = dir
		gobin, err := exec.LookPath("go") // go test puts its own GOROOT/bin first in PATH
		if err != nil {
			cepdBinary.err = fmt.Errorf("the go command is needed to build cepd: %w", err)
			return
		}
		start := time.Now()
		path := filepath.Join(dir, "cepd")
		if out, err := exec.Command(gobin, "build", "-o", path, ".").CombinedOutput(); err != nil {
			cepdBinary.err = fmt.Errorf("go build: %v\n%s", err, out)
			return
		}
		cepdBinary.path, cepdBinary.took = path, time.Since(start)
	})
	if cepdBinary.err != nil {
		t.Fatal(cepdBinary.err)
	}
	t.Logf("cepd binary %s (built in %v)", cepdBinary.path, cepdBinary.took.Round(time.Millisecond))
	return cepdBinary.path
}

// eosPrefix starts the card ids of the end-of-stream events.
const eosPrefix = "eos-card-"

// processWorkload is the reference workload (seed 7, 2000 cards, fraud rate 0.03) in
// written order, with its bounded lateness, followed by one end-of-stream event per
// partition of the events topic, a day more than the longest window after the last
// event: it moves each partition's watermark past every window, as the end of cepd
// replay's file does, so that every alert, timeouts included, comes out. The expected
// alerts are cepd replay's of the same events sorted by event time; the end-of-stream
// keys' own alerts are left out (cepd never sees their windows close).
func processWorkload(t *testing.T, events int64, partitions int) *kafkaWorkload {
	t.Helper()
	rs := servedRules(t, fraudRuleSet(t))
	recs := referenceRecords(t, events)
	last := int64(0)
	for _, r := range recs {
		last = max(last, eventTime(t, r))
	}
	longest := int64(0)
	for _, r := range rs.Rules {
		longest = max(longest, r.Rule.Pattern.WithinMs)
		for _, st := range r.Rule.Pattern.Steps {
			longest = max(longest, st.WithinMs)
		}
	}
	ts := time.UnixMilli(last + longest).Add(24 * time.Hour).UTC().Format(time.RFC3339Nano)
	for p, card := range eosCards(partitions) {
		line := fmt.Sprintf(`{"event_id":"eos-%d","card_id":"%s","ts":"%s","type":"login","channel":"web"}`, p, card, ts)
		recs = append(recs, engine.Record{Value: []byte(line), Offset: int64(len(recs) + 1)})
	}
	w := &kafkaWorkload{rs: rs, want: map[string]string{}}
	for _, r := range recs {
		w.lines = append(w.lines, r.Value)
	}
	sorted := append([]engine.Record(nil), recs...)
	sort.SliceStable(sorted, func(i, j int) bool { return eventTime(t, sorted[i]) < eventTime(t, sorted[j]) })
	byRule := map[string]int{}
	for _, a := range replayAll(t, rs, sorted, engine.Config{Shards: 2}) {
		if strings.HasPrefix(a.Key, eosPrefix) {
			continue
		}
		b, _ := json.Marshal(a)
		w.want[a.ID] = normaliseAlert(t, b)
		byRule[a.RuleID+"/"+a.Kind]++
	}
	if len(w.want) < 100 {
		t.Fatalf("replay gives only %d alerts", len(w.want))
	}
	t.Logf("workload: %d events, replay gives %d alerts: %v", len(w.lines), len(w.want), byRule)
	return w
}

// eosCards returns, for each partition, a card id that cepd's producer (murmur2, as
// Kafka's Java client) sends to that partition.
func eosCards(partitions int) []string {
	part := sarama.NewMurmur2Partitioner("events")
	cards := make([]string, partitions)
	for i, found := 0, 0; found < partitions; i++ {
		k := fmt.Sprintf("%s%d", eosPrefix, i)
		p, err := part.Partition(&sarama.ProducerMessage{Key: sarama.StringEncoder(k)}, int32(partitions))
		if err == nil && cards[p] == "" {
			cards[p] = k
			found++
		}
	}
	return cards
}

// procEnv is one test's world: the broker, the redis-server, the workload, the binary.
type procEnv struct {
	t     *testing.T
	bin   string
	kafka string
	redis *redistest.Server
	// cluster, when set, holds the checkpoints (and what else --redis-addr serves)
	// instead of redis.
	cluster *redistest.Cluster
	w       *kafkaWorkload
	admin   sarama.ClusterAdmin
	dir     string // data directories and process logs
}

func newProcEnv(t *testing.T, events int64, redisPersist bool) *procEnv {
	e := &procEnv{t: t, bin: buildCepd(t), dir: t.TempDir(), w: &kafkaWorkload{}}
	keepLogsOnFailure(t, e.dir)
	if events > 0 { // else the test sets e.w.lines itself
		e.w = processWorkload(t, events, 6)
	}
	kc := devkafka.ForTest(t, devkafka.Options{Partitions: 6, Topics: []string{"events", "alerts", "cepd-dlq"}})
	e.kafka = kc.Addr()
	if redisPersist { // an append-only file that survives a restart (written at shutdown, fsynced every second)
		e.redis = redistest.StartServer(t, "--appendonly", "yes")
	} else {
		e.redis = redistest.StartServer(t)
	}
	admin, err := sarama.NewClusterAdmin([]string{e.kafka}, kafkatest.Config())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	e.admin = admin
	return e
}

// startCepd starts `cepd serve` consuming the events topic in group, checkpointing to
// the Redis, with its data in DIR/data and its rules in DIR/data-rules (the same for
// every run of one instance). The
// failure-detection timings are shortened (session 3s, heartbeats 300ms) so that a
// killed instance's partitions move on within seconds; extra flags follow; everything else
// is the default.
func (e *procEnv) startCepd(logName, data, clientID, group string, extra ...string) *cepdProc {
	rules := filepath.Join(e.dir, data+"-rules")
	if _, err := os.Stat(rules); err != nil {
		copyCardRules(e.t, rules)
	}
	args := serveArgs(rules, filepath.Join(e.dir, data),
		"--alerts-out=", "--out-of-orderness", "5s",
		"--kafka-brokers", e.kafka, "--kafka-topics", "events", "--kafka-group", group, "--kafka-client-id", clientID,
		"--alerts-topic", "alerts", "--dlq-topic", "cepd-dlq",
		"--kafka-session-timeout", "3s", "--kafka-heartbeat-interval", "300ms",
		"--redis-addr", e.redisAddr())
	if lvl := os.Getenv("CEPD_PROC_LOG_LEVEL"); lvl != "" {
		args = append(args, "--log-level", lvl)
	}
	args = append(args, extra...)
	return startCepdProc(e.t, e.bin, filepath.Join(e.dir, logName+".log"), args)
}

// redisAddr is the --redis-addr of the instances: the server, or every cluster node.
func (e *procEnv) redisAddr() string {
	if e.cluster != nil {
		return strings.Join(e.cluster.Addrs(), ",")
	}
	return e.redis.Addr
}

// copyCardRules is copyRules without the rule keyed by device: the Kafka process tests
// compare the card rules (servedRules) and count the group's members; a re-keyed rule
// runs through the repartition topic, with claims of its own in the group
// (TestProcessesRekeyKill9).
func copyCardRules(t *testing.T, dir string) {
	t.Helper()
	copyRules(t, dir)
	if err := os.Remove(filepath.Join(dir, "device-many-cards.yaml")); err != nil {
		t.Fatal(err)
	}
}

// copyRules copies the fraud rules, schema, lists and tables to dir: serve keeps its rule
// versions beside the rules, which must not be the source tree.
func copyRules(t testing.TB, dir string) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(fraudDir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no rules in %s: %v", fraudDir, err)
	}
	data, err := filepath.Glob(filepath.Join(fraudDir, "data", "*.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range append(files, data...) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(fraudDir, f)
		if err := os.WriteFile(filepath.Join(dir, rel), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// producer sends the workload's lines to the events topic at a fixed rate, keyed by
// card_id, in the background.
type producer struct {
	sent atomic.Int64
	rate float64 // events a second
	done chan error
	at   []time.Time // when each line was handed to the writer; read it after wait
	// holdAt (-1: none) is the line the producer waits before until release is closed.
	holdAt  atomic.Int64
	release chan struct{}
	held    atomic.Int64 // how long it waited at holdAt (ns)
}

// holdBefore makes the producer wait before line n until releaseHold: a test whose
// faults must all land mid-stream holds the stream's tail back until the last fault.
func (p *producer) holdBefore(n int64) { p.holdAt.Store(n) }

// releaseHold lets a held producer go on; call it once.
func (p *producer) releaseHold() { close(p.release) }

func (e *procEnv) produce(rate float64) *producer {
	p := &producer{rate: rate, done: make(chan error, 1), at: make([]time.Time, len(e.w.lines)), release: make(chan struct{})}
	p.holdAt.Store(-1)
	w, closeW, err := openEventWriter(new(testKafkaConn(e.kafka, "process-test-producer")), "events", "card_id", rate)
	if err != nil {
		e.t.Fatal(err)
	}
	go func() {
		for i, l := range e.w.lines {
			if int64(i) == p.holdAt.Load() {
				waited := time.Now()
				select {
				case <-p.release:
				case <-e.t.Context().Done():
				}
				p.held.Store(int64(time.Since(waited)))
			}
			p.at[i] = time.Now()
			if err := w.WriteLine(l); err != nil {
				closeW(e.t.Context())
				p.done <- err
				return
			}
			p.sent.Add(1)
		}
		p.done <- closeW(e.t.Context())
	}()
	return p
}

func (p *producer) waitSent(t *testing.T, n int64) {
	t.Helper()
	for p.sent.Load() < n {
		select {
		case err := <-p.done:
			t.Fatalf("producer stopped after %d events: %v", p.sent.Load(), err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (p *producer) wait(t *testing.T) {
	t.Helper()
	select {
	case err := <-p.done:
		if err != nil {
			t.Fatalf("producer: %v", err)
		}
	case <-time.After(90 * time.Second):
		t.Fatalf("producer sent %d events in 90s and is not done", p.sent.Load())
	}
}

// member is a consumer-group member and its partitions of the events topic.
type member struct {
	id, client string
	parts      []int32
}

// groupMembers describes the group: its state and members.
func (e *procEnv) groupMembers(group string) (string, []member) {
	ds, err := e.admin.DescribeConsumerGroups([]string{group})
	if err != nil || len(ds) != 1 {
		return fmt.Sprintf("describe: %v", err), nil
	}
	var ms []member
	for id, d := range ds[0].Members {
		m := member{id: id, client: d.ClientId}
		if a, err := d.GetMemberAssignment(); err == nil && a != nil {
			m.parts = a.Topics["events"]
		}
		ms = append(ms, m)
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].client+ms[i].id < ms[j].client+ms[j].id })
	return ds[0].State, ms
}

// waitGroup waits until the group is stable and ok accepts its members.
func (e *procEnv) waitGroup(group, what string, timeout time.Duration, ok func([]member) bool) []member {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		state, ms := e.groupMembers(group)
		if state == "Stable" && ok(ms) {
			return ms
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("%s: not within %v; group %s: %+v", what, timeout, state, ms)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// soleNewOwner accepts a group whose one member, not seen before, holds all 6 partitions.
func soleNewOwner(seen map[string]bool) func([]member) bool {
	return func(ms []member) bool {
		if len(ms) != 1 || seen[ms[0].id] || len(ms[0].parts) != 6 {
			return false
		}
		seen[ms[0].id] = true
		return true
	}
}

func sumOffsets(m map[int32]int64) int64 {
	n := int64(0)
	for _, o := range m {
		n += o
	}
	return n
}

// waitConsumed waits (after the producer is done) until the group has committed every
// partition up to its end-of-stream event, the last record: everything before it was
// processed, and its alerts delivered before the commit. The alerts topic then must not
// grow any more.
func (e *procEnv) waitConsumed(group string, timeout time.Duration) {
	t := e.t
	t.Helper()
	ends := kafkatest.EndOffsets(t, e.kafka, "events")
	deadline := time.Now().Add(timeout)
	for {
		committed := kafkatest.GroupOffsets(t, e.kafka, group, "events")
		var behind []string
		for p, end := range ends {
			if committed[p] < end-1 {
				behind = append(behind, fmt.Sprintf("%d: %d of %d", p, committed[p], end))
			}
		}
		if len(behind) == 0 {
			break
		}
		if time.Now().After(deadline) {
			state, ms := e.groupMembers(group)
			t.Fatalf("not consumed within %v: partitions %v behind (group %s %+v)", timeout, behind, state, ms)
		}
		time.Sleep(100 * time.Millisecond)
	}
	prev := sumOffsets(kafkatest.EndOffsets(t, e.kafka, "alerts"))
	time.Sleep(time.Second)
	if n := sumOffsets(kafkatest.EndOffsets(t, e.kafka, "alerts")); n != prev {
		t.Errorf("the alerts topic grew from %d to %d after every offset was committed", prev, n)
	}
}

// finish ends a run: it waits for the producer to be done and the group to consume every
// event (within consume), stops procs (SIGTERM) and checks the alerts topic; it returns
// the alerts delivered twice.
func (e *procEnv) finish(prod *producer, group string, consume time.Duration, procs ...*cepdProc) (dups int) {
	t := e.t
	t.Helper()
	prod.wait(t)
	e.waitConsumed(group, consume)
	for _, p := range procs {
		if err := p.stop(20 * time.Second); err != nil {
			t.Error(err)
		}
	}
	return e.check()
}

// check compares the alerts topic with the replay (checkAlerts: every replay alert, with
// its content; nothing else; no duplicate) and wants the dead-letter topic
// empty: the workload has no malformed event, and none is late within 5s.
func (e *procEnv) check() (dups int) {
	t := e.t
	t.Helper()
	dups, _ = checkAlerts(t, e.kafka, "alerts", e.w, false)
	if dups > 0 { // re-derived after a crash, they are read back from the topic and dropped
		t.Errorf("%d alerts delivered twice", dups)
	}
	if sumOffsets(kafkatest.EndOffsets(t, e.kafka, "cepd-dlq")) > 0 {
		for _, m := range kafkatest.ReadTopic(t, e.kafka, "cepd-dlq") {
			h := map[string]string{}
			for _, rh := range m.Headers {
				h[string(rh.Key)] = string(rh.Value)
			}
			t.Errorf("dead letter %v: %.200s", h, m.Value)
		}
	}
	return dups
}

// TestProcessesFailover (issue 4): two cepd processes in one group share the 6
// partitions and one Redis; one is stopped with SIGTERM mid-stream and must exit
// cleanly; the other takes its partitions over (restoring their checkpoints). At the end
// the alerts topic holds exactly the replay's alerts.
func TestProcessesFailover(t *testing.T) {
	start := time.Now()
	e := newProcEnv(t, 30000, false)
	const group = "failover"
	a := e.startCepd("cepd-a", "a", "cepd-a", group)
	b := e.startCepd("cepd-b", "b", "cepd-b", group)
	ms := e.waitGroup(group, "both instances hold partitions", 30*time.Second, func(ms []member) bool {
		return len(ms) == 2 && len(ms[0].parts) > 0 && len(ms[1].parts) > 0 && len(ms[0].parts)+len(ms[1].parts) == 6
	})
	t.Logf("%s holds %v, %s holds %v", ms[0].client, ms[0].parts, ms[1].client, ms[1].parts)

	prod := e.produce(2500)
	prod.waitSent(t, int64(len(e.w.lines))*2/5)
	if n := a.stats(t).Events; n == 0 {
		t.Fatalf("cepd-a has processed nothing before it is stopped")
	}
	stopStart := time.Now()
	if err := a.stop(20 * time.Second); err != nil {
		t.Error(err)
	}
	t.Logf("cepd-a stopped with SIGTERM after %d of %d events were produced (exit took %v)",
		prod.sent.Load(), len(e.w.lines), time.Since(stopStart).Round(time.Millisecond))
	e.waitGroup(group, "cepd-b takes every partition over", 20*time.Second, func(ms []member) bool {
		return len(ms) == 1 && ms[0].client == "cepd-b" && len(ms[0].parts) == 6
	})
	dups := e.finish(prod, group, 40*time.Second, b)
	t.Logf("%d alerts as the replay, %d delivered twice; %v", len(e.w.want), dups, time.Since(start).Round(time.Millisecond))
}

// killSeed is the seed of a fault test's random schedule (what names it in the log:
// "kill", "hand-off"): CEPD_KILL_SEED when set, which repeats a schedule, else the clock.
// It logs the seed, so that a failed schedule can be repeated.
func killSeed(t *testing.T, what string) uint64 {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	if s, err := strconv.ParseUint(os.Getenv("CEPD_KILL_SEED"), 10, 64); err == nil {
		seed = s
	}
	t.Logf("%s schedule seed %d (CEPD_KILL_SEED=%d repeats it)", what, seed, seed)
	return seed
}

// envRuns is how many runs a fault test makes: the positive number in the environment
// variable name, else def.
func envRuns(t *testing.T, name string, def int) int {
	t.Helper()
	runs := def
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		runs = n
	}
	t.Logf("%d runs (%s sets how many)", runs, name)
	return runs
}

// TestProcessesKill9 (issue 5): one cepd process with checkpoints in Redis, killed with
// SIGKILL five times at random moments while it consumes (0–2.5s after it holds the
// partitions) and restarted each time with the same flags, group and data directory. At
// the end the alerts topic holds exactly the replay's alerts; duplicates are counted.
func TestProcessesKill9(t *testing.T) {
	start := time.Now()
	e := newProcEnv(t, 28000, false)
	const group = "crash"
	rng := rand.New(rand.NewPCG(killSeed(t, "kill"), 0))
	seen := map[string]bool{}
	run := func(i int) *cepdProc {
		p := e.startCepd(fmt.Sprintf("cepd-run%d", i), "data", "cepd", group)
		e.waitGroup(group, fmt.Sprintf("run %d holds every partition", i), 30*time.Second, soleNewOwner(seen))
		return p
	}
	p := run(0)
	prod := e.produce(1000)
	for i := 1; i <= 5; i++ {
		d := time.Duration(rng.Int64N(int64(2500 * time.Millisecond)))
		time.Sleep(d)
		ev := p.stats(t).Events
		p.kill9()
		t.Logf("kill -9 #%d, %v after the partitions were assigned: run had processed %d events; %d of %d produced; committed %d",
			i, d.Round(time.Millisecond), ev, prod.sent.Load(), len(e.w.lines), sumOffsets(kafkatest.GroupOffsets(t, e.kafka, group, "events")))
		p = run(i)
	}
	if prod.sent.Load() >= int64(len(e.w.lines)) {
		t.Errorf("the producer was done before the last kill: the kills were not all mid-stream")
	}
	dups := e.finish(prod, group, 40*time.Second, p)
	t.Logf("5 kills: %d alerts as the replay, %d delivered twice; %v", len(e.w.want), dups, time.Since(start).Round(time.Millisecond))
}

// TestProcessesRedisRestart (issue 5): redis-server is stopped mid-stream and started
// again on the same port five seconds later, with its append-only file. A checkpoint
// store must be durable: a Redis without persistence comes back empty, and cepd cannot
// tell; its next checkpoint writes the keys changed since on top of nothing, which a
// later restore takes for the whole state. While Redis is away cepd goes on
// matching and alerting and /healthz says degraded; once it is back, health returns to
// ok. Then cepd is killed with SIGKILL and restarted, so that the final alerts also
// depend on the checkpoints written across the outage. At the end the alerts topic
// holds exactly the replay's alerts.
func TestProcessesRedisRestart(t *testing.T) {
	start := time.Now()
	e := newProcEnv(t, 28000, true)
	const group = "redis-restart"
	seen := map[string]bool{}
	p := e.startCepd("cepd-run0", "data", "cepd", group)
	e.waitGroup(group, "cepd holds every partition", 30*time.Second, soleNewOwner(seen))
	prod := e.produce(1500)
	prod.waitSent(t, int64(len(e.w.lines))/4)
	if h := p.health(t); h != "ok" {
		t.Fatalf("healthz %q before the outage", h)
	}

	// Redis away for 5s: health must say so within that time (checkpoints are tried
	// every second; one failed save is enough to know), and matching must go on.
	const outage = 5 * time.Second
	events0, alerts0 := p.stats(t).Events, sumOffsets(kafkatest.EndOffsets(t, e.kafka, "alerts"))
	e.redis.Stop()
	down := time.Now()
	statuses := map[string]int{}
	firstDegraded := time.Duration(-1)
	for time.Since(down) < outage {
		h := p.health(t)
		statuses[h]++
		if h == "degraded" && firstDegraded < 0 {
			firstDegraded = time.Since(down)
		}
		time.Sleep(100 * time.Millisecond)
	}
	events1, alerts1 := p.stats(t).Events, sumOffsets(kafkatest.EndOffsets(t, e.kafka, "alerts"))
	first := "never"
	if firstDegraded >= 0 {
		first = "after " + firstDegraded.Round(time.Millisecond).String()
	}
	t.Logf("Redis away %v: healthz %v, degraded first %s; cepd processed %d events and delivered %d alerts meanwhile",
		outage, statuses, first, events1-events0, alerts1-alerts0)
	if statuses["degraded"] == 0 {
		t.Errorf("healthz never said degraded in the %v Redis was away: %v", outage, statuses)
	}
	if events1 == events0 || alerts1 == alerts0 {
		t.Errorf("cepd stopped matching or alerting while Redis was away: %d events, %d alerts", events1-events0, alerts1-alerts0)
	}
	e.redis.Start()
	back := time.Now()
	for p.health(t) != "ok" {
		if time.Since(back) > 15*time.Second {
			t.Fatalf("healthz still %q 15s after Redis came back", p.health(t))
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("healthz ok %v after Redis came back", time.Since(back).Round(time.Millisecond))
	if prod.sent.Load() >= int64(len(e.w.lines)) {
		t.Errorf("the producer was done before Redis came back: the outage was not mid-stream")
	}

	time.Sleep(1500 * time.Millisecond) // a checkpoint or two after the outage
	p.kill9()
	t.Logf("kill -9 after Redis came back: %d of %d events produced", prod.sent.Load(), len(e.w.lines))
	p = e.startCepd("cepd-run1", "data", "cepd", group)
	e.waitGroup(group, "the restarted cepd holds every partition", 30*time.Second, soleNewOwner(seen))

	dups := e.finish(prod, group, 40*time.Second, p)
	t.Logf("%d alerts as the replay, %d delivered twice; %v", len(e.w.want), dups, time.Since(start).Round(time.Millisecond))
}

// cepdProc is one cepd process. Its output goes to a log file, whose tail the test
// shows if it fails; the cleanup kills it if the test has not stopped it.
type cepdProc struct {
	cmd     *exec.Cmd
	log     string
	api     string // host:port of its HTTP API
	exited  chan struct{}
	waitErr error
}

var servingLine = regexp.MustCompile(`msg="cepd serving" http=http://(\S+)`)

// serveArgs are the arguments of `cepd serve` on free loopback ports (HTTP and gRPC) with
// the rules in rules and the state in data, then extra.
func serveArgs(rules, data string, extra ...string) []string {
	return append([]string{"serve", "--http", "127.0.0.1:0", "--grpc", "127.0.0.1:0", "--rules", rules, "--data", data}, extra...)
}

// serveDir returns a new temporary directory DIR for serveDirArgs, the fraud rules copied
// into DIR/rules (serve makes DIR/data).
func serveDir(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	copyRules(t, filepath.Join(dir, "rules"))
	return dir
}

// serveDirArgs is serveArgs over DIR/rules and DIR/data (serveDir lays DIR out).
func serveDirArgs(dir string, extra ...string) []string {
	return serveArgs(filepath.Join(dir, "rules"), filepath.Join(dir, "data"), extra...)
}

func startCepdProc(t *testing.T, bin, logPath string, args []string) *cepdProc {
	t.Helper()
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	out := &watchedLog{f: f, re: servingLine, found: make(chan string, 1)}
	cmd := testproc.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		f.Close()
		t.Fatal(err)
	}
	p := &cepdProc{cmd: cmd, log: logPath, exited: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		f.Close()
		close(p.exited)
	}()
	t.Cleanup(func() {
		if p.kill9() && !t.Failed() {
			t.Errorf("%s was still running at the end of the test", filepath.Base(logPath))
		}
		if t.Failed() {
			t.Logf("%s (last lines):\n%s", filepath.Base(logPath), fileTail(logPath, 3000))
		}
	})
	select {
	case p.api = <-out.found:
	case <-p.exited:
		t.Fatalf("cepd exited at start (%v):\n%s", p.waitErr, fileTail(logPath, 3000))
	case <-time.After(30 * time.Second):
		t.Fatalf("cepd did not serve within 30s:\n%s", fileTail(logPath, 3000))
	}
	return p
}

// stop sends SIGTERM and waits for a clean exit: status 0 within timeout (else it is
// killed, and the hang is the error).
func (p *cepdProc) stop(timeout time.Duration) error {
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		if p.waitErr != nil {
			return fmt.Errorf("%s: cepd exited with %v after SIGTERM", filepath.Base(p.log), p.waitErr)
		}
		return nil
	case <-time.After(timeout):
		p.kill9()
		return fmt.Errorf("%s: cepd did not exit within %v of SIGTERM (killed)", filepath.Base(p.log), timeout)
	}
}

// kill9 kills the process with SIGKILL and waits for it; it reports whether it was
// still running.
func (p *cepdProc) kill9() bool {
	select {
	case <-p.exited:
		return false
	default:
	}
	p.cmd.Process.Kill()
	<-p.exited
	return true
}

func (p *cepdProc) get(t *testing.T, path string, v any) {
	t.Helper()
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + p.api + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %d, %v", path, resp.StatusCode, err)
	}
}

func (p *cepdProc) stats(t *testing.T) engine.Snapshot {
	var out struct {
		Stats engine.Snapshot `json:"stats"`
	}
	p.get(t, "/v1/stats", &out)
	return out.Stats
}

func (p *cepdProc) health(t *testing.T) string {
	var out struct{ Status string }
	p.get(t, "/healthz", &out)
	return out.Status
}

// watchedLog writes a process's output to a file and sends the first submatch of re,
// found in a complete line, on found.
type watchedLog struct {
	mu    sync.Mutex
	f     *os.File
	re    *regexp.Regexp
	found chan string
	line  []byte
	done  bool
}

func (w *watchedLog) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.line = append(w.line, b...)
		if i := bytes.LastIndexByte(w.line, '\n'); i >= 0 {
			if m := w.re.FindSubmatch(w.line[:i]); m != nil {
				w.found <- string(m[1])
				w.done, w.line = true, nil
			} else {
				w.line = w.line[i+1:]
			}
		}
	}
	return w.f.Write(b)
}

func fileTail(path string, n int) string {
	b, _ := os.ReadFile(path)
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// keepLogsOnFailure copies a failed test's process logs to $CEPD_KEEP_LOGS/<test name>
// (to read after the temporary directory is gone); CEPD_PROC_LOG_LEVEL sets the
// processes' --log-level.
func keepLogsOnFailure(t *testing.T, dir string) {
	keep := os.Getenv("CEPD_KEEP_LOGS")
	if keep == "" {
		return
	}
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		out := filepath.Join(keep, strings.ReplaceAll(t.Name(), "/", "_")+fmt.Sprintf("-%d", time.Now().UnixNano()))
		if err := os.MkdirAll(out, 0o755); err != nil {
			t.Log(err)
			return
		}
		logs, _ := filepath.Glob(filepath.Join(dir, "*.log"))
		for _, l := range logs {
			if b, err := os.ReadFile(l); err == nil {
				_ = os.WriteFile(filepath.Join(out, filepath.Base(l)), b, 0o644)
			}
		}
		t.Logf("process logs kept in %s", out)
	})
}
