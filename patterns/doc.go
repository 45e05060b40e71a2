// Package patterns is cepd's rule language front end: the AST of rules and patterns,
// parsing rule files (YAML, or JSON) with file:line:col errors, validation, and printing
// a rule back in canonical form (print → parse → print is a fixed point).
//
// Everything here is plain data: a parsed Rule is not shared mutable state and the
// package has no globals that change. Parse, Validate, Format and Pattern.String may be
// called from any number of goroutines. Conditions stay CEL source text; the rules
// package compiles them (mapping CEL errors back into the file with Src), the nfa package
// compiles the pattern's shape.
//
// # Rule files
//
// A rule file holds one rule, in YAML (JSON is accepted too: it is YAML). A full example:
//
//	id: card-testing               # required
//	name: Card testing
//	description: Many small authorisations followed by a large one
//	severity: high
//	owner: fraud-team
//	tags: [card-not-present, testing]
//	key: card_id
//	within: 30m
//	skip: past_last_event
//	release: at_completion
//	timeouts: true
//	cooldown: 1h
//	decision: {outcome: block, score: 90}
//	pattern:
//	  - name: small
//	    where: e.type == 'auth' && e.amount < 2.0
//	    times: 3+
//	    greedy: true
//	    repeat: strict
//	    repeat_within: 10m
//	    until: e.amount > 100.0
//	  - name: large
//	    contiguity: relaxed
//	    where: |
//	      e.type == 'auth'
//	        && e.amount > 500.0
//	    gap: 5m
//	  - name: no_capture
//	    not: followed_by
//	    where: e.type == 'capture'
//	  - name: burst
//	    times: 2+
//	    steps:
//	      - name: a
//	        where: e.x > 1
//	      - name: b
//	        where: e.y > 2
//	emit:
//	  total: sum(match.small.map(x, x.amount)) + e.amount
//
// Rule keys, in the order Format writes them:
//
//   - id (required): [a-z0-9][a-z0-9_-]*, at most 64 characters.
//   - name: a title for people; defaults to the id.
//   - description: free text; a | block for several lines.
//   - severity: low, medium (the default), high or critical.
//   - owner: free text. tags: a list of words.
//   - key: the schema field the rule is evaluated per (default: the schema's key);
//     `key: device_id` (or `key: e.device_id`) keys the rule by device: its partial
//     matches are per device, whatever card the events are keyed by at the source.
//   - within: the whole match must fit in this window, first event to last
//     (Pattern.WithinMs, FirstAndLast). Also {duration: 10s, type: previous_and_current}
//     for Flink's PREVIOUS_AND_CURRENT window (Pattern.WithinType).
//   - skip: the after-match strategy: no_skip (the default), to_next, past_last_event,
//     to_first:STEP or to_last:STEP (STEP a step that takes events, not a group); also
//     {strategy: to_first, step: STEP}. Flink's skip_to_next etc. are accepted.
//   - release: when a completed match leaves as an alert: at_completion (the default) or
//     in_start_order (Flink's order). See "When a match is released" below.
//   - rearm: when the rule may alert again for a key after an alert: every_event (the
//     default: every match alerts), once_per_window (not again until the rule's longest
//     aggregate window, else its within, has passed since the alert's last event) or
//     {after: 30m}. A match whose last event falls in the hold is dropped (counted).
//   - timeouts: true to alert (kind "timeout") on partial matches whose window expires.
//   - cooldown: a duration (1h): after an alert of the rule for a key, the rule's alerts for
//     that key less than the cooldown later (in event time) are suppressed. The engine keeps
//     it with the key's state (checkpointed, restored, replayed), so it is deterministic.
//   - decision: {outcome: allow | review | block, score: 0..1000}: what the rule's alerts
//     contribute to an inline decision (POST /v1/decide): the strongest outcome wins and
//     scores add up. Without it an alert counts as review, score 0.
//   - aggregates: velocity aggregates, a list of {name, function, field, where, window,
//     by}; see "Velocity aggregates" below.
//   - pattern (required): the steps, a non-empty list.
//   - emit: an ordered mapping of name → CEL expression whose values go into the alert;
//     names are identifiers, unique.
//
// Step keys:
//
//   - name (required): an identifier [A-Za-z_][A-Za-z0-9_]*, unique in the whole rule
//     (groups included); conditions see the step's events as match.NAME.
//   - contiguity: how the step follows the previous one: strict (alias next), relaxed
//     (followed_by, the default) or any (followed_by_any). Not on the first step of the
//     pattern or of a group, nor on a negation.
//   - where: the CEL condition an event must meet (absent: every event).
//   - times: N (exactly N), N..M (N to M) or N+ (N or more). A minimum of 0 means
//     optional: times 0..M = times 1..M plus optional; 0+ = 1+ plus optional. At most 1000.
//   - optional: true lets the match go on without the step.
//   - greedy: true makes a repeating step take as many events as it can; needs times N+
//     or N..M with N < M.
//   - repeat: the contiguity between repetitions: strict (alias consecutive), relaxed
//     (the default) or any (alias allow_combinations); only on a step that can repeat
//     (N+ or a maximum above 1).
//   - repeat_within: a window between repetitions (Quantifier.WindowMs); only on a step
//     that can repeat.
//   - until: CEL; an event meeting it ends the repetition (only with times N+).
//   - gap: the most time between this step's event and the previous event of the match
//     (Step.WithinMs); not on the first step; at most the rule's within.
//   - not: next or followed_by makes the step a negation: where is then the event that
//     must not come (next: right after the previous step; followed_by: before the next
//     step). A negation cannot be first, follow an optional step, repeat, have until or
//     steps, and has a gap only when it ends the pattern. A pattern ending in
//     not: followed_by needs a window (within, or a gap on that step).
//   - steps: makes the step a group: its steps, matched in order as a unit that times,
//     optional, greedy, repeat, until and contiguity apply to. A group has no where.
//     Groups nest at most 8 deep; a rule has at most 64 steps, groups included.
//
// Durations are Go durations plus d for days (500ms, 30s, 10m, 1h30m, 2d), positive,
// in whole milliseconds. A rule file is at most 1 MiB. Unknown keys are errors (with a
// "did you mean" for typos); so are duplicate keys, YAML aliases and a second document.
//
// # Velocity aggregates
//
// An aggregate is a value per key over a sliding event-time window of the key's events,
// which conditions and emit expressions read as agg.NAME:
//
//	aggregates:
//	  - name: cnp_total_24h          # an identifier, unique in the rule
//	    function: sum                # count, sum, avg, min, max or distinct
//	    field: amount                # the field aggregated (not for count; a number for
//	                                 # sum, avg, min and max)
//	    where: e.type == 'auth' && e.card_present == false   # which events count (CEL,
//	                                 # the event only; absent: every event of the key)
//	    window: 1d                   # the window, (t − window, t]
//	    by: merchant_id              # optional: per value of this field, the value for
//	                                 # the current event's merchant
//	pattern:
//	  - name: auth
//	    where: e.type == 'auth' && agg.cnp_total_24h > 2000.0
//
// The value at an event includes the event itself when it meets where. count and
// distinct are ints, the others doubles; count, sum and distinct of an empty window are 0,
// avg, min and max have no value (has(agg.x) is false, reading it is an error, which makes
// a condition false). With by, an event without that field has no value. In emit, agg is
// the value at the event that completes the match; in a timeout alert or a match
// completed by time (a trailing not: followed_by) it has no value. The engine's velocity
// package documents the cost and the memory bound.
//
// # The AST a file gives
//
// A step without times/optional/greedy/repeat/repeat_within has a nil Quantifier.
// times: 1 gives {Min: 1, Max: 1} (kept: Format writes it back); optional: true alone
// gives {Min: 1, Max: 1, Optional: true}; Max is -1 for N+. Contiguity and Inner are
// ContiguityDefault unless written (relaxed when written as relaxed). Severity is
// "medium" and Name the id when not written. Texts lose surrounding space; CEL loses
// trailing space only, so positions inside it stay right. Step.Pos is the step's
// mapping, Quantifier.Pos and Skip.Pos the first key that sets them, WhereSrc, UntilSrc
// and Emit.Src the expression's first character (see Src for | blocks).
//
// # Errors
//
// Parse reports every problem it finds, sorted, as an ErrorList: file:line:col, a
// message in the analyst's words, the source line and a caret. Nothing of a rule with
// errors is returned. Validate applies the same checks to a rule built in code, where
// step names need only be unique and printable (the conformance corpus has names such
// as "b*"); positions are then the rule's own.
//
// # How time limits apply (Flink CEP's rules)
//
// Windows follow Flink CEP exactly, which has three consequences that can surprise:
//
//   - within bounds the whole match: a partial match ends once its first event is
//     older than the window.
//   - gap bounds the wait for its own step only: a match waiting for the step expires
//     when the previous event is gap old. The step after a repeating step is waited for
//     from inside the loop, so a gap on it is not enforced while the loop can still take
//     events. Put the limit in the condition instead, e.g.
//     e.ts - last(match.probes).ts < duration('5m').
//   - repeat_within (Flink's times(n, windowTime)) bounds the waits between the first
//     repetitions only: the last of times: N, and every repetition after the minimum of
//     a range or N+, is unbounded (only within then applies). within: {type:
//     previous_and_current} has no effect when the last step repeats.
//
// cepd explain shows, for every NFA state, the window that applies to it.
//
// # When a match is released
//
// Without a skip strategy every match leaves with the event that completes it (or, for a
// pattern ending in not: followed_by, when the watermark passes its window). With one,
// release chooses between two orders:
//
//	# cepd's default: the refund alert leaves with the refund
//	id: refund-exceeds-purchase
//	within: 7d
//	skip: past_last_event
//	release: at_completion
//	pattern:
//	  - name: purchase
//	    where: e.type == 'capture'
//	  - name: refund
//	    where: e.type == 'refund' && e.amount > match.purchase[0].amount
//
//	# Flink CEP's order, for rules that must give Flink's matches exactly
//	id: refund-exceeds-purchase-flink
//	within: 7d
//	skip: past_last_event
//	release: in_start_order
//	pattern: ... (as above)
//
// in_start_order is Flink's NFA: a completed match is held while any partial match that
// started before it is alive, and matches leave in the order of their first events. On
// the stream capture 500, capture 100, refund 200, refund 900 of one card the second
// rule's alert for (100, 200) would wait up to 7 days for the 500 capture to be refunded
// or to expire; here it is pruned when (500, 900) completes, so the rule alerts only
// (500, 900), at the second refund. The first rule alerts (100, 200) at the first refund
// and (500, 900) at the second. (FLINK-15873 describes the hold.)
//
// At completion, a released match M prunes, from the partial matches and from the
// matches completed on the same event, exactly the runs whose first event is at or
// after M's first event and before M's skip point (at or before it, for to_next and
// past_last_event):
//
//   - to_next: the skip point is M's first event; the runs that began with that event go.
//   - past_last_event: M's last event; every run begun within M's span goes, so the
//     matches a rule releases after M begin after M ends, except those begun before M.
//   - to_first:STEP / to_last:STEP: the first / last event STEP took in M (nothing is
//     pruned when STEP took none); runs begun from M's first event up to, not including,
//     that event go.
//
// A partial match that began before M is never pruned by M: it goes on, and if it
// completes it is released then and prunes, by the same rule, what began within its own
// span from its first event (M is already out and stays out). Matches completed on one
// event leave in the order of their first events, each pruning before the next is
// considered. In start order the same pruning applies; as nothing that began before M is
// left when M leaves, it is Flink's rule ("every run begun before the skip point"). The
// two orders release the same matches in the same order whenever no completed match
// finds a partial match begun before it (nfa's TestReleaseOrdersAgree); to_next releases
// the same matches in either order as long as two runs sharing a first event do not
// complete at different times.
//
// # Canonical form
//
// Format writes keys in the order above, leaves out defaults, writes durations with
// FormatDuration (90000 ms → 1m30s, 2 days → 2d), aliases as the canonical word
// (next → strict), times 0..3 as times: 1..3 plus optional: true, skip as to_first:STEP,
// texts plain when YAML reads them back unchanged, else single-quoted, else
// double-quoted, and multi-line CEL and descriptions as | blocks. Pattern.String is the
// one-line-per-step form used by golden tests and "cepd explain".
package patterns
