// Package statetest is the conformance suite for state.Store implementations: every
// backend (local files, Redis) runs Run, so they keep one contract.
package statetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/cepd/cepd/state"
)

// Run runs the suite. open returns a new, empty store for one subtest; Run closes it.
func Run(t *testing.T, open func(t *testing.T) state.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s state.Store)
	}{
		{"RoundTrip", testRoundTrip},
		{"UpsertsThenDeletes", testUpsertsThenDeletes},
		{"OrderWithinCheckpoint", testOrderWithinCheckpoint},
		{"EmptyPartition", testEmptyPartition},
		{"EmptyCheckpoint", testEmptyCheckpoint},
		{"OddKeysAndData", testOddKeysAndData},
		{"PartitionsIndependent", testPartitionsIndependent},
		{"ResaveIdempotent", testResaveIdempotent},
		{"Fencing", testFencing},
		{"ClaimRaises", testClaimRaises},
		{"LargePartition", testLargePartition},
		{"ConcurrentPartitions", testConcurrentPartitions},
		{"LoadCallbackError", testLoadCallbackError},
		{"ContinuesAndFull", testContinuesAndFull},
		{"CanceledContext", testCanceledContext},
		{"Closed", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			if tc.fn == nil {
				testClosed(t, s)
				return
			}
			defer func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			}()
			tc.fn(t, s)
		})
	}
}

var ctx = context.Background()

// Model is the expected content of a partition.
type model struct {
	keys map[string][]byte
	meta state.Meta
}

func newModel() *model { return &model{keys: map[string][]byte{}} }

func (m *model) apply(cp *state.Checkpoint) {
	for _, u := range cp.Upserts {
		m.keys[u.Key] = bytes.Clone(u.Data)
	}
	for _, k := range cp.Deletes {
		delete(m.keys, k)
	}
	m.meta = state.Meta{Epoch: max(m.meta.Epoch, cp.Epoch), Offset: cp.Offset, Watermark: cp.Watermark, RuleSet: cp.RuleSet, Found: true}
}

func save(t *testing.T, s state.Store, cp *state.Checkpoint) {
	t.Helper()
	if err := s.Save(ctx, cp); err != nil {
		t.Fatalf("Save partition %d offset %d: %v", cp.Partition, cp.Offset, err)
	}
}

func load(t *testing.T, s state.Store, partition int) (map[string][]byte, state.Meta) {
	t.Helper()
	got := map[string][]byte{}
	meta, err := s.Load(ctx, partition, func(key string, data []byte) error {
		if _, dup := got[key]; dup {
			t.Errorf("Load partition %d: key %q twice", partition, key)
		}
		got[key] = bytes.Clone(data)
		return nil
	})
	if err != nil {
		t.Fatalf("Load partition %d: %v", partition, err)
	}
	return got, meta
}

// check loads partition p and compares it with m.
func check(t *testing.T, s state.Store, p int, m *model) {
	t.Helper()
	got, meta := load(t, s, p)
	want := m.meta
	want.Keys = len(m.keys)
	if meta != want {
		t.Errorf("partition %d meta:\n got %+v\nwant %+v", p, meta, want)
	}
	if len(got) != len(m.keys) {
		t.Errorf("partition %d: %d keys, want %d", p, len(got), len(m.keys))
	}
	for k, v := range m.keys {
		if g, ok := got[k]; !ok {
			t.Errorf("partition %d: key %q missing", p, k)
		} else if !bytes.Equal(g, v) {
			t.Errorf("partition %d: key %q = %q, want %q", p, k, trunc(g), trunc(v))
		}
	}
	for k := range got {
		if _, ok := m.keys[k]; !ok {
			t.Errorf("partition %d: unexpected key %q", p, k)
		}
	}
}

func trunc(b []byte) []byte {
	if len(b) > 40 {
		return append(b[:40:40], "…"...)
	}
	return b
}

