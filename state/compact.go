package state

import (
	"encoding/binary"
	"fmt"
	"os"
	"slices"
)

// snapshotChunk is the payload size above which a compacted log starts a new snapshot
// frame, so that no single frame holds a whole large partition.
const snapshotChunk = 1 << 20

func (s *FileStore) shouldCompact(p *filePart) bool {
	if s.opts.CompactFrames > 0 && p.deltas >= s.opts.CompactFrames {
		return true
	}
	return p.end >= s.opts.CompactMinBytes && float64(p.end) > s.opts.CompactRatio*float64(p.live+logHeaderLen)
}

// compact rewrites p's log as snapshot frames holding its live state, through a
// temporary file that is fsynced and renamed over the log: a crash leaves either the old
// log or the new one, both complete. Memory: the live data.
func (s *FileStore) compact(p *filePart) error {
	ls, err := replayLog(p.path, p.n, true)
	if err != nil {
		return err
	}
	if ls.end != p.end {
		return fmt.Errorf("log is %d bytes long, expected %d", ls.end, p.end)
	}
	keys := make([]string, 0, len(ls.data))
	for k := range ls.data {
		keys = append(keys, k)
	}
	slices.Sort(keys)

	f, err := os.OpenFile(p.path+".tmp", os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	var size int64
	write := func(b []byte) error {
		n, err := f.Write(b)
		size += int64(n)
		return err
	}
	err = write(logHeader(p.n, logSnapshot))
	m := ls.meta
	var buf []byte
	for i := 0; err == nil; {
		// one chunk: as many keys as fit in snapshotChunk, at least one
		j, n := i, 0
		for j < len(keys) && (j == i || n+len(keys[j])+len(ls.data[keys[j]]) <= snapshotChunk) {
			n += len(keys[j]) + len(ls.data[keys[j]])
			j++
		}
		flags := byte(0)
		if j == len(keys) {
			flags |= snapLast
		}
		if m.Found {
			flags |= snapFound
		}
		buf = beginFrame(buf, frameSnapshot)
		buf = append(buf, flags)
		buf = binary.AppendUvarint(buf, m.Epoch)
		buf = binary.AppendVarint(buf, m.Offset)
		buf = binary.AppendVarint(buf, m.Watermark)
		buf = appendStr(buf, m.RuleSet)
		buf = binary.AppendUvarint(buf, uint64(j-i))
		for _, k := range keys[i:j] {
			buf = appendStr(buf, k)
			buf = appendBytes(buf, ls.data[k])
		}
		err = write(finishFrame(buf))
		if flags&snapLast != 0 {
			break
		}
		i = j
	}
	if err := s.finishTemp(f, err, p.path); err != nil {
		return err
	}
	// The log is replaced; p.f still refers to the old file.
	p.f.Close()
	p.f, p.ready = nil, false
	nf, err := os.OpenFile(p.path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("reopen compacted log: %w", err)
	}
	sizes := make(map[string]int32, len(ls.data))
	for k, d := range ls.data {
		sizes[k] = int32(len(d))
	}
	p.f, p.end, p.sizes, p.live, p.deltas, p.ready = nf, size, sizes, ls.live, 0, true
	return nil
}
