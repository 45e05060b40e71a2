package storetest

import (
	"context"
	"testing"

	"github.com/cepd/cepd/rules/store"
)

// testTests checks that a rule's tests travel with its versions: set by a change, kept by
// a change without them (update, mode change, shadow, delete), taken from version n by a
// rollback, removed by an empty non-nil Tests, dropped when a deleted rule is created
// again; and that a forced change's audit entry says so.
func testTests(t *testing.T, s store.Store) {
	ctx := context.Background()
	must := mustChange(t)
	t1, t2 := []byte("cases:\n  - name: one\n"), []byte("cases:\n  - name: two\n")
	with := func(tests []byte) store.Change { return store.Change{Author: "a", Tests: tests} }
	steps := []struct {
		name string
		do   func() (store.Version, error)
		want string
	}{
		{"create with tests", func() (store.Version, error) { return s.Create(ctx, "r1", src("r1", "a"), with(t1)) }, string(t1)},
		{"update without tests keeps them", func() (store.Version, error) { return s.Update(ctx, "r1", src("r1", "b"), ch) }, string(t1)},
		{"update with new tests", func() (store.Version, error) { return s.Update(ctx, "r1", src("r1", "c"), with(t2)) }, string(t2)},
		{"set mode keeps them", func() (store.Version, error) { return s.SetMode(ctx, "r1", store.Shadow, ch) }, string(t2)},
		{"rollback takes version 1's", func() (store.Version, error) { return s.Rollback(ctx, "r1", 1, ch) }, string(t1)},
		{"shadow keeps them", func() (store.Version, error) {
			if _, err := s.SetMode(ctx, "r1", store.Active, ch); err != nil {
				return store.Version{}, err
			}
			return s.Shadow(ctx, "r1", src("r1", "d"), ch)
		}, string(t1)},
		{"empty tests remove them", func() (store.Version, error) { return s.Update(ctx, "r1", src("r1", "e"), with([]byte{})) }, ""},
		{"update sets them again", func() (store.Version, error) { return s.Update(ctx, "r1", src("r1", "f"), with(t2)) }, string(t2)},
		{"delete keeps them", func() (store.Version, error) { return s.Delete(ctx, "r1", ch) }, string(t2)},
		{"created again without", func() (store.Version, error) { return s.Create(ctx, "r1", src("r1", "g"), ch) }, ""},
	}
	for _, st := range steps {
		v := must(st.do())
		if string(v.Tests) != st.want {
			t.Fatalf("%s: the change returned tests %q, want %q", st.name, v.Tests, st.want)
		}
		got, err := s.Version(ctx, "r1", v.Version)
		if err != nil || string(got.Tests) != st.want {
			t.Fatalf("%s: Version(%d).Tests %q (%v), want %q", st.name, v.Version, got.Tests, err, st.want)
		}
		if v.Deleted {
			continue
		}
		cur, err := s.Get(ctx, "r1")
		if err != nil || string(cur.Tests) != st.want {
			t.Fatalf("%s: Get().Tests %q (%v), want %q", st.name, cur.Tests, err, st.want)
		}
	}
	// Every version keeps its own tests.
	vs, err := s.Versions(ctx, "r1")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{string(t1), string(t1), string(t2), string(t2), string(t1), string(t1), string(t1), "", string(t2), string(t2), ""}
	if len(vs) != len(want) {
		t.Fatalf("%d versions, want %d", len(vs), len(want))
	}
	for i, v := range vs {
		if string(v.Tests) != want[i] {
			t.Errorf("version %d: tests %q, want %q", v.Version, v.Tests, want[i])
		}
	}
	if ls, err := s.List(ctx); err != nil || len(ls) != 1 || len(ls[0].Tests) != 0 {
		t.Fatalf("List: %v %v", ls, err)
	}

	// A forced change: the audit entry records the failing tests' report.
	must(s.Update(ctx, "r1", src("r1", "h"), store.Change{Author: "f", Tests: t1, TestsForced: "FAIL rule.test.yaml:2: one\n0 passed, 1 failed\n"}))
	es, err := s.Audit(ctx, store.AuditFilter{RuleID: "r1", Limit: 2})
	if err != nil || len(es) != 2 {
		t.Fatalf("Audit: %v %v", es, err)
	}
	if es[0].TestsForced != "FAIL rule.test.yaml:2: one\n0 passed, 1 failed\n" || es[1].TestsForced != "" {
		t.Fatalf("audit TestsForced: %q, %q", es[0].TestsForced, es[1].TestsForced)
	}
}
