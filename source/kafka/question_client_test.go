package kafka

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/cepd/cepd/engine"
	"github.com/cepd/cepd/internal/devkafka"
)

// TestQuestionClientDoesNotBlockTheSource: the question client is made on the first
// backlog question, and making it may take as long as the brokers take to answer its
// metadata request (dial and read timeouts, retries: minutes when a broker is away).
// Meanwhile the source's counters (Stats), periodic commits and claim bookkeeping go on.
// Before, questionClient held the source's mutex while it made the client, so Stats
// (and commits, releases, new claims) waited for the brokers.
func TestQuestionClientDoesNotBlockTheSource(t *testing.T) {
	kc := devkafka.ForTest(t, devkafka.Options{Partitions: 1, Topics: []string{"ev"}})
	stopStream := liveStream(t, kc.Addr(), "ev", 1, 20*time.Millisecond)
	defer stopStream()
	// Checks a second apart: while the stream runs, every check finds records read and
	// asks nothing, so no question client is made before the metadata stall.
	_, src := startSource(t, engine.Config{Shards: 1}, Config{Brokers: []string{kc.Addr()}, Topics: []string{"ev"}, BacklogCheck: time.Second})
	release := make(chan struct{})
	t.Cleanup(func() { close(release) }) // before the source stops: its question client waits
	waitFor(t, "records read", func() bool { return src.Stats().Consumed > 5 })

	// The brokers stop answering metadata requests; the stream stops, the claim asks.
	stalled := stallRequests(kc.Kfake(), release, kmsg.Metadata.Int16())
	stopStream()
	waitFor(t, "the question client's metadata request", func() bool { return stalled.Load() > 0 })
	for range 5 {
		got := make(chan Stats, 1)
		go func() { got <- src.Stats() }()
		select {
		case <-got:
		case <-time.After(2 * time.Second):
			t.Fatal("Stats waited for the question client's metadata request")
		}
		time.Sleep(100 * time.Millisecond)
	}
}
