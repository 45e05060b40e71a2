// Package rest is cepd's HTTP face in the embedded mode: event ingest
// (POST /v1/events, a JSON array or newline-delimited JSON), recent alerts
// (GET /v1/alerts), engine statistics (GET /v1/stats) and health (GET /healthz). Decide
// ingests one event on the same path (numbering, ingest log, order) and waits, at most a
// timeout, for the alerts it completed: the inline decisions' path.
//
// Handlers are safe for concurrent use; ingest from concurrent requests is serialised
// per partition by the engine. A request is bounded in bytes (413), in events (413,
// before any is kept) and in how many run at once (429 with Retry-After, at once, never
// queued); a malformed event gets a per-event error in the response and the rest of the
// batch is processed. /healthz answers with named checks (engine, ingest) and the worst
// of them: ingest that could not keep its events shows there at once.
package rest
