package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectpb "google.golang.org/grpc/reflection/grpc_reflection_v1"

	"github.com/cepd/cepd/internal/testhttp"
)

// scrape reads /metrics of a running cepd and parses it as Prometheus does.
func scrape(t *testing.T, addr string) map[string]*dto.MetricFamily {
	t.Helper()
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d", resp.StatusCode)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	return fams
}

// sample returns the value of the series of family name whose labels include want (a
// counter's, gauge's, or a histogram's count), and whether there is one.
func sample(fams map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.Metric {
		have := map[string]string{}
		for _, l := range m.Label {
			have[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if have[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		case m.Summary != nil:
			return float64(m.Summary.GetSampleCount()), true
		case m.Untyped != nil:
			return m.Untyped.GetValue(), true
		}
	}
	return 0, false
}

var grpcLine = regexp.MustCompile(`msg="cepd serving" .*grpc=(\S+)`)

// TestProcessMetrics runs cepd, sends it the card-testing example in two halves plus two
// malformed records, and checks what an operator reads: /metrics series with the values
// the events imply (received, decoded, dead letters by reason, live partial matches
// between the halves, the alert and its latencies, checkpoints, watermark), the probes,
// the gRPC health service and server reflection, and the rate-limited dead-letter log.
func TestProcessMetrics(t *testing.T) {
	dir := serveDir(t)
	logPath := filepath.Join(dir, "cepd.log")
	p := startCepdProc(t, buildCepd(t), logPath, serveDirArgs(dir, "--alerts-out", "",
		"--checkpoint-interval", "100ms", "--state-walk-interval", "100ms"))
	defer func() {
		if err := p.stop(10 * time.Second); err != nil {
			t.Error(err)
		}
	}()
	events, lines, fams := sendCardTestingInHalves(t, p.api)
	checkMetricSeries(t, fams, events, lines)
	for path, want := range map[string]int{"/livez": 200, "/readyz": 200, "/healthz": 200, "/debug/pprof/": 200} {
		if got := testhttp.Status(t, "http://"+p.api+path); got != want {
			t.Errorf("GET %s: %d, want %d", path, got, want)
		}
	}

	log, _ := os.ReadFile(logPath)
	checkGRPCHealthAndReflection(t, log)
	if !regexp.MustCompile(`msg="dead letter" reason=bad_json`).Match(log) {
		t.Errorf("no dead-letter line with its reason in the log")
	}

	checkRuleChangeObserved(t, p.api, dir, logPath)
}

// sendCardTestingInHalves posts the card-testing example to cepd at api in two halves
// with two malformed records after the first, waiting for a state walk to count the
// partial match between them, and returns the events, their lines and the metrics once
// the alert is counted.
func sendCardTestingInHalves(t *testing.T, api string) (events []byte, lines [][]byte, fams map[string]*dto.MetricFamily) {
	events, err := os.ReadFile(filepath.Join(fraudDir, "examples", "card-testing.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	lines = bytes.SplitAfter(bytes.TrimSpace(events), []byte("\n"))
	post := func(body []byte) {
		t.Helper()
		resp, err := http.Post("http://"+api+"/v1/events", "application/x-ndjson", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	// Up to the third probe of the first card: a live partial match of card-testing.
	half := 4
	post(bytes.Join(lines[:half], nil))
	post([]byte("{not json\n{\"ts\":\"2024-03-01T10:00:00Z\",\"type\":\"auth\"}\n"))
	waitFor(t, 10*time.Second, "a state walk counting card-testing's partial matches", func() bool {
		v, _ := sample(scrape(t, api), "cepd_partial_matches", map[string]string{"rule": "card-testing"})
		return v > 0
	})
	post(bytes.Join(lines[half:], nil))
	waitFor(t, 10*time.Second, "the card-testing alert in /metrics", func() bool {
		fams = scrape(t, api)
		v, _ := sample(fams, "cepd_alerts_total", map[string]string{"rule": "card-testing", "severity": "high", "kind": "match"})
		return v >= 1
	})
	return events, lines, fams
}

// checkMetricSeries: the /metrics series have the values the events imply, and no label
// carries a key or an event id.
func checkMetricSeries(t *testing.T, fams map[string]*dto.MetricFamily, events []byte, lines [][]byte) {
	n := float64(len(lines))
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   func(float64) bool
		what   string
	}{
		{"cepd_events_received_total", map[string]string{"source": "rest", "partition": "0"}, eq(n + 2), "every record sent"},
		{"cepd_events_decoded_total", nil, eq(n), "the well-formed events"},
		{"cepd_dead_letters_total", map[string]string{"reason": "bad_json"}, eq(1), "the broken line"},
		{"cepd_dead_letters_total", map[string]string{"reason": "missing_key"}, eq(1), "the keyless event"},
		{"cepd_detection_latency_seconds", map[string]string{"rule": "card-testing"}, ge(1), "one latency per alert"},
		{"cepd_event_time_latency_seconds", map[string]string{"rule": "card-testing"}, ge(1), "one latency per alert"},
		{"cepd_rule_eval_errors_total", map[string]string{"rule": "card-testing"}, ge(0), "counted per rule"},
		{"cepd_checkpoints_total", nil, ge(1), "checkpoints every 100ms"},
		{"cepd_checkpoint_duration_seconds", nil, ge(1), "checkpoint durations"},
		{"cepd_checkpoint_age_seconds", nil, between(0, 30), "a recent checkpoint"},
		{"cepd_checkpoint_failures_total", nil, eq(0), "no failure"},
		{"cepd_partition_watermark_seconds", map[string]string{"partition": "0"}, ge(float64(time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC).Unix())), "event time of March 2024"},
		{"cepd_partition_watermark_delay_seconds", map[string]string{"partition": "0"}, ge(3600), "events from 2024"},
		{"cepd_ingest_log_segments", nil, ge(1), "the REST ingest log"},
		{"cepd_ingest_log_bytes", nil, ge(float64(len(events))), "the events logged"},
		{"cepd_rules", nil, ge(10), "the fraud rules"},
		{"cepd_rule_reloads_total", nil, eq(0), "no reload yet"},
		{"cepd_process_resident_memory_bytes", nil, ge(1 << 20), "the process collector"},
		{"go_goroutines", nil, ge(1), "the Go collector"},
	} {
		v, ok := sample(fams, c.name, c.labels)
		if !ok {
			t.Errorf("%s%v: no such series (%s)", c.name, c.labels, c.what)
			continue
		}
		if !c.want(v) {
			t.Errorf("%s%v = %v: not %s", c.name, c.labels, v, c.what)
		}
	}
	for name, f := range fams { // bounded labels: never a key or an event id
		for _, m := range f.Metric {
			for _, l := range m.Label {
				if strings.HasPrefix(l.GetValue(), "ct-") {
					t.Errorf("%s has label %s=%q: a key or event id", name, l.GetName(), l.GetValue())
				}
			}
		}
	}
}

// checkGRPCHealthAndReflection: the gRPC server named in log answers the health service
// (server, readiness, a cep.v1 service) and lists cep.v1.Rules by reflection.
func checkGRPCHealthAndReflection(t *testing.T, log []byte) {
	m := grpcLine.FindSubmatch(log)
	if m == nil {
		t.Fatal("no gRPC address in the log")
	}
	conn, err := grpc.NewClient(string(m[1]), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	hc := healthpb.NewHealthClient(conn)
	for _, svc := range []string{"", "readiness", "cep.v1.Rules"} {
		r, err := hc.Check(ctx, &healthpb.HealthCheckRequest{Service: svc})
		if err != nil || r.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Errorf("grpc health %q: %v, %v", svc, r.GetStatus(), err)
		}
	}
	rc, err := reflectpb.NewServerReflectionClient(conn).ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := rc.Send(&reflectpb.ServerReflectionRequest{MessageRequest: &reflectpb.ServerReflectionRequest_ListServices{}}); err != nil {
		t.Fatal(err)
	}
	resp, err := rc.Recv()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range resp.GetListServicesResponse().GetService() {
		names = append(names, s.GetName())
	}
	if !strings.Contains(strings.Join(names, " "), "cep.v1.Rules") {
		t.Errorf("reflection lists %v, want cep.v1.Rules among them", names)
	}
}

// checkRuleChangeObserved: a rule change through the API gives one log line with rule,
// version and author, and the reload and its pause are counted.
func checkRuleChangeObserved(t *testing.T, api, dir, logPath string) {
	src, err := os.ReadFile(filepath.Join(dir, "rules", "card-testing.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(map[string]string{"source": strings.Replace(string(src), "severity: high", "severity: critical", 1)})
	req, _ := http.NewRequest(http.MethodPut, "http://"+api+"/v1/rules/card-testing", bytes.NewReader(body))
	req.Header.Set("X-Cepd-Author", "alice")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("PUT /v1/rules/card-testing: %d", res.StatusCode)
	}
	waitFor(t, 5*time.Second, "the reload in /metrics", func() bool {
		v, _ := sample(scrape(t, api), "cepd_rule_reload_pause_seconds", nil)
		return v == 1
	})
	if v, _ := sample(scrape(t, api), "cepd_rule_reloads_total", nil); v != 1 {
		t.Errorf("cepd_rule_reloads_total = %v after one change, want 1", v)
	}
	log, _ := os.ReadFile(logPath)
	if n := len(regexp.MustCompile(`msg="rule changed" rule=card-testing version=2 action=\S+ mode=active author=alice`).FindAll(log, -1)); n != 1 {
		t.Errorf("%d log lines for the rule change, want 1 naming rule, version and author", n)
	}
}

func eq(want float64) func(float64) bool { return func(v float64) bool { return v == want } }
func ge(want float64) func(float64) bool { return func(v float64) bool { return v >= want } }
func between(lo, hi float64) func(float64) bool {
	return func(v float64) bool { return v >= lo && v <= hi }
}

// waitFor polls ok every 50ms until it holds or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
