// Package auth is cepd's access control: bearer tokens mapped to roles, checked by one
// decision function that the gRPC interceptors and the HTTP middleware (for the routes
// served outside gRPC) share, so REST and gRPC enforce exactly the same rules.
//
// Roles: viewer reads rules and alerts; analyst also edits rules and runs backtests;
// admin may do everything, including rule modes and admin calls; ingest may only send
// events. A missing or unknown token is Unauthenticated (HTTP 401), a known token without
// the capability is PermissionDenied (HTTP 403). Health and the OpenAPI document are open.
//
// A Tokens value is immutable after Load and safe for concurrent use.
package auth
