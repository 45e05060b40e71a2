package kafkasink

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/cepd/cepd/alerts"
	"github.com/cepd/cepd/engine"
	"github.com/cepd/cepd/internal/devkafka"
	"github.com/cepd/cepd/internal/kafkatest"
)

func testAlert(i int) *alerts.Alert {
	a := &alerts.Alert{Kind: alerts.KindMatch, RuleID: "r", RuleVersion: "v1", Key: fmt.Sprintf("card-%d", i%7),
		Emit: alerts.Values{{Name: "n", Value: float64(i)}}}
	a.SetID()
	a.ID = fmt.Sprintf("%s-%d", a.ID, i)
	return a
}

// TestAlertsAndDeadLetters: alerts arrive keyed by their key with their JSON and the
// three headers; dead letters arrive with their original bytes and reason headers.
func TestAlertsAndDeadLetters(t *testing.T) {
	kc := devkafka.ForTest(t, devkafka.Options{Partitions: 3})
	p, err := New(Config{Brokers: []string{kc.Addr()}, AlertsTopic: "alerts", DeadLetterTopic: "dlq",
		Locate: func(part int) (string, int32, bool) { return "events", int32(part), true }})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	sent := map[string]*alerts.Alert{}
	for i := 0; i < 50; i++ {
		a := testAlert(i)
		sent[a.ID] = a
		p.Alert(a)
	}
	raw := []byte("{\"not\": json <>&\u00e9")
	p.DeadLetter(engine.DeadLetter{Reason: "bad_json", Error: "not valid JSON", Raw: raw, Partition: 2, Offset: 41})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	got := kafkatest.ReadTopic(t, kc.Addr(), "alerts")
	if len(got) != len(sent) {
		t.Fatalf("%d alerts on the topic, sent %d", len(got), len(sent))
	}
	for _, m := range got {
		var a alerts.Alert
		if err := json.Unmarshal(m.Value, &a); err != nil {
			t.Fatal(err)
		}
		want := sent[a.ID]
		h := kafkatest.Headers(m)
		if want == nil || string(m.Key) != want.Key || h[HeaderAlertID] != a.ID || h[HeaderRuleID] != "r" || h[HeaderRuleVersion] != "v1" {
			t.Errorf("alert message key %q headers %v value %s", m.Key, h, m.Value)
		}
	}
	dl := kafkatest.ReadTopic(t, kc.Addr(), "dlq")
	if len(dl) != 1 || string(dl[0].Value) != string(raw) {
		t.Fatalf("dead letters %v", dl)
	}
	want := map[string]string{HeaderReason: "bad_json", HeaderError: "not valid JSON", HeaderSourceTopic: "events",
		HeaderSourcePartition: "2", HeaderSourceOffset: "41"}
	for k, v := range want {
		if h := kafkatest.Headers(dl[0]); h[k] != v {
			t.Errorf("dead letter header %s = %q, want %q", k, h[k], v)
		}
	}
	if st := p.Stats(); st.Alerts != 50 || st.DeadLetters != 1 || st.Acked != 51 || st.Pending != 0 {
		t.Errorf("stats %+v", st)
	}
}

// TestRedelivery: produce requests to the alerts topic fail (beyond sarama's retries);
// Flush reports the undelivered alerts instead of succeeding; once the brokers accept
// again, every alert is delivered and Flush succeeds. Nothing is dropped.
func TestRedelivery(t *testing.T) {
	kc := devkafka.ForTest(t, devkafka.Options{Partitions: 1})
	fault := kc.Kfake().Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: "alerts",
		Err: kerr.NotEnoughReplicas, Count: -1})
	p, err := New(Config{Brokers: []string{kc.Addr()}, AlertsTopic: "alerts", DeadLetterTopic: "dlq",
		Retries: 1, RedeliveryBackoff: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for i := 0; i < 20; i++ {
		p.Alert(testAlert(i))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	err = p.Flush(ctx)
	cancel()
	if err == nil || !strings.Contains(err.Error(), "not acknowledged") || !strings.Contains(err.Error(), "fewer in-sync replicas") {
		t.Fatalf("Flush during the outage: %v", err)
	}
	st := p.Stats()
	if st.Failures == 0 || st.Redelivered == 0 || st.Pending != 20 {
		t.Fatalf("stats during the outage %+v", st)
	}
	fault.Remove()
	ctx, cancel = context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, m := range kafkatest.ReadTopic(t, kc.Addr(), "alerts") {
		ids[kafkatest.Headers(m)[HeaderAlertID]] = true
	}
	for i := 0; i < 20; i++ {
		if id := testAlert(i).ID; !ids[id] {
			t.Errorf("alert %s never delivered", id)
		}
	}
	t.Logf("stats %+v", p.Stats())
}

// TestTrackerOutOfOrder: Flush waits for everything handed in before it, whatever the
// order of acknowledgements.
