package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

func src(id, v string) []byte { return []byte("id: " + id + "\n# " + v + "\n") }

func open(t *testing.T, dir string) *Dir {
	t.Helper()
	n := 0
	d, err := OpenDir(dir, DirOptions{Now: func() time.Time { n++; return time.Unix(int64(n), 0) }})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestDirChanges(t *testing.T) {
	ctx := context.Background()
	ch := Change{Author: "alice", Comment: "c"}
	for _, c := range []struct {
		name    string
		do      func(d *Dir) (Version, error)
		wantErr error
		want    string // id version mode [deleted]; file content or "-" for no file
		file    string
	}{
		{"create", func(d *Dir) (Version, error) { return d.Create(ctx, "r1", src("r1", "a"), ch) }, nil, "r1 1 active", "a"},
		{"create twice", func(d *Dir) (Version, error) {
			d.Create(ctx, "r1", src("r1", "a"), ch)
			return d.Create(ctx, "r1", src("r1", "b"), ch)
		}, ErrExists, "", "a"},
		{"bad id", func(d *Dir) (Version, error) { return d.Create(ctx, "../x", nil, ch) }, ErrInvalid, "", "-"},
		{"update", func(d *Dir) (Version, error) {
			d.Create(ctx, "r1", src("r1", "a"), ch)
			return d.Update(ctx, "r1", src("r1", "b"), ch)
		}, nil, "r1 2 active", "b"},
		{"update missing", func(d *Dir) (Version, error) { return d.Update(ctx, "r1", src("r1", "b"), ch) }, ErrNotFound, "", "-"},
		{"rollback", func(d *Dir) (Version, error) {
			d.Create(ctx, "r1", src("r1", "a"), ch)
			d.Update(ctx, "r1", src("r1", "b"), ch)
			return d.Rollback(ctx, "r1", 1, ch)
		}, nil, "r1 3 active", "a"},
		{"rollback to nothing", func(d *Dir) (Version, error) {
			d.Create(ctx, "r1", src("r1", "a"), ch)
			return d.Rollback(ctx, "r1", 7, ch)
		}, ErrNotFound, "", "a"},
		{"shadow keeps the file", func(d *Dir) (Version, error) {
			d.Create(ctx, "r1", src("r1", "a"), ch)
			return d.SetMode(ctx, "r1", Shadow, ch)
		}, nil, "r1 2 shadow", "a"},
		{"disabled removes the file", func(d *Dir) (Version, error) {
			d.Create(ctx, "r1", src("r1", "a"), ch)
			return d.SetMode(ctx, "r1", Disabled, ch)
		}, nil, "r1 2 disabled", "-"},
		{"bad mode", func(d *Dir) (Version, error) {
			d.Create(ctx, "r1", src("r1", "a"), ch)
			return d.SetMode(ctx, "r1", "loud", ch)
		}, ErrInvalid, "", "a"},
		{"delete", func(d *Dir) (Version, error) {
			d.Create(ctx, "r1", src("r1", "a"), ch)
			return d.Delete(ctx, "r1", ch)
		}, nil, "r1 2 active deleted", "-"},
		{"create after delete", func(d *Dir) (Version, error) {
			d.Create(ctx, "r1", src("r1", "a"), ch)
			d.Delete(ctx, "r1", ch)
			return d.Create(ctx, "r1", src("r1", "c"), ch)
		}, nil, "r1 3 active", "c"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			d := open(t, dir)
			v, err := c.do(d)
			if !errors.Is(err, c.wantErr) {
				t.Fatalf("err %v, want %v", err, c.wantErr)
			}
			if err == nil {
				got := v.ID + " " + itoa(v.Version) + " " + string(v.Mode)
				if v.Deleted {
					got += " deleted"
				}
				if got != c.want || v.Author != "alice" {
					t.Fatalf("got %q (author %q), want %q", got, v.Author, c.want)
				}
			}
			data, err := os.ReadFile(filepath.Join(dir, "r1.yaml"))
			if c.file == "-" {
				if err == nil {
					t.Fatalf("r1.yaml exists: %q", data)
				}
			} else if string(data) != string(src("r1", c.file)) {
				t.Fatalf("r1.yaml = %q, want version %s (%v)", data, c.file, err)
			}
			// Reopening gives the same state (the index is the truth, the files agree).
			d2 := open(t, dir)
			a, _ := d.Versions(ctx, "r1")
			b, _ := d2.Versions(ctx, "r1")
			if len(a) != len(b) {
				t.Fatalf("reopened: %d versions, want %d", len(b), len(a))
			}
		})
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestDirDiskEditsAndAudit(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "old-name.yaml"), src("r2", "a"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "schema.yaml"), []byte("name: x\n"), 0o644)
	d := open(t, dir)
	v, err := d.Get(ctx, "r2")
	if err != nil || v.Action != ActionDisk || v.Version != 1 {
		t.Fatalf("imported: %+v %v", v, err)
	}
	if _, err := d.Update(ctx, "r2", src("r2", "b"), Change{Author: "bob"}); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(filepath.Join(dir, "old-name.yaml")); string(data) != string(src("r2", "b")) {
		t.Fatalf("the rule's own file was not updated: %q", data)
	}
	os.WriteFile(filepath.Join(dir, "old-name.yaml"), src("r2", "c"), 0o644)
	if changed, err := d.Refresh(ctx); !changed || err != nil {
		t.Fatalf("refresh: %v %v", changed, err)
	}
	if changed, _ := d.Refresh(ctx); changed {
		t.Fatal("a second refresh found changes")
	}
	os.Remove(filepath.Join(dir, "old-name.yaml"))
	d.Refresh(ctx)
	if _, err := d.Get(ctx, "r2"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("removed on disk: %v", err)
	}
	es, err := d.Audit(ctx, AuditFilter{RuleID: "r2"})
	if err != nil || len(es) != 4 {
		t.Fatalf("audit: %d %v", len(es), err)
	}
	if es[2].Author != "bob" || es[2].Diff != "  id: r2\n- # a\n+ # b\n" {
		t.Fatalf("audit entry: %+v", es[2])
	}
	if es, _ := d.Audit(ctx, AuditFilter{Limit: 1}); len(es) != 1 || es[0].Action != ActionDisk {
		t.Fatalf("limit: %+v", es)
	}
}

