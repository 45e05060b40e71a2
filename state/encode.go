package state

import (
	"encoding/binary"
	"encoding/hex"
	"hash/crc32"
	"math"
	"sync"
	"sync/atomic"

	"github.com/cepd/cepd/event"
)

// Key state blob, format version 1 (all integers are varints unless noted; "zz" is a
// zigzag varint, "str" a length-prefixed string, "istr" an interned string):
//
//	magic 0xCE 0x4B | version 1 | schema fingerprint (4 bytes) | str key
//	uvarint #events, events | uvarint #pending, zz deltas | uvarint #rules, rules
//	uvarint #sections, (uvarint kind, uvarint len, bytes) | CRC-32C of all before (4 bytes LE)
//
// An event is a flag byte (see evSeq…) then, as flagged: zz Seq delta (from the previous
// event's), zz Time delta, istr Key, the values, istr ID (the state's key is the first
// remembered string). Values are a presence bitmap
// over the schema's fields then one payload per present field, preceded by its kind when
// the event's kinds are not all the fields' declared ones. Timestamps are coded as a
// delta from the event's Time, ints of the time field likewise, doubles that are whole
// cents as uvarint 2·zz(cents), others as uvarint 1 and their 8 bytes. An interned
// string is a back reference or a literal, hex strings and UUIDs packed (encoder.istr).
//
// A rule is a flag byte (ruleMatcher, ruleHexFP), str rule id, the fingerprint (hex
// digits packed two per byte when ruleHexFP) and the snapshot: nodes (zz event delta, zz
// step, edges: predecessor as a distance back, version), then partial and completed
// runs (zz state, zz node+1, version, zz start event+1, zz StartTs and PrevTs as deltas
// from their events' times). A Dewey version is coded as the digits it adds to a prefix
// of a reference version: the previous one written or one of the related node's edges
// (encoder.version).
const (
	magic0, magic1 = 0xCE, 0x4B
	formatVersion  = 1
	headerLen      = 7
	trailerLen     = 4
)

// Event flag bits.
const (
	evSeq      = 1 << 0
	evTime     = 1 << 1
	evKeySame  = 1 << 2               // Key equals the state's Key
	evKeyStr   = 1 << 3               // Key follows
	evIDField  = 1 << 4               // ID equals the string value of the schema's id field
	evIDStr    = 1 << 5               // ID follows
	evValues   = 1 << 6               // values, of their fields' declared kinds
	evValuesK  = 1 << 7               // values, each with its kind
	evNil      = evKeySame | evKeyStr // alone: a nil event
	evKeyMask  = evKeySame | evKeyStr
	evValsMask = evValues | evValuesK
)

// Rule flag bits.
const (
	ruleMatcher = 1 << 0
	ruleHexFP   = 1 << 1
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// lastSchema caches the codec's view of the most recently used schema (a deployment has
// one); schemas are immutable, so the pointer identifies it.
var lastSchema atomic.Pointer[schemaInfo]

func infoFor(s *event.Schema) *schemaInfo {
	if si := lastSchema.Load(); si != nil && si.schema == s {
		return si
	}
	si := newSchemaInfo(s)
	lastSchema.Store(&si)
	return &si
}

type encoder struct {
	b       []byte
	si      *schemaInfo
	ks      *KeyState
	strs    map[string]uint64
	prevVer []int32
}

var encoders = sync.Pool{New: func() any { return &encoder{strs: map[string]uint64{}} }}

// AppendKeyState appends the encoding of ks under schema to dst and returns the extended
// slice. Event values are written by the schema's field positions: an event's Values
// beyond len(schema.Fields) are not written, and a nil schema writes none. It never fails;
// see DecodeKeyState for what is checked on the way back.
func AppendKeyState(dst []byte, ks *KeyState, schema *event.Schema) []byte {
	e := encoders.Get().(*encoder)
	e.si, e.ks, e.b = infoFor(schema), ks, dst
	start := len(dst)
	e.b = append(e.b, magic0, magic1, formatVersion)
	e.b = append(e.b, e.si.fp[:]...)
	e.str(ks.Key)
	if ks.Key != "" {
		e.strs[ks.Key] = 0 // the key field's values cost a byte
	}
	e.uvarint(uint64(len(ks.Events)))
	var prevSeq uint64
	var prevTime, prevOff int64
	for _, ev := range ks.Events {
		e.event(ev, &prevSeq, &prevTime, &prevOff)
	}
	e.uvarint(uint64(len(ks.Pending)))
	prev := int64(0)
	for _, p := range ks.Pending {
		e.zigzag(int64(p) - prev)
		prev = int64(p)
	}
	e.uvarint(uint64(len(ks.Rules)))
	for i := range ks.Rules {
		e.rule(&ks.Rules[i])
	}
	e.uvarint(uint64(len(ks.Sections)))
	for _, s := range ks.Sections {
		e.uvarint(uint64(s.Kind))
		e.uvarint(uint64(len(s.Data)))
		e.b = append(e.b, s.Data...)
	}
	e.b = binary.LittleEndian.AppendUint32(e.b, crc32.Checksum(e.b[start:], castagnoli))
	out := e.b
	e.b, e.si, e.ks, e.prevVer = nil, nil, nil, nil
	clear(e.strs)
	encoders.Put(e)
	return out
}

func (e *encoder) uvarint(x uint64) { e.b = binary.AppendUvarint(e.b, x) }
func (e *encoder) zigzag(x int64)   { e.b = binary.AppendVarint(e.b, x) }

func (e *encoder) str(s string) {
	e.uvarint(uint64(len(s)))
	e.b = append(e.b, s...)
}

// istr writes an interned string: uvarint h, where h&1 == 1 refers to remembered
// string h>>1; h&3 == 0 is a literal of h>>2 bytes; h&7 == 2 is lower-case hex of h>>3
// packed bytes; h == 6 is a lower-case canonical UUID in 16 bytes. Non-empty strings
// other than references are remembered.
func (e *encoder) istr(s string) {
	if s == "" {
		e.uvarint(0)
		return
	}
	if i, ok := e.strs[s]; ok {
		e.uvarint(i<<1 | 1)
		return
	}
	e.strs[s] = uint64(len(e.strs))
	switch {
	case isUUID(s):
		e.uvarint(6)
		for _, part := range [...]string{s[0:8], s[9:13], s[14:18], s[19:23], s[24:36]} {
			e.b, _ = hex.AppendDecode(e.b, []byte(part))
		}
	case len(s) >= 8 && isLowerHex(s):
		e.uvarint(uint64(len(s)/2)<<3 | 2)
		e.b, _ = hex.AppendDecode(e.b, []byte(s))
	default:
		e.uvarint(uint64(len(s)) << 2)
		e.b = append(e.b, s...)
	}
}

// isUUID reports whether s is a UUID in canonical lower-case form.
func isUUID(s string) bool {
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return false
	}
	return isLowerHex(s[0:8]) && isLowerHex(s[9:13]) && isLowerHex(s[14:18]) && isLowerHex(s[19:23]) && isLowerHex(s[24:36])
}

