package redistest

import (
	"context"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
)

// clusterTimeout bounds forming a cluster and a failover.
const clusterTimeout = 30 * time.Second

// Cluster is a Redis Cluster of masters with replicas, each node a redis-server on
// 127.0.0.1 started by StartClusterN. Roles change with Failover: ask Masters.
type Cluster struct {
	// Nodes are every node, masters first as created (a failover changes roles, not
	// this order).
	Nodes []*Server
	t     testing.TB
}

// StartClusterN starts masters × (1 + replicas) cluster-enabled redis-servers, joins
// them with `redis-cli --cluster create` (slots spread evenly over the masters, each
// replica following a master) and returns once every node reports cluster_state:ok
// and every replica's link to its master is up. The node timeout is 2 s (a failed
// master is noticed in seconds). Connect with a Cluster client seeded with Addrs.
func StartClusterN(t testing.TB, masters, replicas int) *Cluster {
	t.Helper()
	if masters < 1 || replicas < 0 {
		t.Fatalf("redistest: a cluster of %d masters with %d replicas each", masters, replicas)
	}
	began := time.Now()
	c := &Cluster{t: t}
	for range masters * (1 + replicas) {
		c.Nodes = append(c.Nodes, start(t, []string{"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
			"--cluster-node-timeout", "2000"}))
	}
	ctx, cancel := context.WithTimeout(context.Background(), clusterTimeout)
	defer cancel()
	args := append([]string{"--cluster", "create"}, c.Addrs()...)
	args = append(args, "--cluster-replicas", fmt.Sprint(replicas), "--cluster-yes")
	if out, err := exec.CommandContext(ctx, cli(t), args...).CombinedOutput(); err != nil {
		t.Fatalf("redistest: redis-cli --cluster create: %v\n%s", err, out)
	}
	if err := c.waitHealthy(ctx); err != nil {
		t.Fatalf("redistest: cluster: %v", err)
	}
	t.Logf("redistest: Redis Cluster of %d masters × %d replicas ready in %v", masters, replicas,
		time.Since(began).Round(time.Millisecond))
	return c
}

// Addrs returns every node's address (seeds for a Cluster client).
func (c *Cluster) Addrs() []string {
	var a []string
	for _, n := range c.Nodes {
		a = append(a, n.Addr)
	}
	return a
}

// clusterNode is one line of CLUSTER NODES.
type clusterNode struct {
	id, addr, master string // master: the id a replica follows ("-" for a master)
	isMaster, failed bool
	slots            []string // "0-5460", "5461"
}

// nodes reads CLUSTER NODES from addr.
func nodes(addr string) ([]clusterNode, error) {
	out, err := command(addr, "CLUSTER", "NODES")
	if err != nil {
		return nil, err
	}
	var ns []clusterNode
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		if len(f) < 8 {
			continue
		}
		n := clusterNode{id: f[0], addr: strings.SplitN(f[1], "@", 2)[0], master: f[3], slots: f[8:]}
		for _, flag := range strings.Split(f[2], ",") {
			switch flag {
			case "master":
				n.isMaster = true
			case "fail", "fail?":
				n.failed = true
			}
		}
		ns = append(ns, n)
	}
	return ns, nil
}

// Masters returns the addresses of the current masters, as the first node sees them.
func (c *Cluster) Masters() []string {
	c.t.Helper()
	ns, err := nodes(c.Nodes[0].Addr)
	if err != nil {
		c.t.Fatalf("redistest: CLUSTER NODES: %v", err)
	}
	var ms []string
	for _, n := range ns {
		if n.isMaster && !n.failed && len(n.slots) > 0 {
			ms = append(ms, n.addr)
		}
	}
	return ms
}

// MasterOf returns the address of the master holding key's slot.
func (c *Cluster) MasterOf(key string) string {
	c.t.Helper()
	m, _, err := c.roles(key)
	if err != nil {
		c.t.Fatalf("redistest: %v", err)
	}
	return m
}

// roles returns the master holding key's slot and the replicas following it.
func (c *Cluster) roles(key string) (master string, replicas []string, err error) {
	slot, err := command(c.Nodes[0].Addr, "CLUSTER", "KEYSLOT", key)
	if err != nil {
		return "", nil, fmt.Errorf("CLUSTER KEYSLOT %s: %w", key, err)
	}
	var s int
	if _, err := fmt.Sscan(slot, &s); err != nil {
		return "", nil, fmt.Errorf("CLUSTER KEYSLOT %s: %q", key, slot)
	}
	ns, err := nodes(c.Nodes[0].Addr)
	if err != nil {
		return "", nil, fmt.Errorf("CLUSTER NODES: %w", err)
	}
	var mid string
	for _, n := range ns {
		if n.isMaster && !n.failed && holdsSlot(n.slots, s) {
			master, mid = n.addr, n.id
		}
	}
	if master == "" {
		return "", nil, fmt.Errorf("no master holds slot %d (of %s)", s, key)
	}
	for _, n := range ns {
		if !n.isMaster && !n.failed && n.master == mid {
			replicas = append(replicas, n.addr)
		}
	}
	return master, replicas, nil
}

