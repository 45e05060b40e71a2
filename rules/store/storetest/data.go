package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/cepd/cepd/rules/store"
)

// RunData runs the DataStore contract (lists and reference tables) against stores made by
// open, a new empty store per subtest.
func RunData(t *testing.T, open func(t *testing.T) store.DataStore) {
	t.Run("Versions", func(t *testing.T) { testDataVersions(t, open(t)) })
	t.Run("Conflicts", func(t *testing.T) { testDataConflicts(t, open(t)) })
}

func listText(vals ...string) []byte { return []byte("key\n" + strings.Join(vals, "\n") + "\n") }

func put(t *testing.T, s store.DataStore, name, kind, action string, expect int, deleted bool, vals ...string) store.DataVersion {
	t.Helper()
	v := store.DataVersion{Name: name, Kind: kind, Provenance: store.Provenance{Action: action}, Deleted: deleted, Entries: len(vals), Digest: fmt.Sprint(len(vals))}
	if !deleted {
		v.Content = listText(vals...)
	}
	got, err := s.PutData(context.Background(), v, expect, store.Change{Author: "ann", Comment: action}, action+" summary")
	if err != nil {
		t.Fatalf("put %s %s v%d: %v", name, action, expect+1, err)
	}
	if got.Version != expect+1 || got.Author != "ann" || got.Time.IsZero() {
		t.Fatalf("put returned %+v", got)
	}
	return got
}

func testDataVersions(t *testing.T, s store.DataStore) {
	ctx := context.Background()
	if _, err := s.GetData(ctx, "w"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("get of a missing list: %v", err)
	}
	put(t, s, "w", "watch", store.ActionCreate, 0, false, "a", "b")
	put(t, s, "t", "table", store.ActionCreate, 0, false, "x")
	put(t, s, "w", "watch", store.ActionAdd, 1, false, "a", "b", "c")
	got, err := s.GetData(ctx, "w")
	if err != nil || got.Version != 2 || string(got.Content) != string(listText("a", "b", "c")) || got.Entries != 3 {
		t.Fatalf("get: %+v %q %v", got, got.Content, err)
	}
	all, err := s.ListData(ctx)
	if err != nil || len(all) != 2 || all[0].Name != "t" || all[1].Name != "w" || all[1].Content == nil {
		t.Fatalf("list: %+v %v", all, err)
	}
	for i := 3; i <= store.DataVersionsKept+2; i++ {
		put(t, s, "w", "watch", store.ActionImport, i-1, false, fmt.Sprint(i))
	}
	vs, err := s.DataVersions(ctx, "w")
	if err != nil || len(vs) != store.DataVersionsKept+2 || vs[0].Action != store.ActionCreate || vs[1].Action != store.ActionAdd {
		t.Fatalf("versions: %+v %v", vs, err)
	}
	n := len(vs)
	put(t, s, "w", "watch", store.ActionDelete, n, true)
	if _, err := s.GetData(ctx, "w"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("get of a deleted list: %v", err)
	}
	if all, _ := s.ListData(ctx); len(all) != 1 || all[0].Name != "t" {
		t.Fatalf("list after a deletion: %+v", all)
	}
	// Created again: the next version.
	put(t, s, "w", "block", store.ActionCreate, n+1, false, "z")
	if got, _ := s.GetData(ctx, "w"); got.Kind != "block" || got.Version != n+2 {
		t.Fatalf("created again: %+v", got)
	}
	audit, err := s.DataAudit(ctx, "w", 2)
	if err != nil || len(audit) != 2 || audit[0].Action != store.ActionCreate || audit[1].Action != store.ActionDelete || audit[0].Summary != "create summary" {
		t.Fatalf("audit: %+v %v", audit, err)
	}
	if all, _ := s.DataAudit(ctx, "", 0); len(all) != n+3 {
		t.Fatalf("%d audit entries in all, want %d", len(all), n+3)
	}
	if _, err := s.PutData(ctx, store.DataVersion{Name: "Bad Name", Kind: "watch"}, 0, store.Change{}, ""); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("a bad name: %v", err)
	}
}

// testDataConflicts: concurrent edits from the same version: exactly one wins, the others
// get ErrConflict and change nothing.
func testDataConflicts(t *testing.T, s store.DataStore) {
	ctx := context.Background()
	put(t, s, "w", "watch", store.ActionCreate, 0, false, "a")
	for round := 1; round <= 5; round++ {
		oneWins(t, 8, store.ErrConflict, fmt.Sprintf("round %d's writes", round), func(i int) error {
			v := store.DataVersion{Name: "w", Kind: "watch", Provenance: store.Provenance{Action: store.ActionAdd}, Content: listText("a", fmt.Sprint(round, "-", i)), Entries: 2}
			_, err := s.PutData(ctx, v, round, store.Change{Author: "w"}, "")
			return err
		})
		if vs, _ := s.DataVersions(ctx, "w"); len(vs) != round+1 {
			t.Fatalf("round %d: %d versions", round, len(vs))
		}
	}
}
