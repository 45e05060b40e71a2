package state_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/cepd/cepd/state"
	"github.com/cepd/cepd/state/statetest"
)

var bg = context.Background()

func logPath(dir string, p int) string {
	return filepath.Join(dir, fmt.Sprintf("partition-%06d.log", p))
}

// noWarn fails the test on any recovery warning: none is expected without damage.
func noWarn(t *testing.T) func(int, error) {
	return func(p int, err error) { t.Errorf("unexpected warning for partition %d: %v", p, err) }
}

func openDir(t *testing.T, dir string, opts state.FileOptions) *state.FileStore {
	t.Helper()
	s, err := state.OpenDir(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestFileStoreConformance(t *testing.T) {
	t.Run("fsync", func(t *testing.T) {
		statetest.Run(t, func(t *testing.T) state.Store {
			return openDir(t, t.TempDir(), state.FileOptions{Warn: noWarn(t)})
		})
	})
	t.Run("compact-often", func(t *testing.T) {
		statetest.Run(t, func(t *testing.T) state.Store {
			return openDir(t, t.TempDir(), state.FileOptions{NoSync: true, CompactMinBytes: 1, CompactFrames: 3, Warn: noWarn(t)})
		})
	})
	t.Run("reopen-after-each-write", func(t *testing.T) {
		statetest.Run(t, func(t *testing.T) state.Store {
			dir := t.TempDir()
			opts := state.FileOptions{NoSync: true, CompactFrames: 5, Warn: noWarn(t)}
			return &reopening{t: t, dir: dir, opts: opts, fs: openDir(t, dir, opts)}
		})
	})
}

// reopening closes and reopens its FileStore after every write, so that everything the
// suite checks is also checked after a restart.
type reopening struct {
	t    *testing.T
	dir  string
	opts state.FileOptions
	mu   sync.RWMutex
	fs   *state.FileStore
}

func (r *reopening) reopen() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.fs.Close(); err != nil {
		return // closed by the test
	}
	r.fs = openDir(r.t, r.dir, r.opts)
}

func (r *reopening) Save(ctx context.Context, cp *state.Checkpoint) error {
	r.mu.RLock()
	err := r.fs.Save(ctx, cp)
	r.mu.RUnlock()
	r.reopen()
	return err
}

func (r *reopening) Claim(ctx context.Context, p int, e uint64) (uint64, error) {
	r.mu.RLock()
	got, err := r.fs.Claim(ctx, p, e)
	r.mu.RUnlock()
	r.reopen()
	return got, err
}

func (r *reopening) Load(ctx context.Context, p int, fn func(string, []byte) error) (state.Meta, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.fs.Load(ctx, p, fn)
}

func (r *reopening) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.fs.Close()
}

type kv = map[string]string

func loadAll(t *testing.T, s state.Store, p int) (kv, state.Meta) {
	t.Helper()
	got := kv{}
	meta, err := s.Load(bg, p, func(k string, d []byte) error { got[k] = string(d); return nil })
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return got, meta
}

func mustSave(t *testing.T, s state.Store, cp *state.Checkpoint) {
	t.Helper()
	if err := s.Save(bg, cp); err != nil {
		t.Fatalf("Save: %v", err)
	}
}

