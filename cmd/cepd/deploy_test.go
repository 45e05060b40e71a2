package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"gopkg.in/yaml.v3"

	"github.com/cepd/cepd/internal/testhttp"
)

const deployDir = "../../deploy"

// exported returns the metric names a scrape holds, as PromQL can name them (a
// histogram's _bucket, _sum and _count too).
func exported(fams map[string]*dto.MetricFamily, into map[string]bool) {
	for name, f := range fams {
		into[name] = true
		switch f.GetType() {
		case dto.MetricType_HISTOGRAM:
			into[name+"_bucket"], into[name+"_sum"], into[name+"_count"] = true, true, true
		case dto.MetricType_SUMMARY:
			into[name+"_sum"], into[name+"_count"] = true, true
		}
	}
}

var metricName = regexp.MustCompile(`\b(?:cepd|go)_[a-zA-Z0-9_]+\b`)

// TestDeployDashboardAndRules: every query of the Grafana dashboard and every alerting
// rule names metrics that a running cepd exports (scraped from two real processes, one
// on REST ingest with a webhook, one consuming Kafka), the dashboard is well-formed, and
// the rules pass `promtool check rules` and their unit tests (`promtool test rules`).
func TestDeployDashboardAndRules(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("promtool is needed (Debian package prometheus; scripts/test.sh installs it)")
	}
	names := map[string]bool{}
	events := restExportedMetrics(t, names)
	kafkaExportedMetrics(t, names, events)
	check := func(where, expr string) {
		t.Helper()
		for _, n := range metricName.FindAllString(expr, -1) {
			if !names[n] {
				t.Errorf("%s names %s, which cepd does not export (query: %s)", where, n, expr)
			}
		}
	}
	checkDashboard(t, check)
	checkAlertingRules(t, promtool, check)
}

// restExportedMetrics runs cepd on REST ingest with the ingest log and a webhook, adds the
// metrics it exports to names once an alert is delivered and a checkpoint made, and
// returns the events it sent.
func restExportedMetrics(t *testing.T, names map[string]bool) []byte {
	hook := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer hook.Close()

	dir := serveDir(t)
	rest := startCepdProc(t, buildCepd(t), filepath.Join(dir, "rest.log"), serveDirArgs(dir, "--alerts-out=",
		"--checkpoint-interval", "100ms", "--state-walk-interval", "100ms", "--webhook-url", hook.URL))
	events, err := os.ReadFile(filepath.Join(fraudDir, "examples", "card-testing.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post("http://"+rest.api+"/v1/events", "application/x-ndjson", bytes.NewReader(append(events, "\n{not json\n"...)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var fams map[string]*dto.MetricFamily
	waitFor(t, 10*time.Second, "an alert delivered to the webhook and a checkpoint", func() bool {
		fams = scrape(t, rest.api)
		v, _ := sample(fams, "cepd_sink_delivery_latency_seconds", map[string]string{"sink": "webhook"})
		_, ckpt := sample(fams, "cepd_checkpoint_age_seconds", nil)
		return v >= 1 && ckpt
	})
	exported(fams, names)
	if err := rest.stop(10 * time.Second); err != nil {
		t.Error(err)
	}
	return events
}

// kafkaExportedMetrics runs cepd with Kafka in, alerts and dead letters to Kafka and
// checkpoints in Redis, and adds the metrics it exports to names.
func kafkaExportedMetrics(t *testing.T, names map[string]bool, events []byte) {
	var fams map[string]*dto.MetricFamily
	e := newProcEnv(t, 0, false)
	e.w.lines = append(e.w.lines, bytes.Split(bytes.TrimSpace(events), []byte("\n"))...)
	e.w.lines = append(e.w.lines, []byte(`{"card_id":"no-time","type":"auth"}`))
	kp := e.startCepd("kafka", "k", "k1", "ops", "--state-walk-interval", "100ms")
	e.produce(0).wait(t)
	waitFor(t, 30*time.Second, "Kafka lag, an alert delivered and a checkpoint in /metrics", func() bool {
		fams = scrape(t, kp.api)
		_, lag := sample(fams, "cepd_kafka_lag_records", nil)
		v, _ := sample(fams, "cepd_sink_delivery_latency_seconds", map[string]string{"sink": "kafka"})
		_, ckpt := sample(fams, "cepd_checkpoint_age_seconds", nil)
		return lag && v >= 1 && ckpt
	})
	exported(fams, names)
	if got := testhttp.Status(t, "http://"+kp.api+"/readyz"); got != http.StatusOK {
		t.Errorf("/readyz of the Kafka instance that claimed and restored its partitions: %d", got)
	}
	if err := kp.stop(15 * time.Second); err != nil {
		t.Error(err)
	}
}

// checkDashboard: the Grafana dashboard is well-formed and check accepts every query.
func checkDashboard(t *testing.T, check func(where, expr string)) {
	raw, err := os.ReadFile(filepath.Join(deployDir, "grafana", "cepd-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		UID    string `json:"uid"`
		Title  string `json:"title"`
		Panels []struct {
			Type    string `json:"type"`
			Title   string `json:"title"`
			ID      int    `json:"id"`
			Targets []struct {
				Expr  string `json:"expr"`
				RefID string `json:"refId"`
			} `json:"targets"`
		} `json:"panels"`
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&dash); err != nil {
		t.Fatalf("dashboard: %v", err)
	}
	if dash.UID == "" || dash.Title == "" {
		t.Errorf("dashboard without uid or title")
	}
	ids, queries := map[int]bool{}, 0
	for _, p := range dash.Panels {
		if ids[p.ID] {
			t.Errorf("panel id %d twice", p.ID)
		}
		ids[p.ID] = true
		if p.Type != "row" && len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, q := range p.Targets {
			if q.Expr == "" || q.RefID == "" {
				t.Errorf("panel %q: a target without expr or refId", p.Title)
			}
			queries++
			check("dashboard panel "+p.Title, q.Expr)
		}
	}
	if queries < 20 {
		t.Errorf("the dashboard has %d queries", queries)
	}
}

// checkAlertingRules: the alerting rules pass promtool's check and unit tests, check
// accepts every expression, and docs/operations.md explains every alert.
func checkAlertingRules(t *testing.T, promtool string, check func(where, expr string)) {
	rules := filepath.Join(deployDir, "prometheus", "cepd-alerts.yaml")
	if out, err := exec.Command(promtool, "check", "rules", rules).CombinedOutput(); err != nil {
		t.Errorf("promtool check rules: %v\n%s", err, out)
	}
	cmd := exec.Command(promtool, "test", "rules", "cepd-alerts.test.yaml")
	cmd.Dir = filepath.Join(deployDir, "prometheus")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool test rules: %v\n%s", err, out)
	}
	raw, err := os.ReadFile(rules)
	if err != nil {
		t.Fatal(err)
	}
	var rf struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
				Expr  string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(raw, &rf); err != nil {
		t.Fatal(err)
	}
	var alerts []string
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			alerts = append(alerts, r.Alert)
			check("alert "+r.Alert, r.Expr)
		}
	}
	sort.Strings(alerts)
	// Every alert is explained for the operator.
	ops, err := os.ReadFile("../../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range alerts {
		if !bytes.Contains(ops, []byte("### "+a)) {
			t.Errorf("docs/operations.md has no section \"### %s\"", a)
		}
	}
}
