package main

import "testing"

// TestServeFlags: every option serve documents is registered (a wiring slip once left the
// Kafka flags out).
func TestServeFlags(t *testing.T) {
	cmd := newServeCmd()
	for _, name := range []string{"http", "grpc", "rules", "schema", "data", "alerts-out", "shards", "out-of-orderness",
		"idle-timeout", "late-policy", "demo", "demo-rate", "checkpoint-interval", "config",
		"redis-addr", "redis-cluster", "redis-master", "redis-password", "redis-tls",
		"kafka-brokers", "kafka-topics", "kafka-group", "alerts-topic", "dlq-topic",
		"key-budget-runs", "key-budget-entries", "key-budget-digits", "key-budget-bytes", "memory-budget"} {
		if cmd.Flags().Lookup(name) == nil {
			t.Errorf("serve has no --%s flag", name)
		}
	}
}
