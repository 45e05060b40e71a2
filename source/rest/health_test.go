package rest

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/cepd/cepd/state/ingestlog"
)

// brokenLog is an ingest log on a disk that refuses writes (a read-only data directory)
// until fixed.
type brokenLog struct{ broken atomic.Bool }

func (l *brokenLog) Write([]ingestlog.Record) error {
	if l.broken.Load() {
		return errors.New("open cepd-data/ingest-log/00000001.log: read-only file system")
	}
	return nil
}
func (l *brokenLog) Sync() error { return nil }

// TestHealthShowsIngestFailing: while ingest cannot keep events, /healthz says so at once
// (degraded, with the reason, in the named checks), and ok again after a request succeeds.
func TestHealthShowsIngestFailing(t *testing.T) {
	l := &brokenLog{}
	l.broken.Store(true)
	s := New(Config{Log: l}, &recorder{}, nil, slog.Default(), func() (string, error) { return "ok", nil })
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	health := func() (string, string) {
		resp, err := http.Get(srv.URL + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var h struct {
			Status, Detail string
			Checks         []Check
		}
		if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
			t.Fatal(err)
		}
		return h.Status, h.Detail
	}
	post := func() int {
		resp, err := http.Post(srv.URL+"/v1/events", "application/json", strings.NewReader(`[{}]`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post(); code != http.StatusServiceUnavailable {
		t.Fatalf("ingest on a read-only disk: %d", code)
	}
	if st, detail := health(); st != "degraded" || !strings.Contains(detail, "read-only file system") {
		t.Fatalf("health while ingest fails: %s %q", st, detail)
	}
	if st, detail := s.Health(); st != "degraded" || !strings.Contains(detail, "read-only file system") { // gRPC GetHealth's answer
		t.Fatalf("Health while ingest fails: %s %q", st, detail)
	}
	l.broken.Store(false)
	if code := post(); code != http.StatusOK {
		t.Fatalf("ingest after the disk was fixed: %d", code)
	}
	if st, detail := health(); st != "ok" {
		t.Fatalf("health after ingest recovered: %s %q", st, detail)
	}
}
