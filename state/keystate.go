package state

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"

	"github.com/cepd/cepd/event"
	"github.com/cepd/cepd/nfa"
)

// KeyState is everything the engine keeps for one key, in the plain form that is
// checkpointed. Events are stored once and referred to by index from the rules' matcher
// snapshots and from Pending, so events shared by several rules' runs cost one copy.
type KeyState struct {
	Key string
	// Events holds every event referenced by the key's runs or pending list.
	Events []*event.Event
	// Rules holds one entry per rule with live state.
	Rules []RuleState
	// Pending lists, in order, the indexes into Events of the key's journal: events
	// matched but still re-matchable (not yet behind the watermark). Rules then hold the
	// matchers as they were before those events, and a restore matches them again.
	Pending []int32
	// Sections is the extension point for per-key state other than NFA runs (velocity
	// aggregates, lists…). The state package does not interpret them: a section of a kind
	// this build does not know is decoded, kept and written back unchanged.
	Sections []Section
}

// RuleState is one rule's state for a key.
type RuleState struct {
	RuleID string
	// Fingerprint is the rule's compiled fingerprint (rules.Compiled.Fingerprint): the
	// snapshot only fits a program with the same one. A lower-case hex fingerprint is
	// stored in half the bytes.
	Fingerprint string
	// Matcher is the rule's matcher snapshot; nil when the rule keeps no runs.
	Matcher *nfa.Snapshot
}

// Section is an opaque, typed piece of per-key state.
type Section struct {
	Kind uint16
	Data []byte
}

// Errors returned (wrapped) by DecodeKeyState and the stores. Test with errors.Is.
var (
	// ErrCorrupt: the data failed its checksum or a structural check.
	ErrCorrupt = errors.New("state: corrupt")
	// ErrVersion: the data was written in a format version this build cannot read
	// (typically by a newer cepd).
	ErrVersion = errors.New("state: unsupported format version")
	// ErrSchemaMismatch: the key state was written under a different event schema; it
	// cannot be decoded with this one.
	ErrSchemaMismatch = errors.New("state: key state written under another event schema")
)

// Decoding limits. Counts are also bounded by the bytes left in the blob (every element
// takes at least one byte), so a corrupt count cannot make the decoder allocate more than
// a small multiple of the blob's size; these caps catch the rest.
const (
	maxEvents     = 1 << 22
	maxRules      = 1 << 16
	maxSections   = 1 << 12
	maxVersionLen = 1 << 12
	// A version shares a prefix with an earlier one, so a few bytes can stand for many
	// digits: the digits a blob decodes to are capped at maxDigits (64 MiB). The cap must
	// admit every state the matchers' memory budget admits (nfa.Budget: at most
	// nfa.MaxBudgetDigits per key and rule, each version at most maxVersionLen digits),
	// or a restart refuses a key at its budget and replays the events that made it (issue
	// 11's crash loop): so the per-byte bound is the structural one (a version takes at
	// least a byte and holds at most maxVersionLen digits), and maxDigits holds 16 rules
	// at the largest budget, 512 at the default.
	maxDigits     = 1 << 24
	digitsPerByte = maxVersionLen
)

// SchemaFingerprint identifies what the key-state encoding depends on in a schema: the
// field names and types in order, and which fields are the event time and the event id
// (their values are coded against Event.Time and Event.ID). The schema's name, the key
// field and the optional flags do not enter it. It is 16 lower-case hex digits; a key
// state blob carries its first 8 (4 bytes).
func SchemaFingerprint(s *event.Schema) string {
	fp := schemaHash(s)
	return hex.EncodeToString(fp[:8])
}

func schemaHash(s *event.Schema) [32]byte {
	n := 0
	if s != nil {
		n = len(s.Fields)
	}
	return schemaHashN(s, n)
}

// schemaHashN is the hash of s cut to its first n fields: the schema a key state was
// written under before fields n.. were added to it live (event.Compatible).
func schemaHashN(s *event.Schema, n int) [32]byte {
	var b []byte
	b = append(b, "cepd-schema-v1\n"...)
	if s != nil {
		for _, f := range s.Fields[:n] {
			b = strconv.AppendQuote(b, f.Name)
			b = append(b, ' ')
			b = append(b, f.Type.String()...)
			b = append(b, '\n')
		}
		b = append(b, "time="...)
		b = strconv.AppendInt(b, int64(s.TimeIndex()), 10)
		b = append(b, " id="...)
		b = strconv.AppendInt(b, int64(s.IDIndex()), 10)
	}
	return sha256.Sum256(b)
}

// schemaInfo is what the codec needs from a schema, computed once per call.
type schemaInfo struct {
	schema  *event.Schema
	kinds   []event.Kind // natural value kind per field; KindMissing for TypeAny
	timeIdx int
	idIdx   int
	fp      [4]byte
	// older maps the fingerprints of the schema's compatible ancestors (the schema cut
	// before a run of trailing optional fields, keeping the time and id fields) to their
	// field counts: a key state written before optional fields were added live decodes
	// with them absent.
	older map[[4]byte]int
}

func newSchemaInfo(s *event.Schema) schemaInfo {
	si := schemaInfo{schema: s, timeIdx: -1, idIdx: -1}
	h := schemaHash(s)
	copy(si.fp[:], h[:4])
	if s == nil {
		return si
	}
	si.timeIdx, si.idIdx = s.TimeIndex(), s.IDIndex()
	si.kinds = make([]event.Kind, len(s.Fields))
	for i, f := range s.Fields {
		si.kinds[i] = naturalKind(f.Type)
	}
	for n := len(s.Fields) - 1; n >= 0 && s.Fields[n].Optional && n > si.timeIdx && n > si.idIdx; n-- {
		if si.older == nil {
			si.older = map[[4]byte]int{}
		}
		h := schemaHashN(s, n)
		if _, dup := si.older[[4]byte(h[:4])]; !dup {
			si.older[[4]byte(h[:4])] = n
		}
	}
	return si
}

// fieldsOf returns the number of fields of the schema, or of the ancestor of it, whose
// fingerprint is fp.
func (si *schemaInfo) fieldsOf(fp [4]byte) (int, bool) {
	if fp == si.fp {
		return len(si.kinds), true
	}
	n, ok := si.older[fp]
	return n, ok
}

func naturalKind(t event.Type) event.Kind {
	switch t {
	case event.TypeBool:
		return event.KindBool
	case event.TypeInt:
		return event.KindInt
	case event.TypeDouble:
		return event.KindDouble
	case event.TypeString:
		return event.KindString
	case event.TypeTimestamp:
		return event.KindTimestamp
	}
	return event.KindMissing
}
