package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/cepd/cepd/rules/store"
)

// testConcurrentUpdates: goroutines updating one rule (while others read) get distinct
// version numbers, which are consecutive, and every update is recorded once.
func testConcurrentUpdates(t *testing.T, s store.Store) {
	const writers, each = 8, 5
	ctx := context.Background()
	mustChange(t)(s.Create(ctx, "r1", src("r1", "0"), ch))
	var wg sync.WaitGroup
	got := make(chan store.Version, writers*each)
	errs := make(chan error, writers*each+writers)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				tag := fmt.Sprintf("w%d-%d", w, i)
				v, err := s.Update(ctx, "r1", src("r1", tag), store.Change{Author: tag})
				if err != nil {
					errs <- fmt.Errorf("update %s: %w", tag, err)
					continue
				}
				got <- v
			}
		})
		wg.Go(func() { // a reader beside each writer
			for range each {
				if _, err := s.List(ctx); err != nil {
					errs <- fmt.Errorf("list: %w", err)
				}
				if _, err := s.Get(ctx, "r1"); err != nil {
					errs <- fmt.Errorf("get: %w", err)
				}
			}
		})
	}
	wg.Wait()
	close(got)
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	numbers := map[int]string{}
	for v := range got {
		if prev, dup := numbers[v.Version]; dup {
			t.Fatalf("version %d returned to %s and %s", v.Version, prev, v.Author)
		}
		numbers[v.Version] = v.Author
	}
	vs, err := s.Versions(ctx, "r1")
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != writers*each+1 {
		t.Fatalf("%d versions, want %d", len(vs), writers*each+1)
	}
	seen := map[string]bool{}
	for i, v := range vs {
		if v.Version != i+1 {
			t.Fatalf("version %d numbered %d", i+1, v.Version)
		}
		if i == 0 {
			continue
		}
		if numbers[v.Version] != v.Author || string(v.Source) != string(src("r1", v.Author)) || seen[v.Author] {
			t.Fatalf("version %d: author %q, source %q; returned to %q", v.Version, v.Author, v.Source, numbers[v.Version])
		}
		seen[v.Author] = true
	}
	checkConsistent(t, s, "r1")
}

// testConcurrentCreates: of goroutines creating one rule, one succeeds and the others
// get ErrExists.
func testConcurrentCreates(t *testing.T, s store.Store) {
	ctx := context.Background()
	oneWins(t, 8, store.ErrExists, "creates", func(i int) error {
		_, err := s.Create(ctx, "r1", src("r1", fmt.Sprint(i)), ch)
		return err
	})
	checkConsistent(t, s, "r1")
}

// oneWins runs write(0) to write(n-1) at once and checks that exactly one succeeds and
// that each of the others fails with lose (ErrExists, ErrConflict); what names the
// writes in the failures.
func oneWins(t *testing.T, n int, lose error, what string, write func(i int) error) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { errs[i] = write(i) })
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, lose):
			t.Errorf("%s: %v, want nil or %v", what, err, lose)
		}
	}
	if won != 1 {
		t.Fatalf("%d of %d %s succeeded, want 1", won, n, what)
	}
}
