package storetest

import (
	"context"
	"errors"
	"testing"

	"github.com/cepd/cepd/rules/store"
)

// Run runs the contract suite against the stores open returns: one new, empty store per
// subtest.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	t.Run("Changes", func(t *testing.T) { testChanges(t, open) })
	t.Run("Reads", func(t *testing.T) { testReads(t, open(t)) })
	t.Run("Audit", func(t *testing.T) { testAudit(t, open(t)) })
	t.Run("Provenance", func(t *testing.T) { testProvenance(t, open(t)) })
	t.Run("Tests", func(t *testing.T) { testTests(t, open(t)) })
	t.Run("LargeSource", func(t *testing.T) { testLargeSource(t, open(t)) })
	t.Run("ConcurrentUpdates", func(t *testing.T) { testConcurrentUpdates(t, open(t)) })
	t.Run("ConcurrentCreates", func(t *testing.T) { testConcurrentCreates(t, open(t)) })
}

var ch = store.Change{Author: "alice", Comment: "c"}

// changeCase is one change after some setup: the setup's changes must succeed; the last
// must give the error err or the version want (describe's format) with source tag.
type changeCase struct {
	name  string
	setup func(ctx context.Context, s store.Store) error
	do    func(ctx context.Context, s store.Store) (store.Version, error)
	err   error
	want  string
	tag   string // the source of the version is src("r1", tag)
}

// steps runs changes one after another, stopping at the first error.
func steps(fs ...func(ctx context.Context, s store.Store) (store.Version, error)) func(context.Context, store.Store) error {
	return func(ctx context.Context, s store.Store) error {
		for _, f := range fs {
			if _, err := f(ctx, s); err != nil {
				return err
			}
		}
		return nil
	}
}

// The changes of the table, on rule r1 unless said otherwise.
type op = func(ctx context.Context, s store.Store) (store.Version, error)

func create(tag string) op {
	return func(ctx context.Context, s store.Store) (store.Version, error) {
		return s.Create(ctx, "r1", src("r1", tag), ch)
	}
}

func update(tag string) op {
	return func(ctx context.Context, s store.Store) (store.Version, error) {
		return s.Update(ctx, "r1", src("r1", tag), ch)
	}
}

func shadow(tag string) op {
	return func(ctx context.Context, s store.Store) (store.Version, error) {
		return s.Shadow(ctx, "r1", src("r1", tag), ch)
	}
}

func rollback(n int) op {
	return func(ctx context.Context, s store.Store) (store.Version, error) {
		return s.Rollback(ctx, "r1", n, ch)
	}
}

func setMode(m store.Mode) op {
	return func(ctx context.Context, s store.Store) (store.Version, error) {
		return s.SetMode(ctx, "r1", m, ch)
	}
}

func del(ctx context.Context, s store.Store) (store.Version, error) {
	return s.Delete(ctx, "r1", ch)
}

