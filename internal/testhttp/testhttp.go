package testhttp

import (
	"io"
	"net/http"
	"testing"
	"time"
)

// Status GETs url (within five seconds) and returns the response's status code; a
// request that fails fails the test.
func Status(t testing.TB, url string) int {
	t.Helper()
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// Post POSTs body to url and returns the response's status code and body; a request that
// fails fails the test. It waits as long as the server takes (tests that hold a request
// open on purpose use it).
func Post(t testing.TB, url, contentType string, body io.Reader) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, body)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	req.Header.Set("Content-Type", contentType)
	code, b := Do(t, req)
	return code, string(b)
}

// Do sends req with the default client and returns the response's status code and body;
// a request that fails fails the test.
func Do(t testing.TB, req *http.Request) (int, []byte) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}
