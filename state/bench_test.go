package state_test

import (
	"fmt"
	"testing"

	"github.com/cepd/cepd/state"
)

// BenchmarkEncodeKeyState / BenchmarkDecodeKeyState: one op is one key's state, 3 rules
// over the card schema (15 fields), with n events in the shared buffer.
func BenchmarkEncodeKeyState(b *testing.B) {
	benchKeyStates(b, func(b *testing.B, ks *state.KeyState, buf []byte) {
		for b.Loop() {
			buf = state.AppendKeyState(buf[:0], ks, cardSchema)
		}
		b.ReportMetric(float64(len(buf)), "B/key")
	})
}

func BenchmarkDecodeKeyState(b *testing.B) {
	benchKeyStates(b, func(b *testing.B, _ *state.KeyState, buf []byte) {
		for b.Loop() {
			if _, err := state.DecodeKeyState(buf, cardSchema); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// benchKeyStates runs loop as a sub-benchmark for a key with 5 and with 16 events, given
// the key's state and its encoding (whose size each op counts).
func benchKeyStates(b *testing.B, loop func(b *testing.B, ks *state.KeyState, buf []byte)) {
	for _, n := range []int{5, 16} {
		ks, live := liveState(b, "card-4242424242424242", n)
		b.Run(fmt.Sprintf("events=%d/runs=%d", len(ks.Events), live), func(b *testing.B) {
			buf := state.AppendKeyState(nil, ks, cardSchema)
			b.SetBytes(int64(len(buf)))
			b.ReportAllocs()
			loop(b, ks, buf)
		})
	}
}

// BenchmarkFileStoreSave: one op is one checkpoint of 10,000 keys × 200 bytes to one
// partition, the same keys every time (so the log compacts as it reaches twice the
// live data); with and without fsync, and without compaction (the append alone).
func BenchmarkFileStoreSave(b *testing.B) {
	const keys, size = 10_000, 200
	cp := &state.Checkpoint{Partition: 0, Epoch: 1, RuleSet: "rs"}
	for i := range keys {
		data := make([]byte, size)
		for j := range data {
			data[j] = byte(i + j)
		}
		cp.Upserts = append(cp.Upserts, state.KeyBlob{Key: fmt.Sprintf("card-%012d", i), Data: data})
	}
	for _, o := range []struct {
		name string
		opts state.FileOptions
	}{
		{"fsync", state.FileOptions{}},
		{"nosync", state.FileOptions{NoSync: true}},
		{"nosync-nocompact", state.FileOptions{NoSync: true, CompactMinBytes: 1 << 62, CompactFrames: -1}},
	} {
		b.Run(fmt.Sprintf("keys=%d/size=%d/%s", keys, size, o.name), func(b *testing.B) {
			s, err := state.OpenDir(b.TempDir(), o.opts)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			b.SetBytes(keys * size)
			b.ReportAllocs()
			for b.Loop() {
				cp.Offset++
				if err := s.Save(bg, cp); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkFileStoreLoad: one op loads a compacted partition of 10,000 keys × 200 bytes.
func BenchmarkFileStoreLoad(b *testing.B) {
	s, err := state.OpenDir(b.TempDir(), state.FileOptions{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	cp := &state.Checkpoint{Partition: 0, Epoch: 1}
	for i := range 10_000 {
		cp.Upserts = append(cp.Upserts, state.KeyBlob{Key: fmt.Sprintf("card-%012d", i), Data: make([]byte, 200)})
	}
	for range 3 {
		if err := s.Save(bg, cp); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(10_000 * 200)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Load(bg, 0, func(string, []byte) error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
}
