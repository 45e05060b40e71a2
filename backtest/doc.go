// Package backtest runs draft or stored rules over recorded events through the production
// compiler and matcher, as jobs, and scores the alerts against labelled events.
//
// # A run
//
// A backtest compiles its rules with a fresh rules.Registry exactly as the live rule set
// is compiled (patterns.Parse, then rules.Compile with the source), so a draft that does
// not compile is rejected at Create with every error's file, line and column. It then
// reads its events, sorts them by event time as `cepd replay` does (Read is the one reader
// both use: stable, lines that do not decode first, for the engine to dead-letter), and
// feeds them on one partition to an engine.Engine of its own: one shard by default, no
// processing-time stamps, the default late policy (nothing is late in sorted input). At
// the end it flushes the engine, so windows close and timeouts and trailing notFollowedBy
// matches fire. The alerts are therefore those `cepd replay` prints for the same rules and
// file, with the same ids.
//
// The result counts every alert per rule and per hour of the alert's last event (UTC),
// and keeps the earliest MaxAlerts of them in replay order (last event time, rule id,
// kind, alert id), whatever the shard count. It also counts dead letters by reason and
// each rule's condition evaluation errors.
//
// # Events
//
// An events file is a JSON-lines file inside the events directory given to the Manager:
// it is opened through an os.Root, so neither "..", an absolute path nor a symbolic link
// can reach outside it, and it is bounded in size. Manager.Files lists the directory's
// JSON-lines files (for a picker). Without a file a backtest runs over the
// events a Retainer kept from the live stream: the engine's Config.Tap feeds it every
// accepted event; it keeps the last PerKey events of each key within MaxBytes in all,
// evicting the keys seen least recently (per stripe of keys). The retained events are
// copied (Snapshot) when the backtest starts.
//
// # Precision and recall
//
// With a label field, an event is labelled when that top-level field is present and is a
// non-empty string, true, a non-zero number or a non-empty object or array. Per rule:
//
//   - precision = alerts having at least one labelled event among their matched events /
//     alerts;
//   - recall: when some events' label equals the rule's id (the scenario the rule is meant
//     to catch, as the workload generator labels them), over the distinct keys having
//     such an event (for a rule keyed by another field, `key: device_id`, the values of
//     that field: its alerts are keyed by them): the share of them on which the rule
//     alerted with at least one such event among the matched ones. Otherwise over the distinct keys having any labelled
//     event: the share on which the rule alerted with at least one labelled event.
//
// Overall (all rules together): precision = alerts of any rule with a labelled event /
// all alerts; recall = share of the keys having a labelled event on which some rule
// alerted with a labelled event. A ratio with a zero denominator is 0; the counts beside
// it tell the two apart.
//
// # Memory
//
// A run holds its whole input in memory, since it must sort it (roughly the file's size
// plus 100 bytes an event), and with a label field the ids of the labelled events. When a
// backtest stops, its result is computed once and the engine, rules, input and labels are
// let go: a finished backtest keeps its counts and at most MaxAlerts alerts.
//
// # Concurrency
//
// Manager and Retainer are safe for concurrent use. Each running backtest is a goroutine
// started by the Manager under a context it owns (Cancel ends one, Close all of them and
// waits); at most MaxRunning run at once and at most MaxQueued wait, beyond which Create
// fails with ErrBusy; MaxFinished finished backtests are kept, the oldest dropped first.
// A backtest's engine, tally and labels belong to its job; snapshots (Job) are copies.
package backtest