// TestFileStoreDamagedTail: a torn or corrupt last frame, or garbage after the last one
// (as after kill -9 or a crash mid-write), is reported and ignored; the state is the
// last good checkpoint's, and the next write cuts the damage off.
func TestFileStoreDamagedTail(t *testing.T) {
	cps := []*state.Checkpoint{
		{Partition: 0, Epoch: 1, Offset: 10, Upserts: blobs("a", "1", "b", "1")},
		{Partition: 0, Epoch: 1, Offset: 20, Upserts: blobs("a", "2", "c", "2"), Deletes: []string{"b"}},
		{Partition: 0, Epoch: 1, Offset: 30, Upserts: blobs("a", "3", "d", strings.Repeat("3", 100)), Deletes: []string{"c"}},
	}
	after2, after3 := kv{"a": "2", "c": "2"}, kv{"a": "3", "d": strings.Repeat("3", 100)}
	damages := []struct {
		name   string
		damage func(b []byte, last int) []byte // last: where the last frame starts
		want   kv
		offset int64
	}{
		{"truncate 1 byte", func(b []byte, _ int) []byte { return b[:len(b)-1] }, after2, 20},
		{"truncate mid-frame", func(b []byte, last int) []byte { return b[:last+(len(b)-last)/2] }, after2, 20},
		{"only part of a frame header", func(b []byte, last int) []byte { return b[:last+3] }, after2, 20},
		{"flip a payload byte", func(b []byte, _ int) []byte { b[len(b)-5] ^= 0x40; return b }, after2, 20},
		{"flip the length", func(b []byte, last int) []byte { b[last] ^= 0x01; return b }, after2, 20},
		{"huge length", func(b []byte, last int) []byte { b[last+3] = 0x7f; return b }, after2, 20},
		{"garbage appended", func(b []byte, _ int) []byte { return append(b, "\x17garbage after a good frame"...) }, after3, 30},
		{"zeros appended", func(b []byte, _ int) []byte { return append(b, make([]byte, 4096)...) }, after3, 30},
	}
	for _, d := range damages {
		t.Run(d.name, func(t *testing.T) {
			dir := t.TempDir()
			s := openDir(t, dir, state.FileOptions{Warn: noWarn(t)})
			var last int
			for _, cp := range cps {
				st, _ := os.Stat(logPath(dir, 0))
				if st != nil {
					last = int(st.Size())
				}
				mustSave(t, s, cp)
			}
			s.Close()
			b, _ := os.ReadFile(logPath(dir, 0))
			if err := os.WriteFile(logPath(dir, 0), d.damage(b, last), 0o644); err != nil {
				t.Fatal(err)
			}

			var warnings []string
			warn := func(p int, err error) { warnings = append(warnings, fmt.Sprint(p, ": ", err)) }
			s = openDir(t, dir, state.FileOptions{Warn: warn})
			d.want = maps.Clone(d.want)
			got, meta := loadAll(t, s, 0)
			if !reflect.DeepEqual(got, d.want) || meta.Offset != d.offset || !meta.Found {
				t.Fatalf("after damage: %v %+v, want %v at offset %d", got, meta, d.want, d.offset)
			}
			if len(warnings) != 1 || !strings.HasPrefix(warnings[0], "0: ") {
				t.Fatalf("warnings %q, want one for partition 0", warnings)
			}
			t.Log(warnings[0])
			// the next write cuts the damage off and appends after the last good frame
			mustSave(t, s, &state.Checkpoint{Partition: 0, Epoch: 1, Offset: 40, Upserts: blobs("e", "4")})
			if len(warnings) != 1 {
				t.Fatalf("warned again: %q", warnings)
			}
			s.Close()
			s = openDir(t, dir, state.FileOptions{Warn: noWarn(t)})
			defer s.Close()
			got, meta = loadAll(t, s, 0)
			d.want["e"] = "4"
			if !reflect.DeepEqual(got, d.want) || meta.Offset != 40 {
				t.Fatalf("after repair: %v %+v", got, meta)
			}
		})
	}
}

// TestFileStoreCorruptMiddleFrame: damage before the last frame ends the log there too:
// every prefix of checkpoints is a consistent state (the source is re-read from its
// offset).
func TestFileStoreCorruptMiddleFrame(t *testing.T) {
	dir := t.TempDir()
	s := openDir(t, dir, state.FileOptions{Warn: noWarn(t)})
	var sizes []int64
	for i := range 4 {
		mustSave(t, s, &state.Checkpoint{Partition: 2, Epoch: 1, Offset: int64(i), Upserts: blobs(fmt.Sprint("k", i), "v")})
		st, _ := os.Stat(logPath(dir, 2))
		sizes = append(sizes, st.Size())
	}
	s.Close()
	b, _ := os.ReadFile(logPath(dir, 2))
	b[sizes[1]+10] ^= 0xff // inside the third frame
	os.WriteFile(logPath(dir, 2), b, 0o644)
	warned := 0
	s = openDir(t, dir, state.FileOptions{Warn: func(int, error) { warned++ }})
	defer s.Close()
	got, meta := loadAll(t, s, 2)
	if !reflect.DeepEqual(got, kv{"k0": "v", "k1": "v"}) || meta.Offset != 1 || warned != 1 {
		t.Fatalf("got %v %+v, %d warnings", got, meta, warned)
	}
}

