package state

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"math"

	"github.com/cepd/cepd/event"
)

// DecodeKeyState decodes a blob written by AppendKeyState under the same schema (same
// SchemaFingerprint), or under an ancestor of it that lacked some of its trailing
// optional fields (fields added live, event.Compatible): those fields are absent. The result shares no memory with data. Every error wraps one of
// ErrCorrupt (bad magic, checksum, truncated, trailing bytes, an out-of-range count,
// index or value), ErrVersion or ErrSchemaMismatch; it never panics, whatever data holds.
// No length or count in the blob is trusted beyond the bytes that follow it, so
// allocation is bounded by a multiple of len(data) (about 1 KiB per byte at worst, for
// events of a wide schema or versions sharing long prefixes).
//
// Indexes that point into the blob's own lists are checked (Pending and the snapshots'
// event and node references, predecessors before their nodes); whether a snapshot fits
// a program is nfa.Program.Import's to check.
func DecodeKeyState(data []byte, schema *event.Schema) (*KeyState, error) {
	if err := checkBlob(data); err != nil {
		return nil, err
	}
	si := infoFor(schema)
	nf, ok := si.fieldsOf([4]byte(data[3:7]))
	if !ok {
		return nil, fmt.Errorf("%w: blob schema fingerprint %x, current schema %s", ErrSchemaMismatch, data[3:7], SchemaFingerprint(schema))
	}
	return decodeBlob(data, si, schema, nf)
}

// checkBlob checks a blob's header and checksum.
func checkBlob(data []byte) error {
	if len(data) < headerLen+trailerLen {
		return fmt.Errorf("%w: key state of %d bytes is shorter than its header", ErrCorrupt, len(data))
	}
	if data[0] != magic0 || data[1] != magic1 {
		return fmt.Errorf("%w: not a cepd key state (magic %02x%02x)", ErrCorrupt, data[0], data[1])
	}
	if data[2] != formatVersion {
		return fmt.Errorf("%w: key state format version %d, this build reads %d", ErrVersion, data[2], formatVersion)
	}
	body := data[:len(data)-trailerLen]
	if want, got := binary.LittleEndian.Uint32(data[len(body):]), crc32.Checksum(body, castagnoli); want != got {
		return fmt.Errorf("%w: key state checksum mismatch (stored %08x, computed %08x)", ErrCorrupt, want, got)
	}
	return nil
}

// decodeBlob decodes a checked blob whose events were written with the first nf fields
// of written's schema (si). The events are of schema, whose fields are a prefix of
// si's: values of si's fields beyond schema's are read and dropped, fields of schema
// beyond nf are absent.
func decodeBlob(data []byte, si *schemaInfo, schema *event.Schema, nf int) (*KeyState, error) {
	width := 0
	if schema != nil {
		width = len(schema.Fields)
	}
	d := decoder{b: data[headerLen : len(data)-trailerLen], si: si, schema: schema, nf: nf, width: width}
	d.digits = min(maxDigits, 1<<16+digitsPerByte*len(data))
	ks, err := d.keyState()
	if err != nil {
		return nil, fmt.Errorf("%w: key state at byte %d: %v", ErrCorrupt, headerLen+d.off, err)
	}
	return ks, nil
}

func (d *decoder) keyState() (*KeyState, error) {
	ks := &KeyState{}
	d.ks = ks
	ks.Key = d.str()
	if ks.Key != "" {
		d.strs = append(d.strs, ks.Key)
	}
	if n := d.count("event", maxEvents, 1); n > 0 {
		ks.Events = make([]*event.Event, n)
		var prevSeq uint64
		var prevTime, prevOff int64
		for i := range ks.Events {
			ks.Events[i] = d.event(&prevSeq, &prevTime, &prevOff)
			if d.err != nil {
				return nil, fmt.Errorf("event %d: %w", i, d.err)
			}
		}
	}
	if n := d.count("pending", maxEvents, 1); n > 0 {
		ks.Pending = make([]int32, n)
		prev := int64(0)
		for i := range ks.Pending {
			x := prev + d.zigzag()
			if d.err == nil && (x < 0 || x >= int64(len(ks.Events))) {
				d.fail("pending %d: event %d out of range", i, x)
			}
			ks.Pending[i], prev = int32(x), x
		}
	}
	if n := d.count("rule", maxRules, 3); n > 0 {
		ks.Rules = make([]RuleState, n)
		for i := range ks.Rules {
			d.rule(&ks.Rules[i])
			if d.err != nil {
				return nil, fmt.Errorf("rule %d: %w", i, d.err)
			}
		}
	}
	if n := d.count("section", maxSections, 2); n > 0 {
		ks.Sections = make([]Section, n)
		for i := range ks.Sections {
			k := d.uvarint()
			if k > math.MaxUint16 {
				d.fail("section %d: kind %d out of range", i, k)
			}
			ks.Sections[i] = Section{Kind: uint16(k), Data: append([]byte(nil), d.bytesN(d.uvarint())...)}
		}
	}
	if d.err == nil && d.left() != 0 {
		d.fail("%d trailing bytes", d.left())
	}
	if d.err != nil {
		return nil, d.err
	}
	return ks, nil
}

