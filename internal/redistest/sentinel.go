package redistest

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// StartSentinel starts a Redis Sentinel that monitors the master at masterAddr under
// name and returns it (its Addr is the Sentinel's).
func StartSentinel(t testing.TB, masterAddr, name string) *Server {
	t.Helper()
	host, port, _ := strings.Cut(masterAddr, ":")
	conf := fmt.Sprintf("bind 127.0.0.1\nsentinel monitor %s %s %s 1\nsentinel down-after-milliseconds %s 5000\n", name, host, port, name)
	return startConf(t, conf, []string{"--sentinel"})
}

// StartClusterOf starts n cluster-enabled servers, joins them into a Redis Cluster of n
// masters with `redis-cli --cluster create`, and returns their addresses once every node
// reports cluster_state:ok. StartCluster (one node holding every slot) is faster; this
// one spreads the slots over several servers.
func StartClusterOf(t testing.TB, n int) []string {
	t.Helper()
	begin := time.Now()
	addrs := make([]string, n)
	for i := range addrs {
		addrs[i] = start(t, []string{"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
			"--cluster-node-timeout", "2000"}).Addr
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	args := append(append([]string{"--cluster", "create"}, addrs...), "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.CommandContext(ctx, cli(t), args...).CombinedOutput(); err != nil {
		t.Fatalf("redistest: redis-cli --cluster create: %v\n%s", err, out)
	}
	for _, a := range addrs {
		for {
			info, err := command(a, "CLUSTER", "INFO")
			if err == nil && strings.Contains(info, "cluster_state:ok") {
				break
			}
			if ctx.Err() != nil {
				t.Fatalf("redistest: cluster node %s not ok: %v\n%s", a, err, info)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	t.Logf("%d-master Redis Cluster ready in %v", n, time.Since(begin).Round(time.Millisecond))
	return addrs
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
