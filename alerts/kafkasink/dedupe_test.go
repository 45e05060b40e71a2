package kafkasink

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/cepd/cepd/alerts"
	"github.com/cepd/cepd/internal/devkafka"
)

// recorder is an alerts.Sink keeping what it is given.
type recorder struct {
	mu  sync.Mutex
	ids []string
}

func (r *recorder) Alert(a *alerts.Alert) { r.mu.Lock(); r.ids = append(r.ids, a.ID); r.mu.Unlock() }

// TestDeduper: alerts an earlier producer (an instance that crashed) delivered are read back
// from the alerts topic and not delivered again; others are; alerts delivered before the
// window are not looked for; a later Load reads on from where the last one stopped.
func TestDeduper(t *testing.T) {
	kc := devkafka.ForTest(t, devkafka.Options{Partitions: 3})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	deliver := func(from, to int) {
		t.Helper()
		p, err := New(Config{Brokers: []string{kc.Addr()}, AlertsTopic: "alerts", DeadLetterTopic: "dlq"})
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		for i := from; i < to; i++ {
			p.Alert(testAlert(i))
		}
		if err := p.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	deliver(0, 30)
	time.Sleep(50 * time.Millisecond)
	replayStart := time.Now()
	deliver(30, 60) // the crashed instance's alerts since its last checkpoint

	d, err := NewDeduper(DedupeConfig{Brokers: []string{kc.Addr()}, Topic: "alerts", Slack: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	start := time.Now()
	if err := d.Load(ctx, replayStart); err != nil {
		t.Fatal(err)
	}
	t.Logf("Load read %d alerts in %v", d.Stats().Read, time.Since(start))
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("Load took %v", took)
	}
	rec := &recorder{}
	sink := d.Sink(rec)
	for i := 20; i < 70; i++ { // the replay makes 30..59 again, and 60..69 for the first time
		sink.Alert(testAlert(i))
	}
	if len(rec.ids) != 20 {
		t.Fatalf("delivered %d alerts, want 20..29 (before the window) and 60..69", len(rec.ids))
	}
	for i, id := range rec.ids {
		want := 20 + i
		if i >= 10 {
			want = 60 + i - 10
		}
		if id != testAlert(want).ID {
			t.Fatalf("delivered #%d: %s, want alert %d", i, id, want)
		}
	}
	if st := d.Stats(); st.Dropped != 30 || st.Read != 30 || st.Loads != 1 {
		t.Errorf("stats %+v", st)
	}

	// A later replay reads only what was delivered since.
	deliver(100, 110)
	if err := d.Load(ctx, replayStart); err != nil {
		t.Fatal(err)
	}
	if st := d.Stats(); st.Read != 40 {
		t.Errorf("second Load read %d in all, want 40", st.Read)
	}
	sink.Alert(testAlert(105))
	if len(rec.ids) != 20 {
		t.Errorf("an alert delivered by another producer since the first Load went out again")
	}
}
