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
	// digits: the digits a blob decodes to are capped at maxDigits (64 MiB) and at
	// digitsPerByte per byte of blob (beyond a small allowance). Legitimate states stay
	// far below: a run takes about 8 bytes, and its version has about one digit per
	// event it took.
	maxDigits     = 1 << 24
	digitsPerByte = 256
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
	var b []byte
	b = append(b, "cepd-schema-v1\n"...)
	if s != nil {
		for _, f := range s.Fields {
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
	return si
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
