package redistest

import (
	"strings"
	"testing"
)

func TestStopStart(t *testing.T) {
	t.Parallel()
	s := StartServer(t)
	if _, err := command(s.Addr, "SET", "k", "v"); err != nil {
		t.Fatal(err)
	}
	s.Stop()
	if _, err := command(s.Addr, "PING"); err == nil {
		t.Fatal("PING answered after Stop")
	}
	s.Start()
	if v, err := command(s.Addr, "EXISTS", "k"); err != nil || v != "0" {
		t.Fatalf("after a restart: EXISTS k = %q %v, want 0 (no persistence)", v, err)
	}
	s.Stop()
	s.Stop() // a no-op
}

func TestStartCluster(t *testing.T) {
	t.Parallel() // a cluster node takes 2 s to report ok
	addr := StartCluster(t)
	// Keys of different slots in one command are refused: Cluster rules apply.
	_, err := command(addr, "MSET", "a", "1", "b", "2")
	if err == nil || !strings.Contains(err.Error(), "CROSSSLOT") {
		t.Fatalf("MSET across slots: %v, want CROSSSLOT", err)
	}
	if _, err := command(addr, "MSET", "{t}a", "1", "{t}b", "2"); err != nil {
		t.Fatal(err)
	}
	if a := Start(t); a == addr {
		t.Fatalf("two servers on %s", a)
	}
}

// TestStartClusterN: three masters with a replica each; a key written to its master
// (and replicated: WAIT) is still there after CLUSTER FAILOVER made the replica master.
func TestStartClusterN(t *testing.T) {
	t.Parallel()
	c := StartClusterN(t, 3, 1)
	if n := len(c.Nodes); n != 6 {
		t.Fatalf("%d nodes, want 6", n)
	}
	if ms := c.Masters(); len(ms) != 3 {
		t.Fatalf("masters %v, want 3", ms)
	}
	const key = "{p7}:keys"
	m := c.MasterOf(key)
	if _, err := command(m, "SET", key, "v1"); err != nil {
		t.Fatal(err)
	}
	if n, err := command(m, "WAIT", "1", "2000"); err != nil || n != "1" {
		t.Fatalf("WAIT: %q %v", n, err)
	}
	from, to := c.Failover(key)
	if from != m || to == m {
		t.Fatalf("failover from %s to %s; the master was %s", from, to, m)
	}
	if got := c.MasterOf(key); got != to {
		t.Fatalf("master of %s after the failover: %s, want %s", key, got, to)
	}
	if v, err := command(to, "GET", key); err != nil || v != "v1" {
		t.Fatalf("GET on the new master: %q %v", v, err)
	}
	if _, err := command(from, "SET", key, "v2"); err == nil || !strings.Contains(err.Error(), "MOVED") {
		t.Fatalf("SET on the old master: %v, want MOVED", err)
	}
}
