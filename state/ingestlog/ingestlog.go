// Package ingestlog is the write-ahead log of the events cepd accepts over REST in its
// embedded mode, where no Kafka topic keeps them: an event is appended (and synced) before
// the request is answered, so that after a crash the events that followed the last
// checkpoint are matched again from the log instead of being lost. It plays, for REST
// ingest, the part the topic plays for Kafka: the checkpoint says up to which offset the
// state is complete, Replay feeds what came after, Trim drops what every checkpoint covers.
//
// Layout: segment files <dir>/<first offset, 20 digits>.log, each a sequence of records
// [payload length u32][CRC-32C of offset and payload u32][offset i64][payload], all
// little-endian. A segment is closed for writing when it passes SegmentBytes. A record cut
// short or damaged at the end of the last segment (a crash mid-write) is cut off at Open;
// damage anywhere else is an error, as the events after it could not be trusted.
//
// A Log is safe for concurrent use; Append calls are serialised.
package ingestlog

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// Record is one event and its offset (offsets increase along the log).
type Record struct {
	Offset int64
	Value  []byte
}

// Options tunes a Log.
type Options struct {
	// SegmentBytes is the size past which a new segment starts (default 64 MiB).
	SegmentBytes int64
	// NoSync skips fsync in Sync and Append (tests, or when losing the last requests to a
	// power cut is acceptable).
	NoSync bool
}

const (
	headerLen = 16
	maxRecord = 64 << 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Log is an open ingest log.
type Log struct {
	dir    string
	o      Options
	syncMu sync.Mutex // one fsync at a time; taken before mu
	synced int64      // the last offset an fsync covered (under syncMu)
	mu     sync.Mutex
	segs   []segment // oldest first; the last is written to
	f      *os.File  // the last segment, open for appending
	size   int64     // its size
	last   int64     // the last offset appended (0: none)
	// broken is set by a failed write: the records may be half written, so nothing more
	// is written after them (Open cuts them off at the next start).
	broken error
}

type segment struct {
	first int64 // offset in its name
	path  string
}

// Open opens (creating if needed) the log in dir, cutting off a damaged tail.
func Open(dir string, o Options) (*Log, error) {
	if o.SegmentBytes <= 0 {
		o.SegmentBytes = 64 << 20
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("ingestlog: %w", err)
	}
	l := &Log{dir: dir, o: o}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("ingestlog: %w", err)
	}
	for _, e := range ents {
		name, ok := strings.CutSuffix(e.Name(), ".log")
		if !ok || e.IsDir() {
			continue
		}
		first, err := strconv.ParseInt(name, 10, 64)
		if err != nil {
			continue
		}
		l.segs = append(l.segs, segment{first: first, path: filepath.Join(dir, e.Name())})
	}
	sort.Slice(l.segs, func(i, j int) bool { return l.segs[i].first < l.segs[j].first })
	for i, s := range l.segs {
		lastSeg := i == len(l.segs)-1
		good, last, err := scan(s.path, func(Record) error { return nil })
		if err != nil && !lastSeg {
			return nil, fmt.Errorf("ingestlog: %s is damaged at byte %d: %w", s.path, good, err)
		}
		if last > 0 {
			l.last = last
		}
		if lastSeg {
			f, err := os.OpenFile(s.path, os.O_RDWR, 0o644)
			if err != nil {
				return nil, fmt.Errorf("ingestlog: %w", err)
			}
			if err := f.Truncate(good); err != nil { // a torn write at the crash
				f.Close()
				return nil, fmt.Errorf("ingestlog: %w", err)
			}
			if _, err := f.Seek(good, io.SeekStart); err != nil {
				f.Close()
				return nil, fmt.Errorf("ingestlog: %w", err)
			}
			l.f, l.size = f, good
		}
	}
	return l, nil
}

// scan reads a segment's records, calling fn for each; it returns the length of the
// intact prefix, the last offset read and the damage found after it, if any.
func scan(path string, fn func(Record) error) (good, last int64, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	var hdr [headerLen]byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			if err == io.EOF {
				return good, last, nil
			}
			return good, last, fmt.Errorf("a record header cut short: %w", err)
		}
		n := binary.LittleEndian.Uint32(hdr[0:4])
		if n > maxRecord {
			return good, last, fmt.Errorf("a record of %d bytes", n)
		}
		val := make([]byte, n)
		if _, err := io.ReadFull(r, val); err != nil {
			return good, last, fmt.Errorf("a record cut short: %w", err)
		}
		crc := crc32.Update(crc32.Checksum(hdr[8:16], castagnoli), castagnoli, val)
		if crc != binary.LittleEndian.Uint32(hdr[4:8]) {
			return good, last, errors.New("a record with a bad checksum")
		}
		off := int64(binary.LittleEndian.Uint64(hdr[8:16]))
		if err := fn(Record{Offset: off, Value: val}); err != nil {
			return good, last, err
		}
		good += headerLen + int64(n)
		last = off
	}
}

// Last returns the last offset appended (0: none).
func (l *Log) Last() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.last
}

