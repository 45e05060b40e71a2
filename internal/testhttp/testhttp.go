package testhttp

import (
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
