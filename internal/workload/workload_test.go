package workload

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/cepd/cepd/event"
	"github.com/cepd/cepd/event/jsondecode"
	"github.com/cepd/cepd/internal/fraudtest"
)

func generate(t testing.TB, cfg Config) ([]byte, Stats) {
	t.Helper()
	g, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if _, err := g.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes(), g.Stats()
}

func testConfig(events int64) Config {
	cfg := DefaultConfig()
	cfg.Cards = 2000
	cfg.Events = events
	return cfg
}

func lines(b []byte) [][]byte {
	return bytes.Split(bytes.TrimSuffix(b, []byte("\n")), []byte("\n"))
}

func TestDeterministic(t *testing.T) {
	cfg := testConfig(20000)
	a, _ := generate(t, cfg)
	b, _ := generate(t, cfg)
	if !bytes.Equal(a, b) {
		t.Fatal("two runs with the same config differ")
	}
	cfg.Seed++
	c, _ := generate(t, cfg)
	if bytes.Equal(a, c) {
		t.Fatal("different seeds give the same stream")
	}
	// Next and WriteTo give the same bytes.
	g, err := New(testConfig(20000))
	if err != nil {
		t.Fatal(err)
	}
	var d []byte
	for ok := true; ok; {
		d, ok = g.Next(d)
	}
	if !bytes.Equal(a, d) {
		t.Fatal("Next and WriteTo differ")
	}
}

func TestExactCount(t *testing.T) {
	for _, n := range []int64{0, 1, 7, 1000, 12345} {
		b, s := generate(t, testConfig(n))
		got := int64(bytes.Count(b, []byte("\n")))
		if got != n || s.Events != n {
			t.Errorf("asked for %d events, got %d lines (stats %d)", n, got, s.Events)
		}
	}
}

// TestSchemaValid decodes every event with the fraud rule set's schema and checks the
// fields every event type should carry.
func TestSchemaValid(t *testing.T) {
	schema := fraudtest.Schema(t)
	dec := jsondecode.NewDecoder(schema)
	b, _ := generate(t, testConfig(30000))
	ids := map[string]bool{}
	auths := map[string]bool{}
	need := map[string][]string{
		"auth":           {"amount", "currency", "merchant_id", "mcc", "card_present", "channel", "auth_id"},
		"capture":        {"amount", "merchant_id", "auth_id"},
		"reversal":       {"amount", "auth_id"},
		"refund":         {"amount", "merchant_id", "auth_id"},
		"login":          {"device_id", "ip", "lat", "lon", "channel"},
		"password_reset": {"device_id", "ip"},
		"device_change":  {"device_id", "ip"},
		"transfer":       {"amount", "device_id", "ip"},
	}
	var ev event.Event
	for i, line := range lines(b) {
		if err := dec.Decode(line, &ev); err != nil {
			t.Fatalf("line %d: %v\n%s", i+1, err, line)
		}
		if ids[ev.ID()] {
			t.Fatalf("line %d: duplicate event id %s", i+1, ev.ID())
		}
		ids[ev.ID()] = true
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatal(err)
		}
		typ, _ := m["type"].(string)
		fields, ok := need[typ]
		if !ok {
			t.Fatalf("line %d: unknown type %q", i+1, typ)
		}
		for _, f := range fields {
			if _, ok := m[f]; !ok {
				t.Fatalf("line %d: %s event without %s: %s", i+1, typ, f, line)
			}
		}
		if l, ok := m["label"].(string); ok && !slices.Contains(ScenarioNames(), l) {
			t.Fatalf("line %d: unknown label %q", i+1, l)
		}
		if typ == "auth" {
			auths[m["auth_id"].(string)] = true
		}
	}
	// Captures and reversals settle authorisations the stream holds (refunds may refer
	// to purchases made before it began: the refund-spree scenario's do).
	for _, line := range lines(b) {
		var m map[string]any
		_ = json.Unmarshal(line, &m)
		if typ := m["type"]; (typ == "capture" || typ == "reversal") && !auths[m["auth_id"].(string)] {
			t.Fatalf("%s of an unknown authorisation: %s", typ, line)
		}
	}
}

func TestLabelRate(t *testing.T) {
	cfg := testConfig(100000)
	cfg.Cards = 10000
	b, s := generate(t, cfg)
	n := bytes.Count(b, []byte(`"label":"`))
	if int64(n) != s.Labelled {
		t.Fatalf("%d labelled lines, stats say %d", n, s.Labelled)
	}
	rate := float64(n) / float64(cfg.Events)
	if rate < 0.005 || rate > 0.009 {
		t.Errorf("labelled share %.4f, want close to %.4f", rate, cfg.FraudRate)
	}
	for _, sc := range s.Scenarios {
		if sc.Instances == 0 {
			t.Errorf("scenario %s never injected", sc.Name)
		}
	}
	cfg.FraudRate = 0
	b, _ = generate(t, cfg)
	if bytes.Contains(b, []byte(`"label"`)) {
		t.Error("fraud rate 0 still labels events")
	}
	cfg.FraudRate = 0.05
	cfg.Scenarios = []string{"atm-cashout", "refund-spree"}
	_, s = generate(t, cfg)
	for _, sc := range s.Scenarios {
		if want := slices.Contains(cfg.Scenarios, sc.Name); want != (sc.Instances > 0) {
			t.Errorf("scenario %s: %d instances with Scenarios = %v", sc.Name, sc.Instances, cfg.Scenarios)
		}
	}
}

