package state

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"

	"github.com/cepd/cepd/event"
)

// decoder reads one blob. Its methods record the first error in d.err and then return
// zero values, so the parsing code reads straight through and checks d.err at the
// points where a bad value would matter.
type decoder struct {
	b      []byte
	off    int
	err    error
	si     *schemaInfo
	schema *event.Schema
	nf     int // the fields the blob's events were written with (a prefix of si's)
	width  int // the fields of schema, the events' (a prefix of si's)
	strs   []string
	ks     *KeyState
	prev   []int32
	digits int           // Dewey digits the versions may still allocate
	vals   event.Builder // assembles each event's values slab
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf(format, args...)
	}
}

func (d *decoder) left() int { return len(d.b) - d.off }

func (d *decoder) byte1() byte {
	if d.err != nil {
		return 0
	}
	if d.off >= len(d.b) {
		d.fail("truncated")
		return 0
	}
	c := d.b[d.off]
	d.off++
	return c
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	x, n := binary.Uvarint(d.b[d.off:])
	if n <= 0 {
		d.fail("truncated or overlong varint")
		return 0
	}
	d.off += n
	return x
}

// zigzag reads a signed varint (binary.PutVarint's zig-zag encoding of a uvarint).
func (d *decoder) zigzag() int64 {
	ux := d.uvarint()
	x := int64(ux >> 1)
	if ux&1 != 0 {
		x = ^x
	}
	return x
}

// count reads an element count: at most limit, and at most the bytes left divided by
// the least bytes one element takes.
func (d *decoder) count(what string, limit, minBytes int) int {
	n := d.uvarint()
	if d.err == nil && (n > uint64(limit) || n > uint64(d.left()/minBytes)) {
		d.fail("%s count %d exceeds the limit or the data left", what, n)
		return 0
	}
	return int(n)
}

// int32v checks that x fits an int32.
func (d *decoder) int32v(what string, x int64) int32 {
	if x < math.MinInt32 || x > math.MaxInt32 {
		d.fail("%s %d out of range", what, x)
		return 0
	}
	return int32(x)
}

func (d *decoder) bytesN(n uint64) []byte {
	if d.err != nil {
		return nil
	}
	if n > uint64(d.left()) {
		d.fail("length %d exceeds the %d bytes left", n, d.left())
		return nil
	}
	b := d.b[d.off : d.off+int(n)]
	d.off += int(n)
	return b
}

func (d *decoder) str() string { return string(d.bytesN(d.uvarint())) }

func (d *decoder) istr() string {
	h := d.uvarint()
	if d.err != nil || h == 0 {
		return ""
	}
	var s string
	switch {
	case h&1 == 1:
		if i := h >> 1; i < uint64(len(d.strs)) {
			return d.strs[i]
		}
		d.fail("string reference %d out of range", h>>1)
		return ""
	case h&3 == 0:
		s = string(d.bytesN(h >> 2))
	case h&7 == 2:
		b := d.bytesN(h >> 3)
		if len(b) < 4 {
			d.fail("packed hex string of %d bytes", len(b))
		}
		s = hex.EncodeToString(b)
	case h == 6:
		b := d.bytesN(16)
		if d.err != nil {
			return ""
		}
		var u [36]byte
		hex.Encode(u[0:8], b[0:4])
		hex.Encode(u[9:13], b[4:6])
		hex.Encode(u[14:18], b[6:8])
		hex.Encode(u[19:23], b[8:10])
		hex.Encode(u[24:36], b[10:16])
		u[8], u[13], u[18], u[23] = '-', '-', '-', '-'
		s = string(u[:])
	default:
		d.fail("bad string tag %d", h)
	}
	if d.err != nil {
		return ""
	}
	d.strs = append(d.strs, s)
	return s
}