var changeCases = []changeCase{
	// Create.
	{name: "create", do: create("a"), want: "r1 1 active create", tag: "a"},
	{name: "create twice", setup: steps(create("a")), do: create("b"), err: store.ErrExists},
	{name: "create bad id", do: func(ctx context.Context, s store.Store) (store.Version, error) {
		return s.Create(ctx, "../x", src("x", "a"), ch)
	}, err: store.ErrInvalid},
	{name: "create upper-case id", do: func(ctx context.Context, s store.Store) (store.Version, error) {
		return s.Create(ctx, "R1", src("R1", "a"), ch)
	}, err: store.ErrInvalid},
	{name: "create empty id", do: func(ctx context.Context, s store.Store) (store.Version, error) {
		return s.Create(ctx, "", src("", "a"), ch)
	}, err: store.ErrInvalid},
	{name: "create after delete", setup: steps(create("a"), del), do: create("c"), want: "r1 3 active create", tag: "c"},
	{name: "create after deleting a shadow rule", setup: steps(create("a"), setMode(store.Shadow), del),
		do: create("c"), want: "r1 4 active create", tag: "c"},
	{name: "create after deleting a trial", setup: steps(create("a"), shadow("b"), del),
		do: create("c"), want: "r1 4 active create", tag: "c"},

	// Update.
	{name: "update", setup: steps(create("a")), do: update("b"), want: "r1 2 active update", tag: "b"},
	{name: "update missing", do: update("b"), err: store.ErrNotFound},
	{name: "update deleted", setup: steps(create("a"), del), do: update("b"), err: store.ErrNotFound},
	{name: "update keeps shadow", setup: steps(create("a"), setMode(store.Shadow)), do: update("b"),
		want: "r1 3 shadow update", tag: "b"},
	{name: "update keeps disabled", setup: steps(create("a"), setMode(store.Disabled)), do: update("b"),
		want: "r1 3 disabled update", tag: "b"},
	{name: "update keeps a trial", setup: steps(create("a"), shadow("b")), do: update("c"),
		want: "r1 3 shadow shadow_of=1 update", tag: "c"},
	{name: "update bad id", do: func(ctx context.Context, s store.Store) (store.Version, error) {
		return s.Update(ctx, "../x", src("x", "a"), ch)
	}, err: store.ErrNotFound},

	// Rollback.
	{name: "rollback", setup: steps(create("a"), update("b")), do: rollback(1), want: "r1 3 active rollback", tag: "a"},
	{name: "rollback to the current version", setup: steps(create("a"), update("b")), do: rollback(2),
		want: "r1 3 active rollback", tag: "b"},
	{name: "rollback to nothing", setup: steps(create("a")), do: rollback(7), err: store.ErrNotFound},
	{name: "rollback to version 0", setup: steps(create("a")), do: rollback(0), err: store.ErrNotFound},
	{name: "rollback to a negative version", setup: steps(create("a")), do: rollback(-1), err: store.ErrNotFound},
	{name: "rollback missing", do: rollback(1), err: store.ErrNotFound},
	{name: "rollback deleted", setup: steps(create("a"), del), do: rollback(1), err: store.ErrNotFound},
	{name: "rollback to a deletion", setup: steps(create("a"), del, create("c")), do: rollback(2),
		err: store.ErrInvalid},
	{name: "rollback across a deletion", setup: steps(create("a"), del, create("c")), do: rollback(1),
		want: "r1 4 active rollback", tag: "a"},
	{name: "rollback keeps disabled", setup: steps(create("a"), setMode(store.Disabled), update("b")),
		do: rollback(1), want: "r1 4 disabled rollback", tag: "a"},
	{name: "rollback keeps shadow", setup: steps(create("a"), setMode(store.Shadow), update("b")),
		do: rollback(1), want: "r1 4 shadow rollback", tag: "a"},
	{name: "rollback ends a trial", setup: steps(create("a"), shadow("b")), do: rollback(1),
		want: "r1 3 active rollback", tag: "a"},
	{name: "rollback to the candidate ends a trial", setup: steps(create("a"), shadow("b")), do: rollback(2),
		want: "r1 3 active rollback", tag: "b"},

	// Shadow: a candidate on trial.
	{name: "shadow", setup: steps(create("a")), do: shadow("b"), want: "r1 2 shadow shadow_of=1 shadow", tag: "b"},
	{name: "shadow again keeps the active version", setup: steps(create("a"), update("b"), shadow("c")),
		do: shadow("d"), want: "r1 4 shadow shadow_of=2 shadow", tag: "d"},
	{name: "shadow after a promotion", setup: steps(create("a"), shadow("b"), setMode(store.Active)),
		do: shadow("c"), want: "r1 4 shadow shadow_of=3 shadow", tag: "c"},
	{name: "shadow of a shadow rule", setup: steps(create("a"), setMode(store.Shadow)), do: shadow("b"),
		err: store.ErrInvalid},
	{name: "shadow of a disabled rule", setup: steps(create("a"), setMode(store.Disabled)), do: shadow("b"),
		err: store.ErrInvalid},
	{name: "shadow missing", do: shadow("b"), err: store.ErrNotFound},
	{name: "shadow deleted", setup: steps(create("a"), del), do: shadow("b"), err: store.ErrNotFound},

	// SetMode.
	{name: "set shadow", setup: steps(create("a")), do: setMode(store.Shadow), want: "r1 2 shadow set_mode", tag: "a"},
	{name: "set disabled", setup: steps(create("a")), do: setMode(store.Disabled), want: "r1 2 disabled set_mode", tag: "a"},
	{name: "set active again", setup: steps(create("a"), update("b"), setMode(store.Disabled)),
		do: setMode(store.Active), want: "r1 4 active set_mode", tag: "b"},
	{name: "set the same mode", setup: steps(create("a")), do: setMode(store.Active), want: "r1 2 active set_mode", tag: "a"},
	{name: "set a bad mode", setup: steps(create("a")), do: setMode("loud"), err: store.ErrInvalid},
	{name: "set an empty mode", setup: steps(create("a")), do: setMode(""), err: store.ErrInvalid},
	{name: "set mode missing", do: setMode(store.Shadow), err: store.ErrNotFound},
	{name: "set mode deleted", setup: steps(create("a"), del), do: setMode(store.Active), err: store.ErrNotFound},
	{name: "set active promotes a candidate", setup: steps(create("a"), shadow("b")), do: setMode(store.Active),
		want: "r1 3 active set_mode", tag: "b"},
	{name: "set disabled ends a trial", setup: steps(create("a"), shadow("b")), do: setMode(store.Disabled),
		want: "r1 3 disabled set_mode", tag: "b"},
	{name: "set shadow keeps a trial", setup: steps(create("a"), shadow("b")), do: setMode(store.Shadow),
		want: "r1 3 shadow shadow_of=1 set_mode", tag: "b"},

	// Delete.
	{name: "delete", setup: steps(create("a")), do: del, want: "r1 2 active deleted delete", tag: "a"},
	{name: "delete keeps the mode", setup: steps(create("a"), setMode(store.Disabled)), do: del,
		want: "r1 3 disabled deleted delete", tag: "a"},
	{name: "delete ends a trial", setup: steps(create("a"), shadow("b")), do: del,
		want: "r1 3 shadow deleted delete", tag: "b"},
	{name: "delete twice", setup: steps(create("a"), del), do: del, err: store.ErrNotFound},
	{name: "delete missing", do: del, err: store.ErrNotFound},
}

