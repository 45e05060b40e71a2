package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// hugeTwice is the API tests' rule (bigTwice) as huge-twice, at threshold.
func hugeTwice(threshold string) string {
	return strings.Replace(bigTwice(threshold), "id: big-twice", "id: huge-twice", 1)
}

// send sends a JSON request to p's API and wants 200.
func (p *cepdProc) send(t *testing.T, method, path, body string) {
	t.Helper()
	if code, _ := apiCall(t, p, method, path, body); code != http.StatusOK {
		t.Fatalf("%s %s: %d", method, path, code)
	}
}

// waitRunningVersion waits until p runs version v of rule and returns how long that took.
func (p *cepdProc) waitRunningVersion(t *testing.T, rule string, v int) time.Duration {
	t.Helper()
	start := time.Now()
	for time.Since(start) < 5*time.Second {
		var r struct {
			RunningVersion int `json:"running_version"`
		}
		resp, err := http.Get("http://" + p.api + "/v1/rules/" + rule)
		if err == nil {
			if resp.StatusCode == http.StatusOK {
				err = json.NewDecoder(resp.Body).Decode(&r)
			}
			resp.Body.Close()
		}
		if err == nil && r.RunningVersion == v {
			return time.Since(start)
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("%s: version %d of %s not served within 5s", filepath.Base(p.log), v, rule)
	return 0
}

// TestProcessesSharedRuleStore: two cepd processes in one consumer group share their rules
// through Redis (--rules-store redis). A rule created through one instance reaches the
// other within a second, and both then match it on their own partitions; an update through
// the second reaches the first. The directory seeds the store once.
func TestProcessesSharedRuleStore(t *testing.T) {
	e := newProcEnv(t, 0, false)
	start := func(name string) *cepdProc {
		rules := filepath.Join(e.dir, name+"-rules")
		copyCardRules(t, rules)
		return startCepdProc(t, e.bin, filepath.Join(e.dir, name+".log"), serveArgs(rules, filepath.Join(e.dir, name),
			"--alerts-out=", "--kafka-brokers", e.kafka, "--kafka-topics", "events", "--kafka-group", "shared",
			"--kafka-client-id", name, "--alerts-topic", "alerts", "--dlq-topic", "cepd-dlq",
			"--kafka-session-timeout", "3s", "--kafka-heartbeat-interval", "300ms",
			"--redis-addr", e.redis.Addr, "--rules-store", "redis"))
	}
	a, b := start("a"), start("b")
	e.waitGroup("shared", "two members with three partitions each", 30*time.Second, func(ms []member) bool {
		return len(ms) == 2 && len(ms[0].parts) == 3 && len(ms[1].parts) == 3
	})
	sharedStoreSeeded(t, a, b)
	sharedRuleChange(t, a, b)
	sharedListChange(t, a, b)
	sharedRuleMatchedOnBoth(t, e, a, b)
	for _, p := range []*cepdProc{a, b} {
		if err := p.stop(20 * time.Second); err != nil {
			t.Error(err)
		}
	}
}

// sharedStoreSeeded: both instances list the fraud rules, seeded once from the directory.
func sharedStoreSeeded(t *testing.T, a, b *cepdProc) {
	var list struct{ Rules []struct{ ID string } }
	a.get(t, "/v1/rules", &list)
	nFraud := len(list.Rules)
	b.get(t, "/v1/rules", &list)
	if nFraud < 10 || len(list.Rules) != nFraud {
		t.Fatalf("seeded rules: a has %d, b %d", nFraud, len(list.Rules))
	}
	var versions struct{ Versions []struct{ Version int } }
	a.get(t, "/v1/rules/card-testing/versions", &versions)
	if len(versions.Versions) != 1 {
		t.Fatalf("card-testing was seeded %d times", len(versions.Versions))
	}
}

// sharedRuleChange: a rule created through a reaches b within a second, an update
// through b reaches a.
func sharedRuleChange(t *testing.T, a, b *cepdProc) {
	send := func(p *cepdProc, method, path, body string) { t.Helper(); p.send(t, method, path, body) }
	seen := func(p *cepdProc, v int) time.Duration { t.Helper(); return p.waitRunningVersion(t, "huge-twice", v) }
	send(a, "POST", "/v1/rules", `{"source": `+jsonString(hugeTwice("50000.0"))+`}`)
	d1 := seen(b, 1)
	send(b, "PUT", "/v1/rules/huge-twice", `{"source": `+jsonString(hugeTwice("40000.0"))+`}`)
	d2 := seen(a, 2)
	t.Logf("a rule change reached the other instance in %v (create through a) and %v (update through b)", d1, d2)
	if d1 > time.Second || d2 > time.Second {
		t.Errorf("a change took more than a second to reach the other instance: %v, %v", d1, d2)
	}
}

// sharedListChange: the lists were seeded once from the directory; a change through one
// instance is loaded by the other within a second (the store's change notice).
func sharedListChange(t *testing.T, a, b *cepdProc) {
	var lv struct{ Versions []struct{ Version int } }
	b.get(t, "/v1/lists/merchant_watch/versions", &lv)
	if len(lv.Versions) != 1 {
		t.Fatalf("merchant_watch was seeded %d times", len(lv.Versions))
	}
	a.send(t, "POST", "/v1/lists/merchant_watch:add", `{"values": ["m777777"], "comment": "shared"}`)
	listStart := time.Now()
	for {
		var l struct {
			LoadedVersion int `json:"loaded_version"`
		}
		b.get(t, "/v1/lists/merchant_watch", &l)
		if l.LoadedVersion == 2 {
			break
		}
		if time.Since(listStart) > 5*time.Second {
			t.Fatalf("b did not load version 2 of merchant_watch within 5s (loaded %d)", l.LoadedVersion)
		}
		time.Sleep(5 * time.Millisecond)
	}
	d3 := time.Since(listStart)
	t.Logf("a list change reached the other instance in %v", d3)
	if d3 > time.Second {
		t.Errorf("a list change took %v to reach the other instance", d3)
	}
}

// sharedRuleMatchedOnBoth: both instances run version 2 (amounts over 40000) on their
// partitions: every card alerts once, on one instance or the other.
func sharedRuleMatchedOnBoth(t *testing.T, e *procEnv, a, b *cepdProc) {
	const cards = 40
	for j := 0; j < 2; j++ { // in time order: each partition's watermark follows its events
		for i := 0; i < cards; i++ {
			ts := time.Date(2026, 3, 1, 10, 0, j*cards+i, 0, time.UTC).Format(time.RFC3339)
			e.w.lines = append(e.w.lines, []byte(fmt.Sprintf(`{"event_id":"h%d-%d","card_id":"hc-%d","ts":"%s","type":"auth","amount":45000}`, i, j, i, ts)))
		}
	}
	e.produce(0).wait(t)
	byInstance := map[string]int{}
	keys := map[string]bool{}
	for deadline := time.Now().Add(15 * time.Second); len(keys) < cards && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		for name, p := range map[string]*cepdProc{"a": a, "b": b} {
			var out struct{ Alerts []struct{ Key string } }
			p.get(t, "/v1/alerts?rule_id=huge-twice&limit=1000", &out)
			byInstance[name] = len(out.Alerts)
			for _, al := range out.Alerts {
				keys[al.Key] = true
			}
		}
	}
	if len(keys) != cards || byInstance["a"] == 0 || byInstance["b"] == 0 || byInstance["a"]+byInstance["b"] != cards {
		var missing []string
		for i := 0; i < cards; i++ {
			if k := fmt.Sprintf("hc-%d", i); !keys[k] {
				missing = append(missing, k)
			}
		}
		t.Errorf("alerts of the shared rule: %d keys of %d (missing %v), by instance %v; stats a %+v, b %+v",
			len(keys), cards, missing, byInstance, a.stats(t), b.stats(t))
	}
}