func TestDirConcurrent(t *testing.T) {
	ctx := context.Background()
	d := open(t, t.TempDir())
	d.Create(ctx, "r1", src("r1", "0"), Change{})
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 10; j++ {
				d.Update(ctx, "r1", src("r1", "x"), Change{})
				d.List(ctx)
			}
		}()
	}
	wg.Wait()
	vs, _ := d.Versions(ctx, "r1")
	if len(vs) != 81 {
		t.Fatalf("%d versions, want 81", len(vs))
	}
	for i, v := range vs {
		if v.Version != i+1 {
			t.Fatalf("version %d numbered %d", i+1, v.Version)
		}
	}
}

// TestDirFailedChangeChangesNothing: a change whose audit entry cannot be written (the
// audit log is a directory here) is undone: no version, the rule file as it was.
func TestDirFailedChangeChangesNothing(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	d := open(t, dir)
	if _, err := d.Create(ctx, "r1", src("r1", "a"), Change{}); err != nil {
		t.Fatal(err)
	}
	audit := filepath.Join(dir, historyDir, "audit.jsonl")
	if err := os.Remove(audit); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(audit, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Update(ctx, "r1", src("r1", "b"), Change{}); err == nil {
		t.Fatal("update with a broken audit log succeeded")
	}
	if vs, _ := d.Versions(ctx, "r1"); len(vs) != 1 {
		t.Errorf("%d versions after a failed update, want 1", len(vs))
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "r1.yaml")); string(got) != string(src("r1", "a")) {
		t.Errorf("rule file after a failed update: %q", got)
	}
	again := open(t, dir) // what a restart reads
	if v, err := again.Get(ctx, "r1"); err != nil || v.Version != 1 {
		t.Errorf("after reopening: %v %v", v, err)
	}
}

// TestDirRuleNamedDataBesideLists: a rule whose id is "data" and the lists' history share
// the history directory without mixing.
func TestDirRuleNamedDataBesideLists(t *testing.T) {
	ctx := context.Background()
	d, err := OpenDir(t.TempDir(), DirOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Create(ctx, "data", []byte("id: data\n"), Change{Author: "a"}); err != nil {
		t.Fatal(err)
	}
	v := DataVersion{Name: "watch", Kind: "watch", Provenance: Provenance{Action: ActionCreate}, Content: []byte("key\nx\n"), Entries: 1}
	if _, err := d.PutData(ctx, v, 0, Change{Author: "a"}, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Update(ctx, "data", []byte("id: data\n# 2\n"), Change{Author: "a"}); err != nil {
		t.Fatal(err)
	}
	all, err := d.ListData(ctx)
	if err != nil || len(all) != 1 || all[0].Name != "watch" {
		t.Fatalf("lists: %+v %v", all, err)
	}
	if vs, err := d.Versions(ctx, "data"); err != nil || len(vs) != 2 {
		t.Fatalf("rule data: %d versions, %v", len(vs), err)
	}
}
