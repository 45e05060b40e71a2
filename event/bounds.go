package event

import (
	"fmt"
	"math"
	"time"
)

// Reasons an event is rejected for what it holds rather than for its shape.
const (
	ReasonInvalidUTF8   = "invalid_utf8"    // the event's bytes are not valid UTF-8
	ReasonFieldTooLarge = "field_too_large" // a string value is longer than Bounds.MaxString
	ReasonTimeRange     = "time_out_of_range"
	ReasonTimeAhead     = "time_ahead" // event time too far ahead of the wall clock
	ReasonTimeFloor     = "time_before_floor"
)

// DefaultMaxString is the longest string value (in bytes, after unescaping) an event may
// hold unless Bounds says otherwise. The CEL cost estimator assumes the same bound
// (rules.DefaultMaxStringSize), so a condition's estimated cost holds for every event.
const DefaultMaxString = 1024

// Event times are kept as epoch milliseconds and compared as nanoseconds in conditions;
// MinTime and MaxTime bound them so that both fit an int64 (years 1678 to 2262).
const (
	MinTime = math.MinInt64/1_000_000 + 1 // epoch ms
	MaxTime = math.MaxInt64 / 1_000_000   // epoch ms
)

// Bounds are the limits a Decoder holds events to beyond the schema. The zero value
// keeps strings to DefaultMaxString and event times to [MinTime, MaxTime], and does not
// look at the wall clock (replay, backtests and benchmarks read historical files).
type Bounds struct {
	// MaxString bounds every string value in bytes (0: DefaultMaxString; <0: no bound).
	MaxString int
	// MaxAhead, when positive, rejects an event whose time is more than MaxAhead ahead of
	// Now: one far-future timestamp would otherwise move the watermark past every event
	// to come.
	MaxAhead time.Duration
	// Floor, when not zero, rejects events older than it.
	Floor time.Time
	// Now is the wall clock MaxAhead is measured from (nil: time.Now).
	Now func() time.Time
}

// StringLimit is the longest string value allowed, in bytes: MaxString, its default
// when 0, no limit when negative.
func (b Bounds) StringLimit() int {
	switch {
	case b.MaxString == 0:
		return DefaultMaxString
	case b.MaxString < 0:
		return math.MaxInt
	}
	return b.MaxString
}

// CheckTime reports why event time ms (epoch milliseconds) of field is out of bounds, as
// a DecodeError, or nil.
func (b *Bounds) CheckTime(field string, ms int64) error {
	if ms < MinTime || ms > MaxTime {
		return &DecodeError{Reason: ReasonTimeRange, Field: field, Msg: fmt.Sprintf("event time %d ms is outside the years 1678 to 2262", ms)}
	}
	if !b.Floor.IsZero() && ms < b.Floor.UnixMilli() {
		return &DecodeError{Reason: ReasonTimeFloor, Field: field,
			Msg: fmt.Sprintf("event time %s is before the floor %s", time.UnixMilli(ms).UTC().Format(time.RFC3339Nano), b.Floor.UTC().Format(time.RFC3339))}
	}
	if b.MaxAhead > 0 {
		now := time.Now
		if b.Now != nil {
			now = b.Now
		}
		if limit := now().Add(b.MaxAhead).UnixMilli(); ms > limit {
			return &DecodeError{Reason: ReasonTimeAhead, Field: field,
				Msg: fmt.Sprintf("event time %s is more than %s ahead of the wall clock", time.UnixMilli(ms).UTC().Format(time.RFC3339Nano), b.MaxAhead)}
		}
	}
	return nil
}

// MillisToNanos converts epoch milliseconds to nanoseconds, refusing what does not fit.
func MillisToNanos(ms int64) (int64, bool) {
	if ms < MinTime || ms > MaxTime {
		return 0, false
	}
	return ms * 1e6, true
}

// TimeNanos returns t as Unix nanoseconds, refusing times an int64 cannot hold.
func TimeNanos(t time.Time) (int64, bool) {
	if t.Before(minNanoTime) || t.After(maxNanoTime) {
		return 0, false
	}
	return t.UnixNano(), true
}

var (
	minNanoTime = time.Unix(0, math.MinInt64+1e6)
	maxNanoTime = time.Unix(0, math.MaxInt64-1e6)
)
