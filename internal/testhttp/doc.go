// Package testhttp holds the HTTP helpers tests of several packages share (the API's
// probes in api, the cepd processes in cmd/cepd, the REST ingest in source/rest).
package testhttp