func TestFileStoreCorruptHeader(t *testing.T) {
	dir := t.TempDir()
	s := openDir(t, dir, state.FileOptions{})
	mustSave(t, s, &state.Checkpoint{Partition: 0, Epoch: 1, Offset: 1})
	s.Close()
	b, _ := os.ReadFile(logPath(dir, 0))
	b[2] = 'X'
	os.WriteFile(logPath(dir, 0), b, 0o644)
	s = openDir(t, dir, state.FileOptions{})
	defer s.Close()
	if _, err := s.Load(bg, 0, func(string, []byte) error { return nil }); !errors.Is(err, state.ErrCorrupt) {
		t.Fatalf("Load: %v", err)
	}
	if err := s.Save(bg, &state.Checkpoint{Partition: 0, Epoch: 1, Offset: 2}); !errors.Is(err, state.ErrCorrupt) {
		t.Fatalf("Save: %v", err)
	}
	// a log renamed to another partition is refused
	os.Rename(logPath(dir, 0), logPath(dir, 5))
	b[2] = 'p'
	os.WriteFile(logPath(dir, 5), b, 0o644)
	if _, err := s.Load(bg, 5, func(string, []byte) error { return nil }); !errors.Is(err, state.ErrCorrupt) {
		t.Fatalf("Load of a renamed log: %v", err)
	}
}

