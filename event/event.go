package event

// Event is one decoded event. Values are indexed like Schema.Fields.
type Event struct {
	// Seq is the arrival position assigned by whoever feeds the matcher; within one key
	// it strictly increases. It orders events the way Flink's EventId does.
	Seq uint64
	// ID is the event's own identifier (the schema's id field), used in alerts and
	// alert ids. Empty when the schema declares none.
	ID string
	// Key is the value of the schema's key field.
	Key string
	// Time is the event time in Unix milliseconds.
	Time int64
	// Offset is the event's position in its source partition (a Kafka offset, a line
	// number), set by whoever ingests it; -1 or 0 when unknown.
	Offset int64
	// Values holds one entry per schema field.
	Values []Value
	// Schema describes Values.
	Schema *Schema
}

// Get returns the value of the named field, or a missing Value.
func (e *Event) Get(name string) Value {
	if i, ok := e.Schema.Index(name); ok {
		return e.Values[i]
	}
	return Value{}
}

// Fields returns the present fields as a name → plain value map, in no particular order.
// It allocates: use it for output, never on the matching path.
func (e *Event) Fields() map[string]any {
	m := make(map[string]any, len(e.Values))
	for i, v := range e.Values {
		if v.Present() {
			m[e.Schema.Fields[i].Name] = v.Interface()
		}
	}
	return m
}

// Clone returns a copy of e that shares no mutable memory with it (strings are immutable
// and shared).
func (e *Event) Clone() *Event {
	c := *e
	c.Values = append([]Value(nil), e.Values...)
	return &c
}
