package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"
)

// TestAlertStreamNDJSONBare checks that the newline-delimited JSON stream writes each alert
// as GET /v1/alerts lists it (an object with id, rule_id, …), not wrapped in {"result": …}.
func TestAlertStreamNDJSONBare(t *testing.T) {
	f := startAPIFixture(t)
	f.must("POST", "/v1/rules", `{"source": `+jsonString(bigTwice("100.0"))+`}`)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", f.base+"/v1/alerts:stream", nil)
	lines := make(chan []byte, 1)
	go func() { // the gateway sends the headers with the first message
		defer close(lines)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return
		}
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		if sc.Scan() {
			lines <- append([]byte(nil), sc.Bytes()...)
		}
	}()
	// The stream may subscribe after the first alert: make one alert after another until
	// a line comes.
	var b []byte
	for i := 0; b == nil; i++ {
		f.pair(fmt.Sprintf("s%d", i), 150)
		select {
		case got, ok := <-lines:
			if !ok {
				t.Fatal("the stream ended without a line")
			}
			b = got
		case <-time.After(200 * time.Millisecond):
		}
	}
	var line map[string]any
	if err := json.Unmarshal(b, &line); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	if line["rule_id"] != "big-twice" || line["id"] == nil || line["result"] != nil {
		t.Fatalf("stream line is not a bare alert: %s", b)
	}
	listed := f.must("GET", "/v1/alerts?key="+line["key"].(string), "")["alerts"].([]any)
	if len(listed) != 1 || listed[0].(map[string]any)["id"] != line["id"] {
		t.Fatalf("listed %v, streamed %v", listed, line["id"])
	}
}
