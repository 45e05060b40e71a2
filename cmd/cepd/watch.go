package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/cepd/cepd/patterns"
	"github.com/cepd/cepd/rules/refdata"
	"github.com/cepd/cepd/rules/store"
	"github.com/cepd/cepd/rules/store/redisrules"
)

// watchRules calls reload when the files of the rules directory change (polled every
// interval) or on SIGHUP. reload compiles the whole new rule set and swaps it in, or
// rejects it with its errors and keeps the running one.
func watchRules(ctx context.Context, dir string, interval time.Duration, reload func(context.Context) error) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	last := dirFingerprint(dir)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		forced := false
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-hup:
			forced = true
		}
		fp := dirFingerprint(dir)
		if fp == last && !forced {
			continue
		}
		last = fp
		if err := reload(ctx); err != nil {
			slog.Error("rules not reloaded: the new rule set does not compile; the running rules stay", "dir", dir, "errors", err.Error())
			continue
		}
		slog.Info("rules reloaded from disk", "dir", dir)
	}
}

// dirFingerprint summarises the names, sizes and modification times of a directory's
// rule files (patterns.IsRuleFile), their tests (the store keeps a rule's tests), its
// schema file and its lists and tables (DIR/data).
func dirFingerprint(dir string) string {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "error:" + err.Error()
	}
	data, _ := os.ReadDir(filepath.Join(dir, refdata.DirName))
	entries = append(entries, data...) // isDataFile picks the lists and tables below
	var parts []string
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !(patterns.IsRuleFile(name) || name == patterns.SchemaFile || strings.HasSuffix(strings.ToLower(name), patterns.TestSuffix) || isDataFile(name)) {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue
		}
		parts = append(parts, fmt.Sprintf("%s|%d|%d", e.Name(), info.Size(), info.ModTime().UnixNano()))
	}
	sort.Strings(parts)
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// seedRules imports the rules directory into a shared rule store that was never seeded
// (the first instance of a deployment does it; the others find the store seeded).
func seedRules(ctx context.Context, st *redisrules.Store, dir *store.Dir, dirPath string) error {
	vs, err := dir.List(ctx)
	if err != nil {
		return err
	}
	for _, v := range vs {
		if v.Mode == store.Shadow && v.ShadowOf > 0 {
			base, err := dir.Version(ctx, v.ID, v.ShadowOf)
			if err != nil {
				return err
			}
			vs = append(vs, base)
		}
	}
	n, err := st.Seed(ctx, vs, store.Change{Author: "seed", Comment: "imported from " + dirPath})
	if err != nil {
		return fmt.Errorf("seeding the rule store from %s: %w", dirPath, err)
	}
	if n > 0 {
		slog.Info("rule store seeded from the rules directory", "rules", n, "dir", dirPath)
	}
	return seedSchema(ctx, st, dir, dirPath)
}

// seedSchema stores the directory's schema in a shared store that holds none (once: of
// instances starting together, the first put wins and the others find it there).
func seedSchema(ctx context.Context, st *redisrules.Store, dir *store.Dir, dirPath string) error {
	if _, err := st.GetSchema(ctx); !errors.Is(err, store.ErrNotFound) {
		return err
	}
	v, err := dir.GetSchema(ctx)
	if errors.Is(err, store.ErrNotFound) {
		return nil // the directory has no schema file recorded
	}
	if err != nil {
		return err
	}
	_, err = st.PutSchema(ctx, v.Source, 0, store.Change{Author: "seed", Comment: "imported from " + dirPath})
	if errors.Is(err, store.ErrConflict) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("seeding the schema from %s: %w", dirPath, err)
	}
	return nil
}

// reloader is what watchShared needs of the Rules service.
type reloader interface {
	Reload(ctx context.Context) error
}

// watchShared reloads the running rules whenever the shared rule store changes (a change
// through any instance, this one included, or a resync after a lost connection).
// Notices that arrive during a reload are coalesced into one more reload.
func watchShared(ctx context.Context, st *redisrules.Store, r reloader) {
	kick := make(chan struct{}, 1)
	reloads := make(chan struct{})
	defer func() { <-reloads }() // the reloader returns with ctx: joined before watchShared returns
	go func() {
		defer close(reloads)
		for {
			select {
			case <-ctx.Done():
				return
			case <-kick:
				if err := r.Reload(ctx); err != nil && ctx.Err() == nil {
					slog.Error("the shared rule store changed but the new rule set was not applied", "err", err)
				}
			}
		}
	}()
	for ctx.Err() == nil {
		err := st.Watch(ctx, func(string) {
			select {
			case kick <- struct{}{}:
			default: // a reload is pending and will read this change too
			}
		})
		if err != nil && ctx.Err() == nil {
			slog.Error("watching the shared rule store", "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
	}
}

// isDataFile reports whether name is a list or table file (NAME.KIND.csv or .jsonl).
func isDataFile(name string) bool {
	_, _, _, ok := refdata.ParseFileName(name)
	return ok
}
