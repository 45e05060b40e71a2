package engine

import (
	"context"
	"encoding/json"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

// TestReloadDuringRestore (issue 10): a rule reload (one rule changed, the others kept)
// lands while a partition is being restored, at a varied moment: before, between and
// after the shards import their keys. Whatever the interleaving, the alerts are those of
// restoring first and reloading after: kept rules keep their restored partial matches
// (their windows and timeouts on the partition's own clock), the changed rule starts
// fresh, and nothing fires twice or early.
func TestReloadDuringRestore(t *testing.T) {
	rs := testRuleSet(t)
	srcs := slices.Clone(testRules)
	srcs[1] = strings.Replace(srcs[1], "within: 30s", "within: 40s", 1) // auth-no-capture changes
	next := compileSet(t, rs, srcs)
	recs := records(genEvents(5, 40, 4000))
	const cut = 2000
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	{
		store := openStore(t, dir)
		e := startCheckpointed(t, ctx, store, Config{Shards: 3}, rs, &sinkCollector{}, &dlqCollector{})
		if _, err := e.Restore(ctx, 0, slog.Default()); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Ingest(ctx, 0, recs[:cut]); err != nil {
			t.Fatal(err)
		}
		if err := e.Checkpoint(ctx); err != nil {
			t.Fatal(err)
		}
		e.Close()
		store.Close()
	}
	// run restores the checkpoint into a fresh engine (on a copy of the directory, so
	// every run starts from the same state), swapping the rules after delay (negative:
	// after the restore returned), then feeds the rest.
	run := func(delay time.Duration) []string {
		t.Helper()
		runDir := t.TempDir()
		copyDir(t, dir, runDir)
		store := openStore(t, runDir)
		defer store.Close()
		sink := &sinkCollector{}
		e := startCheckpointed(t, ctx, store, Config{Shards: 3}, rs, sink, &dlqCollector{})
		defer e.Close()
		swapped := make(chan error, 1)
		swap := func() { _, err := e.SwapRules(ctx, next); swapped <- err }
		if delay >= 0 {
			go func() { time.Sleep(delay); swap() }()
		}
		began := time.Now()
		if _, err := e.Restore(ctx, 0, slog.Default()); err != nil {
			t.Fatal(err)
		}
		if delay < 0 {
			t.Logf("the restore takes %v; reloads come 0-1.5ms after it begins", time.Since(began))
			swap()
		}
		if err := <-swapped; err != nil {
			t.Fatal(err)
		}
		if _, err := e.Ingest(ctx, 0, recs[cut:]); err != nil {
			t.Fatal(err)
		}
		if err := e.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, a := range sink.all {
			b, _ := json.Marshal(a)
			out = append(out, string(b))
		}
		sort.Strings(out)
		return out
	}
	want := run(-1)
	if len(want) == 0 {
		t.Fatal("no alerts: weak test")
	}
	r := rand.New(rand.NewPCG(9, 9))
	for i := range 30 {
		delay := time.Duration(r.IntN(1500)) * time.Microsecond
		if got := run(delay); !slices.Equal(got, want) {
			t.Fatalf("trial %d (reload %v into the restore): %d alerts, want %d as restore-then-reload", i, delay, len(got), len(want))
		}
	}
}

// copyDir copies the files of src into dst.
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, en := range ents {
		if en.IsDir() || en.Name() == "LOCK" {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, en.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, en.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
