package redisstore

import (
	"errors"
	"testing"

	"github.com/cepd/cepd/state"
)

// TestRestartedEmpty (issue 10): redis-server is killed with SIGKILL after a checkpoint
// and started again empty (no persistence). The next delta (Continues) is refused with
// ErrLost and writes nothing, instead of becoming the partition's whole state; a Full
// checkpoint then restores the state exactly. Both the direct and the staged path.
func TestRestartedEmpty(t *testing.T) {
	r := startRedis(t)
	for _, tc := range []struct {
		name string
		tune func(*Store)
	}{{"direct", nil}, {"staged", smallChunks}} {
		t.Run(tc.name, func(t *testing.T) {
			s := NewFromClient(client(t, r.Addr), tc.name)
			if tc.tune != nil {
				tc.tune(s)
			}
			const p = 3
			e, err := s.Claim(ctx, p, 0)
			if err != nil {
				t.Fatal(err)
			}
			blob := func(k, v string) state.KeyBlob { return state.KeyBlob{Key: k, Data: []byte(v)} }
			if err := s.Save(ctx, &state.Checkpoint{Partition: p, Epoch: e, Offset: 3, RuleSet: "r", Continues: true,
				Upserts: []state.KeyBlob{blob("PM-A", "three probes")}}); err != nil {
				t.Fatal(err)
			}
			r.Kill()
			r.Start()
			delta := &state.Checkpoint{Partition: p, Epoch: e, Offset: 6, RuleSet: "r", Continues: true,
				Upserts: []state.KeyBlob{blob("PM-B", "three probes")}}
			var err2 error
			for range 50 { // the client reconnects on its own
				if err2 = s.Save(ctx, delta); err2 == nil || errors.Is(err2, state.ErrLost) {
					break
				}
			}
			if !errors.Is(err2, state.ErrLost) {
				t.Fatalf("delta after Redis restarted empty: %v, want ErrLost", err2)
			}
			keys := map[string]string{}
			meta, err := s.Load(ctx, p, func(k string, d []byte) error { keys[k] = string(d); return nil })
			if err != nil || meta.Found || len(keys) != 0 {
				t.Fatalf("the refused delta wrote something: %v %+v %v", err, meta, keys)
			}
			full := &state.Checkpoint{Partition: p, Epoch: e, Offset: 6, RuleSet: "r", Full: true,
				Upserts: []state.KeyBlob{blob("PM-A", "three probes"), blob("PM-B", "three probes")}}
			if err := s.Save(ctx, full); err != nil {
				t.Fatal(err)
			}
			meta, err = s.Load(ctx, p, func(k string, d []byte) error { keys[k] = string(d); return nil })
			if err != nil || !meta.Found || meta.Offset != 6 || len(keys) != 2 {
				t.Fatalf("after the full checkpoint: %v %+v %v", err, meta, keys)
			}
			delta.Offset = 9
			if err := s.Save(ctx, delta); err != nil {
				t.Fatalf("a delta after the full checkpoint: %v", err)
			}
		})
	}
}
