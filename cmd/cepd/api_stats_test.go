package main

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"testing"
	"time"

	cepv1 "github.com/cepd/cepd/api/cep/v1"
)

// TestAPIStatsNumbers: /v1/admin/stats gives its 64-bit counters as JSON numbers, and no
// watermark (nor its delay) before any event rather than 0; gRPC gives the same, the
// watermark unset; so does the embedded /v1/stats (it said -9223372036854775808). Once events came the watermark is the newest event time.
func TestAPIStatsNumbers(t *testing.T) {
	f := startAPIFixture(t)
	f.must("POST", "/v1/rules", `{"source": `+jsonString(bigTwice("100.0"))+`}`)
	raw := func() string {
		resp, err := http.Get(f.base + "/v1/admin/stats")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	quoted := regexp.MustCompile(`"(keys|live_partial_matches|alerts|eval_errors|bad_json)":"`)
	st := f.must("GET", "/v1/admin/stats", "")
	if _, ok := st["watermark"]; ok {
		t.Errorf("watermark before any event: %v, want none", st["watermark"])
	}
	if _, ok := st["watermark_delay_ms"]; ok {
		t.Errorf("watermark delay before any event: %v, want none", st["watermark_delay_ms"])
	}
	if stats := f.must("GET", "/v1/stats", ""); stats["watermark"] != nil {
		t.Errorf("/v1/stats watermark before any event: %v, want none", stats["watermark"])
	}
	if st["keys"] != 0.0 {
		t.Errorf("keys %#v, want the number 0", st["keys"])
	}
	conn, ctx := f.grpcCalls(5 * time.Second)
	gs, err := cepv1.NewAdminClient(conn).GetStats(ctx, &cepv1.GetStatsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if gs.Watermark != nil || gs.WatermarkDelayMs != nil {
		t.Errorf("gRPC watermark %v delay %v before any event, want unset", gs.Watermark, gs.WatermarkDelayMs)
	}

	f.pair("n1", 150) // two events, 10:01 and 10:02 of 2026-03-01
	f.alerts("n1", 1)
	if err := f.eng.Barrier(context.Background()); err != nil {
		t.Fatal(err)
	}
	body := raw()
	if m := quoted.FindString(body); m != "" {
		t.Errorf("a 64-bit counter as a string (%s) in %s", m, body)
	}
	st = f.must("GET", "/v1/admin/stats", "")
	want := float64(time.Date(2026, 3, 1, 10, 2, 0, 0, time.UTC).UnixMilli())
	if st["watermark"] != want {
		t.Errorf("watermark %#v, want the number %v", st["watermark"], want)
	}
	if d, ok := st["watermark_delay_ms"].(float64); !ok || d < 0 {
		t.Errorf("watermark delay %#v, want a number", st["watermark_delay_ms"])
	}
	if gs, err = cepv1.NewAdminClient(conn).GetStats(ctx, &cepv1.GetStatsRequest{}); err != nil || gs.GetWatermark() != int64(want) {
		t.Errorf("gRPC watermark %v (%v), want %v", gs.GetWatermark(), err, int64(want))
	}
	if stats := f.must("GET", "/v1/stats", ""); stats["watermark"] != want {
		t.Errorf("/v1/stats watermark %#v, want %v", stats["watermark"], want)
	}
	r := st["rules"].([]any)[0].(map[string]any)
	if r["alerts"] != 1.0 {
		t.Errorf("rule alerts %#v, want the number 1", r["alerts"])
	}
}
