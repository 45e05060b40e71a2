package redisrules

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cepd/cepd/internal/redistest"
	"github.com/cepd/cepd/rules/store"
	"github.com/cepd/cepd/rules/store/storetest"
)

// client returns a client of the standalone server at addr, closed by the cleanup.
func client(t testing.TB, addr string) redis.UniversalClient {
	c := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { c.Close() })
	return c
}

// open opens a Store on c, failing the test on error.
func open(t testing.TB, c redis.UniversalClient, o Options) *Store {
	t.Helper()
	s, err := Open(context.Background(), c, o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// contract runs the contract suite with a new prefix, so a new empty store, per subtest.
func contract(t *testing.T, c redis.UniversalClient) {
	var n atomic.Int64
	storetest.Run(t, func(t *testing.T) store.Store {
		return open(t, c, Options{Prefix: fmt.Sprintf("contract:%d", n.Add(1))})
	})
}

func TestContract(t *testing.T) {
	t.Parallel()
	contract(t, client(t, redistest.Start(t)))
}

// TestDataContract runs the DataStore contract (lists and tables) on a standalone server
// and on a one-node Cluster (every key in one slot).
func TestDataContract(t *testing.T) {
	t.Parallel()
	var n atomic.Int64
	c := client(t, redistest.Start(t))
	storetest.RunData(t, func(t *testing.T) store.DataStore {
		return open(t, c, Options{Prefix: fmt.Sprintf("data:%d", n.Add(1))})
	})
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{redistest.StartCluster(t)}})
	t.Cleanup(func() { cc.Close() })
	t.Run("Cluster", func(t *testing.T) {
		storetest.RunData(t, func(t *testing.T) store.DataStore {
			return open(t, cc, Options{Prefix: fmt.Sprintf("data:%d", n.Add(1))})
		})
	})
}

// TestSchemaContract runs the SchemaStore contract on a standalone server.
func TestSchemaContract(t *testing.T) {
	t.Parallel()
	var n atomic.Int64
	c := client(t, redistest.Start(t))
	storetest.RunSchema(t, func(t *testing.T) (store.SchemaStore, store.Store) {
		s := open(t, c, Options{Prefix: fmt.Sprintf("schema:%d", n.Add(1))})
		return s, s
	})
}

// TestCluster runs the contract suite and a watcher through Cluster clients on a
// one-node Cluster, which refuses commands and scripts whose keys are not in one slot.
func TestCluster(t *testing.T) {
	t.Parallel()
	addr := redistest.StartCluster(t)
	cluster := func(t testing.TB) redis.UniversalClient {
		c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{addr}})
		t.Cleanup(func() { c.Close() })
		return c
	}
	t.Run("Contract", func(t *testing.T) { contract(t, cluster(t)) })
	t.Run("Watch", func(t *testing.T) {
		a := open(t, cluster(t), Options{Prefix: "watch"})
		b := open(t, cluster(t), Options{Prefix: "watch", PollInterval: time.Minute})
		w := watch(t, b)
		w.next(t, "", 5*time.Second)
		measure(t, a, w, 10)
	})
}

func TestOpen(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := client(t, redistest.Start(t))
	for _, o := range []Options{{Prefix: "a{b"}, {Prefix: "x}"}, {AuditMax: -1}, {PollInterval: -1}} {
		if _, err := Open(ctx, c, o); err == nil {
			t.Errorf("Open(%+v) accepted", o)
		}
	}
	if _, err := Open(ctx, nil, Options{}); err == nil {
		t.Error("Open accepted a nil client")
	}
	down := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialerRetries: 1})
	defer down.Close()
	if _, err := Open(ctx, down, Options{}); err == nil || !strings.HasPrefix(err.Error(), "redisrules: ") {
		t.Errorf("Open without Redis: %v", err)
	}
	s := open(t, c, Options{})
	if _, err := s.Create(ctx, "r1", []byte("id: r1\n"), store.Change{}); err != nil {
		t.Fatal(err)
	}
	keys, err := c.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if !strings.HasPrefix(k, "{cepd:rules}:") {
			t.Errorf("key %q outside the default hash tag", k)
		}
	}
}

