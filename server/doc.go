// Package server is cepd's HTTP face in the embedded mode: event ingest
// (POST /v1/events, a JSON array or newline-delimited JSON), recent alerts
// (GET /v1/alerts), engine statistics (GET /v1/stats) and health (GET /healthz).
//
// Handlers are safe for concurrent use; ingest from concurrent requests is serialised
// per partition by the engine. Request bodies are size-limited; a malformed event gets a
// per-event error in the response and the rest of the batch is processed.
package server
