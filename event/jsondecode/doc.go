// Package jsondecode decodes JSON objects into event.Events of one schema, with
// github.com/buger/jsonparser and no map per event. It sits apart from package event so
// that the matcher (nfa), which works on Events, does not depend on a JSON parser.
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
//
// Each decoded event gets a new values slab (one allocation; its strings are copied into
// it, none allocated apart). Flat objects of scalars — what card events are — are read and
// converted in one pass (scan.go); anything else (nested values, escapes in keys or string
// values, malformed input, a value the schema refuses) goes through jsonparser.ObjectEach
// from the start, which also words the errors. TestScanFlatAgrees and FuzzScanFlatAgrees
// hold the two paths to the same events, errors and unknown-field counts. The fast path
// reads a member's key by comparing it with the name of the field the member at the same
// position named in the previous event (producers keep their order;
// TestFieldOrderPredicted), searches strings 8 bytes at a time
// (TestPlainStringMatchesBytewise), and RFC 3339 times of the usual UTC shape are read by
// hand, anything else by time.Parse (TestRFC3339UTCAgrees, FuzzRFC3339UTCAgrees).
//
// A Decoder is not safe for concurrent use: make one per goroutine.
package jsondecode
