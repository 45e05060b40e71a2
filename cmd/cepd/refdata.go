package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/cepd/cepd/api/service"
	"github.com/cepd/cepd/rules/refdata"
	"github.com/cepd/cepd/rules/store"
	"github.com/cepd/cepd/rules/store/redisrules"
)

// openLists opens the lists and tables where the rules are kept and loads them: with the
// directory store, the files of DIR/data (edits on disk recorded as versions first); with
// the shared store, Redis, seeded from DIR/data the first time.
func openLists(ctx context.Context, dir *store.Dir, shared *redisrules.Store) (*service.Lists, error) {
	if _, err := dir.RefreshData(ctx); err != nil {
		return nil, fmt.Errorf("lists and tables: %w", err)
	}
	var st store.DataStore = dir
	if shared != nil {
		if err := seedLists(ctx, shared, dir); err != nil {
			return nil, err
		}
		st = shared
	}
	lists := service.NewLists(st, refdata.NewHolder(nil))
	if err := lists.Reload(ctx); err != nil {
		return nil, err
	}
	logRefData(lists.Holder().Load())
	return lists, nil
}

// seedLists copies the directory's datasets into a shared store that has none of that
// name yet (the first instance does it; a concurrent one loses the compare-and-set).
func seedLists(ctx context.Context, shared *redisrules.Store, dir *store.Dir) error {
	vs, err := dir.ListData(ctx)
	if err != nil {
		return err
	}
	for _, v := range vs {
		if _, err := shared.DataVersions(ctx, v.Name); !errors.Is(err, store.ErrNotFound) {
			continue // known to the shared store (maybe deleted there): left alone
		}
		v.Action = store.ActionCreate
		_, err := shared.PutData(ctx, v, 0, store.Change{Author: "seed", Comment: "imported from the rules directory"}, fmt.Sprintf("seeded with %d entries", v.Entries))
		if err != nil && !errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("seeding list %s: %w", v.Name, err)
		}
	}
	return nil
}

func logRefData(cat *refdata.Catalog) {
	for _, d := range cat.All() {
		slog.Info("reference data loaded", "name", d.Name, "kind", d.Kind, "version", d.Version, "entries", d.Len(), "digest", d.Digest)
	}
}

// listsThenRules reloads the lists, then the rules that read them (a change notice of
// the shared store, whichever it was about).
type listsThenRules struct {
	lists *service.Lists
	rules reloader
}

func (r listsThenRules) Reload(ctx context.Context) error {
	if err := r.lists.Reload(ctx); err != nil {
		return err
	}
	return r.rules.Reload(ctx)
}
