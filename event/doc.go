// Package event defines the compact typed record that cepd's matcher, conditions and
// alerts work on, the schema that describes it, and decoding from JSON.
//
// An Event holds its field values in a slice indexed by the schema's field order, never
// a map per event. A Schema is immutable once built and safe for concurrent use; an
// Event is owned by whoever decoded it until it is handed to the engine, after which it
// must not be modified (the matcher's shared buffer keeps pointers to it).
//
// A Decoder holds events to Bounds beyond their schema, each refusal a DecodeError with a
// stable reason: the whole event must be valid UTF-8 (invalid_utf8), a string value at
// most Bounds.MaxString bytes (field_too_large; the CEL cost estimate assumes the same
// bound), and the event time within the years 1678–2262 (time_out_of_range: epoch
// milliseconds and RFC 3339 times are converted with overflow checks, never wrapped). A
// live source also sets a skew ahead of the wall clock (time_ahead) and a floor
// (time_before_floor); replays and backtests of historical files leave them unset, as
// their events are behind any wall clock by design. The engine dead-letters a refused
// event before it reaches a watermark.
package event
