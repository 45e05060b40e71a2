// Package event defines the compact typed record that cepd's matcher, conditions and
// alerts work on, the schema that describes it, and the bounds an event is held to.
//
// An Event holds its field values in a slice indexed by the schema's field order, never
// a map per event. A Schema is immutable once built and safe for concurrent use; an
// Event is owned by whoever decoded it until it is handed to the engine, after which it
// must not be modified (the matcher's shared buffer keeps pointers to it).
//
// Decoding JSON into Events is package event/jsondecode's, so that the matcher, which
// works on Events, does not depend on a JSON parser. Bounds and the DecodeError reasons
// are here: the engine counts and dead-letters by them.
package event
