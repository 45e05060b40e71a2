package state

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
)

// FileOptions configures a FileStore. The zero value is the production setting.
type FileOptions struct {
	// NoSync skips fsync (tests, benchmarks): a crash of the machine, not just of the
	// process, may then lose or tear recent checkpoints.
	NoSync bool
	// CompactRatio: a partition log is compacted when it is larger than CompactRatio
	// times its live data (and at least CompactMinBytes). Default 2.
	CompactRatio float64
	// CompactMinBytes: logs smaller than this are not compacted for their size.
	// Default 1 MiB.
	CompactMinBytes int64
	// CompactFrames: a log is also compacted after this many frames appended since its
	// last compaction. Default 10000; negative disables.
	CompactFrames int
	// Warn receives problems the store recovered from: a torn or corrupt log tail that
	// was ignored, a compaction that failed (the log stays as it was). Nil logs them with
	// slog.Default().
	Warn func(partition int, err error)
}

// FileStore is the Store of the embedded mode: one directory, one append-only log per
// partition ("partition-NNNNNN.log"), compacted in place by atomic rename.
//
// Save appends one frame holding the whole checkpoint and fsyncs it; Load replays the
// log (memory bounded by the partition's live data). A frame that is torn or fails its
// checksum ends the log: it is reported through FileOptions.Warn, ignored, and cut off
// before the next write, so the state is that of the last good checkpoint. Owner epochs
// live in the frames (claim frames, and every checkpoint's epoch).
//
// A Continues checkpoint fails with ErrLost when the partition's log is no longer the
// file the store wrote (removed, or replaced); a Full checkpoint writes a new log holding
// just that checkpoint (through a temporary file, renamed into place), recreating the
// directory if it is gone.
//
// The directory is locked while the store is open (a LOCK file holding the owner's pid,
// locked with flock(2) where available so that a killed process never leaves it locked;
// elsewhere created with O_EXCL and removed on Close).
type FileStore struct {
	dir  string
	opts FileOptions
	lock *dirLock

	mu     sync.Mutex
	closed bool
	parts  map[int]*filePart
}

// filePart is one partition's log as the store knows it.
type filePart struct {
	mu     sync.Mutex
	n      int
	path   string
	closed bool
	// ready: f is open, end is the end of the last good frame, and meta, sizes and live
	// describe the log. Cleared after an error that leaves the file in doubt, so that the
	// next call replays it.
	ready  bool
	f      *os.File
	end    int64
	meta   Meta
	sizes  map[string]int32
	live   int64
	deltas int
	buf    []byte
	warned bool // the damaged tail found by Load was reported
}

var _ Store = (*FileStore)(nil)

// OpenDir opens (creating it if needed) the data directory dir and locks it. It fails
// with an error wrapping ErrLocked while another FileStore, in this or another process,
// has it open.
func OpenDir(dir string, opts FileOptions) (*FileStore, error) {
	if opts.CompactRatio <= 1 {
		opts.CompactRatio = 2
	}
	if opts.CompactMinBytes <= 0 {
		opts.CompactMinBytes = 1 << 20
	}
	if opts.CompactFrames == 0 {
		opts.CompactFrames = 10000
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("state: data directory: %w", err)
	}
	lk, err := lockDir(filepath.Join(dir, "LOCK"))
	if err != nil {
		return nil, err
	}
	// Leftovers of a compaction interrupted by a crash.
	if tmps, err := filepath.Glob(filepath.Join(dir, "partition-*.log.tmp")); err == nil {
		for _, t := range tmps {
			os.Remove(t)
		}
	}
	return &FileStore{dir: dir, opts: opts, lock: lk, parts: map[int]*filePart{}}, nil
}

// Dir returns the data directory.
func (s *FileStore) Dir() string { return s.dir }

func (s *FileStore) warn(partition int, err error) {
	if s.opts.Warn != nil {
		s.opts.Warn(partition, err)
		return
	}
	slog.Default().Warn("state: recovered from a damaged partition log", "partition", partition, "err", err)
}

// part returns partition n's entry, locked.
func (s *FileStore) part(ctx context.Context, n int) (*filePart, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if n < 0 || n > 1<<31-1 {
		return nil, fmt.Errorf("state: partition %d out of range", n)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, ErrClosed
	}
	p := s.parts[n]
	if p == nil {
		p = &filePart{n: n, path: filepath.Join(s.dir, fmt.Sprintf("partition-%06d.log", n))}
		s.parts[n] = p
	}
	s.mu.Unlock()
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, ErrClosed
	}
	return p, nil
}