// TestOutOfOrderBounded checks that no event comes after one MaxLateness or more younger
// than itself, and that about LateRate of them come late at all.
func TestOutOfOrderBounded(t *testing.T) {
	for _, maxLate := range []time.Duration{5 * time.Second, 200 * time.Millisecond} {
		cfg := testConfig(50000)
		cfg.MaxLateness = maxLate
		b, s := generate(t, cfg)
		var maxSeen time.Time
		late := 0
		for _, line := range lines(b) {
			var m struct{ TS time.Time }
			if err := json.Unmarshal(line, &m); err != nil {
				t.Fatal(err)
			}
			if m.TS.Before(maxSeen) {
				late++
				if lag := maxSeen.Sub(m.TS); lag >= maxLate {
					t.Fatalf("event %s late by %v, bound %v", line, lag, maxLate)
				}
			}
			if m.TS.After(maxSeen) {
				maxSeen = m.TS
			}
		}
		frac := float64(late) / float64(cfg.Events)
		if frac == 0 || frac > 2*cfg.LateRate {
			t.Errorf("max lateness %v: %.4f of events out of order, want (0, %.4f]", maxLate, frac, 2*cfg.LateRate)
		}
		if s.Late < int64(late) {
			t.Errorf("stats count %d late events, but %d came out of order", s.Late, late)
		}
	}
	cfg := testConfig(20000)
	cfg.LateRate = 0
	b, _ := generate(t, cfg)
	prev := ""
	for _, line := range lines(b) {
		ts := string(line[bytes.Index(line, []byte(`"ts":"`))+6:][:24])
		if ts < prev {
			t.Fatalf("late rate 0 but %s after %s", ts, prev)
		}
		prev = ts
	}
}

func TestRhythm(t *testing.T) {
	// More events by day than by night: cards mostly live in Europe and the Americas, so
	// compare 12:00–20:00 UTC with 02:00–06:00 UTC.
	b, _ := generate(t, testConfig(50000))
	var day, night int
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Bytes()
		i := bytes.Index(line, []byte(`"ts":"`)) + 6 + 11
		h := int(line[i]-'0')*10 + int(line[i+1]-'0')
		switch {
		case h >= 12 && h < 20:
			day++
		case h >= 2 && h < 6:
			night++
		}
	}
	if day < 3*night {
		t.Errorf("%d events 12–20 UTC vs %d 02–06 UTC: no daily rhythm", day, night)
	}
}

func TestAppendTS(t *testing.T) {
	g := &Generator{}
	for _, ms := range []int64{0, 1, 999, 86399999, 86400000, -1, -86400000, 1704067200123, 1709251199999, 253402300799999} {
		want := time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z07:00")
		if got := string(g.appendTS(nil, ms)); got != want {
			t.Errorf("appendTS(%d) = %s, want %s", ms, got, want)
		}
	}
}

func TestValidate(t *testing.T) {
	bad := []func(*Config){
		func(c *Config) { c.Cards = 0 },
		func(c *Config) { c.Events = -1 },
		func(c *Config) { c.FraudRate = 0.9 },
		func(c *Config) { c.LateRate = -0.1 },
		func(c *Config) { c.MaxLateness = time.Microsecond },
		func(c *Config) { c.Scenarios = []string{"no-such"} },
	}
	for i, f := range bad {
		cfg := DefaultConfig()
		f(&cfg)
		if _, err := New(cfg); err == nil {
			t.Errorf("case %d: New accepted %+v", i, cfg)
		}
	}
}

func BenchmarkGenerate(b *testing.B) {
	cfg := DefaultConfig()
	cfg.Cards = 100000
	cfg.Events = int64(b.N)
	g, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 0, 1024)
	var n int
	b.ResetTimer()
	for range b.N {
		buf, _ = g.Next(buf[:0])
		n += len(buf)
	}
	b.SetBytes(int64(n / max(b.N, 1)))
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

func ExampleGenerator_Next() {
	cfg := DefaultConfig()
	cfg.Cards, cfg.Events, cfg.FraudRate = 10, 2, 0
	g, _ := New(cfg)
	var line []byte
	for ok := true; ok; {
		line, ok = g.Next(line[:0])
		fmt.Print(string(line))
	}
	// Output:
	// {"event_id":"e0000000001","card_id":"c0000008","account_id":"a0000008","ts":"2024-01-01T00:42:00.375Z","type":"auth","amount":3.21,"currency":"INR","merchant_id":"m000862","mcc":"5816","category":"games","country":"IN","city":"Mumbai","lat":19.0363,"lon":72.9048,"card_present":false,"channel":"ecom","device_id":"d9","ip":"103.59.208.234","auth_id":"au0000000001"}
	// {"event_id":"e0000000002","card_id":"c0000008","account_id":"a0000008","ts":"2024-01-01T00:44:07.316Z","type":"capture","amount":3.21,"currency":"INR","merchant_id":"m000862","mcc":"5816","category":"games","auth_id":"au0000000001"}
}
