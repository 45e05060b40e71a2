package redisrules

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cepd/cepd/internal/redistest"
	"github.com/cepd/cepd/rules/store"
)

var seedCh = store.Change{Author: "seed", Comment: "imported from the rule directory"}

// ruleDir makes a rule directory of n ≥ 4 rules, r02 disabled and r03 on trial, and returns
// what Seed takes from it: Dir's List, plus the active version beside the trial.
func ruleDir(t *testing.T, n int) []store.Version {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	for i := range n {
		id := fmt.Sprintf("r%02d", i)
		if err := os.WriteFile(filepath.Join(dir, id+".yaml"), fmt.Appendf(nil, "id: %s\n", id), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	d, err := store.OpenDir(dir, store.DirOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.SetMode(ctx, "r02", store.Disabled, seedCh); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Update(ctx, "r03", []byte("id: r03\n# v2\n"), seedCh); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Shadow(ctx, "r03", []byte("id: r03\n# candidate\n"), seedCh); err != nil {
		t.Fatal(err)
	}
	vs, err := d.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	active, err := d.Version(ctx, "r03", 2)
	if err != nil {
		t.Fatal(err)
	}
	return append(vs, active)
}

// TestSeedConcurrent: instances seeding one store at once create each rule once; a
// later Seed does nothing, even for a rule deleted since.
func TestSeedConcurrent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	addr := redistest.Start(t)
	const rules, instances = 20, 4
	vs := ruleDir(t, rules)
	stores := make([]*Store, instances)
	for i := range stores {
		stores[i] = open(t, client(t, addr), Options{})
	}
	created := make([]int, instances)
	var wg sync.WaitGroup
	for i, s := range stores {
		wg.Go(func() {
			n, err := s.Seed(ctx, vs, seedCh)
			if err != nil {
				t.Errorf("instance %d: %v", i, err)
			}
			created[i] = n
		})
	}
	wg.Wait()
	total := 0
	for _, n := range created {
		total += n
	}
	if total != rules {
		t.Fatalf("created %v: %d rules, want %d", created, total, rules)
	}
	s := stores[0]
	list, err := s.List(ctx)
	if err != nil || len(list) != rules {
		t.Fatalf("List: %d rules, want %d (%v)", len(list), rules, err)
	}
	want := map[string]string{
		"r00": "r00 1 active create",
		"r02": "r02 1 disabled create",
		"r03": "r03 2 shadow shadow_of=1 shadow",
	}
	for _, v := range list {
		w, ok := want[v.ID]
		if !ok {
			w = v.ID + " 1 active create"
		}
		if got := describeV(v); got != w || v.Author != seedCh.Author || v.Comment != seedCh.Comment {
			t.Errorf("%s by %q (%q), want %s", got, v.Author, v.Comment, w)
		}
		if v.ID != "r03" && string(v.Source) != fmt.Sprintf("id: %s\n", v.ID) {
			t.Errorf("%s: source %q", v.ID, v.Source)
		}
	}
	r03, _ := s.Versions(ctx, "r03")
	if len(r03) != 2 || string(r03[0].Source) != "id: r03\n# v2\n" || string(r03[1].Source) != "id: r03\n# candidate\n" {
		t.Errorf("r03: %+v", r03)
	}
	es, _ := s.Audit(ctx, store.AuditFilter{})
	if len(es) != rules+1 {
		t.Errorf("audit: %d entries, want %d", len(es), rules+1)
	}
	if es, _ := s.Audit(ctx, store.AuditFilter{RuleID: "r03", Limit: 1}); len(es) != 1 ||
		es[0].Diff != "mode: active -> shadow\n  id: r03\n- # v2\n+ # candidate\n" {
		t.Errorf("audit of the trial: %+v", es)
	}

	if _, err := s.Delete(ctx, "r00", seedCh); err != nil {
		t.Fatal(err)
	}
	if n, err := stores[1].Seed(ctx, vs, seedCh); n != 0 || err != nil {
		t.Fatalf("second seeding: %d %v", n, err)
	}
	if _, err := s.Get(ctx, "r00"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a deleted rule came back: %v", err)
	}
}

// TestSeedLeavesRulesAlone: a store with rules but never seeded gets the others.
func TestSeedLeavesRulesAlone(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := open(t, client(t, redistest.Start(t)), Options{})
	if _, err := s.Create(ctx, "r01", []byte("id: r01\n# mine\n"), store.Change{Author: "api"}); err != nil {
		t.Fatal(err)
	}
	n, err := s.Seed(ctx, ruleDir(t, 4), seedCh)
	if err != nil || n != 3 {
		t.Fatalf("seed: %d %v, want 3", n, err)
	}
	if v, _ := s.Get(ctx, "r01"); v.Version != 1 || v.Author != "api" {
		t.Fatalf("r01 was touched: %+v", v)
	}
}

// TestSeedTakeover: an instance that took the lease and died is replaced once its lease
// expires.
func TestSeedTakeover(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := client(t, redistest.Start(t))
	s := open(t, c, Options{})
	if err := c.Set(ctx, s.k.seeded, "seeding:dead", 200*time.Millisecond).Err(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	n, err := s.Seed(ctx, ruleDir(t, 4), seedCh)
	if err != nil || n != 4 {
		t.Fatalf("seed: %d %v", n, err)
	}
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Fatalf("seeded after %v, before the dead seeder's lease expired", d)
	}
	if v, _ := c.Get(ctx, s.k.seeded).Result(); v != seedDone {
		t.Fatalf("marker %q", v)
	}
	// A waiting instance gives up with its context.
	if err := c.Set(ctx, s.k.seeded, "seeding:slow", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if _, err := s.Seed(short, nil, seedCh); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("seed while another seeds forever: %v", err)
	}
}

func TestSeedInvalid(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := open(t, client(t, redistest.Start(t)), Options{})
	v := func(id string, n int, m store.Mode, shadowOf int) store.Version {
		return store.Version{ID: id, Version: n, Mode: m, ShadowOf: shadowOf, Source: []byte("id: " + id + "\n")}
	}
	for _, vs := range [][]store.Version{
		{v("Bad", 1, store.Active, 0)},
		{v("r1", 1, "loud", 0)},
		{{ID: "r1", Version: 2, Deleted: true}},
		{v("r1", 1, store.Active, 0), v("r1", 2, store.Active, 0)},
		{v("r1", 3, store.Shadow, 2)},
		{v("r1", 3, store.Shadow, 2), v("r1", 1, store.Active, 0)},
	} {
		if n, err := s.Seed(ctx, vs, seedCh); !errors.Is(err, store.ErrInvalid) || n != 0 {
			t.Errorf("Seed(%v): %d %v, want ErrInvalid", vs, n, err)
		}
	}
	if n, _ := s.c.Exists(ctx, s.k.seeded, s.k.index).Result(); n != 0 {
		t.Fatal("a refused Seed wrote")
	}
}

func describeV(v store.Version) string {
	s := fmt.Sprintf("%s %d %s", v.ID, v.Version, v.Mode)
	if v.ShadowOf > 0 {
		s += fmt.Sprintf(" shadow_of=%d", v.ShadowOf)
	}
	return s + " " + v.Action
}

// TestStoredLongIDs: a rule stored under an id longer than a rule may carry (Seed took
// one from a rule directory before session 9) is read, disabled and deleted; Create keeps
// to store.ValidID. Before, it was listed but not found by Get, SetMode or Delete.
func TestStoredLongIDs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := open(t, client(t, redistest.Start(t)), Options{})
	id := strings.Repeat("a", 100)
	if n, err := s.Seed(ctx, []store.Version{{ID: id, Mode: store.Active, Source: []byte("id: " + id + "\n")}}, seedCh); err != nil || n != 1 {
		t.Fatalf("Seed: %d %v", n, err)
	}
	if vs, err := s.List(ctx); err != nil || len(vs) != 1 || vs[0].ID != id {
		t.Fatalf("List = %v, %v; want the rule stored under the long id", vs, err)
	}
	if _, err := s.Get(ctx, id); err != nil {
		t.Fatalf("Get: %v", err)
	}
	if _, err := s.SetMode(ctx, id, store.Disabled, store.Change{Author: "t"}); err != nil {
		t.Fatalf("SetMode disabled: %v", err)
	}
	if _, err := s.Delete(ctx, id, store.Change{Author: "t"}); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if vs, err := s.List(ctx); err != nil || len(vs) != 0 {
		t.Fatalf("List after Delete = %v, %v; want none", vs, err)
	}
	if _, err := s.Create(ctx, strings.Repeat("b", 100), []byte("id: x\n"), store.Change{Author: "t"}); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("Create under a long id: %v, want ErrInvalid", err)
	}
}
