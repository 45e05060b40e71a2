package main

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// FuzzAPIHandlers sends arbitrary requests to the REST surface of a running API (rules,
// validation, shadow trials, alerts, events, admin, backtests): whatever the method, path
// and body, the answer is never a 5xx, and nothing crashes. (The endless alert stream is
// left out.)
func FuzzAPIHandlers(f *testing.F) {
	fx := startAPIFixtureWith(f, nil)
	client := &http.Client{Timeout: 10 * time.Second}
	seeds := []struct{ method, path, body string }{
		{"POST", "/v1/rules:validate", `{"source": "id: x\npattern:\n  - name: a\n    where: e.amount > 1.0\n"}`},
		{"POST", "/v1/rules", `{"source": "id: y\npattern:\n  - name: a\n    where: e.type == 'auth'\n", "comment": "c"}`},
		{"PUT", "/v1/rules/y", `{"source": 5}`},
		{"POST", "/v1/rules/y:rollback", `{"version": "one"}`},
		{"POST", "/v1/rules/y:setMode", `{"mode": "LOUD"}`},
		{"GET", "/v1/rules?tag=%ff&mode=shadow", ``},
		{"GET", "/v1/alerts?limit=-1&rule_id=", ``},
		{"POST", "/v1/events", "{\"card_id\":\n[1,2"},
		{"POST", "/v1/events:batch", `{"events": [{"a": 1}, 7, null]}`},
		{"DELETE", "/v1/rules/%00", ``},
		{"POST", "/v1/backtests", `{}`},
		{"POST", "/v1/backtests", `{"rules": [{"rule_id": "y", "version": -3}], "events_file": "/etc/passwd", "max_alerts": -1}`},
		{"POST", "/v1/backtests/bt-x:cancel", `{}`},
		{"POST", "/v1/rules/y:shadow", `{"source": "id: y\npattern: 3\n"}`},
		{"GET", "/v1/rules/y:compareShadow", ``},
		{"GET", "/v1/admin/stats", ``},
		{"GET", "/v1/rules/y:diff?from=1&to=99999999999999999999", ``},
	}
	for _, s := range seeds {
		f.Add(s.method, s.path, s.body)
	}
	f.Fuzz(func(t *testing.T, method, path, body string) {
		switch method {
		case "GET", "POST", "PUT", "DELETE", "PATCH":
		default:
			method = "POST"
		}
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		if strings.Contains(path, ":stream") {
			return
		}
		req, err := http.NewRequest(method, fx.base+path, strings.NewReader(body))
		if err != nil {
			return // not a URL a client could send
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode >= 500 {
			t.Fatalf("%s %s %q: %d %s", method, path, body, resp.StatusCode, b)
		}
	})
}
