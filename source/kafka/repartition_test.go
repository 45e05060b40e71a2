package kafka

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/cepd/cepd/event"
	"github.com/cepd/cepd/internal/devkafka"
	"github.com/cepd/cepd/internal/fraudtest"
	"github.com/cepd/cepd/internal/kafkatest"
)

// repartitionHelperEnv, when set to a broker address, makes
// TestRepartitionHelperProcess run a forwarder until it is killed: the process the
// kill -9 test starts and kills.
const repartitionHelperEnv = "CEPD_REPARTITION_HELPER"

const repGroup = "rk"

func fraudSchema(t *testing.T) *event.Schema {
	t.Helper()
	s := fraudtest.Schema(t)
	return s
}

// TestRepartitionHelperProcess is the forwarder process of TestRepartitionKill9; it does
// nothing in an ordinary test run.
func TestRepartitionHelperProcess(t *testing.T) {
	addr := os.Getenv(repartitionHelperEnv)
	if addr == "" {
		return
	}
	base := sarama.NewConfig()
	base.Version = DefaultVersion
	// A killed member leaves the group when its session times out, or when a new member's
	// join outlasts the rebalance timeout: short, so that the next process takes the
	// partitions over quickly. Not shorter than 3 s: the suite runs this beside the process
	// tests, and a loaded machine then missed heartbeats of 1 s sessions, so the last
	// forwarder lost its claims again and again and forwarded nothing for 30 s.
	base.Consumer.Group.Session.Timeout = 3 * time.Second
	base.Consumer.Group.Heartbeat.Interval = 300 * time.Millisecond
	base.Consumer.Group.Rebalance.Timeout = 2 * time.Second
	// A request lost with a killed member's connection fails in 5 s, not sarama's 30.
	base.Net.ReadTimeout = 5 * time.Second
	r, err := NewRepartitioner(RepartitionConfig{Brokers: []string{addr}, Group: repGroup, Topics: []string{"events"},
		Schema: fraudSchema(t), Fields: []string{"device_id"}, MaxBatch: 40, Linger: 2 * time.Millisecond, Base: base})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
}

type repEvent struct {
	EventID string  `json:"event_id"`
	CardID  string  `json:"card_id"`
	TS      int64   `json:"ts"`
	Type    string  `json:"type"`
	Amount  float64 `json:"amount"`
	Device  *string `json:"device_id"`
}

// produceRound sends n events (40 cards, 15 devices, a tenth without a device) keyed by
// card and returns them.
func produceRound(t *testing.T, p sarama.SyncProducer, r *rand.Rand, first, n int) []repEvent {
	t.Helper()
	var evs []repEvent
	var msgs []*sarama.ProducerMessage
	for i := first; i < first+n; i++ {
		e := repEvent{EventID: fmt.Sprintf("e%06d", i), CardID: fmt.Sprintf("c%d", r.IntN(40)), TS: 1_700_000_000_000 + int64(i)*100,
			Type: "auth", Amount: 10}
		if r.IntN(10) > 0 {
			d := fmt.Sprintf("d%d", r.IntN(15))
			e.Device = &d
		}
		b, _ := json.Marshal(e)
		evs = append(evs, e)
		msgs = append(msgs, &sarama.ProducerMessage{Topic: "events", Key: sarama.StringEncoder(e.CardID), Value: sarama.ByteEncoder(b)})
	}
	if err := p.SendMessages(msgs); err != nil {
		t.Fatal(err)
	}
	return evs
}

// forwarded is one record read back from the repartition topic.
type forwarded struct {
	key, id         string
	part, srcPart   int32
	offset, srcOffs int64
}

// readRepartition reads every record of the device repartition topic with the given
// isolation until no record has come for quiet.
func readRepartition(t *testing.T, addr string, iso sarama.IsolationLevel, quiet time.Duration) ([]forwarded, int64) {
	t.Helper()
	var (
		out     []forwarded
		markers int64
	)
	for _, m := range kafkatest.ReadQuiet(t, addr, RepartitionTopic(repGroup, "device_id"), iso, quiet) {
		if isMarker(m) {
			markers++
			continue
		}
		f := forwarded{key: string(m.Key), part: m.Partition, offset: m.Offset}
		var e repEvent
		if err := json.Unmarshal(m.Value, &e); err != nil {
			t.Fatal(err)
		}
		f.id = e.EventID
		for _, h := range m.Headers {
			v, _ := strconv.ParseInt(string(h.Value), 10, 64)
			switch string(h.Key) {
			case HeaderSourcePartition:
				f.srcPart = int32(v)
			case HeaderSourceOffset:
				f.srcOffs = v
			}
		}
		out = append(out, f)
	}
	return out, markers
}

