package rest

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cepd/cepd/engine"
	"github.com/cepd/cepd/internal/testhttp"
)

// gate is an Engine whose Submit waits until the gate opens.
type gate struct {
	recorder
	entered chan struct{}
	open    chan struct{}
}

func (g *gate) Submit(ctx context.Context, p int, recs []engine.Record) (engine.Outcomes, []engine.RecordError, error) {
	g.entered <- struct{}{}
	<-g.open
	return g.recorder.Submit(ctx, p, recs)
}

// TestIngestLimits: a request of more events than allowed is refused whole (413) before
// any reaches the engine, as an array or as lines; more concurrent requests than allowed
// get 429 at once, REST and the gRPC path (Ingest) alike.
func TestIngestLimits(t *testing.T) {
	g := &gate{entered: make(chan struct{}, 4), open: make(chan struct{})}
	s := New(Config{MaxEvents: 3, MaxConcurrent: 2}, g, nil, slog.Default(), nil)
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	post := func(body string) (int, string) {
		return testhttp.Post(t, srv.URL+"/v1/events", "application/json", strings.NewReader(body))
	}
	for _, body := range []string{`[{},{},{},{}]`, "{}\n{}\n{}\n{}\n", "[" + strings.Repeat("1,", 1<<20) + "1]", strings.Repeat("{}\n", 1<<20)} {
		if code, msg := post(body); code != http.StatusRequestEntityTooLarge || !strings.Contains(msg, "more than 3 events") {
			t.Errorf("%.20q: %d %s, want 413", body, code, msg)
		}
	}
	if _, _, err := s.Ingest(context.Background(), make([]json.RawMessage, 4)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Ingest of 4 events: %v, want ErrTooLarge", err)
	}
	if len(g.recs) != 0 {
		t.Fatalf("%d events of refused requests reached the engine", len(g.recs))
	}

	var wg sync.WaitGroup
	for range 2 { // one in the engine, one waiting for it: both hold a slot
		wg.Add(1)
		go func() {
			defer wg.Done()
			if code, msg := post(`[{}]`); code != http.StatusOK {
				t.Errorf("held request: %d %s", code, msg)
			}
		}()
	}
	<-g.entered
	for deadline := time.Now().Add(5 * time.Second); len(s.sem) < 2; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the second request never took its slot")
		}
	}
	if code, msg := post(`[{}]`); code != http.StatusTooManyRequests || !strings.Contains(msg, "too many ingest requests") {
		t.Fatalf("third request: %d %s, want 429", code, msg)
	}
	if _, _, err := s.Ingest(context.Background(), make([]json.RawMessage, 1)); !errors.Is(err, ErrBusy) {
		t.Errorf("Ingest while busy: %v, want ErrBusy", err)
	}
	close(g.open)
	wg.Wait()
	if code, msg := post(`[{}]`); code != http.StatusOK {
		t.Errorf("after the others ended: %d %s", code, msg)
	}
}
