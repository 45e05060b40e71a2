package main

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	cepv1 "github.com/cepd/cepd/api/cep/v1"
)

// sseEvent is one server-sent event.
type sseEvent struct {
	id, event string
	data      map[string]any
}

// openSSE opens the alert stream as server-sent events; events arrive on the channel
// until the test ends or cancel is called.
func (f *apiFixture) openSSE(query, lastID string) (<-chan sseEvent, context.CancelFunc) {
	f.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", f.base+"/v1/alerts:stream?"+query, nil)
	req.Header.Set("Accept", "text/event-stream")
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		f.t.Fatalf("SSE: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if lastID != "" && resp.Header.Get("X-Cepd-Resumed") != "true" {
		f.t.Errorf("resuming after %s: X-Cepd-Resumed %q", lastID, resp.Header.Get("X-Cepd-Resumed"))
	}
	ch := make(chan sseEvent, 100)
	go func() {
		defer resp.Body.Close()
		defer close(ch)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev.event != "" {
					ch <- ev
				}
				ev = sseEvent{}
			case strings.HasPrefix(line, "id: "):
				ev.id = line[4:]
			case strings.HasPrefix(line, "event: "):
				ev.event = line[7:]
			case strings.HasPrefix(line, "data: "):
				if err := json.Unmarshal([]byte(line[6:]), &ev.data); err != nil {
					ev.event = "bad data: " + err.Error()
				}
			}
		}
	}()
	f.t.Cleanup(cancel)
	return ch, cancel
}

func next(t *testing.T, ch <-chan sseEvent) sseEvent {
	t.Helper()
	select {
	case ev, ok := <-ch:
		if !ok {
			t.Fatal("the stream ended")
		}
		return ev
	case <-time.After(3 * time.Second):
		t.Fatal("no event within 3 s")
	}
	return sseEvent{}
}

// TestAPIAlertStreamSSE: the alert stream as server-sent events, filtered, and resumed
// after a disconnection from Last-Event-ID without losing or repeating an alert.
func TestAPIAlertStreamSSE(t *testing.T) {
	f := startAPIFixture(t)
	f.must("POST", "/v1/rules", `{"source": `+jsonString(bigTwice("100.0"))+`}`)
	ch, cancel := f.openSSE("rule_id=big-twice&severity=high&kind=match", "")
	other, _ := f.openSSE("severity=low", "")
	f.pair("s1", 150)
	ev := next(t, ch)
	if ev.event != "alert" || ev.id == "" || ev.data["id"] != ev.id || ev.data["key"] != "s1" || ev.data["rule_id"] != "big-twice" || ev.data["mode"] != "active" {
		t.Fatalf("event %+v", ev)
	}
	cancel()
	f.pair("s2", 150) // while disconnected; each alert in the ring before the next pair
	f.alerts("s2", 1)
	f.pair("s3", 150)
	f.alerts("s3", 1)
	ch, _ = f.openSSE("rule_id=big-twice", ev.id)
	for _, want := range []string{"s2", "s3"} {
		if ev := next(t, ch); ev.data["key"] != want {
			t.Fatalf("resumed stream: %+v, want %s", ev, want)
		}
	}
	f.pair("s4", 150)
	if ev := next(t, ch); ev.data["key"] != "s4" {
		t.Fatalf("live after resuming: %+v", ev)
	}
	select {
	case ev := <-other:
		t.Fatalf("a severity=low stream got %+v", ev)
	default:
	}
	if code, _ := f.doAccept("GET", "/v1/alerts:stream?mode=NOPE", "text/event-stream"); code != http.StatusBadRequest {
		t.Errorf("bad mode: %d", code)
	}
}

// doAccept sends a bodiless request with an Accept header and returns the status.
func (f *apiFixture) doAccept(method, path, accept string) (int, string) {
	f.t.Helper()
	req, _ := http.NewRequest(method, f.base+path, nil)
	req.Header.Set("Accept", accept)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	sc := bufio.NewScanner(resp.Body)
	if sc.Scan() {
		b.WriteString(sc.Text())
	}
	return resp.StatusCode, b.String()
}

