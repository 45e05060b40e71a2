package state

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"math"

	"github.com/cepd/cepd/internal/logfile"
)

// Partition log file: a 16-byte header ("cepdlg", format version, flags (logSnapshot),
// partition as u32 LE, CRC-32C of those 12 bytes as u32 LE) then frames. A frame is u32 LE payload length, u32
// LE CRC-32C of the length bytes and the payload, and the payload, whose first byte is
// its type:
//
//	frameCheckpoint: uvarint epoch, zz offset, zz watermark, str rule set,
//	                 uvarint #upserts, (str key, str data)…, uvarint #deletes, str key…
//	frameClaim:      uvarint epoch
//	frameSnapshot:   flags (snapLast, snapFound), uvarint epoch, zz offset, zz watermark,
//	                 str rule set, uvarint #keys, (str key, str data)…
//
// A compacted log (flagged logSnapshot in its header) starts with snapshot frames (the
// live state in chunks, its Meta in each; the last is flagged) and continues with
// checkpoint and claim frames.
const (
	logMagic     = "cepdlg"
	logVersion   = 1
	logSnapshot  = 1 << 0
	logHeaderLen = 16
	frameHdrLen  = 8
	maxFrameLen  = 1 << 30

	frameCheckpoint = 1
	frameClaim      = 2
	frameSnapshot   = 3

	snapLast  = 1 << 0
	snapFound = 1 << 1
)