func (d *decoder) event(prevSeq *uint64, prevTime, prevOff *int64) *event.Event {
	flags := d.byte1()
	if flags == evNil {
		return nil
	}
	if flags&evKeyMask == evKeyMask || flags&evValsMask == evValsMask || flags&(evIDField|evIDStr) == evIDField|evIDStr {
		d.fail("bad event flags %08b", flags)
		return nil
	}
	ev := &event.Event{Schema: d.schema}
	if flags&evSeq != 0 {
		ev.Seq = *prevSeq + uint64(d.zigzag())
		*prevSeq = ev.Seq
	}
	if flags&evTime != 0 {
		ev.Time = *prevTime + d.zigzag()
		*prevTime = ev.Time
	}
	ev.Offset = *prevOff + d.zigzag()
	*prevOff = ev.Offset
	switch {
	case flags&evKeySame != 0:
		ev.Key = d.ks.Key
	case flags&evKeyStr != 0:
		ev.Key = d.istr()
	}
	if flags&evValsMask != 0 {
		d.values(ev, flags&evValuesK != 0)
	}
	// An event's id is read from its id field (event.Event.ID), as the encoder wrote it:
	// a string field's value (evIDField) or another kind's key string (evIDStr).
	switch {
	case flags&evIDStr != 0:
		if id := d.istr(); d.err == nil && id != ev.ID() {
			d.fail("event id %q is not its id field's %q", id, ev.ID())
		}
	case flags&evIDField != 0:
		if i := d.si.idIdx; i < 0 || i >= ev.Len() || ev.Value(i).Kind != event.KindString {
			d.fail("event id taken from an id field it does not have")
		}
	}
	if d.err != nil {
		return nil
	}
	return ev
}

func (d *decoder) values(ev *event.Event, explicitKinds bool) {
	nf := d.nf
	if nf == 0 {
		d.fail("event has values but the schema has no fields")
		return
	}
	bm := d.bytesN(uint64((nf + 7) / 8))
	if d.err != nil {
		return
	}
	if nf%8 != 0 && bm[len(bm)-1]>>(nf%8) != 0 {
		d.fail("presence bitmap marks fields beyond the schema's %d", nf)
		return
	}
	b := &d.vals
	b.Reset(d.width) // fields added live after nf are absent
	for i := range nf {
		if bm[i/8]&(1<<(i%8)) == 0 {
			continue
		}
		k := d.si.kinds[i]
		if explicitKinds {
			k = event.Kind(d.byte1())
		}
		var v event.Value
		switch k {
		case event.KindNull:
			v = event.Null()
		case event.KindBool:
			switch d.byte1() {
			case 0:
				v = event.Bool(false)
			case 1:
				v = event.Bool(true)
			default:
				d.fail("field %d: bad bool", i)
			}
		case event.KindInt:
			x := d.zigzag()
			if i == d.si.timeIdx {
				x += ev.Time
			}
			v = event.Int(x)
		case event.KindDouble:
			v = event.Double(d.double())
		case event.KindString:
			v = event.String(d.istr())
		case event.KindTimestamp:
			v = event.TimestampNanos(d.zigzag() + ev.Time*1e6)
		default:
			d.fail("field %d: bad value kind %d", i, k)
		}
		if d.err != nil {
			return
		}
		if i < d.width { // a field the reader's schema lacks is read and dropped
			b.Set(i, v)
		}
	}
	b.Build(ev)
}

func (d *decoder) double() float64 {
	h := d.uvarint()
	switch {
	case h&1 == 0:
		m := int64(h>>1>>1) ^ -int64(h>>1&1)
		if m <= -1<<53 || m >= 1<<53 {
			d.fail("scaled double %d out of range", m)
		}
		return float64(m) / 100
	case h == 1:
		if b := d.bytesN(8); d.err == nil {
			return math.Float64frombits(binary.LittleEndian.Uint64(b))
		}
	default:
		d.fail("bad double tag %d", h)
	}
	return 0
}

func (d *decoder) rule(r *RuleState) {
	flags := d.byte1()
	if flags&^(ruleMatcher|ruleHexFP) != 0 {
		d.fail("bad rule flags %08b", flags)
		return
	}
	r.RuleID = d.str()
	if flags&ruleHexFP != 0 {
		b := d.bytesN(d.uvarint())
		if d.err == nil && len(b) == 0 {
			d.fail("empty packed fingerprint")
		}
		r.Fingerprint = hex.EncodeToString(b)
	} else {
		r.Fingerprint = d.str()
	}
	if flags&ruleMatcher != 0 && d.err == nil {
		r.Matcher = d.snapshot()
	}
}
