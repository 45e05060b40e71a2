// Package event defines the compact typed record that cepd's matcher, conditions and
// alerts work on, the schema that describes it, and the bounds an event is held to.
//
// An Event holds its field values indexed by the schema's field order, never a map per
// event, in one pointer-free byte slab (slab.go: a kind per field, a word per present
// value, the strings' bytes), built once by a Builder and immutable after. Copies of an
// Event share the slab, so retaining an event costs its header (Event.Keep writes the
// first kept header into room allocated with the slab, box.go); the garbage collector
// never scans a slab; Event.Value reads a value without allocating (a string points into
// the slab and keeps it alive). A Schema is immutable once built and safe for concurrent
// use; an Event is owned by whoever decoded it until it is handed to the engine, after
// which it must not be modified (the matcher's shared buffer keeps pointers to it).
//
// Decoding JSON into Events is package event/jsondecode's, so that the matcher, which
// works on Events, does not depend on a JSON parser. Bounds and the DecodeError reasons
// are here: the engine counts and dead-letters by them.
package event
