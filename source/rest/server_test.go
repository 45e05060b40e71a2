package rest

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/cepd/cepd/engine"
	"github.com/cepd/cepd/state/ingestlog"
)

// recorder is an Engine that keeps what it is given, in order.
type recorder struct {
	mu   sync.Mutex
	recs []engine.Record
	st   *engine.Stats
}

func (r *recorder) Submit(_ context.Context, _ int, recs []engine.Record) (engine.Outcomes, []engine.RecordError, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rec := range recs {
		r.recs = append(r.recs, engine.Record{Offset: rec.Offset, Value: append([]byte(nil), rec.Value...)})
	}
	out := make([]engine.Outcome, len(recs))
	for i := range out {
		out[i] = engine.OutcomeMatched
	}
	return func(context.Context) ([]engine.Outcome, error) { return out, nil }, nil, nil
}
func (r *recorder) Stats() *engine.Stats { return r.st }
func (r *recorder) Watermark() int64     { return 0 }

// TestConcurrentIngestLogged: concurrent requests get distinct offsets; the engine and the
// ingest log see every event once, in the same increasing order; a restart's replay gives
// them back.
func TestConcurrentIngestLogged(t *testing.T) {
	dir := t.TempDir()
	l, err := ingestlog.Open(dir, ingestlog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	eng := &recorder{}
	srv := httptest.NewServer(New(Config{Log: l}, eng, nil, slog.Default(), nil).Handler())
	defer srv.Close()
	const clients, requests, perRequest = 8, 25, 3
	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := 0; r < requests; r++ {
				var b strings.Builder
				for e := 0; e < perRequest; e++ {
					fmt.Fprintf(&b, `{"event_id":"c%d-r%d-e%d"}`+"\n", c, r, e)
				}
				resp, err := http.Post(srv.URL+"/v1/events", "application/x-ndjson", strings.NewReader(b.String()))
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					t.Errorf("status %d", resp.StatusCode)
				}
			}
		}()
	}
	wg.Wait()
	const total = clients * requests * perRequest
	if len(eng.recs) != total {
		t.Fatalf("the engine got %d events, want %d", len(eng.recs), total)
	}
	seen := map[string]bool{}
	for i, r := range eng.recs {
		if r.Offset != int64(i+1) || seen[string(r.Value)] {
			t.Fatalf("event %d: offset %d, %s (seen before: %v)", i, r.Offset, r.Value, seen[string(r.Value)])
		}
		seen[string(r.Value)] = true
	}
	l.Close()
	l, err = ingestlog.Open(dir, ingestlog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	i := 0
	err = l.Replay(0, 100, func(rs []ingestlog.Record) error {
		for _, r := range rs {
			if r.Offset != eng.recs[i].Offset || string(r.Value) != string(eng.recs[i].Value) {
				return fmt.Errorf("log record %d: %d %s, engine got %d %s", i, r.Offset, r.Value, eng.recs[i].Offset, eng.recs[i].Value)
			}
			i++
		}
		return nil
	})
	if err != nil || i != total {
		t.Fatalf("replay: %v after %d of %d", err, i, total)
	}
}
