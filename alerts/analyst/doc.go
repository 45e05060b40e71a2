// Package analyst keeps what analysts say about alerts: suppressions (no delivery of a
// key's alerts, for one rule or all, until a time, with a reason) and feedback (an alert
// confirmed as fraud or marked a false positive, with a comment), and the per-rule
// precision that feedback gives over time.
//
// Every action is one Entry appended to a Log, which is also its audit trail: who did
// what, when and why. The state (the suppressions in force, the latest feedback per
// alert) is the fold of the log in order, so instances sharing a log (Redis) reach the
// same state: a Book applies its own actions by reading them back from the log (Sync),
// the same path that brings in other instances' actions. Two logs: FileLog, a JSON-lines
// file beside the rules (one process), and redislog (a Redis list, shared).
//
// A Book is safe for concurrent use. Check on the alert path reads the alerts.Suppressions
// the Book keeps current; it never touches the log.
package analyst
