package store

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDirAuditBounded: a change with a 3 MB comment of '<' (19 MB once escaped) writes a
// bounded audit line and version record, marked as cut, and the audit log stays readable.
func TestDirAuditBounded(t *testing.T) {
	dir := t.TempDir()
	d := open(t, dir)
	ctx := context.Background()
	huge := strings.Repeat("<", 3<<20)
	if _, err := d.Create(ctx, "a", src("a", "1"), Change{Author: "x", Comment: huge}); err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte("# a long line of rule text\n"), 20000) // a 540 KB diff
	if _, err := d.Update(ctx, "a", append(src("a", "2"), big...), Change{Author: "x", Comment: "big"}); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(d.auditPath())
	if err != nil {
		t.Fatal(err)
	}
	for i, line := range bytes.Split(bytes.TrimSpace(data), []byte{'\n'}) {
		if len(line) > 200<<10 {
			t.Errorf("audit line %d has %d bytes", i+1, len(line))
		}
	}
	list, err := d.Audit(ctx, AuditFilter{})
	if err != nil || len(list) != 2 {
		t.Fatalf("audit: %v, %d entries", err, len(list))
	}
	if c := list[1].Comment; len(c) > MaxComment || !strings.HasSuffix(c, "bytes cut)") {
		t.Errorf("comment of %d bytes ending %q", len(c), c[max(0, len(c)-30):])
	}
	if !strings.HasSuffix(list[0].Diff, "bytes cut)") {
		t.Errorf("the large diff was not cut: %d bytes", len(list[0].Diff))
	}
	v, err := d.Version(ctx, "a", 1)
	if err != nil || len(v.Comment) > MaxComment {
		t.Errorf("version 1: %v, comment of %d bytes", err, len(v.Comment))
	}
}

// TestDirAuditLongLine: an audit log holding a line longer than any reader buffer (as an
// older cepd wrote) does not make GET /v1/audit fail: the line is skipped.
func TestDirAuditLongLine(t *testing.T) {
	dir := t.TempDir()
	d := open(t, dir)
	ctx := context.Background()
	if _, err := d.Create(ctx, "a", src("a", "1"), Change{Author: "x"}); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(d.auditPath(), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"rule_id":"a","comment":"` + strings.Repeat(`\u003c`, 4<<20) + "\"}\n")
	f.Close()
	if _, err := d.Update(ctx, "a", src("a", "2"), Change{Author: "x"}); err != nil {
		t.Fatal(err)
	}
	list, err := d.Audit(ctx, AuditFilter{RuleID: "a"})
	if err != nil || len(list) != 2 || list[0].Version != 2 || list[1].Version != 1 {
		t.Fatalf("audit with a 24 MB line: %v, %+v", err, list)
	}
}

// TestDirHistoryAppendOnly: a change appends one line to its rule's history; no other
// rule's history and no whole index is rewritten.
func TestDirHistoryAppendOnly(t *testing.T) {
	dir := t.TempDir()
	d := open(t, dir)
	ctx := context.Background()
	for i := range 5 {
		if _, err := d.Create(ctx, "r"+itoa(i), src("r"+itoa(i), "1"), Change{Author: "x", Comment: strings.Repeat("c", 4000)}); err != nil {
			t.Fatal(err)
		}
	}
	before, _ := os.ReadFile(d.logPath("r0"))
	other, _ := os.ReadFile(d.logPath("r1"))
	if _, err := d.Update(ctx, "r0", src("r0", "2"), Change{Author: "x", Comment: "second"}); err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadFile(d.logPath("r0"))
	if !bytes.HasPrefix(after, before) || bytes.Count(after, []byte{'\n'}) != 2 {
		t.Errorf("r0's history was not appended to:\n%s", after)
	}
	if o, _ := os.ReadFile(d.logPath("r1")); !bytes.Equal(o, other) {
		t.Error("a change of r0 rewrote r1's history")
	}
	if _, err := os.Stat(d.indexPath()); err == nil {
		t.Error("a whole-store index.json is still written")
	}
	// A torn last line (a crash mid-append) is cut off at the next open.
	f, _ := os.OpenFile(d.logPath("r0"), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"file":"r0.yaml","id":"r0","vers`)
	f.Close()
	d2 := open(t, dir)
	vs, err := d2.Versions(ctx, "r0")
	if err != nil || len(vs) != 2 || vs[1].Comment != "second" {
		t.Fatalf("after a torn line: %v %+v", err, vs)
	}
	if _, err := d2.Update(ctx, "r0", src("r0", "3"), Change{Author: "x"}); err != nil {
		t.Fatal(err)
	}
	if vs, _ := open(t, dir).Versions(ctx, "r0"); len(vs) != 3 {
		t.Fatalf("%d versions after reopening, want 3", len(vs))
	}
}

// TestDirMigratesIndex: a rule directory written by an older cepd (one index.json) opens
// with its history intact; the index is kept renamed, and later opens use the logs.
func TestDirMigratesIndex(t *testing.T) {
	dir := t.TempDir()
	hist := filepath.Join(dir, historyDir)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(hist, "old"), 0o755))
	must(os.WriteFile(filepath.Join(hist, "old", "1.yaml"), src("old", "1"), 0o644))
	must(os.WriteFile(filepath.Join(hist, "old", "2.yaml"), src("old", "2"), 0o644))
	must(os.WriteFile(filepath.Join(dir, "old-file.yaml"), src("old", "2"), 0o644))
	must(os.WriteFile(filepath.Join(hist, "index.json"), []byte(`{"rules":{"old":{"file":"old-file.yaml","versions":[
		{"id":"old","version":1,"mode":"active","action":"create","author":"ann","time":"2026-01-01T00:00:00Z","comment":"first"},
		{"id":"old","version":2,"mode":"active","action":"update","author":"bob","time":"2026-01-02T00:00:00Z","comment":"second"}]}}}`), 0o644))
	ctx := context.Background()
	for range 2 {
		d := open(t, dir)
		vs, err := d.Versions(ctx, "old")
		if err != nil || len(vs) < 2 || vs[0].Author != "ann" || vs[1].Comment != "second" || string(vs[1].Source) != string(src("old", "2")) {
			t.Fatalf("migrated history: %v %+v", err, vs)
		}
		if len(vs) != 2 {
			t.Fatalf("%d versions: the unchanged rule file became a new version", len(vs))
		}
	}
	if _, err := os.Stat(filepath.Join(hist, "index.json.migrated")); err != nil {
		t.Error(err)
	}
	d := open(t, dir)
	if v, err := d.Update(ctx, "old", src("old", "3"), Change{Author: "x"}); err != nil || v.Version != 3 {
		t.Fatalf("update after migration: %v %+v", err, v)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "old-file.yaml")); string(b) != string(src("old", "3")) {
		t.Errorf("the rule file is %q", b)
	}
}
