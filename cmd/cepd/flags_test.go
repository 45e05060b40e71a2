package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestServeFlags: every option serve documents is registered (a wiring slip once left the
// Kafka flags out).
func TestServeFlags(t *testing.T) {
	cmd := newServeCmd()
	for _, name := range []string{"http", "grpc", "rules", "schema", "data", "alerts-out", "shards", "out-of-orderness",
		"idle-timeout", "late-policy", "demo", "demo-rate", "checkpoint-interval", "config",
		"redis-addr", "redis-cluster", "redis-master", "redis-password", "redis-tls",
		"kafka-brokers", "kafka-topics", "kafka-group", "alerts-topic", "dlq-topic",
		"alerts-history", "alerts-history-age", "kafka-rebalance-timeout",

		"key-budget-runs", "key-budget-entries", "key-budget-digits", "key-budget-bytes", "memory-budget"} {
		if cmd.Flags().Lookup(name) == nil {
			t.Errorf("serve has no --%s flag", name)
		}
	}
}

// TestServeLimitFlags: the limit, time-bound and TLS flags are registered, and serve
// refuses to listen beyond loopback with tokens but without TLS before it opens anything.
func TestServeLimitFlags(t *testing.T) {
	cmd := newServeCmd()
	for _, name := range []string{"max-event-ahead", "event-time-floor", "max-field-bytes", "max-request-bytes",
		"max-request-events", "max-concurrent-ingest", "http-read-timeout", "http-write-timeout", "http-idle-timeout",
		"max-connections", "stream-stall", "max-rules", "max-comment-bytes", "max-rule-bytes", "tls-cert", "tls-key"} {
		if cmd.Flags().Lookup(name) == nil {
			t.Errorf("serve has no --%s flag", name)
		}
	}
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens")
	if err := os.WriteFile(tokens, []byte("admin-token-0123456789 admin\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--http", "0.0.0.0:0", "--auth-tokens", tokens}, "give --tls-cert and --tls-key"},
		{[]string{"--grpc", "10.0.0.1:0", "--auth-tokens", tokens}, "give --tls-cert and --tls-key"},
		{[]string{"--http", "0.0.0.0:0"}, "without access tokens"},
		{[]string{"--tls-cert", tokens}, "go together"},
		{[]string{"--event-time-floor", "yesterday"}, "--event-time-floor"},
	} {
		cmd := newServeCmd()
		cmd.SetArgs(append([]string{"--data", data}, tt.args...))
		cmd.SetOut(io.Discard)
		cmd.SetErr(io.Discard)
		err := cmd.ExecuteContext(context.Background())
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: %v, want %q", tt.args, err, tt.want)
		}
	}
	if _, err := os.Stat(data); err == nil {
		t.Error("serve created its data directory before refusing the settings")
	}
}