// TestRepartitionKill9 kills the forwarder process with SIGKILL, several times, each
// 0–300 ms after it began writing (mid-stream, most often mid-transaction) while events
// keep arriving, then lets a last one finish: a read_committed
// reader of the repartition topic sees every event that has a device exactly once, keyed
// by its device, each device in one partition, and each source partition's records in
// source order. Events without a device are not forwarded. A read_uncommitted reader,
// for comparison, also sees the copies of the transactions the kills left open (the
// duplicates the transactions keep out).
func TestRepartitionKill9(t *testing.T) {
	cl, err := devkafka.Start(devkafka.Options{Partitions: 4, Topics: []string{"events"}})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	addr := cl.Addrs()[0]
	pc := sarama.NewConfig()
	pc.Version = DefaultVersion
	pc.Producer.Return.Successes = true
	prod, err := sarama.NewSyncProducer([]string{addr}, pc)
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 1))

	start := func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^TestRepartitionHelperProcess$")
		cmd.Env = append(os.Environ(), repartitionHelperEnv+"="+addr, "GOTRACEBACK=all")
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	var all []repEvent
	// Each kill lands 0–300 ms after the forwarder began writing the repartition topic
	// (it joins the group first, which takes a rebalance timeout while the last one's
	// member is still in it): mid-stream, most often mid-transaction.
	rep := repartitionEnd(t, addr)
	const rounds, perRound = 8, 2500
	midStream := 0
	for round := range rounds {
		all = append(all, produceRound(t, prod, r, round*perRound, perRound)...)
		before := rep()
		cmd := start()
		for deadline := time.Now().Add(30 * time.Second); rep() == before && time.Now().Before(deadline); {
			time.Sleep(20 * time.Millisecond)
		}
		if rep() > before {
			midStream++
		}
		time.Sleep(time.Duration(r.IntN(300)) * time.Millisecond)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()
	}
	if midStream < rounds/2 {
		t.Errorf("only %d of %d kills came after the forwarder began writing: weak test", midStream, rounds)
	}
	all = append(all, produceRound(t, prod, r, rounds*perRound, perRound)...)
	last := start()
	defer func() {
		_ = last.Process.Signal(syscall.SIGKILL)
		_ = last.Wait()
	}()

	want := map[string]string{} // event id → device
	for _, e := range all {
		if e.Device != nil {
			want[e.EventID] = *e.Device
		}
	}
	got, markers := waitForwarded(t, addr, len(want))
	if len(got) < len(want) {
		stallReport(t, addr, last)
	}
	checkForwarded(t, got, want)
	if markers == 0 {
		t.Errorf("no watermark or idle marker forwarded")
	}
	uncommitted, _ := readRepartition(t, addr, sarama.ReadUncommitted, time.Second)
	t.Logf("%d events (%d with a device) over %d kills (%d after the forwarder began writing): each forwarded once to a read_committed reader; a read_uncommitted reader sees %d records (%d copies from transactions the kills left open); %d markers",
		len(all), len(want), rounds, midStream, len(uncommitted), len(uncommitted)-len(got), markers)
}

// repartitionEnd returns a function that sums the end offsets of the device repartition
// topic's partitions (0 before the forwarder created it); the client closes when the
// test ends.
func repartitionEnd(t *testing.T, addr string) func() int64 {
	client, err := sarama.NewClient([]string{addr}, kafkatest.Config())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	topic := RepartitionTopic(repGroup, "device_id")
	return func() int64 {
		_ = client.RefreshMetadata(topic)
		parts, err := client.Partitions(topic)
		if err != nil {
			return 0
		}
		var sum int64
		for _, p := range parts {
			if end, err := client.GetOffset(topic, p, sarama.OffsetNewest); err == nil {
				sum += end
			}
		}
		return sum
	}
}

// checkForwarded checks what a read_committed reader got from the repartition topic:
// each event with a device exactly once (want: event id → device), keyed by its device,
// each device in one partition, each source partition's records in source order.
func checkForwarded(t *testing.T, got []forwarded, want map[string]string) {
	t.Helper()
	seen := map[string]int{}
	devPart := map[string]int32{}
	lastSrc := map[[2]int32]int64{} // (repartition partition, source partition) → last source offset
	for _, f := range got {
		seen[f.id]++
		dev, ok := want[f.id]
		switch {
		case !ok:
			t.Errorf("event %s forwarded but has no device (or was never produced)", f.id)
		case f.key != dev:
			t.Errorf("event %s keyed %q, its device is %s", f.id, f.key, dev)
		}
		if p, ok := devPart[f.key]; ok && p != f.part {
			t.Errorf("device %s in partitions %d and %d", f.key, p, f.part)
		}
		devPart[f.key] = f.part
		k := [2]int32{f.part, f.srcPart}
		if prev, ok := lastSrc[k]; ok && f.srcOffs <= prev {
			t.Errorf("partition %d: source %d/%d after %d/%d", f.part, f.srcPart, f.srcOffs, f.srcPart, prev)
		}
		lastSrc[k] = f.srcOffs
	}
	missing, twice := 0, 0
	for id := range want {
		switch seen[id] {
		case 0:
			missing++
		case 1:
		default:
			twice++
		}
	}
	if missing > 0 || twice > 0 {
		t.Fatalf("%d events with a device: %d forwarded records, %d events missing, %d forwarded more than once", len(want), len(got), missing, twice)
	}
}

// waitForwarded reads the repartition topic at addr (read_committed) until it holds want
// records or the forwarder stops making progress, and returns the records and the count
// of markers.
func waitForwarded(t *testing.T, addr string, want int) ([]forwarded, int64) {
	// The last forwarder waits for the transactions the kills left open (kfake times them
	// out after 10 s, and a read_committed reader sees nothing past one still open), so on
	// a loaded machine (the suite runs this beside the process tests) it may take a
	// while: wait while it makes progress (60 s without any, or 180 s in all, is a stuck
	// forwarder; alone it takes 10–15 s).
	began, stall := time.Now(), time.Now()
	var got []forwarded
	var markers int64
	for {
		n := len(got)
		got, markers = readRepartition(t, addr, sarama.ReadCommitted, time.Second)
		if len(got) > n {
			stall = time.Now()
		}
		if len(got) >= want || time.Since(stall) > 60*time.Second || time.Since(began) > 180*time.Second {
			break
		}
	}
	if len(got) < want {
		t.Logf("after %v: %d of %d forwarded, the last progress %v ago", time.Since(began).Round(time.Second), len(got), want,
			time.Since(stall).Round(time.Second))
	}
	return got, markers
}
