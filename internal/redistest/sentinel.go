package redistest

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// StartSentinel starts a Redis Sentinel that monitors the master at masterAddr under
// name and returns it (its Addr is the Sentinel's).
func StartSentinel(t testing.TB, masterAddr, name string) *Server {
	t.Helper()
	host, port, _ := strings.Cut(masterAddr, ":")
	conf := fmt.Sprintf("bind 127.0.0.1\nsentinel monitor %s %s %s 1\nsentinel down-after-milliseconds %s 5000\n", name, host, port, name)
	return startConf(t, conf, []string{"--sentinel"})
}

// cli finds redis-cli beside redis-server.
func cli(t testing.TB) string {
	t.Helper()
	p := filepath.Join(filepath.Dir(binary(t)), "redis-cli")
	if _, err := exec.LookPath(p); err != nil {
		t.Fatalf("redistest: redis-cli not found beside redis-server (%s): install redis-tools", p)
	}
	return p
}
