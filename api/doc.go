// Package api holds cepd's public API: the protobuf definitions (cep/v1/*.proto), the
// code generated from them (package cepv1: messages, gRPC stubs, grpc-gateway REST
// handlers) and the merged OpenAPI document, embedded here as OpenAPI. Regenerate with
// scripts/gen-proto.sh. The service implementations live in api/service.
package api

import _ "embed"

// OpenAPI is the OpenAPI v2 document of the REST API (served at /v1/openapi.json).
//
//go:embed openapi.swagger.json
var OpenAPI []byte
