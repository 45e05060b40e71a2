package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/cepd/cepd/alerts"
)

// receiver is a webhook endpoint on loopback that records what it accepts and answers
// with the codes it is told to, in turn, before accepting.
type receiver struct {
	mu       sync.Mutex
	fail     map[string][]int // alert id → status codes to answer first
	got      []string         // alert ids accepted, in order
	byKey    map[string][]string
	requests int
	badSig   int
	srv      *httptest.Server
}

func newReceiver(t *testing.T, secret string) *receiver {
	r := &receiver{fail: map[string][]int{}, byKey: map[string][]string{}}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		id, ts := req.Header.Get(HeaderAlertID), req.Header.Get(HeaderTimestamp)
		r.mu.Lock()
		defer r.mu.Unlock()
		r.requests++
		if secret != "" && req.Header.Get(HeaderSignature) != Sign(secret, ts, body) {
			r.badSig++
		}
		if sec, err := strconv.ParseInt(ts, 10, 64); err != nil || time.Since(time.Unix(sec, 0)) > time.Minute {
			r.badSig++
		}
		if codes := r.fail[id]; len(codes) > 0 {
			r.fail[id] = codes[1:]
			w.WriteHeader(codes[0])
			fmt.Fprintf(w, "no (%d)", codes[0])
			return
		}
		var a alerts.Alert
		if err := jsonUnmarshal(body, &a); err != nil || a.ID != id {
			w.WriteHeader(http.StatusUnprocessableEntity)
			return
		}
		r.got = append(r.got, id)
		r.byKey[a.Key] = append(r.byKey[a.Key], id)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func alert(key string, i int) *alerts.Alert {
	return &alerts.Alert{ID: fmt.Sprintf("a-%s-%d", key, i), Kind: "match", RuleID: "r", RuleVersion: "v", Key: key}
}

// TestDelivery: every alert arrives once, signed, in order per key; failures that are
// worth retrying (5xx, 429, a dead connection) are retried until delivered; a 4xx refusal
// is counted and not retried; Flush waits for all of it.
func TestDelivery(t *testing.T) {
	r := newReceiver(t, "s3cret")
	r.fail["a-k1-3"] = []int{503, 500, 429}
	r.fail["a-k2-5"] = []int{400}
	s, err := New(Config{URL: r.srv.URL, Secret: "s3cret", Workers: 3, QueueSize: 4, MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	keys := []string{"k1", "k2", "k3", "k4"}
	for i := 0; i < 20; i++ {
		for _, k := range keys {
			s.Alert(alert(k, i))
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(ctx); err != nil {
		t.Error(err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.got) != 79 || r.badSig != 0 {
		t.Fatalf("accepted %d alerts (want 79), %d bad signatures or stale timestamps", len(r.got), r.badSig)
	}
	for _, k := range keys {
		var want []string
		for i := 0; i < 20; i++ {
			if id := alert(k, i).ID; id != "a-k2-5" { // refused
				want = append(want, id)
			}
		}
		if fmt.Sprint(r.byKey[k]) != fmt.Sprint(want) {
			t.Errorf("key %s: delivered %v, want %v (in order)", k, r.byKey[k], want)
		}
	}
	if st := s.Stats(); st.Alerts != 80 || st.Delivered != 79 || st.Rejected != 1 || st.Retries != 3 || st.Pending != 0 {
		t.Errorf("stats %+v", st)
	}
	if r.requests != 83 {
		t.Errorf("%d requests, want 83", r.requests)
	}
}

// TestFlushWaitsForAnAbsentReceiver: with the receiver away, Flush does not report
// success; once it is back, the alerts held are delivered and Flush succeeds.
func TestFlushWaitsForAnAbsentReceiver(t *testing.T) {
	r := newReceiver(t, "")
	down := true
	var mu sync.Mutex
	gate := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		mu.Lock()
		d := down
		mu.Unlock()
		if d {
			hj, ok := w.(http.Hijacker)
			if !ok {
				t.Fatal("no hijacker")
			}
			c, _, _ := hj.Hijack()
			c.Close() // the connection dies: a network error
			return
		}
		r.srv.Config.Handler.ServeHTTP(w, req)
	}))
	defer gate.Close()
	s, err := New(Config{URL: gate.URL, MinBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	for i := 0; i < 5; i++ {
		s.Alert(alert("k", i))
	}
	short, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := s.Flush(short); err == nil {
		t.Fatal("Flush succeeded with the receiver away")
	}
	if st := s.Stats(); st.Pending != 5 || st.Retries == 0 || st.LastError == "" {
		t.Errorf("stats while away %+v", st)
	}
	mu.Lock()
	down = false
	mu.Unlock()
	ctx, cancel2 := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel2()
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.got) != 5 {
		t.Fatalf("delivered %d of 5", len(r.got))
	}
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// TestCloseBoundedByItsContext: a receiver that takes requests and never answers does not
// hold Close beyond its context: the requests in flight are cut (before, Close waited
// for the request timeout).
func TestCloseBoundedByItsContext(t *testing.T) {
	for _, wait := range []time.Duration{20 * time.Millisecond, 100 * time.Millisecond, 300 * time.Millisecond} {
		hang := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-hang:
			case <-r.Context().Done():
			}
		}))
		s, err := New(Config{URL: srv.URL, Timeout: 30 * time.Second, Workers: 2})
		if err != nil {
			t.Fatal(err)
		}
		for i := range 4 {
			s.Alert(alert(fmt.Sprint("k", i), i))
		}
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		began := time.Now()
		err = s.Close(ctx)
		took := time.Since(began)
		cancel()
		close(hang)
		srv.Close()
		if err == nil || took > wait+2*time.Second {
			t.Errorf("Close(%v) took %v, err %v: want an error within the context's bound", wait, took, err)
		}
	}
}