func testChanges(t *testing.T, open func(t *testing.T) store.Store) {
	ctx := context.Background()
	for _, c := range changeCases {
		t.Run(c.name, func(t *testing.T) {
			s := open(t)
			if c.setup != nil {
				if err := c.setup(ctx, s); err != nil {
					t.Fatalf("setup: %v", err)
				}
			}
			before, _ := s.Versions(ctx, "r1")
			v, err := c.do(ctx, s)
			switch {
			case c.err != nil && !errors.Is(err, c.err):
				t.Fatalf("err %v, want %v", err, c.err)
			case c.err == nil && err != nil:
				t.Fatalf("err %v, want %s", err, c.want)
			case err != nil:
				// A method that fails changes nothing.
				after, _ := s.Versions(ctx, "r1")
				if len(after) != len(before) {
					t.Fatalf("failed with %v but recorded a version: %d versions, had %d", err, len(after), len(before))
				}
			default:
				if got := describe(v); got != c.want {
					t.Fatalf("got %q, want %q", got, c.want)
				}
				if string(v.Source) != string(src("r1", c.tag)) {
					t.Fatalf("source %q, want %q", v.Source, src("r1", c.tag))
				}
				if v.Author != ch.Author || (v.Comment != ch.Comment) || v.Time.IsZero() {
					t.Fatalf("provenance: author %q comment %q time %v", v.Author, v.Comment, v.Time)
				}
				stored, err := s.Version(ctx, "r1", v.Version)
				if err != nil {
					t.Fatal(err)
				}
				if d := sameVersion(stored, v); d != "" {
					t.Fatalf("stored version differs from the one returned: %s", d)
				}
			}
			checkConsistent(t, s, "r1", "x", "R1", "")
		})
	}
}

func testReads(t *testing.T, s store.Store) {
	ctx := context.Background()
	if vs, err := s.List(ctx); err != nil || len(vs) != 0 {
		t.Fatalf("List of an empty store: %v %v", vs, err)
	}
	if es, err := s.Audit(ctx, store.AuditFilter{}); err != nil || len(es) != 0 {
		t.Fatalf("Audit of an empty store: %v %v", es, err)
	}
	for _, id := range []string{"r9", "../x", "Bad Id", ""} {
		if _, err := s.Get(ctx, id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Get(%q): %v, want ErrNotFound", id, err)
		}
		if _, err := s.Versions(ctx, id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Versions(%q): %v, want ErrNotFound", id, err)
		}
		if _, err := s.Version(ctx, id, 1); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Version(%q, 1): %v, want ErrNotFound", id, err)
		}
	}
	for _, id := range []string{"r2", "r1", "r3", "r0"} {
		if _, err := s.Create(ctx, id, src(id, "a"), ch); err != nil {
			t.Fatal(err)
		}
	}
	mustChange(t)(s.SetMode(ctx, "r2", store.Disabled, ch))
	mustChange(t)(s.Delete(ctx, "r3", ch))
	mustChange(t)(s.Update(ctx, "r0", src("r0", "b"), ch))
	vs, err := s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, v := range vs {
		got = append(got, describe(v)+" "+string(v.Source))
	}
	want := []string{
		"r0 2 active update " + string(src("r0", "b")),
		"r1 1 active create " + string(src("r1", "a")),
		"r2 2 disabled set_mode " + string(src("r2", "a")),
	}
	if len(got) != len(want) {
		t.Fatalf("List: %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("List: %q, want %q", got, want)
		}
	}
	// A deleted rule keeps its history.
	h, err := s.Versions(ctx, "r3")
	if err != nil || len(h) != 2 || !h[1].Deleted {
		t.Fatalf("Versions of a deleted rule: %v %v", h, err)
	}
	if v, err := s.Version(ctx, "r3", 1); err != nil || string(v.Source) != string(src("r3", "a")) {
		t.Fatalf("Version 1 of a deleted rule: %v %v", v, err)
	}
	for _, n := range []int{0, -1, 3} {
		if _, err := s.Version(ctx, "r3", n); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Version(r3, %d): %v, want ErrNotFound", n, err)
		}
	}
	checkConsistent(t, s, "r0", "r1", "r2", "r3")
}

// mustChange fails the test if a change failed.
func mustChange(t *testing.T) func(store.Version, error) store.Version {
	return func(v store.Version, err error) store.Version {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}