func blobs(kv ...string) []state.KeyBlob {
	var out []state.KeyBlob
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, state.KeyBlob{Key: kv[i], Data: []byte(kv[i+1])})
	}
	return out
}

func testRoundTrip(t *testing.T, s state.Store) {
	m := newModel()
	cp := &state.Checkpoint{Partition: 3, Epoch: 1, Offset: 41, Watermark: 1_767_225_600_000, RuleSet: "rs-1",
		Upserts: blobs("card-1", "state one", "card-2", "state two", "card-3", "")}
	save(t, s, cp)
	m.apply(cp)
	check(t, s, 3, m)
}

func testUpsertsThenDeletes(t *testing.T, s state.Store) {
	m := newModel()
	for _, cp := range []*state.Checkpoint{
		{Partition: 0, Epoch: 1, Offset: 10, Watermark: 5, RuleSet: "a", Upserts: blobs("a", "1", "b", "1", "c", "1")},
		{Partition: 0, Epoch: 1, Offset: 20, Watermark: 6, RuleSet: "a", Upserts: blobs("a", "2"), Deletes: []string{"b"}},
		{Partition: 0, Epoch: 1, Offset: 30, Watermark: 7, RuleSet: "b", Deletes: []string{"c", "never-existed"}},
		{Partition: 0, Epoch: 1, Offset: 40, Watermark: 8, RuleSet: "b", Upserts: blobs("b", "3")},
	} {
		save(t, s, cp)
		m.apply(cp)
		check(t, s, 0, m)
	}
	cp := &state.Checkpoint{Partition: 0, Epoch: 1, Offset: 50, Watermark: 9, RuleSet: "b", Deletes: []string{"a", "b"}}
	save(t, s, cp)
	m.apply(cp)
	check(t, s, 0, m) // empty but found
}

// testOrderWithinCheckpoint: the last upsert of a key wins, and deletes apply after
// upserts.
func testOrderWithinCheckpoint(t *testing.T, s state.Store) {
	cp := &state.Checkpoint{Partition: 1, Epoch: 1, Offset: 1, Upserts: blobs("k", "first", "k", "second", "gone", "x"), Deletes: []string{"gone"}}
	save(t, s, cp)
	got, _ := load(t, s, 1)
	if string(got["k"]) != "second" || len(got) != 1 {
		t.Fatalf("got %q", got)
	}
}

func testEmptyPartition(t *testing.T, s state.Store) {
	calls := 0
	meta, err := s.Load(ctx, 7, func(string, []byte) error { calls++; return nil })
	if err != nil {
		t.Fatal(err)
	}
	if meta != (state.Meta{}) || calls != 0 {
		t.Fatalf("empty partition: meta %+v, %d keys", meta, calls)
	}
	// a claim alone does not make a checkpoint
	e, err := s.Claim(ctx, 7, 3)
	if err != nil {
		t.Fatal(err)
	}
	if _, meta := load(t, s, 7); meta != (state.Meta{Epoch: e}) {
		t.Fatalf("claimed partition: meta %+v", meta)
	}
}

func testEmptyCheckpoint(t *testing.T, s state.Store) {
	m := newModel()
	for i, cp := range []*state.Checkpoint{
		{Partition: 2, Epoch: 1, Offset: -1},
		{Partition: 2, Epoch: 1, Offset: 5, Watermark: -100, Upserts: blobs("k", "v")},
		{Partition: 2, Epoch: 1, Offset: 9, Watermark: 77, RuleSet: "r"},
	} {
		save(t, s, cp)
		m.apply(cp)
		if i == 0 {
			if _, meta := load(t, s, 2); !meta.Found {
				t.Fatal("a saved empty checkpoint is not found")
			}
		}
		check(t, s, 2, m)
	}
}