func logHeader(partition int, flags byte) []byte {
	b := append([]byte(logMagic), logVersion, flags)
	b = binary.LittleEndian.AppendUint32(b, uint32(partition))
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

func checkLogHeader(b []byte, partition int) error {
	if len(b) < logHeaderLen || string(b[:len(logMagic)]) != logMagic {
		return fmt.Errorf("%w: not a cepd partition log", ErrCorrupt)
	}
	if binary.LittleEndian.Uint32(b[12:]) != crc32.Checksum(b[:12], castagnoli) {
		return fmt.Errorf("%w: partition log header checksum mismatch", ErrCorrupt)
	}
	if b[len(logMagic)] != logVersion {
		return fmt.Errorf("%w: partition log format version %d, this build reads %d", ErrVersion, b[len(logMagic)], logVersion)
	}
	if b[len(logMagic)+1]&^logSnapshot != 0 {
		return fmt.Errorf("%w: partition log flags %08b", ErrCorrupt, b[len(logMagic)+1])
	}
	if p := binary.LittleEndian.Uint32(b[8:]); p != uint32(partition) {
		return fmt.Errorf("%w: log holds partition %d, not %d", ErrCorrupt, p, partition)
	}
	return nil
}

// beginFrame starts a frame in buf (reused) and returns it; finishFrame fills in the
// length and checksum.
func beginFrame(buf []byte, typ byte) []byte {
	return append(buf[:0], 0, 0, 0, 0, 0, 0, 0, 0, typ)
}

func finishFrame(b []byte) []byte {
	binary.LittleEndian.PutUint32(b[0:], uint32(len(b)-frameHdrLen))
	crc := crc32.Update(crc32.Checksum(b[0:4], castagnoli), castagnoli, b[frameHdrLen:])
	binary.LittleEndian.PutUint32(b[4:], crc)
	return b
}

func appendStr(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendBytes(b, s []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendCheckpointFrame(buf []byte, cp *Checkpoint) []byte {
	b := beginFrame(buf, frameCheckpoint)
	b = binary.AppendUvarint(b, cp.Epoch)
	b = binary.AppendVarint(b, cp.Offset)
	b = binary.AppendVarint(b, cp.Watermark)
	b = appendStr(b, cp.RuleSet)
	b = binary.AppendUvarint(b, uint64(len(cp.Upserts)))
	for _, u := range cp.Upserts {
		b = appendStr(b, u.Key)
		b = appendBytes(b, u.Data)
	}
	b = binary.AppendUvarint(b, uint64(len(cp.Deletes)))
	for _, k := range cp.Deletes {
		b = appendStr(b, k)
	}
	return finishFrame(b)
}

func appendClaimFrame(buf []byte, epoch uint64) []byte {
	return finishFrame(binary.AppendUvarint(beginFrame(buf, frameClaim), epoch))
}

// frame is a parsed frame payload. Keys and data alias the payload.
type frame struct {
	typ       byte
	snapFlags byte
	epoch     uint64
	offset    int64
	watermark int64
	ruleSet   string
	upserts   []KeyBlob
	deletes   []string
}

// parseFrame parses a payload whose checksum was verified. f's slices are reused.
func parseFrame(p []byte, f *frame) error {
	d := decoder{b: p}
	*f = frame{upserts: f.upserts[:0], deletes: f.deletes[:0]}
	f.typ = d.byte1()
	switch f.typ {
	case frameClaim:
		f.epoch = d.uvarint()
	case frameCheckpoint, frameSnapshot:
		if f.typ == frameSnapshot {
			f.snapFlags = d.byte1()
			if f.snapFlags&^(snapLast|snapFound) != 0 {
				d.fail("bad snapshot flags %08b", f.snapFlags)
			}
		}
		f.epoch = d.uvarint()
		f.offset = d.zigzag()
		f.watermark = d.zigzag()
		f.ruleSet = d.str()
		n := d.count("upsert", math.MaxInt32, 2)
		for range n {
			k := string(d.bytesN(d.uvarint()))
			f.upserts = append(f.upserts, KeyBlob{Key: k, Data: d.bytesN(d.uvarint())})
		}
		if f.typ == frameCheckpoint {
			n = d.count("delete", math.MaxInt32, 1)
			for range n {
				f.deletes = append(f.deletes, d.str())
			}
		}
	default:
		d.fail("unknown frame type %d", f.typ)
	}
	if d.err == nil && d.left() != 0 {
		d.fail("%d trailing bytes", d.left())
	}
	return d.err
}

// logState is what replaying a partition log yields.
type logState struct {
	meta   Meta
	end    int64 // end of the last good frame
	size   int64 // file size
	deltas int   // checkpoint and claim frames after the snapshot
	live   int64 // bytes of live data, as liveBytes counts them
	// exactly one of sizes and data is set
	sizes map[string]int32
	data  map[string][]byte
	// tail is set when the log ends in a torn or corrupt frame, which was ignored.
	tail error
}

// liveBytes is what a key costs in a compacted log, give or take the varints.
func liveBytes(key string, n int) int64 { return int64(len(key) + n + 4) }

func (s *logState) put(key string, data []byte) {
	var old int64
	if s.data != nil {
		if d, ok := s.data[key]; ok {
			old = liveBytes(key, len(d))
		}
		s.data[key] = append([]byte(nil), data...)
	} else {
		if n, ok := s.sizes[key]; ok {
			old = liveBytes(key, int(n))
		}
		s.sizes[key] = int32(min(len(data), math.MaxInt32))
	}
	s.live += liveBytes(key, len(data)) - old
}

func (s *logState) del(key string) {
	if s.data != nil {
		if d, ok := s.data[key]; ok {
			s.live -= liveBytes(key, len(d))
			delete(s.data, key)
		}
	} else if n, ok := s.sizes[key]; ok {
		s.live -= liveBytes(key, int(n))
		delete(s.sizes, key)
	}
}

func (s *logState) keys() int {
	if s.data != nil {
		return len(s.data)
	}
	return len(s.sizes)
}

// replayLog reads a partition log. keep selects whether the live data is kept (Load,
// compaction) or only its size (opening for writes). A missing file is an empty state.
// A torn or corrupt frame ends the log: it and anything after it are ignored and
// described in the result's tail. Damage that is not at the end of the appended part
// (in the snapshot a compaction wrote) is an error wrapping ErrCorrupt.
func replayLog(path string, partition int, keep bool) (*logState, error) {
	s := &logState{}
	if keep {
		s.data = map[string][]byte{}
	} else {
		s.sizes = map[string]int32{}
	}
	f, size, err := logfile.Open(path)
	if err != nil {
		return nil, err
	}
	if f == nil {
		return s, nil
	}
	defer f.Close()
	if s.size = size; s.size == 0 {
		return s, nil // created but never written (a crash without fsync): no log
	}
	r := bufio.NewReaderSize(f, 1<<20)
	hdr := make([]byte, logHeaderLen)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return nil, fmt.Errorf("%w: %s: partition log header: %v", ErrCorrupt, path, err)
	}
	if err := checkLogHeader(hdr, partition); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	s.end = logHeaderLen
	var (
		buf    []byte
		fr     frame
		inSnap = hdr[len(logMagic)+1]&logSnapshot != 0 // still reading the leading snapshot
	)
	for {
		var ok bool
		if buf, ok = s.nextFrame(r, buf); !ok {
			break
		}
		length := int64(len(buf))
		if err := parseFrame(buf, &fr); err != nil {
			return nil, fmt.Errorf("%w: %s: frame at byte %d: %v", ErrCorrupt, path, s.end, err)
		}
		if (fr.typ == frameSnapshot) != inSnap {
			return nil, fmt.Errorf("%w: %s: frame at byte %d: type %d where the snapshot %s", ErrCorrupt, path, s.end, fr.typ,
				map[bool]string{true: "continues", false: "has ended"}[inSnap])
		}
		s.apply(&fr)
		if fr.typ == frameSnapshot && fr.snapFlags&snapLast != 0 {
			inSnap = false
		}
		s.end += frameHdrLen + length
	}
	if inSnap {
		// A compacted log is written whole and synced before it replaces the old one:
		// damage there is not a torn write, and no prefix of it is a consistent state.
		why := "ends early"
		if s.tail != nil {
			why = s.tail.Error()
		}
		return nil, fmt.Errorf("%w: %s: compacted snapshot incomplete: %s", ErrCorrupt, path, why)
	}
	if s.tail != nil && s.end < s.size {
		s.tail = fmt.Errorf("%s: %v; ignoring the last %d bytes, state is at offset %d", path, s.tail, s.size-s.end, s.meta.Offset)
	}
	return s, nil
}

// nextFrame reads the body of the frame at s.end into buf (grown as needed). At the end
// of the log it returns false; at a torn or corrupt frame it also sets s.tail.
func (s *logState) nextFrame(r io.Reader, buf []byte) ([]byte, bool) {
	var fh [frameHdrLen]byte
	n, err := io.ReadFull(r, fh[:])
	if n == 0 && err == io.EOF {
		return buf, false
	}
	if err != nil {
		s.tail = fmt.Errorf("torn frame header at byte %d", s.end)
		return buf, false
	}
	length := int64(binary.LittleEndian.Uint32(fh[0:]))
	if length == 0 || length > maxFrameLen || length > s.size-s.end-frameHdrLen {
		s.tail = fmt.Errorf("frame at byte %d: length %d runs past the end of the file (%d bytes)", s.end, length, s.size)
		return buf, false
	}
	if int64(cap(buf)) < length {
		buf = make([]byte, length)
	}
	buf = buf[:length]
	if _, err := io.ReadFull(r, buf); err != nil {
		s.tail = fmt.Errorf("frame at byte %d: %v", s.end, err)
		return buf, false
	}
	if crc := crc32.Update(crc32.Checksum(fh[0:4], castagnoli), castagnoli, buf); crc != binary.LittleEndian.Uint32(fh[4:]) {
		s.tail = fmt.Errorf("frame at byte %d: checksum mismatch", s.end)
		return buf, false
	}
	return buf, true
}

func (s *logState) apply(f *frame) {
	s.meta.Epoch = max(s.meta.Epoch, f.epoch)
	switch f.typ {
	case frameClaim:
		s.deltas++
		return
	case frameCheckpoint:
		s.deltas++
		s.meta.Found = true
	case frameSnapshot:
		s.meta.Found = f.snapFlags&snapFound != 0
	}
	s.meta.Offset, s.meta.Watermark, s.meta.RuleSet = f.offset, f.watermark, f.ruleSet
	for _, u := range f.upserts {
		s.put(u.Key, u.Data)
	}
	for _, k := range f.deletes {
		s.del(k)
	}
}
