// Package testhttp holds the HTTP helpers tests of several packages share (the API's
// probes in api, the cepd processes in cmd/cepd).
package testhttp
