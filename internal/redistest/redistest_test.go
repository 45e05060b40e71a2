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
