package alerts

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"time"
)

// Kinds of alert.
const (
	KindMatch   = "match"   // the pattern completed
	KindTimeout = "timeout" // a partial match expired (rules that ask for timeouts)
)

// Event is one matched event as shown in an alert.
type Event struct {
	ID     string         `json:"id"`
	Time   time.Time      `json:"time"`
	Fields map[string]any `json:"fields"`
}

// Step is the events one step of the pattern took.
type Step struct {
	Step   string  `json:"step"`
	Events []Event `json:"events"`
}

// Value is one named emit value; Error is set when its expression failed.
type Value struct {
	Name  string
	Value any
	Error string
}

// Values is the ordered list of a rule's emit values; it marshals as a JSON object in
// declaration order.
type Values []Value

// MarshalJSON writes {"name": value, ...} in order; a failed value is null and its error
// goes under "name_error".
func (vs Values) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, v := range vs {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(v.Name)
		b.Write(k)
		b.WriteByte(':')
		val, err := json.Marshal(v.Value)
		if err != nil {
			val = []byte("null")
		}
		b.Write(val)
		if v.Error != "" {
			ek, _ := json.Marshal(v.Name + "_error")
			ev, _ := json.Marshal(v.Error)
			b.WriteByte(',')
			b.Write(ek)
			b.WriteByte(':')
			b.Write(ev)
		}
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// UnmarshalJSON reads the object form back (order as written).
func (vs *Values) UnmarshalJSON(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if _, err := dec.Token(); err != nil {
		return err
	}
	*vs = (*vs)[:0]
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return err
		}
		name, _ := t.(string)
		var v any
		if err := dec.Decode(&v); err != nil {
			return err
		}
		if n := len(*vs); n > 0 && (*vs)[n-1].Name+"_error" == name {
			(*vs)[n-1].Error, _ = v.(string)
			continue
		}
		*vs = append(*vs, Value{Name: name, Value: v})
	}
	return nil
}

// Alert is one detection.
type Alert struct {
	ID     string `json:"id"`
	Kind   string `json:"kind"`
	RuleID string `json:"rule_id"`
	// RuleVersion identifies the rule's content (it changes whenever what the rule
	// detects changes).
	RuleVersion string `json:"rule_version"`
	// RuleVersionNumber is the rule store's version number (1, 2, 3… as the API lists
	// them) that made the alert; 0 (and omitted) when the rules came from files.
	RuleVersionNumber int `json:"rule_version_number,omitempty"`
	// Mode is the rule's mode when the alert was made: active or shadow.
	Mode     string `json:"mode"`
	Severity string `json:"severity"`
	Key      string `json:"key"`
	Steps    []Step `json:"steps"`
	Emit     Values `json:"emit"`
	// FirstEventTime and LastEventTime span the matched events (event time).
	FirstEventTime time.Time `json:"first_event_time"`
	LastEventTime  time.Time `json:"last_event_time"`
	// TimeoutAt is the event time the partial match expired at (timeouts only).
	TimeoutAt *time.Time `json:"timeout_at,omitempty"`
	// Data lists the version of each list and reference table the rule reads, as they
	// were when the alert was made (they change outside the event stream, so a replay
	// may see other versions). Not part of the id.
	Data []DataVersion `json:"data,omitempty"`
	// DetectedAt is the processing time the alert was made; zero (and omitted) in
	// offline replays so that their output is reproducible byte for byte.
	DetectedAt *time.Time `json:"detected_at,omitempty"`
	// Suppressed, when set, says why the alert was not delivered to the blocking sinks
	// (Kafka, webhooks): it is recorded (ring, stream, history) marked so. It does not
	// enter the id.
	Suppressed *Suppressed `json:"suppressed,omitempty"`
}

// DataVersion is the version of one list or reference table an alert's rule saw.
type DataVersion struct {
	Name string `json:"name"`
	// Version is the rule store's version number (0 for data read from files alone).
	Version int `json:"version,omitempty"`
	// Digest identifies the content (a hash of its canonical text; "" if it was not
	// loaded).
	Digest string `json:"digest,omitempty"`
}

// ComputeID returns the deterministic id of an alert with these properties.
func ComputeID(ruleID, version, kind, key string, eventIDs []string) string {
	h := sha256.New()
	write := func(s string) {
		h.Write([]byte(strconv.Itoa(len(s))))
		h.Write([]byte{':'})
		h.Write([]byte(s))
	}
	write(ruleID)
	write(version)
	write(kind)
	write(key)
	for _, id := range eventIDs {
		write(id)
	}
	sum := h.Sum(nil)
	return hex.EncodeToString(sum[:16])
}

// EventIDs lists the ids of the alert's events in step order.
func (a *Alert) EventIDs() []string {
	var ids []string
	for _, s := range a.Steps {
		for _, e := range s.Events {
			ids = append(ids, e.ID)
		}
	}
	return ids
}

// SetID computes and stores the alert's id from its other fields. Each matched event
// counts by its id, time and field values, so two alerts over events that reuse one id
// with different content get different ids (a downstream de-duplication would otherwise
// drop the second), while the same events replayed give the same id.
func (a *Alert) SetID() { a.SetIDAs(a.RuleID) }

// SetIDAs is SetID with the id the engine ran the rule under in place of RuleID: a
// candidate on trial runs as RULE@shadow, and its alerts (rule RULE, mode shadow) keep
// ids of their own even when the candidate's content equals the active version's.
func (a *Alert) SetIDAs(runID string) {
	a.ID = ComputeID(runID, a.RuleVersion, a.Kind, a.Key, a.eventIdentities())
}

// eventIdentities lists, in step order, each event's id, time and a digest of its fields.
func (a *Alert) eventIdentities() []string {
	var out []string
	var fields []byte
	var keys []string
	for _, s := range a.Steps {
		for _, e := range s.Events {
			fields = appendFieldsJSON(fields[:0], e.Fields, &keys) // json.Marshal's bytes: keys sorted
			sum := sha256.Sum256(fields)
			out = append(out, e.ID+"\x00"+strconv.FormatInt(e.Time.UnixMilli(), 10)+"\x00"+hex.EncodeToString(sum[:12]))
		}
	}
	return out
}

// Before orders alerts as cepd replay prints them: by last event time, then rule, kind and
// id. The order does not depend on shard count or scheduling.
func Before(a, b *Alert) bool {
	if !a.LastEventTime.Equal(b.LastEventTime) {
		return a.LastEventTime.Before(b.LastEventTime)
	}
	if a.RuleID != b.RuleID {
		return a.RuleID < b.RuleID
	}
	if a.Kind != b.Kind {
		return a.Kind < b.Kind
	}
	return a.ID < b.ID
}
