package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/cepd/cepd/alerts"
	"github.com/cepd/cepd/api"
	cepv1 "github.com/cepd/cepd/api/cep/v1"
	"github.com/cepd/cepd/internal/testnet"
)

// badAlert is an alert whose key is not valid UTF-8, as an alerts file written before
// ingest checked events may hold.
func badAlert(n int) *alerts.Alert {
	t := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	a := &alerts.Alert{Kind: "match", RuleID: "big-twice", RuleVersion: "v", Severity: "high", Key: "c\xff\xfe",
		Steps:          []alerts.Step{{Step: "first", Events: []alerts.Event{{ID: fmt.Sprintf("bad%d\xff", n), Time: t}}}},
		FirstEventTime: t, LastEventTime: t}
	a.SetID()
	return a
}

// TestAPIInvalidUTF8: an event with invalid UTF-8 is refused with its own reason, and an
// alert holding such bytes (from before) breaks neither GET /v1/alerts, gRPC ListAlerts
// nor a gRPC stream: the bad bytes are replaced and the other alerts are listed.
func TestAPIInvalidUTF8(t *testing.T) {
	f := startAPIFixture(t)
	f.must("POST", "/v1/rules", `{"source": `+jsonString(bigTwice("100.0"))+`}`)
	resp, err := http.Post(f.base+"/v1/events", "application/x-ndjson",
		strings.NewReader("{\"event_id\":\"u1\",\"card_id\":\"c\xff\",\"ts\":\"2026-03-01T10:00:00Z\",\"type\":\"auth\",\"amount\":5000}\n"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"reason":"invalid_utf8"`) || !strings.Contains(string(body), `"rejected":1`) {
		t.Fatalf("invalid UTF-8 event: %d %s", resp.StatusCode, body)
	}

	conn, ctx := f.grpcCalls(10 * time.Second)
	ac := cepv1.NewAlertsClient(conn)
	stream, err := ac.StreamAlerts(ctx, &cepv1.StreamAlertsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Header(); err != nil {
		t.Fatal(err)
	}
	f.ring.Alert(badAlert(1))
	f.pair("good", 5000)
	if got := f.alerts("good", 1); len(got) != 1 {
		t.Fatalf("GET /v1/alerts after a bad alert: %d alerts of the good key", len(got))
	}
	all := f.must("GET", "/v1/alerts", "")["alerts"].([]any)
	if len(all) != 2 || !strings.Contains(fmt.Sprint(all), "c\ufffd") {
		t.Fatalf("GET /v1/alerts: %v", all)
	}
	list, err := ac.ListAlerts(ctx, &cepv1.ListAlertsRequest{})
	if err != nil || len(list.GetAlerts()) != 2 {
		t.Fatalf("gRPC ListAlerts: %v, %d alerts", err, len(list.GetAlerts()))
	}
	for i := range 2 { // the bad one, then the good one: the stream does not end at it
		a, err := stream.Recv()
		if err != nil {
			t.Fatalf("stream alert %d: %v", i, err)
		}
		if i == 1 && a.GetKey() != "good" {
			t.Fatalf("stream alert %d: key %q", i, a.GetKey())
		}
	}
}

// TestAPIStreamStall: a gRPC stream reader that stops reading is disconnected after the
// stall bound (ResourceExhausted), and so are SSE and NDJSON readers that never read
// (the connection closes), instead of holding a goroutine and a connection forever.
func TestAPIStreamStall(t *testing.T) {
	const stall = 300 * time.Millisecond
	f := startAPIFixtureOpts(t, nil, func(o *api.Options) { o.Limits.StreamStall = stall })
	flood := func(n int, pad int) {
		big := strings.Repeat("x", pad)
		for i := range n {
			a := badAlert(i)
			a.Key, a.Emit = "flood", alerts.Values{{Name: "pad", Value: big}}
			a.SetID()
			f.ring.Alert(a)
		}
	}

	conn, err := grpc.NewClient(f.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithInitialWindowSize(64<<10), grpc.WithInitialConnWindowSize(64<<10))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	stream, err := cepv1.NewAlertsClient(conn).StreamAlerts(ctx, &cepv1.StreamAlertsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Header(); err != nil {
		t.Fatal(err)
	}
	flood(200, 4000) // 800 KB: far more than the reader's window
	stallReading(stall)
	var n int
	for {
		_, err := stream.Recv()
		if err == nil {
			n++
			continue
		}
		if status.Code(err) != codes.ResourceExhausted {
			t.Fatalf("gRPC reader that stalled: after %d alerts %v, want ResourceExhausted", n, err)
		}
		break
	}
	t.Logf("gRPC: the stalled reader got %d alerts, then was disconnected", n)

	for _, accept := range []string{"text/event-stream", "application/json"} {
		stalledHTTPReader(t, f.base, accept, flood, stall)
	}
}

// stalledHTTPReader opens the alert stream of the API at base as accept, stops reading
// once it is subscribed, has flood publish 40 MB of alerts, and checks that the server
// disconnects the reader after the stall bound.
func stalledHTTPReader(t *testing.T, base, accept string, flood func(n, pad int), stall time.Duration) {
	c := testnet.Dial(t, strings.TrimPrefix(base, "http://"))
	defer c.Close() // before the next accept type opens its own
	fmt.Fprintf(c, "GET /v1/alerts:stream HTTP/1.1\r\nHost: x\r\nAccept: %s\r\n\r\n", accept)
	// The status line says the stream has subscribed (a fixed sleep was not always
	// enough on a loaded machine). The NDJSON stream sends it with its first alert:
	// one small alert every 50 ms until it comes. Then the reader stops reading.
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	status := make(chan error, 1)
	go func() {
		line, err := br.ReadString('\n')
		if err == nil && !strings.Contains(line, "200") {
			err = fmt.Errorf("status line %q", line)
		}
		status <- err
	}()
subscribed:
	for {
		select {
		case err := <-status:
			if err != nil {
				t.Fatalf("%s: %v", accept, err)
			}
			break subscribed
		case <-time.After(50 * time.Millisecond):
			flood(1, 10)
		}
	}
	flood(1000, 40000) // 40 MB: more than the socket buffers hold
	stallReading(stall)
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := io.Copy(io.Discard, br)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("%s: the stalled reader was not disconnected (%d bytes read)", accept, got)
	}
	t.Logf("%s: disconnected after %d bytes (%v)", accept, got, err)
}

// stallReading is how long a stalled reader does not read: three stall bounds, stretched
// by the load beyond one a core (loadPerCore). The server must fill the socket buffers
// (marshalling megabytes of alerts) before its writes block. At load 8 on 2 cores the
// NDJSON reader once read all 40 MB and was not disconnected: most likely the server had
// not filled them within three bounds, so no write of its waited a whole bound.
func stallReading(stall time.Duration) {
	time.Sleep(time.Duration(float64(3*stall) * max(1, loadPerCore())))
}

// writeCert writes a self-signed certificate for 127.0.0.1 and its key to dir.
func writeCert(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	cert, certPEM := selfSigned(t)
	kder, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	return certFile, keyFile, pool
}

// TestAPITLS: with --tls-cert/--tls-key both the REST API (through the gateway, which
// dials gRPC over TLS too) and gRPC speak TLS only; serve refuses tokens beyond loopback
// without TLS.
func TestAPITLS(t *testing.T) {
	certFile, keyFile, pool := writeCert(t, t.TempDir())
	lo := limitOptions{tlsCert: certFile, tlsKey: keyFile}
	lim, err := lo.httpLimits()
	if err != nil {
		t.Fatal(err)
	}
	f := startAPIFixtureOpts(t, nil, func(o *api.Options) { o.Limits = lim })
	host := strings.TrimPrefix(f.base, "http://")
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 10 * time.Second}
	resp, err := client.Get("https://" + host + "/v1/rules")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "rules") {
		t.Fatalf("REST over TLS: %d %s", resp.StatusCode, body)
	}
	if resp, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + host + "/v1/rules"); err == nil && resp.StatusCode == http.StatusOK {
		t.Fatal("REST in clear text answered 200 on a TLS listener")
	}
	conn, err := grpc.NewClient(f.grpcAddr, grpc.WithTransportCredentials(credentials.NewClientTLSFromCert(pool, "")))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := cepv1.NewRulesClient(conn).ListRules(ctx, &cepv1.ListRulesRequest{}); err != nil {
		t.Fatalf("gRPC over TLS: %v", err)
	}
	plain, err := grpc.NewClient(f.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	short, cancel2 := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel2()
	if _, err := cepv1.NewRulesClient(plain).ListRules(short, &cepv1.ListRulesRequest{}); err == nil {
		t.Fatal("gRPC in clear text answered on a TLS listener")
	}
}

// TestAPIRuleLimits: an oversized comment, an oversized source and a rule beyond the
// count limit each get a clear error and change nothing.
func TestAPIRuleLimits(t *testing.T) {
	f := startAPIFixture(t)
	code, out := f.do("POST", "/v1/rules", `{"source": `+jsonString(bigTwice("100.0"))+`, "comment": "`+strings.Repeat("<", 5000)+`"}`)
	if code != http.StatusBadRequest || !strings.Contains(fmt.Sprint(out["message"]), "comment has 5000 bytes") {
		t.Fatalf("5000-byte comment: %d %v", code, out)
	}
	if code, _ := f.do("GET", "/v1/rules/big-twice", ""); code != http.StatusNotFound {
		t.Fatalf("the refused rule was stored: %d", code)
	}
	if a := f.must("GET", "/v1/audit?rule_id=big-twice", "")["entries"]; len(a.([]any)) != 0 {
		t.Fatalf("the refused change is in the audit log: %v", a)
	}
}

// TestAPIEvalErrorsInStats: a live rule whose condition fails on the events it sees has
// its evaluation errors counted, with a recent message, in /v1/admin/stats.
func TestAPIEvalErrorsInStats(t *testing.T) {
	f := startAPIFixture(t)
	f.must("POST", "/v1/rules", `{"source": `+jsonString("id: needs-device\npattern:\n  - name: a\n    where: e.device_id == 'd-1'\n")+`}`)
	f.auths("c1", 10, 3) // no device_id: each evaluation fails
	if err := f.eng.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, r := range f.must("GET", "/v1/admin/stats", "")["rules"].([]any) {
		rs := r.(map[string]any)
		if rs["id"] != "needs-device" {
			continue
		}
		if n := fmt.Sprint(rs["eval_errors"]); n != "3" || !strings.Contains(fmt.Sprint(rs["last_eval_error"]), "device_id") {
			t.Fatalf("stats of the failing rule: %v", rs)
		}
		return
	}
	t.Fatal("the rule is not in the stats")
}

// checkStalledBody sends a request whose body never comes and checks that the server
// gives its connection up within the read timeout (well under 3 s).
func checkStalledBody(t *testing.T, host string) {
	t.Helper()
	slow := testnet.Dial(t, host)
	start := time.Now()
	fmt.Fprintf(slow, "POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
	_ = slow.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, _ := io.ReadAll(slow)
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("a stalled body held its connection for %s", d)
	}
	t.Logf("stalled body: answered %q after %s", strings.SplitN(string(resp), "\r\n", 2)[0], time.Since(start).Round(time.Millisecond))
	slow.Close()
}

// TestAPITimeoutsAndConnCap: a client that sends a request's headers and then stalls is
// cut after the read timeout; an alert stream outlives the read and write timeouts (only
// the stall bound applies to it); past the connection cap a new connection waits until
// one closes.
func TestAPITimeoutsAndConnCap(t *testing.T) {
	f := startAPIFixtureOpts(t, nil, func(o *api.Options) {
		o.Limits = api.Limits{ReadTimeout: 300 * time.Millisecond, WriteTimeout: 300 * time.Millisecond, IdleTimeout: time.Second, MaxConns: 3, StreamStall: 5 * time.Second}
	})
	host := strings.TrimPrefix(f.base, "http://")
	checkStalledBody(t, host)

	// A stream open longer than both timeouts still delivers.
	req, _ := http.NewRequest("GET", f.base+"/v1/alerts:stream", nil)
	req.Header.Set("Accept", "text/event-stream")
	sresp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer sresp.Body.Close()
	time.Sleep(time.Second)
	f.ring.Alert(badAlert(7))
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(sresp.Body)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "id: ") {
				lines <- sc.Text()
			}
		}
		close(lines)
	}()
	select {
	case _, ok := <-lines:
		if !ok {
			t.Fatal("the stream ended after the read and write timeouts")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no alert on a stream older than the timeouts")
	}

	// The stream holds one connection; two more fill the cap, the next waits.
	var held []net.Conn
	for range 2 {
		c := testnet.Dial(t, host)
		fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
		br := bufio.NewReader(c)
		if line, err := br.ReadString('\n'); err != nil || !strings.Contains(line, "200") {
			t.Fatalf("connection within the cap: %q %v", line, err)
		}
		held = append(held, c)
	}
	extra := testnet.Dial(t, host) // the kernel accepts; cepd does not serve it yet
	fmt.Fprintf(extra, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
	_ = extra.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if _, err := bufio.NewReader(extra).ReadString('\n'); err == nil {
		t.Fatal("a connection beyond the cap was served")
	}
	held[0].Close()
	_ = extra.SetReadDeadline(time.Now().Add(5 * time.Second))
	if line, err := bufio.NewReader(extra).ReadString('\n'); err != nil || !strings.Contains(line, "200") {
		t.Fatalf("after a connection closed, the waiting one: %q %v", line, err)
	}
	for _, c := range held[1:] {
		c.Close()
	}
}

// TestAPIFarFutureEvent: the event, whose ms*1e6 wrapped to 2029, is refused with
// its own reason and detection goes on for the events after it.
func TestAPIFarFutureEvent(t *testing.T) {
	f := startAPIFixture(t)
	f.must("POST", "/v1/rules", `{"source": `+jsonString(bigTwice("100.0"))+`}`)
	resp, err := http.Post(f.base+"/v1/events", "application/x-ndjson", strings.NewReader(
		`{"event_id":"t8","card_id":"tc","ts":10000000000000000,"type":"auth"}`+"\n"+
			`{"event_id":"t9","card_id":"tc","ts":"9999-12-31T23:59:59Z","type":"auth"}`+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || strings.Count(string(body), `"reason":"time_out_of_range"`) != 2 {
		t.Fatalf("far-future events: %d %s", resp.StatusCode, body)
	}
	f.pair("after", 5000)
	if got := f.alerts("after", 1); len(got) != 1 {
		t.Fatalf("%d alerts after the far-future events, want 1", len(got))
	}
}
