package kafka

import (
	"container/heap"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

var errShort = errors.New("truncated")

// blobReader reads what merger.encode wrote.
type blobReader struct {
	b   []byte
	err error
}

func (r *blobReader) uvarint() uint64 { return readVarint(r, binary.Uvarint) }
func (r *blobReader) varint() int64   { return readVarint(r, binary.Varint) }

// readVarint reads one varint with decode (binary.Uvarint or binary.Varint); a reader
// that failed before reads 0.
func readVarint[T uint64 | int64](r *blobReader, decode func([]byte) (T, int)) T {
	if r.err != nil {
		return 0
	}
	v, n := decode(r.b)
	if n <= 0 {
		r.err = errShort
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *blobReader) bytes() []byte {
	n := r.uvarint()
	if r.err != nil {
		return nil
	}
	if uint64(len(r.b)) < n {
		r.err = errShort
		return nil
	}
	v := append([]byte(nil), r.b[:n]...)
	r.b = r.b[n:]
	return v
}

func (r *blobReader) byte() byte {
	if r.err != nil || len(r.b) == 0 {
		r.err = errShort
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

// decode restores what encode wrote (on top of the configured sources).
func (m *merger) decode(blob []byte) error {
	r := &blobReader{b: blob}
	if v := r.byte(); r.err == nil && v != 1 {
		return fmt.Errorf("version %d unknown", v)
	}
	n := r.uvarint()
	if n > uint64(len(blob)) {
		return errShort
	}
	srcs := make([]SourcePartition, 0, n)
	for range n {
		s := SourcePartition{Topic: string(r.bytes())}
		p := r.varint()
		if p < 0 || p > math.MaxInt32 {
			return fmt.Errorf("source partition %d", p)
		}
		s.Partition = int32(p)
		m.clocks[s] = &srcClock{wm: r.varint(), idle: r.byte() == 1}
		srcs = append(srcs, s)
	}
	n = r.uvarint()
	if n > uint64(len(blob)) {
		return errShort
	}
	for range n {
		h := &heldRec{time: r.varint()}
		i := r.uvarint()
		if r.err == nil && i >= uint64(len(srcs)) {
			return fmt.Errorf("source index %d of %d", i, len(srcs))
		}
		if r.err == nil {
			h.src = srcs[i]
		}
		h.srcOff, h.off, h.value = r.varint(), r.varint(), r.bytes()
		m.held = append(m.held, h)
	}
	if r.err != nil {
		return r.err
	}
	if len(r.b) > 0 {
		return fmt.Errorf("%d bytes after the end", len(r.b))
	}
	heap.Init(&m.held)
	return nil
}