func testOddKeysAndData(t *testing.T, s state.Store) {
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	cp := &state.Checkpoint{Partition: 0, Epoch: 1, Offset: 1, RuleSet: "ünïcødé \x00", Upserts: []state.KeyBlob{
		{Key: "", Data: []byte("empty key")},
		{Key: "карта-💳-東京", Data: all},
		{Key: "nul\x00key\xff", Data: nil},
		{Key: "big", Data: bytes.Repeat([]byte("0123456789"), 100_000)},
		{Key: string(bytes.Repeat([]byte("k"), 4096)), Data: []byte("long key")},
	}}
	m := newModel()
	save(t, s, cp)
	m.apply(cp)
	check(t, s, 0, m)
}

func testPartitionsIndependent(t *testing.T, s state.Store) {
	models := map[int]*model{}
	for _, p := range []int{0, 1, 5, 1000} {
		models[p] = newModel()
		cp := &state.Checkpoint{Partition: p, Epoch: uint64(p + 1), Offset: int64(p * 10), Watermark: int64(p), RuleSet: fmt.Sprint("rs", p),
			Upserts: blobs("shared", fmt.Sprint("p", p), fmt.Sprint("own", p), "x")}
		save(t, s, cp)
		models[p].apply(cp)
	}
	cp := &state.Checkpoint{Partition: 1, Epoch: 2, Offset: 11, Deletes: []string{"shared"}}
	save(t, s, cp)
	models[1].apply(cp)
	for p, m := range models {
		check(t, s, p, m)
	}
}

func testResaveIdempotent(t *testing.T, s state.Store) {
	m := newModel()
	cp1 := &state.Checkpoint{Partition: 4, Epoch: 2, Offset: 100, Watermark: 1, RuleSet: "r", Upserts: blobs("a", "1", "b", "1")}
	cp2 := &state.Checkpoint{Partition: 4, Epoch: 2, Offset: 200, Watermark: 2, RuleSet: "r", Upserts: blobs("a", "2", "c", "2"), Deletes: []string{"b"}}
	for _, cp := range []*state.Checkpoint{cp1, cp1, cp2, cp2, cp2} {
		save(t, s, cp)
		m.apply(cp)
		check(t, s, 4, m)
	}
}

func testFencing(t *testing.T, s state.Store) {
	const p = 6
	m := newModel()
	e1, err := s.Claim(ctx, p, 5)
	if err != nil {
		t.Fatal(err)
	}
	if e1 < 5 {
		t.Fatalf("Claim(5) = %d", e1)
	}
	cp := &state.Checkpoint{Partition: p, Epoch: e1, Offset: 1, Upserts: blobs("k", "old owner")}
	save(t, s, cp)
	m.apply(cp)

	e2, err := s.Claim(ctx, p, 0) // a new owner
	if err != nil {
		t.Fatal(err)
	}
	if e2 <= e1 {
		t.Fatalf("second Claim = %d, not above %d", e2, e1)
	}
	m.meta.Epoch = e2
	stale := &state.Checkpoint{Partition: p, Epoch: e1, Offset: 2, Upserts: blobs("k", "stale write", "x", "y"), Deletes: []string{"k"}}
	if err := s.Save(ctx, stale); !errors.Is(err, state.ErrFenced) {
		t.Fatalf("Save with a fenced epoch: %v, want ErrFenced", err)
	}
	check(t, s, p, m) // nothing of the stale checkpoint

	cp = &state.Checkpoint{Partition: p, Epoch: e2, Offset: 3, Upserts: blobs("k", "new owner")}
	save(t, s, cp)
	m.apply(cp)
	check(t, s, p, m)

	// a higher epoch in a Save raises the owner epoch
	cp = &state.Checkpoint{Partition: p, Epoch: e2 + 10, Offset: 4}
	save(t, s, cp)
	m.apply(cp)
	check(t, s, p, m)
	if err := s.Save(ctx, &state.Checkpoint{Partition: p, Epoch: e2, Offset: 5}); !errors.Is(err, state.ErrFenced) {
		t.Fatalf("Save below a saved epoch: %v, want ErrFenced", err)
	}
	// fencing is per partition
	save(t, s, &state.Checkpoint{Partition: p + 1, Epoch: 0, Offset: 1})
	check(t, s, p, m)
}

