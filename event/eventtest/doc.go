// Package eventtest holds what tests of several packages say the same way about events:
// the YAML of the card-transaction schemas they run on, and parsing a schema in a test.
// The tests of package event itself cannot import it (it imports event).
package eventtest
