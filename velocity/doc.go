// Package velocity keeps sliding event-time window aggregates for one key: count, sum,
// avg, min, max and distinct count of the events that reached it, optionally per value of
// another field (by merchant, by device). The engine keeps one Agg per aggregate of a
// rule and key, adds the key's events in event-time order and reads the value for each
// event; nothing here knows of rules, CEL or schemas.
//
// # Cost
//
// Every operation is amortised O(1): a running count and sum with a queue of entries in
// time order (an entry leaves when the window has passed it), a monotonic deque for min
// and max, and for distinct a list of values ordered by last sight. A group (a value of
// by) is a window of its own, and groups are listed by last event so that empty ones
// leave in O(1). Values and groups are found by scanning their list while there are at
// most 8 (most keys hold a few: no map to allocate, hash or copy), by a map beyond. Nothing
// is ever rescanned.
//
// # Bounded memory and what it costs
//
// A window keeps one entry per event until it holds ExactEntries entries. Beyond that an
// event less than Window/Resolution after the start of the newest entry joins it (a
// bucket), so a window holds at most ExactEntries + Resolution + 2 entries whatever the
// event rate. A bucket leaves the window with its newest event: while a key is that hot,
// a value may include events up to Window/Resolution older than the window, never
// leaves out one inside it (count and sum read high by at most that slice's events; min
// and max may come from it). Below ExactEntries events in the window every value is exact.
// A distinct count keeps at most MaxDistinct values (beyond it the oldest seen is
// forgotten, so the count stays at MaxDistinct), and an aggregate by a field at most
// MaxGroups groups (beyond it the group with the oldest last event is dropped).
//
// An entry is 32 bytes, so a window holds at most about 4 KB of entries (8 KB with slice
// growth); a distinct value about 60 bytes plus its string; a group its window. Measured
// (go test ./velocity -run '^$' -bench BytesPerKey -benchtime 1x, heap per key of one
// aggregate over an hour's window): 168 bytes after one event, 648 after ten, 4.2 KB
// after 1,000 (count, sum, min); distinct 0.6 KB, 1.6 KB and 6.1 KB; by 8 groups 0.7 KB,
// 1.9 KB and 34 KB. Since values and groups up to 8 are found by a scan (same command,
// 2026-12-06): count 232 B, 712 B, 4.3 KB; distinct 248 B, 1.9 KB, 7.1 KB; count by 8
// groups 393 B, 1.8 KB, 34 KB; distinct by 409 B, 2.0 KB, 28 KB (before: distinct
// 632 B, 1.9 KB, 7.1 KB; count by 761 B, 2.2 KB, 35 KB; distinct by 1.2 KB, 5.6 KB,
// 28 KB). With the header 144 bytes instead of 160 (its fields reordered) and an
// aggregate by a field allocated with its groups' header (same command, 2026-12-06,
// before → after): count 200 → 184 B, 680 → 664 B; count by 426 → 393 B, 1,840 →
// 1,824 B; distinct 216 → 200 B; distinct by 441 → 409 B after one event. An event costs 14–44 ns (Add then Value), 60–175 ns with by, no allocation
// in the steady state (go test ./velocity -run '^$' -bench AddValue -benchmem
// -benchtime 300000x, on 2 cores at load average 10–14).
//
// A group or value of up to 8 bytes (most are ids and codes) is kept in its key's word,
// as package event keeps short strings, not as a string of its own (Key.inline): a new
// one allocates nothing, and the collector has no string to visit. NewBlock makes a
// key's aggregates of one rule in one allocation with the first entry of each window
// (its array until it holds a second), so that a key's velocity state is a few objects
// for the collector to visit, not one per aggregate and one per window (ref300k, cepd
// bench --json --memprofile, 2026-12-08: velocity's live objects per key from about 8.4
// to 3.7, the engine's objects_per_key from 23.1 to 18.5; velocity's allocations per
// event from about 4.0 to 2.0).
//
// # Time
//
// Add and Value take event times that do not go back (the engine feeds a key's events in
// event-time order; an older event is re-matched from an earlier state). A window covers
// (t − Window, t]: an entry at time s counts at time t while t − s < Window. Expire drops
// what the window has passed at a time, so that an idle key's memory is freed when its
// partition's watermark moves on.
//
// # Concurrency
//
// An Agg is owned by one goroutine (a shard); it has no locks. Clone gives an
// independent copy; values and groups sit in slices linked by index, so a clone is a few
// copies. An Undo attached to aggregates (Agg.Log) records their changes so that they can
// be rolled back: the engine keeps a key's state before its re-matchable events that way,
// at the cost of the changes those events make, not of the state. Its log is cut into
// segments (Mark, one an event): Undo rolls every change back, ForgetSegments drops the
// oldest segments once their events are folded into the base. An Undo belongs to the
// goroutine that owns its aggregates.
package velocity