// TestFileStoreCorruptKeyBlob: the store passes blobs through; a key whose blob is
// damaged fails DecodeKeyState alone, and the partition's other keys restore.
func TestFileStoreCorruptKeyBlob(t *testing.T) {
	s := openDir(t, t.TempDir(), state.FileOptions{NoSync: true, Warn: noWarn(t)})
	defer s.Close()
	want := map[string]*state.KeyState{}
	cp := &state.Checkpoint{Partition: 0, Epoch: 1, Offset: 99}
	for i := range 5 {
		key := fmt.Sprintf("card-%d", i)
		ks, _ := liveState(t, key, 3+i)
		want[key] = ks
		blob := state.AppendKeyState(nil, ks, cardSchema)
		if i == 2 {
			blob[len(blob)/2] ^= 0x10
		}
		cp.Upserts = append(cp.Upserts, state.KeyBlob{Key: key, Data: blob})
	}
	mustSave(t, s, cp)
	var bad []string
	restored := 0
	meta, err := s.Load(bg, 0, func(key string, data []byte) error {
		ks, err := state.DecodeKeyState(data, cardSchema)
		if err != nil {
			if !errors.Is(err, state.ErrCorrupt) {
				t.Errorf("%s: %v, want ErrCorrupt", key, err)
			}
			bad = append(bad, key) // the engine counts it, dead-letters the key and goes on
			return nil
		}
		if !sameState(ks, normalize(want[key], cardSchema)) {
			t.Errorf("%s: restored state differs", key)
		}
		restored++
		return nil
	})
	if err != nil || meta.Keys != 5 || restored != 4 || !reflect.DeepEqual(bad, []string{"card-2"}) {
		t.Fatalf("Load: %v, meta %+v, %d restored, bad %v", err, meta, restored, bad)
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

func TestFileStoreCompaction(t *testing.T) {
	dir := t.TempDir()
	opts := state.FileOptions{NoSync: true, CompactMinBytes: 64 << 10, CompactFrames: -1, Warn: noWarn(t)}
	s := openDir(t, dir, opts)
	epoch, _ := s.Claim(bg, 0, 7)
	want := kv{}
	maxSize := int64(0)
	for i := range 60 {
		cp := &state.Checkpoint{Partition: 0, Epoch: epoch, Offset: int64(i), Watermark: int64(i * 10), RuleSet: "rs"}
		for k := range 100 {
			v := fmt.Sprintf("%04d-%s", i, strings.Repeat("x", 1000))
			cp.Upserts = append(cp.Upserts, state.KeyBlob{Key: fmt.Sprint("k", k), Data: []byte(v)})
			want[fmt.Sprint("k", k)] = v
		}
		mustSave(t, s, cp)
		maxSize = max(maxSize, fileSize(t, logPath(dir, 0)))
	}
	live := int64(100 * 1007)
	if maxSize > 3*live {
		t.Fatalf("log grew to %d bytes for %d live bytes", maxSize, live)
	}
	check := func(s *state.FileStore, want kv, offset int64) {
		t.Helper()
		got, meta := loadAll(t, s, 0)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("state after compaction differs: %d keys, want %d", len(got), len(want))
		}
		if w := (state.Meta{Epoch: epoch, Offset: offset, Watermark: offset * 10, RuleSet: "rs", Keys: len(want), Found: true}); meta != w {
			t.Fatalf("meta %+v, want %+v", meta, w)
		}
	}
	check(s, want, 59)
	s.Close()
	s = openDir(t, dir, opts)
	check(s, want, 59)

	// everything deleted: the next compaction leaves next to nothing
	cp := &state.Checkpoint{Partition: 0, Epoch: epoch, Offset: 60, Watermark: 600, RuleSet: "rs"}
	for k := range want {
		cp.Deletes = append(cp.Deletes, k)
	}
	mustSave(t, s, cp)
	if size := fileSize(t, logPath(dir, 0)); size > 200 {
		t.Fatalf("log of an empty partition is %d bytes", size)
	}
	check(s, kv{}, 60)
	if err := s.Save(bg, &state.Checkpoint{Partition: 0, Epoch: epoch - 1}); !errors.Is(err, state.ErrFenced) {
		t.Fatalf("epoch lost in compaction: %v", err)
	}
	s.Close()
}

// TestFileStoreCompactionChunks: a partition larger than one snapshot frame is
// compacted into several; damage to one of them is not a torn tail but an error.
func TestFileStoreCompactionChunks(t *testing.T) {
	dir := t.TempDir()
	opts := state.FileOptions{NoSync: true, CompactFrames: 2, Warn: noWarn(t)}
	s := openDir(t, dir, opts)
	want := kv{}
	for i := range 2 {
		cp := &state.Checkpoint{Partition: 1, Epoch: 1, Offset: int64(i)}
		for k := range 1500 {
			v := fmt.Sprintf("%d-%d-%s", i, k, strings.Repeat("y", 1000))
			key := fmt.Sprintf("key-%d-%d", i, k)
			cp.Upserts = append(cp.Upserts, state.KeyBlob{Key: key, Data: []byte(v)})
			want[key] = v
		}
		mustSave(t, s, cp) // the second save compacts 3 MB into 3 snapshot frames
	}
	s.Close()
	s = openDir(t, dir, opts)
	if got, meta := loadAll(t, s, 1); !reflect.DeepEqual(got, want) || meta.Offset != 1 {
		t.Fatalf("after compaction: %d keys, meta %+v", len(got), meta)
	}
	s.Close()
	b, _ := os.ReadFile(logPath(dir, 1))
	b[100] ^= 1 // in the first snapshot frame
	os.WriteFile(logPath(dir, 1), b, 0o644)
	s = openDir(t, dir, opts)
	defer s.Close()
	if _, err := s.Load(bg, 1, func(string, []byte) error { return nil }); !errors.Is(err, state.ErrCorrupt) {
		t.Fatalf("damaged snapshot: %v, want ErrCorrupt", err)
	}
}

func TestFileStoreLock(t *testing.T) {
	dir := t.TempDir()
	s := openDir(t, dir, state.FileOptions{})
	_, err := state.OpenDir(dir, state.FileOptions{})
	if !errors.Is(err, state.ErrLocked) || !strings.Contains(err.Error(), fmt.Sprint(os.Getpid())) {
		t.Fatalf("second OpenDir: %v, want ErrLocked naming pid %d", err, os.Getpid())
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); !errors.Is(err, state.ErrClosed) {
		t.Fatalf("second Close: %v", err)
	}
	s = openDir(t, dir, state.FileOptions{})
	s.Close()
}

func TestFileStoreRemovesCompactionLeftovers(t *testing.T) {
	dir := t.TempDir()
	tmp := logPath(dir, 3) + ".tmp"
	os.WriteFile(tmp, []byte("half a compaction"), 0o644)
	s := openDir(t, dir, state.FileOptions{})
	defer s.Close()
	if _, err := os.Stat(tmp); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("leftover kept: %v", err)
	}
}

func blobs(kv ...string) []state.KeyBlob {
	var out []state.KeyBlob
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, state.KeyBlob{Key: kv[i], Data: []byte(kv[i+1])})
	}
	return out
}