// Append writes recs and syncs them (Write, then Sync).
func (l *Log) Append(recs []Record) error {
	if err := l.Write(recs); err != nil {
		return err
	}
	return l.Sync()
}

// Sync makes every record written before the call durable (unless NoSync). Concurrent
// calls share fsyncs: a call that waited for another's fsync returns at once if that one
// covered its records (group commit).
func (l *Log) Sync() error {
	if l.o.NoSync {
		return nil
	}
	l.mu.Lock()
	target := l.last
	l.mu.Unlock()
	l.syncMu.Lock()
	defer l.syncMu.Unlock()
	if l.synced >= target {
		return nil
	}
	l.mu.Lock()
	upTo, f := l.last, l.f
	l.mu.Unlock()
	if f == nil {
		return nil
	}
	// A segment closed meanwhile was synced by rotate before it closed.
	if err := f.Sync(); err != nil && !errors.Is(err, os.ErrClosed) {
		return fmt.Errorf("ingestlog: %w", err)
	}
	l.synced = upTo
	return nil
}

// Write appends recs (their offsets above every offset written before) without syncing
// them: Sync does. After a failed write every later one fails too: the records may be
// partly written, and Open cuts them off at the next start.
func (l *Log) Write(recs []Record) error {
	if len(recs) == 0 {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.broken != nil {
		return fmt.Errorf("ingestlog: no more writes after an earlier failure (restart cepd): %w", l.broken)
	}
	prev := l.last
	for _, r := range recs { // the whole batch is checked before anything is written
		if r.Offset <= prev {
			return fmt.Errorf("ingestlog: offset %d after %d", r.Offset, prev)
		}
		if len(r.Value) > maxRecord {
			return fmt.Errorf("ingestlog: an event of %d bytes (at most %d)", len(r.Value), maxRecord)
		}
		prev = r.Offset
	}
	if l.f == nil || l.size >= l.o.SegmentBytes {
		if err := l.rotate(recs[0].Offset); err != nil {
			return err
		}
	}
	var buf []byte
	for _, r := range recs {
		var hdr [headerLen]byte
		binary.LittleEndian.PutUint32(hdr[0:4], uint32(len(r.Value)))
		binary.LittleEndian.PutUint64(hdr[8:16], uint64(r.Offset))
		binary.LittleEndian.PutUint32(hdr[4:8], crc32.Update(crc32.Checksum(hdr[8:16], castagnoli), castagnoli, r.Value))
		buf = append(append(buf, hdr[:]...), r.Value...)
	}
	if _, err := l.f.Write(buf); err != nil {
		l.broken = err
		return fmt.Errorf("ingestlog: %w", err)
	}
	l.size += int64(len(buf))
	l.last = prev
	return nil
}

// rotate starts a new segment whose first offset is first. l.mu is held.
func (l *Log) rotate(first int64) error {
	if l.f != nil {
		if !l.o.NoSync { // what it holds is durable before the next segment starts
			if err := l.f.Sync(); err != nil {
				return fmt.Errorf("ingestlog: %w", err)
			}
		}
		if err := l.f.Close(); err != nil {
			return fmt.Errorf("ingestlog: %w", err)
		}
		l.f = nil
	}
	path := filepath.Join(l.dir, fmt.Sprintf("%020d.log", first))
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("ingestlog: %w", err)
	}
	if !l.o.NoSync { // the new name is durable too
		if d, err := os.Open(l.dir); err == nil {
			_ = d.Sync()
			d.Close()
		}
	}
	l.segs = append(l.segs, segment{first: first, path: path})
	l.f, l.size = f, 0
	return nil
}

// Replay calls fn with the records whose offset is above after, in order, in batches of
// at most batch records. fn must not keep the slice.
func (l *Log) Replay(after int64, batch int, fn func([]Record) error) error {
	l.mu.Lock()
	segs := append([]segment(nil), l.segs...)
	l.mu.Unlock()
	if batch <= 0 {
		batch = 1024
	}
	var pending []Record
	flush := func() error {
		if len(pending) == 0 {
			return nil
		}
		err := fn(pending)
		pending = pending[:0]
		return err
	}
	for i, s := range segs {
		if i+1 < len(segs) && segs[i+1].first <= after+1 {
			continue // every record of s is at or below after
		}
		_, _, err := scan(s.path, func(r Record) error {
			if r.Offset <= after {
				return nil
			}
			pending = append(pending, r)
			if len(pending) == batch {
				return flush()
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("ingestlog: replaying %s: %w", s.path, err)
		}
	}
	return flush()
}

// Trim removes the segments whose every record is at or below upTo (the offset a
// checkpoint covers). The segment being written stays.
func (l *Log) Trim(upTo int64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	keep := 0
	for keep+1 < len(l.segs) && l.segs[keep+1].first <= upTo+1 {
		if err := os.Remove(l.segs[keep].path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("ingestlog: %w", err)
		}
		keep++
	}
	l.segs = l.segs[keep:]
	return nil
}

// Segments returns how many segment files the log holds.
func (l *Log) Segments() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.segs)
}

// Close closes the log.
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}
