// Package ui holds the analysts' web UI: a Preact single-page application (sources in
// src/, built by `npm run build` or ./build.sh into dist/, which is committed) embedded
// into the cepd binary, so `go build` alone gives a complete binary with no Node step at
// run time. Handler serves dist/ at the root of cepd's HTTP server; the application talks
// only to the public REST API and the SSE alert stream. A new rule starts from
// src/rule-template.yaml, which this package's tests compile against the fraud schema.
//
// Concurrency: Handler's result is immutable and safe for concurrent use.
package ui
