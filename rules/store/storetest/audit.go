package storetest

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/cepd/cepd/rules/store"
)

func testAudit(t *testing.T, s store.Store) {
	ctx := context.Background()
	by := func(author, comment string) store.Change {
		return store.Change{Author: author, Comment: comment}
	}
	must := mustChange(t)
	must(s.Create(ctx, "r1", src("r1", "a"), by("alice", "new")))
	must(s.Create(ctx, "r2", src("r2", "x"), by("bob", "")))
	must(s.Update(ctx, "r1", src("r1", "b"), by("carol", "tighter")))
	must(s.SetMode(ctx, "r1", store.Shadow, by("dave", "watch it")))
	must(s.Delete(ctx, "r1", by("erin", "gone")))
	must(s.Create(ctx, "r1", src("r1", "c"), by("frank", "back")))
	must(s.Shadow(ctx, "r1", []byte("id: r1\n# c\n# d\n"), by("gina", "try")))
	must(s.Update(ctx, "r2", src("r2", "y"), by("bob", "")))
	must(s.Rollback(ctx, "r2", 1, by("hal", "")))

	// Newest first: rule, version, action, author, comment, diff.
	want := []string{
		"r2 3 rollback hal \"rollback to version 1\"\n  id: r2\n- # y\n+ # x\n",
		"r2 2 update bob \"\"\n  id: r2\n- # x\n+ # y\n",
		"r1 6 shadow gina \"try\"\nmode: active -> shadow\n  id: r1\n  # c\n+ # d\n",
		"r1 5 create frank \"back\"\nmode: shadow -> active\n+ id: r1\n+ # c\n",
		"r1 4 delete erin \"gone\"\n- id: r1\n- # b\n",
		"r1 3 set_mode dave \"watch it\"\nmode: active -> shadow\n  id: r1\n  # b\n",
		"r1 2 update carol \"tighter\"\n  id: r1\n- # a\n+ # b\n",
		"r2 1 create bob \"\"\n+ id: r2\n+ # x\n",
		"r1 1 create alice \"new\"\n+ id: r1\n+ # a\n",
	}
	show := func(es []store.AuditEntry) []string {
		var out []string
		for _, e := range es {
			out = append(out, fmt.Sprintf("%s %d %s %s %q\n%s", e.RuleID, e.Version, e.Action, e.Author, e.Comment, e.Diff))
		}
		return out
	}
	for _, c := range []struct {
		f    store.AuditFilter
		want []string
	}{
		{store.AuditFilter{}, want},
		{store.AuditFilter{Limit: 2}, want[:2]},
		{store.AuditFilter{Limit: 100}, want},
		{store.AuditFilter{RuleID: "r2"}, []string{want[0], want[1], want[7]}},
		{store.AuditFilter{RuleID: "r1", Limit: 2}, want[2:4]},
		{store.AuditFilter{RuleID: "r9"}, nil},
	} {
		es, err := s.Audit(ctx, c.f)
		if err != nil {
			t.Fatal(err)
		}
		if got := show(es); strings.Join(got, "\n") != strings.Join(c.want, "\n") {
			t.Errorf("Audit(%+v):\n%s\nwant:\n%s", c.f, strings.Join(got, "\n"), strings.Join(c.want, "\n"))
		}
		for _, e := range es {
			v, err := s.Version(ctx, e.RuleID, e.Version)
			if err != nil || !v.Time.Equal(e.Time) {
				t.Errorf("audit entry %s %d at %v: version at %v (%v)", e.RuleID, e.Version, e.Time, v.Time, err)
			}
		}
	}
	checkConsistent(t, s, "r1", "r2")
}

// testLargeSource stores and reads back sources of 1 MiB.
func testLargeSource(t *testing.T, s store.Store) {
	ctx := context.Background()
	big := func(tag string) []byte { // 1 MiB in lines of 4 KiB
		var b bytes.Buffer
		b.WriteString("id: big\n")
		for i := 0; b.Len()+4096 <= 1<<20; i++ {
			line := fmt.Sprintf("# %s line %06d ", tag, i)
			b.WriteString(line + strings.Repeat("x", 4095-len(line)) + "\n")
		}
		return b.Bytes()
	}
	a, b := big("a"), big("b")
	must := mustChange(t)
	must(s.Create(ctx, "big", a, ch))
	must(s.Update(ctx, "big", b, ch))
	v := must(s.Rollback(ctx, "big", 1, ch))
	if !bytes.Equal(v.Source, a) {
		t.Fatal("rollback returned another source")
	}
	for n, want := range map[int][]byte{1: a, 2: b, 3: a} {
		got, err := s.Version(ctx, "big", n)
		if err != nil || !bytes.Equal(got.Source, want) {
			t.Fatalf("version %d: %d bytes, want %d (%v)", n, len(got.Source), len(want), err)
		}
	}
	checkConsistent(t, s, "big")
}

// testProvenance: a version and its audit entry record the same provenance, the author
// and the comment cut to MaxComment bytes.
func testProvenance(t *testing.T, s store.Store) {
	ctx := context.Background()
	long := store.Change{Author: strings.Repeat("a", store.MaxComment+100), Comment: strings.Repeat("c", store.MaxComment+100)}
	v := mustChange(t)(s.Create(ctx, "long", src("long", "1"), long))
	if len(v.Author) > store.MaxComment || len(v.Comment) > store.MaxComment {
		t.Errorf("version: author of %d bytes, comment of %d; want at most %d", len(v.Author), len(v.Comment), store.MaxComment)
	}
	es, err := s.Audit(ctx, store.AuditFilter{RuleID: "long"})
	if err != nil || len(es) != 1 {
		t.Fatalf("audit: %d entries (%v), want 1", len(es), err)
	}
	if p := es[0].Provenance; p.Action != v.Action || p.Author != v.Author || p.Comment != v.Comment || !p.Time.Equal(v.Time) {
		t.Errorf("audit entry: %s by %d bytes at %v (comment %d bytes); version: %s by %d bytes at %v (%d bytes)",
			p.Action, len(p.Author), p.Time, len(p.Comment), v.Action, len(v.Author), v.Time, len(v.Comment))
	}
}
