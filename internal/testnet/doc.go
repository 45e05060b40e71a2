// Package testnet holds the raw TCP helpers tests of several packages share: the tests
// that speak a protocol by hand (an HTTP request cut short in cmd/cepd, a Kafka join in
// internal/devkafka) or only check that a server accepts connections (cmd/devkafka).
// Its functions are safe for concurrent use.
package testnet