// TestAuditBound: the audit log keeps the newest AuditMax entries.
func TestAuditBound(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := open(t, client(t, redistest.Start(t)), Options{AuditMax: 5})
	if _, err := s.Create(ctx, "r1", []byte("v0\n"), store.Change{}); err != nil {
		t.Fatal(err)
	}
	for i := 1; i < 12; i++ {
		if _, err := s.Update(ctx, "r1", fmt.Appendf(nil, "v%d\n", i), store.Change{}); err != nil {
			t.Fatal(err)
		}
	}
	es, err := s.Audit(ctx, store.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 5 || es[0].Version != 12 || es[4].Version != 8 {
		t.Fatalf("audit: %d entries, %+v", len(es), es)
	}
	if vs, _ := s.Versions(ctx, "r1"); len(vs) != 12 {
		t.Fatalf("the versions were trimmed with the audit: %d", len(vs))
	}
}

// TestAuditPaging reads an audit log longer than one XREVRANGE page.
func TestAuditPaging(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := open(t, client(t, redistest.Start(t)), Options{})
	const n = 1234
	if _, err := s.Create(ctx, "r1", []byte("v\n"), store.Change{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(ctx, "r2", []byte("v\n"), store.Change{}); err != nil {
		t.Fatal(err)
	}
	for i := 2; i <= n; i++ {
		if _, err := s.SetMode(ctx, "r1", store.Active, store.Change{}); err != nil {
			t.Fatal(err)
		}
	}
	es, err := s.Audit(ctx, store.AuditFilter{})
	if err != nil || len(es) != n+1 {
		t.Fatalf("audit: %d entries, want %d (%v)", len(es), n+1, err)
	}
	for i, e := range es[:n-1] { // r1's versions n to 2, then r2's creation, then r1's
		if e.RuleID != "r1" || e.Version != n-i {
			t.Fatalf("entry %d: %s %d", i, e.RuleID, e.Version)
		}
	}
	if es[n-1].RuleID != "r2" || es[n].RuleID != "r1" || es[n].Version != 1 {
		t.Fatalf("oldest entries: %+v %+v", es[n-1], es[n])
	}
	if es, err := s.Audit(ctx, store.AuditFilter{RuleID: "r2"}); err != nil || len(es) != 1 || es[0].RuleID != "r2" {
		t.Fatalf("audit of r2 (the oldest but one): %+v %v", es, err)
	}
	if es, err := s.Audit(ctx, store.AuditFilter{RuleID: "r1", Limit: 600}); err != nil || len(es) != 600 || es[599].Version != n-599 {
		t.Fatalf("audit of r1, limit 600: %d %v", len(es), err)
	}
}

// TestRetriedChange: a change script run twice (go-redis retrying after a lost reply)
// records one version.
func TestRetriedChange(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := open(t, client(t, redistest.Start(t)), Options{})
	if _, err := s.Create(ctx, "r1", []byte("a\n"), store.Change{}); err != nil {
		t.Fatal(err)
	}
	sn, err := s.read(ctx, "r1", 0)
	if err != nil {
		t.Fatal(err)
	}
	st := step{[]byte("b\n"), store.State{Mode: store.Active}, store.ActionUpdate, store.Change{}}
	v, meta, audit, err := s.next("r1", sn.cur, st, newOpID())
	if err != nil {
		t.Fatal(err)
	}
	args := []any{s.auditMax, s.k.channel, "r1", sn.raw, v.Version, meta, st.src, audit, st.action}
	for i, want := range []string{"OK", "OK"} {
		res, err := applyScript.Run(ctx, s.c, s.k.write(), args...).Slice()
		if err != nil || status(res) != want {
			t.Fatalf("run %d: %v %v", i, res, err)
		}
	}
	// The same change after another one landed on top of it is still recognised.
	if _, err := s.Update(ctx, "r1", []byte("c\n"), store.Change{}); err != nil {
		t.Fatal(err)
	}
	if res, err := applyScript.Run(ctx, s.c, s.k.write(), args...).Slice(); err != nil || status(res) != "OK" {
		t.Fatalf("late retry: %v %v", res, err)
	}
	// Another change computed from the same version conflicts.
	_, meta2, audit2, _ := s.next("r1", sn.cur, st, newOpID())
	args2 := []any{s.auditMax, s.k.channel, "r1", sn.raw, v.Version, meta2, st.src, audit2, st.action}
	if res, err := applyScript.Run(ctx, s.c, s.k.write(), args2...).Slice(); err != nil || status(res) != "CONFLICT" {
		t.Fatalf("stale change: %v %v", res, err)
	}
	vs, _ := s.Versions(ctx, "r1")
	es, _ := s.Audit(ctx, store.AuditFilter{})
	if len(vs) != 3 || len(es) != 3 {
		t.Fatalf("%d versions, %d audit entries; want 3 and 3", len(vs), len(es))
	}
}

// TestTwoInstances: changes through two Stores (two clients) of one rule interleave
// without losing any.
func TestTwoInstances(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	addr := redistest.Start(t)
	a, b := open(t, client(t, addr), Options{}), open(t, client(t, addr), Options{})
	if _, err := a.Create(ctx, "r1", []byte("0\n"), store.Change{}); err != nil {
		t.Fatal(err)
	}
	const each = 50
	errs := make(chan error, 2)
	for i, s := range []*Store{a, b} {
		go func() {
			for j := range each {
				if _, err := s.Update(ctx, "r1", fmt.Appendf(nil, "%d-%d\n", i, j), store.Change{Author: fmt.Sprint(i)}); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	vs, err := b.Versions(ctx, "r1")
	if err != nil || len(vs) != 2*each+1 {
		t.Fatalf("%d versions, want %d (%v)", len(vs), 2*each+1, err)
	}
}
