package state_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/cepd/cepd/state"
)

// TestFileStoreFilesVanish (issue 10): the partition's log (or the whole directory) is
// removed under an open store. The next delta (Continues) is refused with ErrLost and
// writes nothing; a Full checkpoint writes the whole state again, which a reopened store
// loads exactly.
func TestFileStoreFilesVanish(t *testing.T) {
	ctx := context.Background()
	for _, what := range []string{"log", "directory"} {
		t.Run(what, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "state")
			s := openDir(t, dir, state.FileOptions{NoSync: true, Warn: noWarn(t)})
			const p = 2
			e, err := s.Claim(ctx, p, 0)
			if err != nil {
				t.Fatal(err)
			}
			blob := func(k string) state.KeyBlob { return state.KeyBlob{Key: k, Data: []byte("probes of " + k)} }
			if err := s.Save(ctx, &state.Checkpoint{Partition: p, Epoch: e, Offset: 3, Continues: true, Upserts: []state.KeyBlob{blob("PM-A")}}); err != nil {
				t.Fatal(err)
			}
			victim := filepath.Join(dir, "partition-000002.log")
			if what == "directory" {
				victim = dir
			}
			if err := os.RemoveAll(victim); err != nil {
				t.Fatal(err)
			}
			err = s.Save(ctx, &state.Checkpoint{Partition: p, Epoch: e, Offset: 6, Continues: true, Upserts: []state.KeyBlob{blob("PM-B")}})
			if !errors.Is(err, state.ErrLost) {
				t.Fatalf("delta after the files vanished: %v, want ErrLost", err)
			}
			if err := s.Save(ctx, &state.Checkpoint{Partition: p, Epoch: e, Offset: 6, Full: true,
				Upserts: []state.KeyBlob{blob("PM-A"), blob("PM-B")}}); err != nil {
				t.Fatal(err)
			}
			if err := s.Save(ctx, &state.Checkpoint{Partition: p, Epoch: e, Offset: 9, Continues: true, Upserts: []state.KeyBlob{blob("PM-C")}}); err != nil {
				t.Fatalf("a delta after the full checkpoint: %v", err)
			}
			s.Close()
			s = openDir(t, dir, state.FileOptions{NoSync: true, Warn: noWarn(t)})
			defer s.Close()
			keys := map[string]bool{}
			meta, err := s.Load(ctx, p, func(k string, _ []byte) error { keys[k] = true; return nil })
			if err != nil || !meta.Found || meta.Offset != 9 || len(keys) != 3 {
				t.Fatalf("after a restart: %v, meta %+v, keys %v", err, meta, keys)
			}
		})
	}
}