// Save implements Store.
func (s *FileStore) Save(ctx context.Context, cp *Checkpoint) error {
	if cp == nil {
		return errors.New("state: nil checkpoint")
	}
	p, err := s.part(ctx, cp.Partition)
	if err != nil {
		return err
	}
	defer p.mu.Unlock()
	if cp.Continues && !cp.Full {
		if err := s.present(p); err != nil {
			return err
		}
	}
	if cp.Full {
		// The directory itself may be gone with the files.
		if err := os.MkdirAll(s.dir, 0o755); err != nil {
			return fmt.Errorf("state: data directory: %w", err)
		}
	}
	if err := s.open(p); err != nil {
		return err
	}
	if cp.Epoch < p.meta.Epoch {
		return fmt.Errorf("%w: partition %d: checkpoint epoch %d, owner epoch %d", ErrFenced, cp.Partition, cp.Epoch, p.meta.Epoch)
	}
	if cp.Full {
		return s.saveFull(p, cp)
	}
	p.buf = appendCheckpointFrame(p.buf, cp)
	if n := len(p.buf) - frameHdrLen; n > maxFrameLen {
		p.buf = nil
		return fmt.Errorf("state: partition %d: checkpoint of %d MiB exceeds the %d MiB a frame may hold; checkpoint more often",
			cp.Partition, n>>20, maxFrameLen>>20)
	}
	if err := s.append(p, p.buf); err != nil {
		return err
	}
	p.meta = Meta{Epoch: cp.Epoch, Offset: cp.Offset, Watermark: cp.Watermark, RuleSet: cp.RuleSet, Found: true}
	ls := logState{sizes: p.sizes, live: p.live}
	for _, u := range cp.Upserts {
		ls.put(u.Key, u.Data)
	}
	for _, k := range cp.Deletes {
		ls.del(k)
	}
	p.live = ls.live
	p.deltas++
	if p.buf = p.buf[:0]; cap(p.buf) > 16<<20 {
		p.buf = nil // do not keep a huge frame buffer per partition
	}
	if s.shouldCompact(p) {
		if err := s.compact(p); err != nil {
			s.warn(p.n, fmt.Errorf("compaction failed, log kept: %w", err))
		}
	}
	return nil
}

// present checks that p's log is still the file the store wrote (for a Continues
// checkpoint): it fails with ErrLost when the file was removed or replaced, and makes the
// next call open the log afresh.
func (s *FileStore) present(p *filePart) error {
	fi, err := os.Stat(p.path)
	lost := errors.Is(err, os.ErrNotExist)
	if err != nil && !lost {
		return fmt.Errorf("state: partition %d log: %w", p.n, err)
	}
	if !lost && p.f != nil {
		if of, err := p.f.Stat(); err == nil && !os.SameFile(fi, of) {
			lost = true
		}
	}
	if !lost {
		return nil
	}
	if p.f != nil {
		p.f.Close()
	}
	p.f, p.ready = nil, false
	return fmt.Errorf("state: partition %d: log %s is gone; nothing applied: %w", p.n, p.path, ErrLost)
}

// saveFull replaces p's log by a new one holding cp alone (every key of the partition),
// written to a temporary file, fsynced and renamed into place: a crash leaves either the
// old log or the new one.
func (s *FileStore) saveFull(p *filePart, cp *Checkpoint) error {
	full := *cp
	full.Deletes = nil
	frame := appendCheckpointFrame(nil, &full)
	if n := len(frame) - frameHdrLen; n > maxFrameLen {
		return fmt.Errorf("state: partition %d: checkpoint of %d MiB exceeds the %d MiB a frame may hold; checkpoint more often",
			cp.Partition, n>>20, maxFrameLen>>20)
	}
	if err := s.writeFileAtomic(p.path, append(logHeader(p.n, 0), frame...)); err != nil {
		return fmt.Errorf("state: partition %d: write full checkpoint: %w", p.n, err)
	}
	// The log is replaced; the next call opens the new one.
	if p.f != nil {
		p.f.Close()
	}
	p.f, p.ready = nil, false
	return nil
}

