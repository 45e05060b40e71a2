// Package webhook delivers alerts to an HTTP endpoint of a downstream blocking system: one
// POST per alert, its JSON as cepd replay prints it, sent the moment the alert is made.
//
// Every request carries the alert's id (X-Cepd-Alert-Id: receivers de-duplicate by it,
// since a retried or re-derived alert comes again with the same id and content), the time
// it was sent (X-Cepd-Timestamp, Unix seconds) and, with a secret, an HMAC-SHA256 of
// "<timestamp>.<body>" (X-Cepd-Signature: sha256=<hex>), so that a receiver can check who
// sent it and refuse replays of old requests.
//
// Delivery is at least once. A 2xx answer delivers the alert. A network error, a timeout,
// 408, 425, 429 or a 5xx is retried with exponential backoff (doubling up to MaxBackoff),
// without end: the alert is never dropped. Any other 4xx means the receiver refuses the
// alert as it is, and retrying would not help: it is counted as rejected and logged, and
// not retried. Flush returns once every alert handed in before the call is delivered or
// rejected; cepd calls it before a checkpoint (and, with Kafka, before committing
// offsets), so a checkpoint never covers an alert still on its way.
//
// Order and backpressure: alerts of one key are delivered in the order they were made
// (a key always goes to the same one of Workers senders, each sending one request at a
// time); alerts of different keys go in parallel. Alert blocks while the queue (QueueSize
// alerts) is full, that is while the receiver is slow or away: that backpressure slows
// matching instead of growing memory.
package webhook