func testClaimRaises(t *testing.T, s state.Store) {
	prev := uint64(0)
	for _, want := range []uint64{0, 0, 10, 3, 100, 100} {
		got, err := s.Claim(ctx, 2, want)
		if err != nil {
			t.Fatal(err)
		}
		if got < want || got <= prev {
			t.Fatalf("Claim(%d) = %d after %d", want, got, prev)
		}
		prev = got
	}
	if _, meta := load(t, s, 2); meta.Epoch != prev {
		t.Fatalf("meta epoch %d, want %d", meta.Epoch, prev)
	}
	if err := s.Save(ctx, &state.Checkpoint{Partition: 2, Epoch: prev - 1}); !errors.Is(err, state.ErrFenced) {
		t.Fatalf("Save below the claimed epoch: %v", err)
	}
}

// randomCheckpoints makes n checkpoints for partition p over a pool of keys.
func randomCheckpoints(seed uint64, p, n, pool, perCp int) []*state.Checkpoint {
	r := rand.New(rand.NewPCG(seed, uint64(p)))
	var out []*state.Checkpoint
	for i := range n {
		cp := &state.Checkpoint{Partition: p, Epoch: 1, Offset: int64(i * 100), Watermark: int64(i), RuleSet: fmt.Sprint("rs", i/50)}
		for range r.IntN(perCp) + 1 {
			data := make([]byte, r.IntN(600))
			for j := range data {
				data[j] = byte(r.Uint32())
			}
			cp.Upserts = append(cp.Upserts, state.KeyBlob{Key: fmt.Sprintf("card-%06d", r.IntN(pool)), Data: data})
		}
		for range r.IntN(perCp/5 + 1) {
			cp.Deletes = append(cp.Deletes, fmt.Sprintf("card-%06d", r.IntN(pool)))
		}
		out = append(out, cp)
	}
	return out
}

func testLargePartition(t *testing.T, s state.Store) {
	m := newModel()
	for i, cp := range randomCheckpoints(1, 9, 300, 3000, 200) {
		save(t, s, cp)
		m.apply(cp)
		if i%100 == 50 {
			check(t, s, 9, m)
		}
	}
	check(t, s, 9, m)
	if len(m.keys) < 1000 {
		t.Fatalf("weak test: %d live keys", len(m.keys))
	}
}

func testConcurrentPartitions(t *testing.T, s state.Store) {
	const parts = 8
	models := make([]*model, parts)
	var wg sync.WaitGroup
	for p := range parts {
		models[p] = newModel()
		wg.Go(func() {
			for _, cp := range randomCheckpoints(2, p, 40, 200, 30) {
				if err := s.Save(ctx, cp); err != nil {
					t.Errorf("Save partition %d: %v", p, err)
					return
				}
				models[p].apply(cp)
				if cp.Offset%1000 == 0 { // loads of the partition being written, by its writer
					if _, err := s.Load(ctx, p, func(string, []byte) error { return nil }); err != nil {
						t.Errorf("Load partition %d: %v", p, err)
					}
				}
			}
		})
	}
	wg.Wait()
	for p, m := range models {
		check(t, s, p, m)
	}
}

func testLoadCallbackError(t *testing.T, s state.Store) {
	save(t, s, &state.Checkpoint{Partition: 0, Epoch: 1, Offset: 1, Upserts: blobs("a", "1", "b", "2", "c", "3")})
	stop := errors.New("stop here")
	calls := 0
	_, err := s.Load(ctx, 0, func(string, []byte) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Fatalf("Load: %v after %d calls, want the callback's error after 1", err, calls)
	}
}