func (e *encoder) event(ev *event.Event, prevSeq *uint64, prevTime, prevOff *int64) {
	if ev == nil {
		e.b = append(e.b, evNil)
		return
	}
	si := e.si
	nf := min(ev.Len(), len(si.kinds))
	var flags byte
	if ev.Seq != 0 {
		flags |= evSeq
	}
	if ev.Time != 0 {
		flags |= evTime
	}
	switch {
	case ev.Key == e.ks.Key:
		flags |= evKeySame
	case ev.Key != "":
		flags |= evKeyStr
	}
	if nf > 0 {
		flags |= evValues
		for i := range nf {
			if k := ev.Value(i).Kind; k != event.KindMissing && k != si.kinds[i] {
				flags = flags&^evValues | evValuesK
				break
			}
		}
	}
	id := ev.ID()
	switch {
	case id == "":
	case nf > si.idIdx && si.idIdx >= 0 && ev.Value(si.idIdx).Kind == event.KindString && ev.Value(si.idIdx).AsString() == id:
		flags |= evIDField
	default:
		flags |= evIDStr
	}
	e.b = append(e.b, flags)
	if flags&evSeq != 0 {
		e.zigzag(int64(ev.Seq - *prevSeq))
		*prevSeq = ev.Seq
	}
	if flags&evTime != 0 {
		e.zigzag(ev.Time - *prevTime)
		*prevTime = ev.Time
	}
	// the source offset, always present (a delta: usually one byte)
	e.zigzag(ev.Offset - *prevOff)
	*prevOff = ev.Offset
	if flags&evKeyStr != 0 {
		e.istr(ev.Key)
	}
	if nf > 0 {
		e.values(ev, nf, flags&evValuesK != 0)
	}
	if flags&evIDStr != 0 {
		e.istr(id)
	}
}

func (e *encoder) values(ev *event.Event, nf int, kinds bool) {
	bm := len(e.b)
	for range (len(e.si.kinds) + 7) / 8 {
		e.b = append(e.b, 0)
	}
	for i := range nf {
		v := ev.Value(i)
		if v.Kind == event.KindMissing {
			continue
		}
		e.b[bm+i/8] |= 1 << (i % 8)
		if kinds {
			e.b = append(e.b, byte(v.Kind))
		}
		switch v.Kind {
		case event.KindBool:
			if v.AsBool() {
				e.b = append(e.b, 1)
			} else {
				e.b = append(e.b, 0)
			}
		case event.KindInt:
			if i == e.si.timeIdx {
				e.zigzag(v.AsInt() - ev.Time)
			} else {
				e.zigzag(v.AsInt())
			}
		case event.KindDouble:
			e.double(v.AsDouble())
		case event.KindString:
			e.istr(v.AsString())
		case event.KindTimestamp:
			e.zigzag(v.AsTimeNanos() - ev.Time*1e6)
		}
	}
}

// double writes a float: uvarint 2·zz(m) when it is exactly m/100 (amounts in cents:
// 2 to 4 bytes), else uvarint 1 and the 8 bytes of its bits.
func (e *encoder) double(f float64) {
	if m := math.Round(f * 100); math.Abs(m) < 1<<53 && m/100 == f && (f != 0 || !math.Signbit(f)) {
		e.uvarint(zz(int64(m)) << 1)
		return
	}
	e.uvarint(1)
	e.b = binary.LittleEndian.AppendUint64(e.b, math.Float64bits(f))
}

func (e *encoder) rule(r *RuleState) {
	var flags byte
	if r.Matcher != nil {
		flags |= ruleMatcher
	}
	if isLowerHex(r.Fingerprint) {
		flags |= ruleHexFP
	}
	e.b = append(e.b, flags)
	e.str(r.RuleID)
	if flags&ruleHexFP != 0 {
		e.uvarint(uint64(len(r.Fingerprint) / 2))
		e.b, _ = hex.AppendDecode(e.b, []byte(r.Fingerprint)) // cannot fail: checked by isLowerHex
	} else {
		e.str(r.Fingerprint)
	}
	if r.Matcher != nil {
		e.snapshot(r.Matcher)
	}
}

// isLowerHex reports whether s is a non-empty, even-length string of lower-case hex
// digits (so that packing it is lossless).
func isLowerHex(s string) bool {
	if s == "" || len(s)%2 != 0 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