func holdsSlot(ranges []string, slot int) bool {
	for _, r := range ranges {
		if strings.HasPrefix(r, "[") { // a slot being migrated
			continue
		}
		var lo, hi int
		if n, _ := fmt.Sscanf(r, "%d-%d", &lo, &hi); n == 2 {
			if slot >= lo && slot <= hi {
				return true
			}
		} else if n == 1 && lo == slot {
			return true
		}
	}
	return false
}

// Failover promotes a replica of the master holding key's slot with CLUSTER FAILOVER
// (the manual failover: the master stops taking writes, the replica catches up with
// its replication stream, then takes over; nothing acknowledged is lost), and waits
// until every node agrees on the new master and the cluster is ok again. It returns
// the old and the new master's address. Clients see MOVED (go-redis follows it) and,
// for a moment, writes held back.
func (c *Cluster) Failover(key string) (from, to string) {
	c.t.Helper()
	from, _, err := c.roles(key)
	if err != nil {
		c.t.Fatalf("redistest: failover of %s: %v", key, err)
	}
	return from, c.FailoverMaster(from)
}

// FailoverMaster is Failover of the master at addr; it returns the new master's address.
func (c *Cluster) FailoverMaster(addr string) (to string) {
	c.t.Helper()
	ns, err := nodes(c.Nodes[0].Addr)
	if err != nil {
		c.t.Fatalf("redistest: CLUSTER NODES: %v", err)
	}
	var id string
	for _, n := range ns {
		if n.addr == addr && n.isMaster {
			id = n.id
		}
	}
	for _, n := range ns {
		if id != "" && !n.isMaster && !n.failed && n.master == id {
			to = n.addr
			break
		}
	}
	if to == "" {
		c.t.Fatalf("redistest: failover: %s is not a master with a replica", addr)
	}
	if _, err := command(to, "CLUSTER", "FAILOVER"); err != nil {
		c.t.Fatalf("redistest: CLUSTER FAILOVER on %s: %v", to, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), clusterTimeout)
	defer cancel()
	for {
		err := c.healthy()
		if err == nil && slices.Contains(c.Masters(), to) && !slices.Contains(c.Masters(), addr) {
			return to
		}
		if ctx.Err() != nil {
			c.t.Fatalf("redistest: failover from %s to %s not done within %v: masters %v, %v",
				addr, to, clusterTimeout, c.Masters(), err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// healthy reports why the cluster is not healthy: a node not ok, a replica whose link
// to its master is down, or nodes disagreeing on the masters.
func (c *Cluster) healthy() error {
	var want string
	for _, n := range c.Nodes {
		info, err := command(n.Addr, "CLUSTER", "INFO")
		if err != nil || !strings.Contains(info, "cluster_state:ok") {
			return fmt.Errorf("node %s: cluster state not ok (%v)", n.Addr, err)
		}
		repl, err := command(n.Addr, "INFO", "replication")
		if err != nil {
			return fmt.Errorf("node %s: INFO replication: %w", n.Addr, err)
		}
		if strings.Contains(repl, "role:slave") && !strings.Contains(repl, "master_link_status:up") {
			return fmt.Errorf("node %s: replica not linked to its master", n.Addr)
		}
		ns, err := nodes(n.Addr)
		if err != nil {
			return fmt.Errorf("node %s: CLUSTER NODES: %w", n.Addr, err)
		}
		var ms []string
		for _, cn := range ns {
			if cn.isMaster && len(cn.slots) > 0 {
				ms = append(ms, cn.addr+" "+strings.Join(cn.slots, ","))
			}
		}
		slices.Sort(ms)
		got := strings.Join(ms, "; ")
		if want == "" {
			want = got
		} else if got != want {
			return fmt.Errorf("nodes disagree on the masters: %q, %q", want, got)
		}
	}
	return nil
}

func (c *Cluster) waitHealthy(ctx context.Context) error {
	for {
		err := c.healthy()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("not healthy within %v: %w", clusterTimeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
