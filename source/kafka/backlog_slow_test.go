package kafka

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/cepd/cepd/internal/devkafka"
	"github.com/cepd/cepd/internal/kafkatest"
)

// TestSlowEndOffsetAnswersAllowIdleness: with the default check interval (250 ms), a
// broker that takes 200 ms to answer an end-offset question (a remote or loaded one) is
// slow, not stalled: a partition read to its end turns idle after the idle timeout. The
// question also waits behind the fetch long-poll on the same connection (up to MaxWait,
// 100 ms), so its answer comes 200 to 300 ms after it was asked. (Before, an answer
// later than one check interval counted as a backlog, each one restarting the idle
// timer: the partition never turned idle, and the windows of its keys never closed
// while it was silent. With a 100 ms check interval, the long-poll alone did that.)
func TestSlowEndOffsetAnswersAllowIdleness(t *testing.T) {
	kc := devkafka.ForTest(t, devkafka.Options{Partitions: 1, Topics: []string{"ev"}})
	addr := kc.Addr()
	kafkatest.Produce(t, addr, "ev", `{"event_id":"e1","card_id":"c1","ts":1700000000000,"type":"login","channel":"web"}`)
	delayEndOffsets(kc.Kfake(), 200*time.Millisecond)
	const idle = time.Second
	eng := idleSource(t, idle, Config{Brokers: []string{addr}, Topics: []string{"ev"}})
	waitFor(t, "the event read", func() bool {
		ps := eng.Partitions()
		return len(ps) == 1 && ps[0].Events == 1
	})
	deadline := time.Now().Add(8 * idle)
	flips, last := 0, false
	for {
		ps := eng.Partitions()
		if len(ps) == 1 && ps[0].Idle {
			return
		}
		if len(ps) == 1 && ps[0].Backlog != last {
			flips++
			last = ps[0].Backlog
		}
		if time.Now().After(deadline) {
			t.Fatalf("the partition, read to its end, did not turn idle in %v (idle timeout %v) with end-offset answers of 200 ms (%d backlog changes seen)", 8*idle, idle, flips)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// delayEndOffsets makes the broker answer every end-offset question after d.
func delayEndOffsets(cl *kfake.Cluster, d time.Duration) {
	cl.ControlKey(kmsg.ListOffsets.Int16(), func(kmsg.Request) (kmsg.Response, error, bool) {
		cl.KeepControl()
		cl.SleepControl(func() { time.Sleep(d) })
		return nil, nil, false
	})
}
