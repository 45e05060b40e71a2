package engine

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math"

	"github.com/cepd/cepd/rules"
	"github.com/cepd/cepd/state"
	"github.com/cepd/cepd/velocity"
)

// sectionVelocity is the key-state section (state.Section) that keeps a key's velocity
// state: per rule (by id and fingerprint, as matchers are kept) its rearm hold and its
// aggregates' windows. A rule whose fingerprint changed starts fresh, as its matchers do.
const sectionVelocity = 2

// velocitySection encodes kv; false when there is nothing to keep. A base (jour set)
// is encoded as the live state's aggregates with the log rolled back, and its own holds.
func (s *shard) velocitySection(kv *keyVelocity) (sec state.Section, ok bool) {
	if kv == nil {
		return state.Section{}, false
	}
	if j := kv.jour; j != nil {
		view := keyVelocity{lay: kv.lay, aggs: make([]*velocity.Agg, kv.lay.off[len(kv.lay.off)-1]), quiet: kv.quiet, at: math.MinInt64, soon: math.MinInt64}
		if j.live == nil || j.none { // the base holds no aggregate
			return s.encodeVelocity(&view)
		}
		j.log.AtStart(func() {
			view.aggs, view.at = j.live.aggs, j.live.at
			sec, ok = s.encodeVelocity(&view)
		})
		return sec, ok
	}
	return s.encodeVelocity(kv)
}

// encodeVelocity encodes a key's velocity state; false when it holds nothing.
func (s *shard) encodeVelocity(kv *keyVelocity) (state.Section, bool) {
	if kv.blank() {
		return state.Section{}, false
	}
	var b []byte
	b = binary.AppendVarint(b, kv.at)
	n := 0
	for ri := range kv.lay.hold {
		if len(kv.ruleAggs(ri)) > 0 || kv.quietOf(ri) != math.MinInt64 {
			n++
		}
	}
	b = binary.AppendUvarint(b, uint64(n))
	for ri := range kv.lay.hold {
		aggs, quiet := kv.ruleAggs(ri), kv.quietOf(ri)
		if len(aggs) == 0 && quiet == math.MinInt64 {
			continue
		}
		c := s.rules.Rules[ri]
		b = appendString(b, c.Rule.ID)
		b = appendString(b, c.Fingerprint())
		b = binary.AppendVarint(b, quiet)
		b = binary.AppendUvarint(b, uint64(len(aggs)))
		for _, a := range aggs {
			if a == nil {
				b = append(b, 0)
				continue
			}
			b = append(b, 1)
			b = a.AppendBinary(b)
		}
	}
	return state.Section{Kind: sectionVelocity, Data: b}, true
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// restoreVelocity decodes a key's velocity section for the shard's rule set (nil when
// there is none, or nothing of it fits the rules). A rule's part that cannot be read
// starts fresh and is counted as corrupt.
func (s *shard) restoreVelocity(key string, secs []state.Section) *keyVelocity {
	for _, sec := range secs {
		if sec.Kind != sectionVelocity {
			continue
		}
		kv, err := s.decodeVelocity(sec.Data)
		if err != nil {
			if ck := s.e.ckpt; ck != nil {
				ck.corrupt.Add(1)
			}
			slog.Error("velocity state cannot be restored; the key's aggregates start fresh", "key", key, "err", err)
			return nil
		}
		return kv
	}
	return nil
}

func (s *shard) decodeVelocity(data []byte) (*keyVelocity, error) {
	lay := s.velocityLayout()
	r := velReader{b: data}
	kv := newKeyVelocity(lay)
	kv.at = r.varint()
	n := r.uvarint()
	any := false
	for i := uint64(0); i < n && r.err == nil; i++ {
		id, fp := r.str(), r.str()
		quiet := r.varint()
		na := int(r.uvarint())
		ri := -1
		for j, c := range s.rules.Rules {
			if c.Rule.ID == id && c.Fingerprint() == fp {
				ri = j
			}
		}
		var specs []velocity.Spec
		if ri >= 0 {
			for _, g := range s.rules.Rules[ri].Aggregates() {
				specs = append(specs, g.Spec)
			}
		}
		if ri >= 0 && na != len(specs) {
			r.fail()
			break
		}
		var aggs []*velocity.Agg
		if na > 0 {
			aggs = make([]*velocity.Agg, na)
		}
		for j := 0; j < na && r.err == nil; j++ {
			if len(r.b) == 0 {
				r.fail()
				break
			}
			present := r.b[0]
			r.b = r.b[1:]
			if present == 0 {
				continue
			}
			if ri < 0 { // a rule that changed: its windows cannot be read without its specs
				r.err = errStaleRule
				break
			}
			a, rest, err := velocity.Decode(specs[j], r.b)
			if err != nil {
				r.err = err
				break
			}
			aggs[j], r.b = a, rest
		}
		if r.err == errStaleRule {
			// Everything after a changed rule is unreadable; what came before stays.
			r.err = nil
			break
		}
		if ri >= 0 {
			off := int(lay.off[ri])
			for j, a := range aggs {
				kv.aggs[off+j] = a
			}
			if h := lay.hold[ri]; h >= 0 {
				kv.quiet[h] = quiet
			}
			any = true
		}
	}
	if r.err != nil {
		return nil, r.err
	}
	if !any {
		return nil, nil
	}
	kv.unbound()
	return kv, nil
}

// velocityLayout is the plan's layout, or one with no room when no rule keeps velocity
// state (a section is still read, to find corruption).
func (s *shard) velocityLayout() *velLayout {
	if p := s.velocity(); p != nil {
		return p.lay
	}
	return newVelLayout(make([][]*rules.Aggregate, len(s.rules.Rules)), make([]int64, len(s.rules.Rules)))
}

var errStaleRule = errors.New("velocity state of a changed rule")

type velReader struct {
	b   []byte
	err error
}

func (r *velReader) fail() {
	if r.err == nil {
		r.err = fmt.Errorf("%w: velocity section", state.ErrCorrupt)
	}
	r.b = nil
}

func (r *velReader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *velReader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 || v > uint64(len(r.b)-n) { // every count and length here is of bytes to come
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *velReader) str() string {
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		r.fail()
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}
