package storetest

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/cepd/cepd/rules/store"
)

// CompatStore is what the compatibility fixtures are written with and read back from:
// rules, the schema and lists in one store.
type CompatStore interface {
	store.Store
	store.SchemaStore
	store.DataStore
}

// CompatClock is the clock the fixtures are written with: each reading a second after
// the previous one, from 2026-01-01 UTC.
func CompatClock() func() time.Time {
	t := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	return func() time.Time { t = t.Add(time.Second); return t }
}

// FillCompat makes the changes the compatibility fixtures hold: every kind of rule change
// (empty comments, a rollback's default comment, an author and a comment longer than
// MaxComment, tests), schema versions and list versions.
func FillCompat(t *testing.T, s CompatStore) {
	t.Helper()
	ctx := context.Background()
	must := mustChange(t)
	long := store.Change{Author: strings.Repeat("a", store.MaxComment+10), Comment: strings.Repeat("é", store.MaxComment)}
	must(s.Create(ctx, "r1", src("r1", "1"), store.Change{Author: "ann"}))
	must(s.Update(ctx, "r1", src("r1", "2"), long))
	must(s.Shadow(ctx, "r1", src("r1", "3"), store.Change{Author: "bob", Comment: "trial"}))
	must(s.SetMode(ctx, "r1", store.Disabled, store.Change{Author: "bob"}))
	must(s.Rollback(ctx, "r1", 1, store.Change{Author: "cy"}))
	must(s.Create(ctx, "r2", src("r2", "1"), store.Change{Author: "dee", Comment: "with tests", Tests: []byte("cases: []\n")}))
	must(s.Delete(ctx, "r2", store.Change{Author: "dee"}))
	schema := "fields:\n  amount: double\n"
	if _, err := s.PutSchema(ctx, []byte(schema), 0, store.Change{Author: "ann"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutSchema(ctx, []byte(schema+"  country: string\n"), 1, long); err != nil {
		t.Fatal(err)
	}
	for i, p := range []struct {
		action  string
		deleted bool
		text    string
		ch      store.Change
	}{
		{store.ActionCreate, false, "key\na\n", store.Change{Author: "ann"}},
		{store.ActionAdd, false, "key\na\nb\n", long},
		{store.ActionDelete, true, "", store.Change{Author: "bob", Comment: "gone"}},
	} {
		v := store.DataVersion{Name: "watch", Kind: "watch", Deleted: p.deleted, Entries: strings.Count(p.text, "\n") - 1, Description: "d"}
		v.Action = p.action
		if !p.deleted {
			v.Content = []byte(p.text)
		} else {
			v.Entries = 0
		}
		if _, err := s.PutData(ctx, v, i, p.ch, "summary"); err != nil {
			t.Fatal(err)
		}
	}
}

// compatProvenance is a version's or audit entry's provenance as DumpCompat shows it.
type compatProvenance struct {
	Action, Author, Time, Comment string
}

func provenanceOf(p store.Provenance) compatProvenance {
	return compatProvenance{p.Action, p.Author, p.Time.Format(time.RFC3339Nano), p.Comment}
}

// The records DumpCompat shows, field by field.
type compatVersion struct {
	ID            string
	Version       int
	Mode          string
	Deleted       bool
	ShadowOf      int
	P             compatProvenance
	Source, Tests string
}
type compatAudit struct {
	P                 compatProvenance
	RuleID            string
	Version           int
	Diff, TestsForced string
}
type compatSchemaVersion struct {
	Version int
	P       compatProvenance
	Source  string
}
type compatDataVersion struct {
	Name, Kind          string
	Version             int
	Deleted             bool
	Entries             int
	Digest, Description string
	P                   compatProvenance
	Content             string
}
type compatDataAudit struct {
	P       compatProvenance
	Name    string
	Version int
	Summary string
}

// DumpCompat reads back everything FillCompat wrote, as indented JSON of the stores' own
// fields (not of their types, whose JSON may change): what the fixture written by an older
// build must still read as.
func DumpCompat(t *testing.T, s CompatStore) []byte {
	t.Helper()
	ctx := context.Background()
	var out struct {
		Versions  map[string][]compatVersion
		Audit     []compatAudit
		Schema    []compatSchemaVersion
		Data      []compatDataVersion
		DataAudit []compatDataAudit
	}
	out.Versions = map[string][]compatVersion{}
	for _, id := range []string{"r1", "r2"} {
		vs, err := s.Versions(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range vs {
			out.Versions[id] = append(out.Versions[id], compatVersion{v.ID, v.Version, string(v.Mode), v.Deleted, v.ShadowOf,
				provenanceOf(v.Provenance), string(v.Source), string(v.Tests)})
		}
	}
	es, err := s.Audit(ctx, store.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		out.Audit = append(out.Audit, compatAudit{provenanceOf(e.Provenance), e.RuleID, e.Version, e.Diff, e.TestsForced})
	}
	svs, err := s.SchemaVersions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range svs {
		out.Schema = append(out.Schema, compatSchemaVersion{v.Version, provenanceOf(v.Provenance), string(v.Source)})
	}
	dvs, err := s.DataVersions(ctx, "watch")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range dvs {
		out.Data = append(out.Data, compatDataVersion{v.Name, v.Kind, v.Version, v.Deleted, v.Entries, v.Digest, v.Description,
			provenanceOf(v.Provenance), string(v.Content)})
	}
	das, err := s.DataAudit(ctx, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range das {
		out.DataAudit = append(out.DataAudit, compatDataAudit{provenanceOf(e.Provenance), e.Name, e.Version, e.Summary})
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}
