package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cepd/cepd/internal/redistest"
)

// waitCheckpointKeys waits until partition 0's checkpoint in Redis holds n event keys
// (cepd's own entries, such as the schema record, start with a NUL byte).
func waitCheckpointKeys(t *testing.T, rc *redis.Client, n int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		fields, _ := rc.HKeys(t.Context(), "{cepd:cepd:p0}:keys").Result()
		got := int64(0)
		for _, f := range fields {
			if !strings.HasPrefix(f, "\x00") {
				got++
			}
		}
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("Redis holds %d keys of partition 0, want %d", got, n)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// alertedKeys returns the keys p's recent alerts of rule are about, once there are n of
// them or after 10 s.
func alertedKeys(t *testing.T, p *cepdProc, rule string, n int) map[string]bool {
	t.Helper()
	var keys map[string]bool
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		var list struct {
			Alerts []struct {
				Key string `json:"key"`
			}
		}
		p.get(t, "/v1/alerts?rule_id="+rule, &list)
		keys = map[string]bool{}
		for _, a := range list.Alerts {
			keys[a.Key] = true
		}
		if len(keys) == n {
			break
		}
	}
	return keys
}

// TestProcessRedisRestartedEmpty (issue 10): the embedded mode with checkpoints in a
// real redis-server without persistence. Three card-testing probes for card PM-A, a
// checkpoint, then redis-server is killed with SIGKILL and started again, empty; probes
// for PM-B; cepd is killed with SIGKILL and restarted (it restores from Redis), and the
// large authorisation of both cards comes. Both must alert: the checkpoint after the
// Redis restart finds the partition's data gone, writes a full checkpoint, and /healthz
// says so. Without the detection, Redis holds only PM-B and PM-A's alert is lost.
func TestProcessRedisRestartedEmpty(t *testing.T) {
	dir := serveDir(t)
	out := filepath.Join(dir, "alerts.jsonl")
	bin := buildCepd(t)
	rs := redistest.StartServer(t)
	rc := redis.NewClient(&redis.Options{Addr: rs.Addr, MaxRetries: -1})
	defer rc.Close()
	start := func(name string) *cepdProc {
		return startCepdProc(t, bin, filepath.Join(dir, name+".log"), serveDirArgs(dir, "--alerts-out", out,
			"--redis-addr", rs.Addr, "--checkpoint-interval", "200ms"))
	}
	post := func(p *cepdProc, card string, evs ...string) {
		t.Helper()
		var b bytes.Buffer
		for i, ev := range evs {
			fmt.Fprintf(&b, `{"event_id":"%s-%d","card_id":"%s","ts":"2024-03-01T10:%sZ","type":"auth",%s,"card_present":false,"channel":"ecom","merchant_id":"m-1"}`+"\n",
				card, len(evs)*10+i, card, ev[:5], ev[6:])
		}
		resp, err := http.Post("http://"+p.api+"/v1/events", "application/x-ndjson", &b)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || bytes.Contains(body, []byte(`"errors":[{`)) {
			t.Fatalf("ingest: %d %s", resp.StatusCode, body)
		}
	}
	// Times only go forward: REST ingest is one partition, and an event behind its
	// watermark would be late.
	probesA := []string{`00:00 "amount":0.99`, `00:40 "amount":1.00`, `01:30 "amount":1.49`}
	probesB := []string{`02:00 "amount":0.99`, `02:40 "amount":1.00`, `03:30 "amount":1.49`}
	waitKeys := func(n int64) { t.Helper(); waitCheckpointKeys(t, rc, n) }

	p := start("run1")
	post(p, "PM-A", probesA...)
	waitKeys(1)
	rs.Kill()
	rs.Start()
	if n, _ := rc.DBSize(t.Context()).Result(); n != 0 {
		t.Fatalf("redis-server restarted with %d keys, want none", n)
	}
	post(p, "PM-B", probesB...)
	var health struct{ Status, Detail string }
	deadline := time.Now().Add(10 * time.Second)
	for p.get(t, "/healthz", &health); !strings.Contains(health.Detail, "full checkpoint written"); p.get(t, "/healthz", &health) {
		if time.Now().After(deadline) {
			t.Errorf("healthz does not report the lost store within 10s: %+v", health)
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("healthz after Redis restarted empty: %+v", health)
	waitKeys(2)
	p.kill9()

	p = start("run2")
	post(p, "PM-A", `05:00 "amount":450.00`)
	post(p, "PM-B", `05:00 "amount":450.00`)
	keys := alertedKeys(t, p, "card-testing", 2)
	if err := p.stop(20 * time.Second); err != nil {
		t.Error(err)
	}
	if !keys["PM-A"] || !keys["PM-B"] {
		t.Fatalf("card-testing alerted for %v, want PM-A and PM-B", keys)
	}
}