// Claim implements Store.
func (s *FileStore) Claim(ctx context.Context, partition int, epoch uint64) (uint64, error) {
	p, err := s.part(ctx, partition)
	if err != nil {
		return 0, err
	}
	defer p.mu.Unlock()
	if err := s.open(p); err != nil {
		return 0, err
	}
	if p.meta.Epoch == 1<<64-1 {
		return 0, fmt.Errorf("state: partition %d: owner epoch exhausted", partition)
	}
	e := max(epoch, p.meta.Epoch+1)
	if err := s.append(p, appendClaimFrame(nil, e)); err != nil {
		return 0, err
	}
	p.meta.Epoch = e
	p.deltas++
	return e, nil
}

// Load implements Store. It replays the log into memory (the partition's live data),
// then calls fn in key order without holding any lock.
func (s *FileStore) Load(ctx context.Context, partition int, fn func(key string, data []byte) error) (Meta, error) {
	p, err := s.part(ctx, partition)
	if err != nil {
		return Meta{}, err
	}
	ls, err := replayLog(p.path, partition, true)
	if err != nil {
		p.mu.Unlock()
		return Meta{}, fmt.Errorf("state: load partition %d: %w", partition, err)
	}
	if !p.ready && ls.tail != nil && !p.warned {
		s.warn(partition, ls.tail) // cut off by the next write
		p.warned = true
	}
	p.mu.Unlock()
	keys := make([]string, 0, len(ls.data))
	for k := range ls.data {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for i, k := range keys {
		if i%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return Meta{}, err
			}
		}
		if err := fn(k, ls.data[k]); err != nil {
			return Meta{}, fmt.Errorf("state: load partition %d: key %q: %w", partition, k, err)
		}
	}
	m := ls.meta
	m.Keys = len(ls.data)
	return m, nil
}

// Close implements Store: it closes the logs and unlocks the directory.
func (s *FileStore) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	s.closed = true
	parts := s.parts
	s.mu.Unlock()
	var errs []error
	for _, p := range parts {
		p.mu.Lock()
		p.closed = true
		if p.f != nil {
			errs = append(errs, p.f.Close())
			p.f = nil
		}
		p.mu.Unlock()
	}
	errs = append(errs, s.lock.release())
	return errors.Join(errs...)
}

// open makes p ready for appending: it replays the log (keeping only key sizes), cuts
// off a torn tail, and creates the log when there is none.
func (s *FileStore) open(p *filePart) error {
	if p.ready {
		return nil
	}
	ls, err := replayLog(p.path, p.n, false)
	if err != nil {
		return fmt.Errorf("state: open partition %d: %w", p.n, err)
	}
	if ls.size == 0 {
		if err := s.writeFileAtomic(p.path, logHeader(p.n, 0)); err != nil {
			return fmt.Errorf("state: create partition %d log: %w", p.n, err)
		}
		ls.end = logHeaderLen
	}
	f, err := os.OpenFile(p.path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("state: open partition %d log: %w", p.n, err)
	}
	if ls.size > ls.end {
		if !p.warned {
			s.warn(p.n, ls.tail)
		}
		err := f.Truncate(ls.end)
		if err == nil && !s.opts.NoSync {
			err = f.Sync()
		}
		if err != nil {
			f.Close()
			return fmt.Errorf("state: partition %d: cutting off a damaged tail: %w", p.n, err)
		}
	}
	p.f, p.end, p.meta, p.sizes, p.live, p.deltas = f, ls.end, ls.meta, ls.sizes, ls.live, ls.deltas
	p.ready, p.warned = true, false
	return nil
}

// append writes a frame at the end of p's log and syncs it. On failure it tries to cut
// the partial frame off; either way the partition is replayed before its next use.
func (s *FileStore) append(p *filePart, frame []byte) error {
	_, err := p.f.WriteAt(frame, p.end)
	if err == nil && !s.opts.NoSync {
		err = p.f.Sync()
	}
	if err != nil {
		p.f.Truncate(p.end)
		p.f.Close()
		p.f, p.ready = nil, false
		return fmt.Errorf("state: partition %d: write checkpoint: %w", p.n, err)
	}
	p.end += int64(len(frame))
	return nil
}

// writeFileAtomic writes data to path through a temporary file, fsynced and renamed.
func (s *FileStore) writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	return s.finishTemp(f, err, path)
}

// finishTemp syncs and closes the temporary file f (unless err), renames it over path
// and syncs the directory. On error the temporary file is removed.
func (s *FileStore) finishTemp(f *os.File, err error, path string) error {
	if err == nil && !s.opts.NoSync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
		return err
	}
	if !s.opts.NoSync {
		return syncDir(filepath.Dir(path))
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
