package redisrules

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/cepd/cepd/internal/redistest"
	"github.com/cepd/cepd/internal/testlog"
	"github.com/cepd/cepd/rules/store"
)

// maxDelay is the promise: a change reaches every watcher within a second.
const maxDelay = time.Second

type event struct {
	id string
	at time.Time
}

// watcher runs s.Watch until the test ends, recording what onChange receives.
type watcher struct {
	events chan event
	cancel context.CancelFunc
	done   chan error
}

func watch(t testing.TB, s *Store) *watcher {
	ctx, cancel := context.WithCancel(context.Background())
	w := &watcher{events: make(chan event, 4096), cancel: cancel, done: make(chan error, 1)}
	go func() { w.done <- s.Watch(ctx, func(id string) { w.events <- event{id, time.Now()} }) }()
	t.Cleanup(func() { w.stop(t) })
	return w
}

// stop ends Watch and checks that it returned nil.
func (w *watcher) stop(t testing.TB) {
	w.cancel()
	select {
	case err := <-w.done:
		if err != nil {
			t.Errorf("Watch: %v", err)
		}
		w.done <- nil // a second stop returns at once
	case <-time.After(5 * time.Second):
		t.Error("Watch did not return after its context ended")
	}
}

// next waits up to within for onChange(id), skipping other calls; it fails the test if
// none comes.
func (w *watcher) next(t testing.TB, id string, within time.Duration) event {
	t.Helper()
	deadline := time.After(within)
	for {
		select {
		case e := <-w.events:
			if e.id == id {
				return e
			}
		case <-deadline:
			t.Fatalf("no onChange(%q) within %v", id, within)
		}
	}
}

// quiet checks that onChange is not called for d.
func (w *watcher) quiet(t testing.TB, d time.Duration) {
	t.Helper()
	select {
	case e := <-w.events:
		t.Fatalf("unexpected onChange(%q)", e.id)
	case <-time.After(d):
	}
}

// measure makes n changes through a, waiting for each to reach w, and returns the
// delays from each call's return and from its start to onChange. A notification can
// beat the reply to the caller: such a delay from the return counts as 0.
func measure(t testing.TB, a *Store, w *watcher, n int) (fromReturn, fromStart []time.Duration) {
	ctx := context.Background()
	if _, err := a.Create(ctx, "r1", []byte("id: r1\n"), store.Change{Author: "a"}); err != nil {
		t.Fatal(err)
	}
	w.next(t, "r1", maxDelay)
	for i := range n {
		start := time.Now()
		if _, err := a.Update(ctx, "r1", fmt.Appendf(nil, "id: r1\n# %d\n", i), store.Change{Author: "a"}); err != nil {
			t.Fatal(err)
		}
		ret := time.Now()
		e := w.next(t, "r1", maxDelay)
		fromReturn = append(fromReturn, max(0, e.at.Sub(ret)))
		fromStart = append(fromStart, e.at.Sub(start))
	}
	return fromReturn, fromStart
}

func percentile(ds []time.Duration, p float64) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, int(float64(len(s))*p))]
}

// TestWatchDelay: a change through instance A reaches instance B's Watch (another
// client, as another process would have) well within a second.
func TestWatchDelay(t *testing.T) {
	t.Parallel()
	addr := redistest.Start(t)
	a := open(t, client(t, addr), Options{})
	b := open(t, client(t, addr), Options{PollInterval: time.Minute})
	w := watch(t, b)
	w.next(t, "", 5*time.Second) // subscribed
	const n = 200
	fromReturn, fromStart := measure(t, a, w, n)
	t.Logf("change through A → B's onChange, %d changes: from A's return p50 %v p99 %v max %v; from A's call p50 %v p99 %v",
		n, percentile(fromReturn, 0.5), percentile(fromReturn, 0.99), slices.Max(fromReturn),
		percentile(fromStart, 0.5), percentile(fromStart, 0.99))
	w.quiet(t, 50*time.Millisecond) // nothing left over: one call per change
}

// BenchmarkWatchDelay measures the time from a change's start through A to B's onChange.
func BenchmarkWatchDelay(b *testing.B) {
	addr := redistest.Start(b)
	sa := open(b, client(b, addr), Options{})
	sb := open(b, client(b, addr), Options{PollInterval: time.Minute})
	w := watch(b, sb)
	w.next(b, "", 5*time.Second)
	b.ResetTimer()
	fromReturn, fromStart := measure(b, sa, w, b.N)
	b.StopTimer()
	b.ReportMetric(float64(percentile(fromReturn, 0.5).Microseconds()), "p50-µs-from-return")
	b.ReportMetric(float64(percentile(fromReturn, 0.99).Microseconds()), "p99-µs-from-return")
	b.ReportMetric(float64(percentile(fromStart, 0.5).Microseconds()), "p50-µs-from-call")
	b.ReportMetric(float64(percentile(fromStart, 0.99).Microseconds()), "p99-µs-from-call")
}

