// Package api holds cepd's public API: the protobuf definitions (cep/v1/*.proto), the
// code generated from them (package cepv1: messages, gRPC stubs, grpc-gateway REST
// handlers), the merged OpenAPI document, embedded here as OpenAPI, and the server that
// assembles them. Regenerate the code with scripts/gen-proto.sh. The service
// implementations live in api/service, the tokens and roles in api/auth.
//
// New builds the Server: the cep.v1 services on one gRPC server behind the recovery and
// access-check interceptors, the REST gateway dialling that server over loopback (so
// every interceptor applies to REST too; gateway_json.go writes 64-bit integers as JSON
// numbers), and one HTTP mux beside it for the embedded REST ingest, health, the
// operator's endpoints (Ops: /metrics, /livez, /readyz, pprof and the gRPC health
// service), the rule tests (POST /v1/rules:test), the web UI and its helper routes and
// the alert stream as SSE or NDJSON. Limits bound both servers (timeouts, connections,
// stream stalls, TLS). Serve runs them until its context ends; cmd/cepd owns the
// goroutine in its run group and passes everything in as Options.
package api

import _ "embed"

// OpenAPI is the OpenAPI v2 document of the REST API (served at /v1/openapi.json).
//
//go:embed openapi.swagger.json
var OpenAPI []byte
