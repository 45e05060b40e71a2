package state

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzReplayLog: a partition log holding any bytes after a valid header replays to a
// state or an error, never a panic, and the replayed length never exceeds the file.
func FuzzReplayLog(f *testing.F) {
	cp := &Checkpoint{Epoch: 3, Offset: 9, Watermark: -2, RuleSet: "rs", Upserts: []KeyBlob{{"a", []byte("1")}, {"", nil}}, Deletes: []string{"b"}}
	f.Add(false, appendCheckpointFrame(nil, cp))
	f.Add(false, append(appendClaimFrame(nil, 7), appendCheckpointFrame(nil, cp)...))
	snap := beginFrame(nil, frameSnapshot)
	snap = append(snap, snapLast|snapFound, 1, 2, 3, 0, 1, 1, 'k', 1, 'v')
	f.Add(true, finishFrame(snap))
	f.Add(true, finishFrame(append(beginFrame(nil, frameSnapshot), 0, 1, 2, 3, 0, 0)))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, compacted bool, data []byte) {
		var flags byte
		if compacted {
			flags = logSnapshot
		}
		path := filepath.Join(dir, "partition-000000.log")
		if err := os.WriteFile(path, append(logHeader(0, flags), data...), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, keep := range []bool{true, false} {
			s, err := replayLog(path, 0, keep)
			if err != nil {
				continue
			}
			if s.end > s.size || s.end < logHeaderLen || s.live < 0 || s.keys() < 0 {
				t.Fatalf("replay: end %d size %d live %d", s.end, s.size, s.live)
			}
		}
	})
}