// TestWatchRestart: Redis restarts (empty: no persistence) while B watches; B gets a
// resync signal when it has subscribed again, and then changes through A.
func TestWatchRestart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := redistest.StartServer(t)
	a := open(t, client(t, srv.Addr), Options{})
	b := open(t, client(t, srv.Addr), Options{PollInterval: time.Minute}) // no help from the poll
	w := watch(t, b)
	w.next(t, "", 5*time.Second)
	if _, err := a.Create(ctx, "r1", []byte("id: r1\n"), store.Change{}); err != nil {
		t.Fatal(err)
	}
	w.next(t, "r1", maxDelay)

	srv.Stop()
	srv.Start()
	start := time.Now()
	w.next(t, "", 5*time.Second)
	t.Logf("resubscribed %v after Redis answered again", time.Since(start).Round(time.Millisecond))
	// A's pooled connections died with the server: go-redis retries on a new one.
	if _, err := a.Create(ctx, "r2", []byte("id: r2\n"), store.Change{}); err != nil {
		t.Fatal(err)
	}
	w.next(t, "r2", maxDelay)
}

// TestWatchPoll: a change whose notification was lost (played by bumping the change
// counter without publishing) is caught by the counter poll; an idle store causes no
// calls.
func TestWatchPoll(t *testing.T) {
	t.Parallel()
	addr := redistest.Start(t)
	c := client(t, addr)
	s := open(t, c, Options{PollInterval: 20 * time.Millisecond})
	if _, err := s.Create(context.Background(), "r1", []byte("id: r1\n"), store.Change{}); err != nil {
		t.Fatal(err)
	}
	w := watch(t, s)
	w.next(t, "", 5*time.Second)
	w.quiet(t, 150*time.Millisecond)
	if err := c.Incr(context.Background(), s.k.gen).Err(); err != nil {
		t.Fatal(err)
	}
	w.next(t, "", maxDelay)
	w.quiet(t, 100*time.Millisecond)
}

// TestWatchDownAtStart: Watch started while Redis is down subscribes (and resyncs) once
// it is up.
func TestWatchDownAtStart(t *testing.T) {
	t.Parallel()
	srv := redistest.StartServer(t)
	s := open(t, client(t, srv.Addr), Options{PollInterval: time.Minute})
	srv.Stop()
	w := watch(t, s)
	time.Sleep(100 * time.Millisecond)
	srv.Start()
	w.next(t, "", 5*time.Second)
	if _, err := s.Create(context.Background(), "r1", []byte("id: r1\n"), store.Change{}); err != nil {
		t.Fatal(err)
	}
	w.next(t, "r1", maxDelay)
}

func TestWatchNilCallback(t *testing.T) {
	t.Parallel()
	s := open(t, client(t, redistest.Start(t)), Options{})
	if err := s.Watch(context.Background(), nil); err == nil {
		t.Fatal("Watch accepted a nil onChange")
	}
}

// TestWatchDataChanges: a change of a list through one store reaches another store's
// watcher by its notice (the poll is an hour away) as one reload of everything
// (onChange("")), within a second, understood as a data change: not taken for a bad
// notice (which also reloads everything, but warns and resyncs).
func TestWatchDataChanges(t *testing.T) {
	t.Parallel()
	addr := redistest.Start(t)
	logs := &testlog.Buffer{}
	a := open(t, client(t, addr), Options{Prefix: "wd"})
	b := open(t, client(t, addr), Options{Prefix: "wd", PollInterval: time.Hour,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	w := watch(t, b)
	w.next(t, "", 5*time.Second) // subscribed
	for i := 0; i < 3; i++ {
		start := time.Now()
		v := store.DataVersion{Name: "merchant_watch", Kind: "watch", Provenance: store.Provenance{Action: store.ActionAdd}, Content: []byte(fmt.Sprintf("key\nm%d\n", i)), Entries: 1}
		if _, err := a.PutData(context.Background(), v, i, store.Change{Author: "t"}, ""); err != nil {
			t.Fatal(err)
		}
		select {
		case e := <-w.events:
			if e.id != "" || e.at.Sub(start) > maxDelay {
				t.Fatalf("change %d: onChange(%q) after %v, want onChange(\"\") within %v", i, e.id, e.at.Sub(start), maxDelay)
			}
		case <-time.After(maxDelay):
			t.Fatalf("change %d did not reach the watcher within %v", i, maxDelay)
		}
		w.quiet(t, 100*time.Millisecond) // one reload per change
	}
	if l := logs.String(); l != "" {
		t.Fatalf("the watcher warned about data change notices:\n%s", l)
	}
}