func testCanceledContext(t *testing.T, s state.Store) {
	c, cancel := context.WithCancel(ctx)
	cancel()
	if err := s.Save(c, &state.Checkpoint{Partition: 0, Epoch: 1, Offset: 1}); err == nil {
		t.Error("Save with a canceled context succeeded")
	}
	if _, err := s.Load(c, 0, func(string, []byte) error { return nil }); err == nil {
		t.Error("Load with a canceled context succeeded")
	}
	if _, err := s.Claim(c, 0, 1); err == nil {
		t.Error("Claim with a canceled context succeeded")
	}
}

func testClosed(t *testing.T, s state.Store) {
	save(t, s, &state.Checkpoint{Partition: 0, Epoch: 1, Offset: 1})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Save(ctx, &state.Checkpoint{Partition: 0, Epoch: 1, Offset: 2}); !errors.Is(err, state.ErrClosed) {
		t.Errorf("Save after Close: %v", err)
	}
	if _, err := s.Load(ctx, 0, func(string, []byte) error { return nil }); !errors.Is(err, state.ErrClosed) {
		t.Errorf("Load after Close: %v", err)
	}
	if _, err := s.Claim(ctx, 0, 1); !errors.Is(err, state.ErrClosed) {
		t.Errorf("Claim after Close: %v", err)
	}
}

// testContinuesAndFull: a Continues checkpoint needs the partition's stored state (a
// claim or a save before it) and fails with ErrLost, writing nothing, without it; a Full
// checkpoint replaces the partition's keys, large ones too (Redis stages those).
func testContinuesAndFull(t *testing.T, s state.Store) {
	const p = 4
	err := s.Save(ctx, &state.Checkpoint{Partition: p, Epoch: 1, Offset: 3, Upserts: blobs("a", "1"), Continues: true})
	if !errors.Is(err, state.ErrLost) {
		t.Fatalf("Continues on a partition never claimed: %v, want ErrLost", err)
	}
	if got, meta := load(t, s, p); len(got) != 0 || meta.Found {
		t.Fatalf("a refused Continues checkpoint wrote %d keys, meta %+v", len(got), meta)
	}
	e, err := s.Claim(ctx, p, 0)
	if err != nil {
		t.Fatal(err)
	}
	m := newModel()
	for _, cp := range []*state.Checkpoint{
		{Partition: p, Epoch: e, Offset: 10, Watermark: 1, RuleSet: "r", Upserts: blobs("a", "1", "b", "1"), Continues: true},
		{Partition: p, Epoch: e, Offset: 20, Watermark: 2, RuleSet: "r", Upserts: blobs("c", "2"), Deletes: []string{"a"}, Continues: true},
	} {
		save(t, s, cp)
		m.apply(cp)
	}
	check(t, s, p, m)
	full := &state.Checkpoint{Partition: p, Epoch: e, Offset: 30, Watermark: 3, RuleSet: "r", Full: true,
		Upserts: blobs("x", "3", "c", "3"), Deletes: []string{"x"}}
	save(t, s, full)
	m = newModel()
	m.apply(&state.Checkpoint{Partition: p, Epoch: e, Offset: 30, Watermark: 3, RuleSet: "r", Upserts: full.Upserts})
	check(t, s, p, m)
	next := &state.Checkpoint{Partition: p, Epoch: e, Offset: 40, Watermark: 4, RuleSet: "r", Upserts: blobs("y", "4"), Continues: true}
	save(t, s, next)
	m.apply(next)
	check(t, s, p, m)

	// A large full checkpoint over a large state.
	for _, cp := range randomCheckpoints(2, p, 5, 3000, 1000) {
		cp.Epoch, cp.Continues = e, true
		save(t, s, cp)
	}
	big := randomCheckpoints(3, p, 1, 2500, 2500)[0]
	big.Epoch, big.Offset, big.Full = e, 1000, true
	save(t, s, big)
	m = newModel()
	m.apply(&state.Checkpoint{Partition: p, Epoch: e, Offset: big.Offset, Watermark: big.Watermark, RuleSet: big.RuleSet, Upserts: big.Upserts})
	check(t, s, p, m)
}