// TestAPIAdminStats: the admin statistics report rates, watermark delay, latency
// percentiles, partial matches and alerts per rule, and dead letters by reason.
func TestAPIAdminStats(t *testing.T) {
	f := startAPIFixture(t)
	f.must("POST", "/v1/rules", `{"source": `+jsonString(bigTwice("100.0"))+`}`)
	f.pair("a1", 150)
	f.one("a2", 150) // a partial match left waiting (and a1's second event starts another)
	resp, err := http.Post(f.base+"/v1/events", "application/x-ndjson", strings.NewReader("{not json\n"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	f.alerts("a1", 1)
	if err := f.eng.Barrier(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := f.must("GET", "/v1/admin/stats", "")
	if st["events_per_second"].(float64) <= 0 || st["watermark_delay_ms"].(float64) <= 0 || st["latency_p99_ms"].(float64) <= 0 {
		t.Errorf("rates: %v", st)
	}
	if dl := st["dead_letters"].(map[string]any); dl["bad_json"] != 1.0 {
		t.Errorf("dead letters %v", dl)
	}
	if st["live_partial_matches"] != 2.0 || st["keys"] != 2.0 {
		t.Errorf("state: partial matches %v, keys %v", st["live_partial_matches"], st["keys"])
	}
	rules := st["rules"].([]any)
	if len(rules) != 1 {
		t.Fatalf("rules %v", rules)
	}
	r := rules[0].(map[string]any)
	if r["id"] != "big-twice" || r["mode"] != "active" || r["alerts"] != 1.0 || r["live_partial_matches"] != 2.0 {
		t.Errorf("rule stats %v", r)
	}
}

// TestAPIAlertStreamResumeGRPC: a gRPC reader that lost its stream resumes after the last
// alert it got and receives the ones it missed first; resuming after an alert the server
// no longer holds says so.
func TestAPIAlertStreamResumeGRPC(t *testing.T) {
	f := startAPIFixture(t)
	f.must("POST", "/v1/rules", `{"source": `+jsonString(bigTwice("100.0"))+`}`)
	// One key: its alerts enter the ring in the order they are made (one shard).
	f.pair("r1", 150)
	first := f.alerts("r1", 1)[0].(map[string]any)["id"].(string)
	f.pair("r1", 150)
	f.alerts("r1", 2)
	conn, ctx := f.grpcCalls(30 * time.Second)
	ac := cepv1.NewAlertsClient(conn)
	stream, err := ac.StreamAlerts(ctx, &cepv1.StreamAlertsRequest{AfterId: first, Key: "r1"})
	if err != nil {
		t.Fatal(err)
	}
	if h, err := stream.Header(); err != nil || h.Get("x-cepd-resumed")[0] != "true" {
		t.Fatalf("header %v %v", h, err)
	}
	if a, err := stream.Recv(); err != nil || a.GetKey() != "r1" || a.GetId() == first { // one made after the first
		t.Fatalf("resumed: %v %v", a, err)
	}
	f.pair("r2", 150) // filtered out
	f.pair("r1", 150)
	for {
		a, err := stream.Recv()
		if err != nil || a.GetKey() != "r1" {
			t.Fatalf("live: %v %v", a, err)
		}
		if a.GetFirstEventTime().AsTime().After(time.Date(2026, 3, 1, 10, 4, 0, 0, time.UTC)) { // of the last pair
			break
		}
	}
	gone, err := ac.StreamAlerts(ctx, &cepv1.StreamAlertsRequest{AfterId: "no-such-alert"})
	if err != nil {
		t.Fatal(err)
	}
	if h, err := gone.Header(); err != nil || h.Get("x-cepd-resumed")[0] != "false" {
		t.Fatalf("header after an unknown alert: %v %v", h, err)
	}
}

// TestAPIAlertFilters: alerts listed by rule, key, severity and a range of their last
// event's time; a malformed time is a 400.
func TestAPIAlertFilters(t *testing.T) {
	f := startAPIFixture(t)
	f.must("POST", "/v1/rules", `{"source": `+jsonString(bigTwice("100.0"))+`}`)
	f.pair("f1", 150) // events at 10:01 and 10:02
	f.alerts("f1", 1)
	f.pair("f2", 150) // 10:03 and 10:04
	f.alerts("f2", 1)
	for _, tt := range []struct {
		query string
		want  int
	}{
		{"rule_id=big-twice", 2},
		{"severity=high", 2},
		{"severity=low", 0},
		{"key=f2", 1},
		{"start_time=2026-03-01T10:03:00Z", 1},
		{"end_time=2026-03-01T10:03:00Z", 1},
		{"start_time=2026-03-01T10:00:00Z&end_time=2026-03-01T10:05:00Z&limit=1", 1},
		{"rule_id=nosuch", 0},
	} {
		if got := f.must("GET", "/v1/alerts?"+tt.query, "")["alerts"].([]any); len(got) != tt.want {
			t.Errorf("%s: %d alerts, want %d", tt.query, len(got), tt.want)
		}
	}
	if code, _ := f.do("GET", "/v1/alerts?start_time=yesterday", ""); code != http.StatusBadRequest {
		t.Errorf("a malformed time: %d", code)
	}
}
