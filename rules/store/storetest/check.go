package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/cepd/cepd/rules/store"
)

// src is the source of version tag of rule id: valid YAML naming its rule, so that a
// directory store reading it back finds the same rule.
func src(id, tag string) []byte { return []byte("id: " + id + "\n# " + tag + "\n") }

// describe prints the state of a version: "id n mode [shadow_of=k] [deleted] action".
func describe(v store.Version) string {
	s := fmt.Sprintf("%s %d %s", v.ID, v.Version, v.Mode)
	if v.ShadowOf > 0 {
		s += fmt.Sprintf(" shadow_of=%d", v.ShadowOf)
	}
	if v.Deleted {
		s += " deleted"
	}
	return s + " " + v.Action
}

// sameVersion reports how a differs from b, or "" if they are the same version.
func sameVersion(a, b store.Version) string {
	switch {
	case describe(a) != describe(b):
		return fmt.Sprintf("%q, want %q", describe(a), describe(b))
	case a.Author != b.Author || a.Comment != b.Comment:
		return fmt.Sprintf("author %q comment %q, want %q %q", a.Author, a.Comment, b.Author, b.Comment)
	case !a.Time.Equal(b.Time):
		return fmt.Sprintf("time %v, want %v", a.Time, b.Time)
	case !bytes.Equal(a.Source, b.Source):
		return fmt.Sprintf("source %.60q, want %.60q", a.Source, b.Source)
	}
	return ""
}

// checkConsistent checks that the store's reads agree with each other for the rules ids
// (every rule the test touched): List is sorted and holds exactly the rules not deleted,
// Get and the last of Versions agree, versions are numbered 1 to n and Version(n) reads
// each, and the audit log holds one entry per version, newest first.
func checkConsistent(t *testing.T, s store.Store, ids ...string) {
	t.Helper()
	ctx := context.Background()
	list, err := s.List(ctx)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if !slices.IsSortedFunc(list, func(a, b store.Version) int { return strings.Compare(a.ID, b.ID) }) {
		t.Fatalf("List not sorted by id: %v", listIDs(list))
	}
	listed := map[string]store.Version{}
	for _, v := range list {
		if v.Deleted {
			t.Fatalf("List holds deleted %s", describe(v))
		}
		listed[v.ID] = v
	}
	total := 0
	for _, id := range ids {
		total += checkRule(t, s, id, listed)
	}
	if len(listed) > 0 {
		for id := range listed {
			if !slices.Contains(ids, id) {
				t.Fatalf("List holds %s, which the test never created", id)
			}
		}
	}
	all, err := s.Audit(ctx, store.AuditFilter{})
	if err != nil {
		t.Fatalf("Audit: %v", err)
	}
	if len(all) != total {
		t.Fatalf("Audit: %d entries for %d versions", len(all), total)
	}
}

// checkRule checks rule id's versions, Get and List against each other and its audit
// entries, and returns its number of versions.
func checkRule(t *testing.T, s store.Store, id string, listed map[string]store.Version) int {
	t.Helper()
	ctx := context.Background()
	vs, err := s.Versions(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		if _, ok := listed[id]; ok {
			t.Fatalf("%s: listed, but Versions: %v", id, err)
		}
		if _, err := s.Get(ctx, id); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("%s: no versions, but Get: %v", id, err)
		}
		return 0
	}
	if err != nil {
		t.Fatalf("Versions(%s): %v", id, err)
	}
	checkVersions(t, s, id, vs)
	if _, err := s.Version(ctx, id, len(vs)+1); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Version(%s, %d) past the last: %v, want ErrNotFound", id, len(vs)+1, err)
	}
	last := vs[len(vs)-1]
	got, err := s.Get(ctx, id)
	if last.Deleted {
		if !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Get(%s) of a deleted rule: %v, want ErrNotFound", id, err)
		}
		if _, ok := listed[id]; ok {
			t.Fatalf("deleted %s is listed", id)
		}
		return len(vs)
	}
	if err != nil {
		t.Fatalf("Get(%s): %v", id, err)
	}
	if d := sameVersion(got, last); d != "" {
		t.Fatalf("Get(%s) is not the last version: %s", id, d)
	}
	if d := sameVersion(listed[id], last); d != "" {
		t.Fatalf("List's %s is not the last version: %s", id, d)
	}
	checkRuleAudit(t, s, id, vs)
	return len(vs)
}

// checkVersions checks that vs are numbered 1 to n, timed, and read the same one by one.
func checkVersions(t *testing.T, s store.Store, id string, vs []store.Version) {
	t.Helper()
	ctx := context.Background()
	for i, v := range vs {
		if v.ID != id || v.Version != i+1 {
			t.Fatalf("Versions(%s)[%d] is %s: want version %d", id, i, describe(v), i+1)
		}
		if v.Time.IsZero() {
			t.Fatalf("%s has no time", describe(v))
		}
		one, err := s.Version(ctx, id, i+1)
		if err != nil {
			t.Fatalf("Version(%s, %d): %v", id, i+1, err)
		}
		if d := sameVersion(one, v); d != "" {
			t.Fatalf("Version(%s, %d) differs from Versions: %s", id, i+1, d)
		}
	}
}

// checkRuleAudit checks that rule id's audit log holds one entry per version of vs,
// newest first.
func checkRuleAudit(t *testing.T, s store.Store, id string, vs []store.Version) {
	t.Helper()
	ctx := context.Background()
	es, err := s.Audit(ctx, store.AuditFilter{RuleID: id})
	if err != nil {
		t.Fatalf("Audit(%s): %v", id, err)
	}
	if len(es) != len(vs) {
		t.Fatalf("Audit(%s): %d entries for %d versions", id, len(es), len(vs))
	}
	for i, e := range es {
		v := vs[len(vs)-1-i]
		if e.RuleID != id || e.Version != v.Version || e.Action != v.Action || e.Author != v.Author ||
			e.Comment != v.Comment || !e.Time.Equal(v.Time) {
			t.Fatalf("Audit(%s)[%d] = %+v, want the entry of %s by %q", id, i, e, describe(v), v.Author)
		}
	}
}

func listIDs(vs []store.Version) []string {
	var ids []string
	for _, v := range vs {
		ids = append(ids, v.ID)
	}
	return ids
}
